// Package action tracks what people decide to do about an event, a segment
// entry, a machine or a line: an action (what, owner, due date) that goes
// from open to done (or cancelled), with every change kept, and, once done,
// its effect: the subject's daily figures over equal windows before the
// action was opened and after it was done.
//
// What always holds: an action's id never changes and is never reused; its
// history lists every change with who made it and when; a done action has
// its done time, and an action taken out of done loses it.
package action

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Statuses.
const (
	Open       = "open"
	InProgress = "in_progress"
	Done       = "done"
	Cancelled  = "cancelled"
)

// Statuses lists the statuses in their order.
var Statuses = []string{Open, InProgress, Done, Cancelled}

// Subject kinds: what an action is about.
const (
	SubjectEvent   = "event"   // an anomaly event (Event), on its machine
	SubjectSegment = "segment" // a segment entry: a machine or operator in a month
	SubjectMachine = "machine"
	SubjectLine    = "line"
)

// ErrInvalid is returned for an action or change that breaks a rule.
var ErrInvalid = errors.New("invalid action")

// ErrNotFound is returned for an unknown action id.
var ErrNotFound = errors.New("no such action")

// Bounds of the text fields, in characters.
const (
	MaxWhat  = 500
	MaxOwner = 100
	MaxNote  = 500
)

// Subject is what an action is about. Site, Line and Equipment name the
// machine (Equipment empty: the line) whose figures measure its effect;
// for an event they are the event's.
type Subject struct {
	Kind      string `json:"kind"`
	Event     string `json:"event,omitempty"`
	Site      string `json:"site"`
	Line      string `json:"line,omitempty"`
	Equipment string `json:"equipment,omitempty"`
	Operator  string `json:"operator,omitempty"`
	Month     string `json:"month,omitempty"` // a segment entry's month, YYYY-MM
	Segment   string `json:"segment,omitempty"`
}

// Measured reports whether the subject has figures to measure an effect
// on: a machine or a line (an operator's segment entry has none).
func (s Subject) Measured() bool { return s.Line != "" && s.Operator == "" }

// Change is one entry of an action's history.
type Change struct {
	By    string    `json:"by"`
	At    time.Time `json:"at"`
	Field string    `json:"field"` // created, what, owner, due, status, note
	From  string    `json:"from,omitempty"`
	To    string    `json:"to,omitempty"`
}

// Action is one tracked action.
type Action struct {
	ID        string     `json:"id"`
	What      string     `json:"what"`
	Owner     string     `json:"owner"`
	Due       string     `json:"due"` // YYYY-MM-DD, plant time
	Status    string     `json:"status"`
	Subject   Subject    `json:"subject"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
	History   []Change   `json:"history"`
}

// New is what creating an action takes.
type New struct {
	What    string  `json:"what"`
	Owner   string  `json:"owner"`
	Due     string  `json:"due"`
	Subject Subject `json:"subject"`
}

// Patch is a change to an action; nil fields stay as they are.
type Patch struct {
	What   *string `json:"what,omitempty"`
	Owner  *string `json:"owner,omitempty"`
	Due    *string `json:"due,omitempty"`
	Status *string `json:"status,omitempty"`
	Note   *string `json:"note,omitempty"`
}

func text(field, v string, maxLen int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case required && v == "":
		return "", fmt.Errorf("%w: %s is required", ErrInvalid, field)
	case utf8.RuneCountInString(v) > maxLen:
		return "", fmt.Errorf("%w: %s longer than %d characters", ErrInvalid, field, maxLen)
	case strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\n' }):
		return "", fmt.Errorf("%w: %s holds control characters", ErrInvalid, field)
	}
	return v, nil
}

func due(v string) (string, error) {
	v = strings.TrimSpace(v)
	if _, err := time.Parse("2006-01-02", v); err != nil {
		return "", fmt.Errorf("%w: due must be a date YYYY-MM-DD (got %q)", ErrInvalid, v)
	}
	return v, nil
}

// action is the new action n (checked) with id, opened by by at now.
func (n New) action(id, by string, now time.Time) Action {
	return Action{ID: id, What: n.What, Owner: n.Owner, Due: n.Due, Status: Open, Subject: n.Subject,
		CreatedBy: by, CreatedAt: now, UpdatedAt: now, History: []Change{{By: by, At: now, Field: "created", To: Open}}}
}

// check validates a new action's fields and subject.
func (n New) check() (New, error) {
	var err error
	var errs []error
	if n.What, err = text("what", n.What, MaxWhat, true); err != nil {
		errs = append(errs, err)
	}
	if n.Owner, err = text("owner", n.Owner, MaxOwner, true); err != nil {
		errs = append(errs, err)
	}
	if n.Due, err = due(n.Due); err != nil {
		errs = append(errs, err)
	}
	s := n.Subject
	switch s.Kind {
	case SubjectEvent:
		if s.Event == "" {
			errs = append(errs, fmt.Errorf("%w: subject.event is required", ErrInvalid))
		}
	case SubjectSegment:
		if _, perr := time.Parse("2006-01", s.Month); perr != nil {
			errs = append(errs, fmt.Errorf("%w: subject.month must be YYYY-MM", ErrInvalid))
		}
		if (s.Equipment == "") == (s.Operator == "") {
			errs = append(errs, fmt.Errorf("%w: a segment subject names an equipment (with its line) or an operator", ErrInvalid))
		}
		if s.Equipment != "" && s.Line == "" {
			errs = append(errs, fmt.Errorf("%w: subject.line is required with subject.equipment", ErrInvalid))
		}
	case SubjectMachine:
		if s.Line == "" || s.Equipment == "" {
			errs = append(errs, fmt.Errorf("%w: a machine subject needs line and equipment", ErrInvalid))
		}
	case SubjectLine:
		if s.Line == "" || s.Equipment != "" {
			errs = append(errs, fmt.Errorf("%w: a line subject needs line and no equipment", ErrInvalid))
		}
	default:
		errs = append(errs, fmt.Errorf("%w: subject.kind must be event, segment, machine or line (got %q)", ErrInvalid, s.Kind))
	}
	for _, f := range []struct{ name, v string }{{"subject.site", s.Site}, {"subject.line", s.Line},
		{"subject.equipment", s.Equipment}, {"subject.operator", s.Operator}, {"subject.event", s.Event}, {"subject.segment", s.Segment}} {
		if _, err := text(f.name, f.v, MaxOwner, false); err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// apply changes a per p, by who at now, recording each change. It returns
// false when nothing changed.
func (a *Action) apply(p Patch, by string, now time.Time) (bool, error) {
	var changes []Change
	set := func(field string, dst *string, v string) {
		if *dst != v {
			changes = append(changes, Change{By: by, At: now, Field: field, From: *dst, To: v})
			*dst = v
		}
	}
	if p.What != nil {
		v, err := text("what", *p.What, MaxWhat, true)
		if err != nil {
			return false, err
		}
		set("what", &a.What, v)
	}
	if p.Owner != nil {
		v, err := text("owner", *p.Owner, MaxOwner, true)
		if err != nil {
			return false, err
		}
		set("owner", &a.Owner, v)
	}
	if p.Due != nil {
		v, err := due(*p.Due)
		if err != nil {
			return false, err
		}
		set("due", &a.Due, v)
	}
	if p.Status != nil {
		v := *p.Status
		switch {
		case v != Open && v != InProgress && v != Done && v != Cancelled:
			return false, fmt.Errorf("%w: status must be open, in_progress, done or cancelled (got %q)", ErrInvalid, v)
		case (a.Status == Done || a.Status == Cancelled) && v != Open && v != a.Status:
			return false, fmt.Errorf("%w: a %s action is reopened (status open) before it changes again", ErrInvalid, a.Status)
		}
		if v != a.Status {
			set("status", &a.Status, v)
			if v == Done {
				t := now
				a.DoneAt = &t
			} else {
				a.DoneAt = nil
			}
		}
	}
	if p.Note != nil {
		v, err := text("note", *p.Note, MaxNote, false)
		if err != nil {
			return false, err
		}
		if v != "" {
			changes = append(changes, Change{By: by, At: now, Field: "note", To: v})
		}
	}
	if len(changes) == 0 {
		return false, nil
	}
	a.History = append(a.History, changes...)
	a.UpdatedAt = now
	return true, nil
}
