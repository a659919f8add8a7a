package payload

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Text writes the messages people read: times in the plant's time zone,
// people by their mention, and a link to acknowledge while a record is open.
// An alert's link is signed for each person it reaches (Sign): following
// it acknowledges as that person without logging in; a record change's
// link is the plain page, for people who log in.
type Text struct {
	// Location is the plant's time zone.
	Location *time.Location
	// PublicURL is the hub's address for links ("": no links).
	PublicURL string
	// People are those alerts reach, for their mentions.
	People map[string]alert.Person
	// Sign returns the token of a link for person to acknowledge event,
	// valid from now ("" or a nil Sign: alerts carry the plain link).
	Sign func(event, person string, now time.Time) string
}

// LinkParam is the query parameter of an acknowledge link's token (as
// package auth reads it).
const LinkParam = "link"

func where(r anomaly.Record) string {
	return fmt.Sprintf("%s/%s (%s)", r.Line, r.Equipment, r.Site)
}

// stamp is a local time, with the date when it is not the day of ref.
func (t Text) stamp(at, ref time.Time) string {
	lt, lr := at.In(t.Location), ref.In(t.Location)
	if lt.YearDay() != lr.YearDay() || lt.Year() != lr.Year() {
		return lt.Format("2006-01-02 15:04 MST")
	}
	return lt.Format("15:04 MST")
}

// lasted is how long an event lasted (until its end) or has lasted (until now).
func lasted(r anomaly.Record, now time.Time) string {
	end := now
	if r.End != nil {
		end = *r.End
	}
	d := end.Sub(r.Start).Round(time.Minute)
	switch {
	case d < time.Minute:
		return "<1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

func (t Text) link(r anomaly.Record) string {
	if t.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(t.PublicURL, "/") + "/api/v1/events/" + url.PathEscape(r.ID) + "/ack"
}

// AckLinks are the acknowledge links of an open record for each of people,
// signed for them; nil when there are no links or the record is not open.
func (t Text) AckLinks(r anomaly.Record, people []string, now time.Time) map[string]string {
	l := t.link(r)
	if l == "" || r.Status != anomaly.Opened || len(people) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, p := range people {
		out[p] = l
		if t.Sign != nil {
			if tok := t.Sign(r.ID, p, now); tok != "" {
				out[p] = l + "?" + url.Values{LinkParam: {tok}}.Encode()
			}
		}
	}
	return out
}

func (t Text) mentions(ids []string) string {
	var out []string
	for _, id := range ids {
		m := t.People[id].Mention
		if m == "" {
			m = id
		}
		out = append(out, m)
	}
	return strings.Join(out, " ")
}

// Change is the message of a change of r.
func (t Text) Change(r anomaly.Record, change string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s %s: %s, since %s (%s)", strings.ToUpper(change), strings.ReplaceAll(r.Type, "_", " "), where(r),
		r.Severity, t.stamp(r.Start, r.Updated), lasted(r, r.Updated))
	if r.Shift != "" {
		fmt.Fprintf(&b, ", shift %s", r.Shift)
	}
	switch {
	case r.Status == anomaly.Acknowledged:
		fmt.Fprintf(&b, ". Acknowledged by %s", r.AcknowledgedBy)
	case r.Status == anomaly.Resolved && r.ResolvedBy != "":
		fmt.Fprintf(&b, ". Resolved by %s", r.ResolvedBy)
	case r.Status == anomaly.Resolved:
		fmt.Fprintf(&b, ". Ended %s", t.stamp(*r.End, r.Updated))
	}
	if r.Note != "" && (change == ChangeAcknowledged || change == ChangeResolved) {
		fmt.Fprintf(&b, ": %s", r.Note)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ". %s", r.Reason)
	}
	if l := t.link(r); l != "" && r.Status == anomaly.Opened {
		fmt.Fprintf(&b, ". Acknowledge: %s", l)
	}
	return b.String()
}

// Alert is the message of an alert notification about r.
func (t Text) Alert(r anomaly.Record, n alert.Notification, now time.Time) string {
	var b strings.Builder
	t.alertHead(&b, r, n, now)
	if r.Severity != "" {
		fmt.Fprintf(&b, ", severity %s", r.Severity)
	}
	if r.Note != "" && (n.Kind == alert.KindAcknowledged || n.Kind == alert.KindResolved) {
		fmt.Fprintf(&b, ". Note: %s", r.Note)
	}
	if r.Reason != "" && n.Kind != alert.KindAcknowledged && n.Kind != alert.KindResolved {
		fmt.Fprintf(&b, ". %s", r.Reason)
	}
	fmt.Fprintf(&b, ". %s", t.mentions(n.People))
	links := t.AckLinks(r, n.People, now)
	switch {
	case len(links) == 1:
		fmt.Fprintf(&b, " Acknowledge: %s", links[n.People[0]])
	case len(links) > 1:
		b.WriteString(" Acknowledge:")
		for i, p := range n.People {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(&b, "%s %s %s", sep, t.mentions([]string{p}), links[p])
		}
	}
	return b.String()
}

// alertHead writes what happened, by the kind of notification.
func (t Text) alertHead(b *strings.Builder, r anomaly.Record, n alert.Notification, now time.Time) {
	shift := "around the clock"
	if n.Shift != "" {
		shift = "shift " + n.Shift
	}
	down := fmt.Sprintf("%s down since %s (%s)", where(r), t.stamp(r.Start, now), lasted(r, now))
	if r.Type == anomaly.FailureRisk {
		t.riskHead(b, r, n, now, shift)
		return
	}
	switch n.Kind {
	case alert.KindOpened:
		if r.Status == anomaly.Resolved {
			fmt.Fprintf(b, "DOWNTIME %s was down from %s to %s (%s), %s", where(r), t.stamp(r.Start, now), t.stamp(*r.End, now), lasted(r, now), shift)
		} else {
			fmt.Fprintf(b, "DOWNTIME %s, %s", down, shift)
		}
	case alert.KindRepeat:
		fmt.Fprintf(b, "REMINDER %d: %s, not acknowledged, %s", n.Seq, down, shift)
	case alert.KindEscalation:
		if n.Reason == alert.ReasonNoLeaders {
			fmt.Fprintf(b, "ESCALATION %s: no shift leader on duty (%s)", down, shift)
		} else {
			fmt.Fprintf(b, "ESCALATION %s: not acknowledged in time by %s (%s)", down, t.mentions(n.Leaders), shift)
		}
	case alert.KindAcknowledged:
		fmt.Fprintf(b, "ACKNOWLEDGED by %s: %s", r.AcknowledgedBy, down)
	case alert.KindResolved:
		if r.ResolvedBy != "" {
			fmt.Fprintf(b, "RESOLVED by %s: %s, after %s", r.ResolvedBy, where(r), lasted(r, now))
		} else {
			fmt.Fprintf(b, "RESOLVED %s running again at %s after %s", where(r), t.stamp(*r.End, now), lasted(r, now))
		}
	}
}

// riskHead writes what a failure warning's notification is about.
func (t Text) riskHead(b *strings.Builder, r anomaly.Record, n alert.Notification, now time.Time, shift string) {
	what := fmt.Sprintf("%s: signs of wear since %s", where(r), t.stamp(r.Start, now))
	switch n.Kind {
	case alert.KindOpened:
		fmt.Fprintf(b, "FAILURE RISK %s, %s", what, shift)
	case alert.KindRepeat:
		fmt.Fprintf(b, "REMINDER %d: FAILURE RISK %s, not acknowledged, %s", n.Seq, what, shift)
	case alert.KindEscalation:
		if n.Reason == alert.ReasonNoLeaders {
			fmt.Fprintf(b, "ESCALATION FAILURE RISK %s: no shift leader on duty (%s)", what, shift)
		} else {
			fmt.Fprintf(b, "ESCALATION FAILURE RISK %s: not acknowledged in time by %s (%s)", what, t.mentions(n.Leaders), shift)
		}
	case alert.KindAcknowledged:
		fmt.Fprintf(b, "ACKNOWLEDGED by %s: FAILURE RISK %s", r.AcknowledgedBy, what)
	case alert.KindResolved:
		if r.ResolvedBy != "" {
			fmt.Fprintf(b, "RESOLVED by %s: FAILURE RISK %s", r.ResolvedBy, where(r))
		} else {
			fmt.Fprintf(b, "RESOLVED FAILURE RISK %s, ended %s", where(r), t.stamp(*r.End, now))
		}
	}
}
