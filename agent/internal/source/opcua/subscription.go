package opcua

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"
)

// The subscription is driven here with the service's own requests
// (CreateSubscription, CreateMonitoredItems, Publish, Republish), not
// gopcua's subscription client, for three things that one does not do:
//
//   - A notification message is acknowledged to the server only after its
//     values are committed to the queue. Until then the server keeps it for
//     Republish.
//   - A lost connection does not lose the session: the next connection
//     activates the same session (link.go; the server keeps it for the
//     session timeout), so its subscription goes on and delivers what its
//     monitored items queued meanwhile; the messages that were on their way
//     when the connection broke are asked for again by sequence number
//     (Republish). gopcua v0.9.0 can activate a session on a new channel but
//     leaves its subscriptions without a publish loop.
//   - One Publish request is outstanding at a time: its answer arrives in
//     the order the server sent it, and an unanswered one (the server
//     answers at least every keep-alive) times out and ends the connection.

// subscription is the session's subscription, as the server revised it.
type subscription struct {
	id        uint32
	interval  time.Duration // publishing interval
	keepAlive uint32        // publishing intervals without a notification before the server sends a keep-alive
	lifetime  uint32        // publishing intervals without a Publish request before the server deletes it

	last uint32   // sequence number of the last message committed (0: none yet)
	acks []uint32 // committed messages not acknowledged yet
}

// createSubscription creates the session's subscription.
func createSubscription(ctx context.Context, c requester, p *opcua.SubscriptionParameters) (*subscription, error) {
	res, err := send[*ua.CreateSubscriptionResponse](ctx, c, &ua.CreateSubscriptionRequest{
		RequestedPublishingInterval: float64(p.Interval) / float64(time.Millisecond),
		RequestedLifetimeCount:      p.LifetimeCount,
		RequestedMaxKeepAliveCount:  p.MaxKeepAliveCount,
		MaxNotificationsPerPublish:  maxNotificationsPerPublish,
		PublishingEnabled:           true,
	})
	if err != nil {
		return nil, err
	}
	if res.SubscriptionID == 0 {
		return nil, errors.New("the server created subscription 0")
	}
	return &subscription{
		id:        res.SubscriptionID,
		interval:  time.Duration(res.RevisedPublishingInterval * float64(time.Millisecond)),
		keepAlive: res.RevisedMaxKeepAliveCount,
		lifetime:  res.RevisedLifetimeCount,
	}, nil
}

// A subscription's keep-alive and lifetime, whatever its publishing
// interval (gopcua's defaults count intervals: at 1 s they are 50 minutes
// and almost 3 hours). The server answers an idle subscription every
// keepAliveEvery, and deletes one that no client has published for
// subscriptionLifetime: the subscription of a killed agent does not hold a
// PLC's few subscription slots for hours, a subscription whose publishing
// stopped is found gone by the quiet check within that time, and a stall
// of the agent (a full queue under policy block) shorter than that keeps
// the values the server queued meanwhile. The keep-alive stays well below
// gopcua's publish timeout (the larger of the keep-alive and the 10 s
// request timeout): a response that came after it would be dropped.
const (
	keepAliveEvery       = 5 * time.Second
	subscriptionLifetime = 10 * time.Minute
)

// subscriptionParams are the requested parameters of a subscription that
// publishes every interval (> 0), in a session with the given timeout: the
// subscription lives at least as long as the session does without a
// connection, so that a session taken over still has it.
func subscriptionParams(interval, sessionTimeout time.Duration) *opcua.SubscriptionParameters {
	count := func(d time.Duration) uint32 { return uint32(max(1, (d+interval-1)/interval)) }
	keep := count(keepAliveEvery)
	return &opcua.SubscriptionParameters{Interval: interval, MaxKeepAliveCount: keep,
		LifetimeCount: max(3*keep, count(max(subscriptionLifetime, sessionTimeout)))}
}

// maxNotificationsPerPublish bounds the values of one notification message.
const maxNotificationsPerPublish = 10000

// maxRepublish bounds the messages asked for again after one gap: the
// last ones before it. One Publish request is outstanding at a time, so a
// gap is rarely more than one message.
const maxRepublish = 100

// after reports whether sequence number a comes after b (they wrap).
func after(a, b uint32) bool { return int32(a-b) > 0 }

// missing returns the sequence numbers the server sent after last (the
// last message taken; 0 for none) and before next: a data message's own
// number, or the number a keep-alive announces for the next message. Those
// were lost on the way. Only the last maxRepublish are returned; skipped
// counts the others. Sequence numbers start at 1 and wrap to 1, skipping
// 0: after 4294967295, or, on servers that number them as secure channels
// number their chunks (node-opcua), after shortWrap. A step across the
// wrap from at most shortWrap is taken to wrap there: the numbers above,
// which such a server never uses, are not asked for (a server wrapping at
// 4294967295 would have lost more than 1,024 messages in a row).
func missing(last, next uint32) (seqs []uint32, skipped uint32) {
	if !after(next, last) {
		return nil, 0
	}
	top := uint32(math.MaxUint32) // the last number before the wrap
	if next < last && last <= shortWrap {
		top = shortWrap
	}
	n := next - last - 1
	if next < last {
		n = (top - last) + (next - 1)
	}
	if n > maxRepublish {
		skipped = n - maxRepublish
	}
	q := last
	for i := uint32(0); i < n; i++ {
		if q >= top {
			q = 1
		} else {
			q++
		}
		if i >= skipped {
			seqs = append(seqs, q)
		}
	}
	return seqs, skipped
}

// shortWrap is the last sequence number before the wrap on servers that
// number notification messages as secure channels number their chunks
// (OPC UA Part 6: not past 4294967295 - 1024).
const shortWrap = math.MaxUint32 - 1024

// published is the answer to a Publish request.
type published struct {
	res   *ua.PublishResponse
	acked int // acknowledgements the request carried
	err   error
}

// publish sends a Publish request acknowledging the committed messages; its
// answer goes to out (buffered, so the sender never waits).
func (s *Source) publish(ctx context.Context, c requester, sub *subscription, out chan<- published) {
	req := &ua.PublishRequest{SubscriptionAcknowledgements: make([]*ua.SubscriptionAcknowledgement, len(sub.acks))}
	for i, q := range sub.acks {
		req.SubscriptionAcknowledgements[i] = &ua.SubscriptionAcknowledgement{SubscriptionID: sub.id, SequenceNumber: q}
	}
	acked := len(sub.acks)
	go func() {
		res, err := send[*ua.PublishResponse](ctx, c, req)
		out <- published{res: res, acked: acked, err: err}
	}()
}

// publishedAnswer takes the answer to a Publish request: it commits the
// message (after asking again for any the server sent before it that did
// not arrive), and notes it for acknowledgement. It returns an error when
// the session must end.
func (s *session) publishedAnswer(ctx context.Context, c requester, sub *subscription, p published, wd *watchdog) error {
	if p.err != nil {
		switch {
		case subscriptionLost(p.err):
			return fmt.Errorf("subscription lost: %w", p.err)
		case tooManyPublish(p.err):
			return nil // asked again
		case linkError(p.err):
			return fmt.Errorf("%w: publish: %w", errLink, p.err)
		}
		return fmt.Errorf("publish: %w", p.err)
	}
	sub.acks = sub.acks[p.acked:]
	msg := p.res.NotificationMessage
	if msg == nil || p.res.SubscriptionID != sub.id {
		return nil
	}
	if lost, skipped := missing(sub.last, msg.SequenceNumber); len(lost) > 0 {
		if err := s.republish(ctx, c, sub, lost, int(skipped), wd); err != nil {
			return err
		}
	}
	// The watermark's time is the message's publish time; some servers
	// leave it out (it decodes as zero), the response's time is then the
	// latest the server vouches for.
	published := msg.PublishTime
	if published.IsZero() && p.res.ResponseHeader != nil {
		published = p.res.ResponseHeader.Timestamp
	}
	if len(msg.NotificationData) == 0 { // a keep-alive
		return s.watermark(ctx, published)
	}
	if sub.last != 0 && !after(msg.SequenceNumber, sub.last) {
		// Committed before (a message asked for again that also came on
		// its own): acknowledged again, not committed twice.
		sub.acks = append(sub.acks, msg.SequenceNumber)
		return nil
	}
	if err := s.take(ctx, c, sub, msg, wd); err != nil {
		return err
	}
	return s.watermark(ctx, published)
}

// take commits one notification message and notes it for acknowledgement.
func (s *session) take(ctx context.Context, c requester, sub *subscription, msg *ua.NotificationMessage, wd *watchdog) error {
	if err := s.handleMessage(ctx, c, msg, wd); err != nil {
		return err
	}
	sub.last = msg.SequenceNumber
	sub.acks = append(sub.acks, msg.SequenceNumber)
	return nil
}

// republish asks the server again for the messages of seqs, which it sent
// but which did not arrive, and commits them in order. A message the server
// no longer has (and the skipped ones before seqs, not asked for) is
// counted, and logged; with backfill the session is then rebuilt so that
// the next reads the values back from history.
func (s *session) republish(ctx context.Context, c requester, sub *subscription, seqs []uint32, skipped int, wd *watchdog) error {
	unrecovered := skipped
	for _, q := range seqs {
		res, err := send[*ua.RepublishResponse](ctx, c, &ua.RepublishRequest{SubscriptionID: sub.id, RetransmitSequenceNumber: q})
		var sc ua.StatusCode
		switch {
		case err == nil && res.NotificationMessage != nil:
			s.stat.Republished.Add(1)
			if err := s.take(ctx, c, sub, res.NotificationMessage, wd); err != nil {
				return err
			}
			continue
		case err != nil && linkError(err):
			return fmt.Errorf("%w: republish: %w", errLink, err)
		case err != nil && !errors.As(err, &sc):
			return fmt.Errorf("republish: %w", err)
		}
		// BadMessageNotAvailable, or a server without retransmission.
		unrecovered++
		sub.last = q
	}
	if unrecovered == 0 {
		return nil
	}
	s.stat.Unrecovered.Add(uint64(unrecovered))
	if s.cfg.Backfill > 0 && !s.srv.noHistory.Load() {
		return fmt.Errorf("%d notification messages were lost on the way and the server no longer has them: rebuilding the session to read their values back from history", unrecovered)
	}
	s.warn.Warn("notification messages were lost on the way and the server no longer has them: their values are lost (set backfill to read them back from a server with history)",
		"messages", unrecovered, "from", seqs[0])
	return nil
}
