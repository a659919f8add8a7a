package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// handleMessage commits the values of one notification message. It returns
// an error when the subscription is gone and the session must be rebuilt.
func (s *session) handleMessage(ctx context.Context, c requester, msg *ua.NotificationMessage, wd *watchdog) error {
	for _, eo := range msg.NotificationData {
		if eo == nil {
			continue
		}
		switch x := eo.Value.(type) {
		case *ua.DataChangeNotification:
			if err := s.handleDataChange(ctx, c, x, wd); err != nil {
				return err
			}
		case *ua.StatusChangeNotification:
			if x.Status != ua.StatusOK {
				return fmt.Errorf("subscription status changed: %w", x.Status)
			}
		}
	}
	return nil
}

// handleDataChange commits the values of one data change notification.
// Values that arrive after their node's queue at the server overflowed
// (older values discarded) are counted; with backfill, what was discarded
// is read back from history first.
func (s *session) handleDataChange(ctx context.Context, c requester, x *ua.DataChangeNotification, wd *watchdog) error {
	if err := s.overflowed(ctx, c, x.MonitoredItems); err != nil {
		return err
	}
	rx := s.now()
	// The committer copies the signals before a commit returns: a
	// notification's slice serves the next one once committed (and only
	// then: after a failed commit the committer may still read it).
	sigs := s.sigs[:0]
	s.sigs = nil
	for _, item := range x.MonitoredItems {
		if item != nil && item.ClientHandle == s.clockHandle() {
			s.clockTicked(wd)
			continue
		}
		if sig, ok := s.itemSignal(item, rx); ok {
			sigs = append(sigs, sig)
		}
	}
	if err := s.commitAll(ctx, sigs); err != nil {
		return err
	}
	clear(sigs) // no strings held until the next notification
	s.sigs = sigs[:0]
	return nil
}

// overflowed counts the items whose queue at the server overflowed before
// them, and with backfill reads back from history what it discarded; else
// warns that it is lost.
func (s *session) overflowed(ctx context.Context, c requester, items []*ua.MonitoredItemNotification) error {
	var until map[uint32]time.Time // node -> source time of its first value after the overflow
	for _, item := range items {
		if item != nil && int(item.ClientHandle) < len(s.nodes) && item.Value != nil && overflow(item.Value.Status) {
			s.stat.Overflows.Add(1)
			if until == nil {
				until = map[uint32]time.Time{}
			}
			if _, ok := until[item.ClientHandle]; !ok && item.Value.EncodingMask&ua.DataValueSourceTimestamp != 0 {
				until[item.ClientHandle] = item.Value.SourceTimestamp
			}
		}
	}
	switch {
	case len(until) == 0:
	case s.cfg.Backfill > 0 && !s.srv.noHistory.Load():
		return s.backfillBefore(ctx, c, until)
	default:
		s.warn.Warn("the server's queue of a monitored node overflowed and dropped older values: they are lost (raise queue_size, or set backfill to read them back from history)",
			"nodes", len(until), "queue_size", s.cfg.QueueSize)
	}
	return nil
}

// itemSignal is the signal of a monitored item's value received at rx;
// false when it has none.
func (s *session) itemSignal(item *ua.MonitoredItemNotification, rx time.Time) (signal.Signal, bool) {
	if item == nil || int(item.ClientHandle) >= len(s.nodes) {
		s.stat.DecodeErrors.Count(metrics.BadPayload)
		return signal.Signal{}, false
	}
	if dv := item.Value; dv != nil && unreadable(dv.Status) && (dv.Value == nil || dv.Value.Value() == nil) {
		// Some servers (gopcua's) accept an item on a node they do not
		// have and then report the node's absence in place of a value.
		if !s.refused[item.ClientHandle] {
			s.refused[item.ClientHandle] = true
			s.reject(s.nodes[item.ClientHandle], "server reports a monitored node as unreadable", item.Value.Status)
		}
		return signal.Signal{}, false
	}
	return s.convert(item.ClientHandle, item.Value, rx)
}

// convert is the signal of node handle's value dv received at rx, noted
// for backfill; false, counted and logged, when it cannot be converted
// (bad_value) or its type is not one the hub can interpret for the signal
// (wrong_type).
func (s *session) convert(handle uint32, dv *ua.DataValue, rx time.Time) (signal.Signal, bool) {
	m := s.nodes[handle]
	sig, err := toSignal(m, dv, s.agent, rx)
	if err != nil {
		reason := metrics.BadValue
		if errors.Is(err, signal.ErrWrongType) {
			reason = metrics.WrongType
		}
		s.stat.DecodeErrors.Count(reason)
		s.warn.LogFor("unconvertible\x00"+reason.String(), slog.LevelWarn, "dropping an unconvertible opc ua value",
			"reason", reason.String(), "node", m.name, "signal", m.signalName, "err", err)
		return signal.Signal{}, false
	}
	s.seenValue(handle, sig)
	s.live[handle] = true
	return sig, true
}

// commitAll commits the signals convert returned since the last commit.
func (s *session) commitAll(ctx context.Context, sigs []signal.Signal) error {
	if len(sigs) == 0 {
		s.committed(true)
		return nil
	}
	if err := s.commit.Commit(ctx, sigs, s.seenPuts()...); err != nil {
		s.committed(false)
		return fmt.Errorf("%w: %w", errCommit, err)
	}
	s.committed(true)
	s.stat.SignalsIn.Add(uint64(len(sigs)))
	return nil
}
