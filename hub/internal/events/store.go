// Package events keeps anomaly event records and delivers every change of
// them: to a JetStream stream as CloudEvents, to webhooks signed per Standard
// Webhooks, and as downtime alerts to the people on the roster. It also
// serves the records over REST.
//
// What always holds: a record change, the deliveries it causes (outbox items)
// and the alert state with its due times are written in one bbolt
// transaction, so a change is either wholly recorded or not at all, and a
// restarted hub neither forgets a delivery nor alerts twice. An outbox item is
// removed only after its receiver accepted it (JetStream ack, webhook 2xx), so
// delivery is at least once; every delivery carries the dedupe key
// "<record id>-<revision>" (Nats-Msg-Id, CloudEvent id, webhook-id), which
// the stream's duplicate window and receivers use to drop copies. Applying
// the same detections again changes nothing and delivers nothing.
//
// Layout of the bbolt file: "records" id -> Record JSON; "changes" change
// sequence -> id (the order of List: the latest change of each record) and
// "changeof" id -> its sequence; "outbox" holds one bucket per
// destination ("stream" or an endpoint name) of sequence -> item JSON;
// "deadletters" sequence -> item JSON; "alerts" id -> alert state JSON;
// "timers" (due time, id) -> nil.
package events

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// Errors of the lifecycle operations.
var (
	ErrNotFound = errors.New("no such event")
	ErrConflict = errors.New("event state does not allow this")
	ErrInvalid  = errors.New("invalid request")
)

var (
	bucketRecords     = []byte("records")
	bucketChanges     = []byte("changes")
	bucketChangeOf    = []byte("changeof")
	bucketOutbox      = []byte("outbox")
	bucketDeadLetters = []byte("deadletters")
	bucketAlerts      = []byte("alerts")
	bucketTimers      = []byte("timers")
)

// destStream is the outbox destination of the JetStream stream.
const destStream = "stream"

// Endpoint is a webhook endpoint.
type Endpoint struct {
	Name string
	URL  string
	// Secret is the Standard Webhooks secret (whsec_<base64>); empty: unsigned.
	Secret string
	// Format: json, cloudevents, text, dingtalk or wecom.
	Format string
	// Events: receive every record change that passes the filter.
	Events bool
	// Filter (empty: all).
	Types       []string
	Lines       []string
	MinSeverity string
	Timeout     time.Duration
	MaxAttempts int
	Headers     map[string]string
}

// StreamConfig is the JetStream stream of events; an empty Name disables it.
type StreamConfig struct {
	Name            string
	SubjectPrefix   string
	DuplicateWindow time.Duration
	MaxAge          time.Duration
	Replicas        int
}

// Options configure a Store.
type Options struct {
	// Location is the plant's time zone (times in messages).
	Location *time.Location
	// Calendar returns a line's calendar (nil: around the clock).
	Calendar func(site, line string) *calendar.Calendar
	Alerts   alert.Policy
	Webhooks []Endpoint
	Stream   StreamConfig
	// JetStream publishes to the stream (required when Stream.Name is set, for Run).
	JetStream jetstream.JetStream
	// RetryMin and RetryMax bound the back-off between attempts (default 1s, 5m).
	RetryMin, RetryMax time.Duration
	// PublicURL is the hub's address for links in messages ("" : no links).
	PublicURL string
	// Clock is the time source of timers and back-off (default time.Now).
	Clock func() time.Time
	// Poll is how often due timers and retries are looked for (default 1s).
	Poll time.Duration
	// HTTPClient sends webhooks (default: a client without redirects).
	HTTPClient *http.Client
	Log        *slog.Logger
}

// Store is the durable record of anomaly events and their deliveries.
type Store struct {
	db        *bolt.DB
	opts      Options
	endpoints map[string]Endpoint
	log       *slog.Logger
	wake      map[string]chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the store at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Calendar == nil {
		opts.Calendar = func(string, string) *calendar.Calendar { return nil }
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Second
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(opts.RetryMin, 5*time.Minute)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s := &Store{opts: opts, endpoints: map[string]Endpoint{}, log: opts.Log, wake: map[string]chan struct{}{}}
	for _, e := range opts.Webhooks {
		if e.Name == destStream {
			return nil, fmt.Errorf("events: endpoint name %q is reserved", destStream)
		}
		if e.Timeout <= 0 {
			e.Timeout = 10 * time.Second
		}
		if e.MaxAttempts <= 0 {
			e.MaxAttempts = 20
		}
		if _, err := secretKey(e.Secret); err != nil {
			return nil, fmt.Errorf("events: endpoint %s: %w", e.Name, err)
		}
		s.endpoints[e.Name] = e
		s.wake[e.Name] = make(chan struct{}, 1)
	}
	s.wake[destStream] = make(chan struct{}, 1)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening events store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketChanges, bucketChangeOf, bucketOutbox, bucketDeadLetters, bucketAlerts, bucketTimers} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening events store %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

// Close closes the store; it is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Change kinds of a record, the last part of the CloudEvent type.
const (
	ChangeOpened       = "opened"
	ChangeUpdated      = "updated"
	ChangeAcknowledged = "acknowledged"
	ChangeResolved     = "resolved"
)

// Apply records detected events, in one transaction: a new id opens a record
// (already resolved when its event has ended), an open record whose event
// ended is resolved by the data, other changes of the event (evidence,
// severity, end) make a new revision, and an unchanged re-detection is a
// no-op. Every change enqueues its deliveries and alerts. It returns the
// records that changed.
func (s *Store) Apply(detected []anomaly.Event, now time.Time) ([]anomaly.Record, error) {
	var changed []anomaly.Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		for _, e := range detected {
			if e.ID == "" {
				return fmt.Errorf("events: detected %s event of %s/%s/%s has no id", e.Type, e.Site, e.Line, e.Equipment)
			}
			e = normalize(e)
			old, found, err := getRecord(tx, e.ID)
			if err != nil {
				return err
			}
			var rec anomaly.Record
			var kind string
			switch {
			case !found:
				rec = anomaly.Record{Event: e, Status: anomaly.Opened, Revision: 1}
				kind = ChangeOpened
				if e.End != nil {
					rec.Status, rec.ResolvedAt, kind = anomaly.Resolved, e.End, ChangeResolved
				}
			case sameEvent(old.Event, e):
				continue
			default:
				rec = old
				rec.Event = e
				rec.Revision++
				kind = ChangeUpdated
				if e.End != nil && old.Status != anomaly.Resolved {
					rec.Status, rec.ResolvedBy, rec.ResolvedAt, kind = anomaly.Resolved, "", e.End, ChangeResolved
				}
			}
			rec.Updated = now.UTC()
			if err := s.change(tx, rec, kind, now); err != nil {
				return err
			}
			changed = append(changed, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(changed) > 0 {
		s.wakeAll()
	}
	return changed, nil
}

// Ack acknowledges an open record: who did and an optional note.
func (s *Store) Ack(id, by, note string, now time.Time) (anomaly.Record, error) {
	return s.lifecycle(id, by, note, now, func(r *anomaly.Record) (string, error) {
		switch r.Status {
		case anomaly.Acknowledged:
			return "", fmt.Errorf("%w: already acknowledged by %s", ErrConflict, r.AcknowledgedBy)
		case anomaly.Resolved:
			return "", fmt.Errorf("%w: already resolved", ErrConflict)
		}
		at := now.UTC()
		r.Status, r.AcknowledgedBy, r.AcknowledgedAt = anomaly.Acknowledged, by, &at
		return ChangeAcknowledged, nil
	})
}

// Resolve resolves an open or acknowledged record by hand.
func (s *Store) Resolve(id, by, note string, now time.Time) (anomaly.Record, error) {
	return s.lifecycle(id, by, note, now, func(r *anomaly.Record) (string, error) {
		if r.Status == anomaly.Resolved {
			who := r.ResolvedBy
			if who == "" {
				who = "the data (the equipment ran again)"
			}
			return "", fmt.Errorf("%w: already resolved by %s", ErrConflict, who)
		}
		at := now.UTC()
		r.Status, r.ResolvedBy, r.ResolvedAt = anomaly.Resolved, by, &at
		return ChangeResolved, nil
	})
}

// Limits of the people-given fields.
const (
	maxBy   = 128
	maxNote = 4096
)

func (s *Store) lifecycle(id, by, note string, now time.Time, apply func(*anomaly.Record) (string, error)) (anomaly.Record, error) {
	if err := checkAction(by, note); err != nil {
		return anomaly.Record{}, err
	}
	var rec anomaly.Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, found, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		rec = old
		kind, err := apply(&rec)
		if err != nil {
			return err
		}
		if note != "" {
			rec.Note = note
		}
		rec.Revision++
		rec.Updated = now.UTC()
		return s.change(tx, rec, kind, now)
	})
	if err != nil {
		return anomaly.Record{}, err
	}
	s.wakeAll()
	return rec, nil
}

// Get returns a record.
func (s *Store) Get(id string) (anomaly.Record, error) {
	var rec anomaly.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		r, found, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		rec = r
		return nil
	})
	return rec, err
}

// change stores rec and enqueues everything the change causes.
func (s *Store) change(tx *bolt.Tx, rec anomaly.Record, kind string, now time.Time) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding record %s: %w", rec.ID, err)
	}
	if err := tx.Bucket(bucketRecords).Put([]byte(rec.ID), v); err != nil {
		return err
	}
	if err := s.index(tx, rec.ID); err != nil {
		return err
	}
	if s.opts.Stream.Name != "" {
		it, err := s.streamItem(rec, kind)
		if err != nil {
			return err
		}
		if err := enqueue(tx, destStream, it, now); err != nil {
			return err
		}
	}
	for _, name := range s.endpointNames() {
		e := s.endpoints[name]
		if !e.Events || !e.matches(rec) {
			continue
		}
		it, err := s.changeItem(e, rec, kind)
		if err != nil {
			return err
		}
		if err := enqueue(tx, e.Name, it, now); err != nil {
			return err
		}
	}
	return s.stepAlert(tx, rec, now)
}

func (e Endpoint) matches(r anomaly.Record) bool {
	if len(e.Types) > 0 && !contains(e.Types, r.Type) {
		return false
	}
	if len(e.Lines) > 0 && !contains(e.Lines, r.Line) {
		return false
	}
	return severityRank(r.Severity) >= severityRank(e.MinSeverity)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func severityRank(s string) int {
	switch s {
	case anomaly.Warning:
		return 1
	case anomaly.Critical:
		return 2
	}
	return 0
}

func (s *Store) endpointNames() []string {
	names := make([]string, 0, len(s.endpoints))
	for _, e := range s.opts.Webhooks {
		names = append(names, e.Name)
	}
	return names
}

func (s *Store) wakeAll() {
	for _, ch := range s.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// index moves a record to the end of the change order (List's order).
func (s *Store) index(tx *bolt.Tx, id string) error {
	changes, changeOf := tx.Bucket(bucketChanges), tx.Bucket(bucketChangeOf)
	if old := changeOf.Get([]byte(id)); old != nil {
		if err := changes.Delete(old); err != nil {
			return err
		}
	}
	seq, err := changes.NextSequence()
	if err != nil {
		return err
	}
	if err := changes.Put(seqKey(seq), []byte(id)); err != nil {
		return err
	}
	return changeOf.Put([]byte(id), seqKey(seq))
}

func getRecord(tx *bolt.Tx, id string) (anomaly.Record, bool, error) {
	v := tx.Bucket(bucketRecords).Get([]byte(id))
	if v == nil {
		return anomaly.Record{}, false, nil
	}
	var r anomaly.Record
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("events store: bad record %q: %w", id, err)
	}
	return r, true, nil
}

// normalize puts an event's times in UTC (so a stored and a detected copy
// compare equal) and drops evidence that JSON cannot carry (NaN, Inf).
func normalize(e anomaly.Event) anomaly.Event {
	e.Start, e.Detected = e.Start.UTC(), e.Detected.UTC()
	if !e.ShiftStart.IsZero() {
		e.ShiftStart = e.ShiftStart.UTC()
	}
	if e.End != nil {
		end := e.End.UTC()
		e.End = &end
	}
	if e.Evidence != nil {
		ev := maps.Clone(e.Evidence)
		for k, v := range ev {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				delete(ev, k)
			}
		}
		e.Evidence = ev
	}
	return e
}

func sameEvent(a, b anomaly.Event) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// Order-preserving keys: big-endian time with the sign bit flipped.
func putTime(b []byte, t int64) { binary.BigEndian.PutUint64(b, uint64(t)^(1<<63)) }
func getTime(b []byte) int64    { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func timerKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	putTime(k, t.UnixNano())
	return append(k, id...)
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// dedupeID is the delivery id of a record revision.
func dedupeID(id string, rev uint64) string { return id + "-" + strconv.FormatUint(rev, 10) }
