package delivery

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// StreamConfig is the JetStream stream of events; an empty Name disables it.
type StreamConfig struct {
	Name            string
	SubjectPrefix   string
	DuplicateWindow time.Duration
	MaxAge          time.Duration
	// MaxBytes bounds the stream's size (0: no bound); when full, the
	// oldest events go first.
	MaxBytes int64
	Replicas int
}

// maxBytes is JetStream's MaxBytes for a bound (0: none, -1).
func maxBytes(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

// Subject is the NATS subject of a record: <prefix>.<type>.<site>.<line>.<equipment>.
func Subject(prefix string, r anomaly.Record) string {
	return strings.Join([]string{prefix, r.Type, r.Site, r.Line, r.Equipment}, ".")
}

// JetStream is what the stream publisher needs of a JetStream connection.
type JetStream interface {
	CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error)
	Publish(ctx context.Context, subject string, payload []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Stream publishes items to the events stream.
type Stream struct {
	Config StreamConfig
	JS     JetStream
	// Backoff spaces the attempts to create the stream.
	Backoff Backoff
	Log     *slog.Logger
}

var _ Sender = (*Stream)(nil)

// Create creates the stream or updates its configuration, retrying until it
// succeeds (true) or ctx ends (false).
func (s *Stream) Create(ctx context.Context) bool {
	cfg := s.Config
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.JS.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
			Name:        cfg.Name,
			Description: "floorpulse anomaly events (CloudEvents 1.0 JSON)",
			Subjects:    []string{cfg.SubjectPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cfg.MaxAge,
			MaxBytes:    maxBytes(cfg.MaxBytes),
			Discard:     jetstream.DiscardOld,
			Duplicates:  cfg.DuplicateWindow,
			Replicas:    max(cfg.Replicas, 1),
		})
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if attempt%10 == 1 {
			s.Log.Warn("creating the events stream failed; retrying", "err", err)
		}
		if !sleep(ctx, s.Backoff.Wait(attempt)) {
			return false
		}
	}
}

// Send publishes one item, with its dedupe key as Nats-Msg-Id.
func (s *Stream) Send(ctx context.Context, it ledger.Item) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.JS.Publish(ctx, it.Subject, it.Body, jetstream.WithMsgID(it.ID), jetstream.WithExpectStream(s.Config.Name))
	return err
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
