package delivery

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// published is one Publish call, its options read back.
type published struct {
	subject, body, msgID, stream string
	deadline                     bool
}

// fakeJetStream records what it is asked; createErrs fail the first
// CreateOrUpdateStream calls, pubErr every Publish.
type fakeJetStream struct {
	mu         sync.Mutex
	createErrs []error
	creates    []jetstream.StreamConfig
	pubErr     error
	pubs       []published
}

func (f *fakeJetStream) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, cfg)
	if len(f.createErrs) > 0 {
		err := f.createErrs[0]
		f.createErrs = f.createErrs[1:]
		return nil, err
	}
	return nil, nil
}

func (f *fakeJetStream) Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	p := published{subject: subject, body: string(payload)}
	_, p.deadline = ctx.Deadline()
	p.msgID, p.stream = pubOpt(opts, "id"), pubOpt(opts, "stream")
	f.mu.Lock()
	f.pubs = append(f.pubs, p)
	f.mu.Unlock()
	if f.pubErr != nil {
		return nil, f.pubErr
	}
	return &jetstream.PubAck{Stream: "EV", Sequence: 1}, nil
}

// pubOpt applies opts to the client's (unexported) options and reads back
// one field: the client gives no other way to see what an option sets.
func pubOpt(opts []jetstream.PublishOpt, field string) string {
	if len(opts) == 0 {
		return ""
	}
	typ := reflect.TypeOf(opts[0]).In(0) // *pubOpts
	o := reflect.New(typ.Elem())
	for _, opt := range opts {
		reflect.ValueOf(opt).Call([]reflect.Value{o})
	}
	return o.Elem().FieldByName(field).String()
}

func TestSubject(t *testing.T) {
	tests := []struct {
		prefix string
		r      anomaly.Record
		want   string
	}{
		{"ev", record("plant1", "L1", "M01"), "ev.unplanned_downtime.plant1.L1.M01"},
		{"floorpulse.events", record("north", "press-2", "P7"), "floorpulse.events.unplanned_downtime.north.press-2.P7"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := Subject(tc.prefix, tc.r); got != tc.want {
				t.Fatalf("Subject = %q, want %q", got, tc.want)
			}
		})
	}
}

// Send publishes the item's body on its subject, with its dedupe key as
// Nats-Msg-Id, to the configured stream only, with a deadline.
func TestStreamSend(t *testing.T) {
	tests := []struct {
		name   string
		pubErr error
	}{
		{"acknowledged", nil},
		{"not acknowledged", errors.New("nats: timeout")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := &fakeJetStream{pubErr: tc.pubErr}
			s := &Stream{Config: StreamConfig{Name: "EV", SubjectPrefix: "ev"}, JS: js, Log: slog.New(slog.DiscardHandler)}
			it := ledger.Item{ID: "ev1-2", Subject: "ev.unplanned_downtime.plant1.L1.M01", Body: []byte(`{"id":"ev1-2"}`)}
			if err := s.Send(context.Background(), it); !errors.Is(err, tc.pubErr) {
				t.Fatalf("Send: %v, want %v", err, tc.pubErr)
			}
			want := published{subject: it.Subject, body: `{"id":"ev1-2"}`, msgID: "ev1-2", stream: "EV", deadline: true}
			if len(js.pubs) != 1 || js.pubs[0] != want {
				t.Fatalf("published %+v, want %+v", js.pubs, want)
			}
		})
	}
}

// Create makes the stream from the configuration, retrying until it
// succeeds or ctx ends.
func TestStreamCreate(t *testing.T) {
	cfg := StreamConfig{Name: "EV", SubjectPrefix: "ev", DuplicateWindow: 2 * time.Minute, MaxAge: 720 * time.Hour, MaxBytes: 1 << 30}
	fail := errors.New("no responders")
	tests := []struct {
		name     string
		errs     []error
		cancel   bool
		want     bool
		minCalls int
	}{
		{"at once", nil, false, true, 1},
		{"after failures", []error{fail, fail, fail}, false, true, 4},
		{"until ctx ends", []error{fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail, fail}, true, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			js := &fakeJetStream{createErrs: tc.errs}
			s := &Stream{Config: cfg, JS: js, Backoff: Backoff{Min: time.Millisecond, Max: 2 * time.Millisecond}, Log: slog.New(slog.DiscardHandler)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				s.Backoff = Backoff{Min: time.Hour, Max: time.Hour}
				time.AfterFunc(10*time.Millisecond, cancel)
			}
			if got := s.Create(ctx); got != tc.want {
				t.Fatalf("Create = %v, want %v", got, tc.want)
			}
			if len(js.creates) < tc.minCalls || (tc.want && len(js.creates) != tc.minCalls) {
				t.Fatalf("%d calls, want %d", len(js.creates), tc.minCalls)
			}
			c := js.creates[0]
			if c.Name != "EV" || len(c.Subjects) != 1 || c.Subjects[0] != "ev.>" || c.Duplicates != 2*time.Minute ||
				c.MaxAge != 720*time.Hour || c.MaxBytes != 1<<30 || c.Discard != jetstream.DiscardOld || c.Replicas != 1 || c.Storage != jetstream.FileStorage {
				t.Fatalf("stream config %+v", c)
			}
		})
	}
}
