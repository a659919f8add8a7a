package mqtt

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/agent/internal/config"
)

// pahoClient is the Client of the Eclipse paho library: no automatic
// reconnects or resubscriptions (Run does both), messages in order, each
// acknowledged only by its Ack.
type pahoClient struct {
	h    hooks
	opts *paho.ClientOptions

	mu sync.Mutex
	c  paho.Client // made again at each connect when the will changes

	// written counts the PUBACKs and PUBRECs written to the connection
	// (counted where the connection is ours): paho may write its DISCONNECT
	// before acknowledgements it has queued, so Disconnect waits until
	// written catches up with h.acks.
	written      atomic.Int64
	countsWrites bool
}

var (
	_ Client  = (*pahoClient)(nil)
	_ Message = paho.Message(nil)
	_ dialer  = dialPaho
)

// dialPaho returns the paho client of a broker configuration; it connects
// only when asked to.
func dialPaho(cfg config.MQTT, tlsCfg *tls.Config, h hooks) Client {
	pc := &pahoClient{h: h}
	opts := paho.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetCleanSession(cfg.CleanSession).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password.Value()).
		SetKeepAlive(cfg.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetResumeSubs(false).
		SetStore(newOutboundStore())
	if u, err := url.Parse(cfg.Broker); err == nil && config.TLSScheme(u.Scheme) {
		opts.SetTLSConfig(tlsCfg)
	}
	if open, ok := coalescingOpener(cfg.Broker, &pc.written); ok {
		opts.SetCustomOpenConnectionFn(open) // PUBACKs leave in groups, not one write each
		pc.countsWrites = true
	}
	// Every message goes to the default handler, which matches the topic
	// against the subscriptions itself: the subscriptions carry no handler,
	// so paho does not split each topic to route it. Messages of a
	// persistent session that arrive before the subscriptions are renewed
	// are handled the same way, so none goes unacknowledged.
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { h.message(m) })
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) { h.lost(err) })
	pc.opts, pc.c = opts, paho.NewClient(opts)
	return pc
}

// client is the paho client of the current connection.
func (pc *pahoClient) client() paho.Client {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.c
}

func (pc *pahoClient) Connect(ctx context.Context) error {
	if pc.h.will != nil {
		// paho keeps the options it was made with: a new will (the
		// Sparkplug host's, stamped with this connect's time) takes a
		// new client. The outbound store is shared, so the session's
		// state goes on.
		topic, payload := pc.h.will()
		pc.opts.SetBinaryWill(topic, payload, 1, true)
		pc.mu.Lock()
		pc.c = paho.NewClient(pc.opts)
		pc.mu.Unlock()
	}
	tok := pc.client().Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// Let the attempt finish so that Disconnect closes a connection it
		// may still open.
		tok.WaitTimeout(15 * time.Second)
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return err
	}
	pc.written.Store(0) // what an earlier connection did not write is lost with it
	return nil
}

func (pc *pahoClient) Subscribe(filter string, qos byte) error {
	return pc.subscribe(filter, qos, nil)
}

func (pc *pahoClient) SubscribeFunc(filter string, qos byte, fn func(Message)) error {
	return pc.subscribe(filter, qos, func(_ paho.Client, m paho.Message) { fn(m) })
}

func (pc *pahoClient) subscribe(filter string, qos byte, fn paho.MessageHandler) error {
	c := pc.client()
	if !c.IsConnectionOpen() {
		return errClosed
	}
	tok := c.Subscribe(filter, qos, fn)
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("subscribing to %q: timed out", filter)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("subscribing to %q: %w", filter, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for topic, code := range st.Result() {
			if code == 0x80 {
				return fmt.Errorf("%w to %q", errRefused, topic)
			}
		}
	}
	return nil
}

// Publish sends at QoS 0 and does not wait: paho's handlers must not block
// on tokens.
func (pc *pahoClient) Publish(topic string, payload []byte) {
	pc.client().Publish(topic, 0, false, payload)
}

func (pc *pahoClient) PublishRetained(topic string, payload []byte, wait bool) error {
	c := pc.client()
	if !c.IsConnectionOpen() {
		return errClosed
	}
	tok := c.Publish(topic, 1, true, payload)
	if !wait {
		return nil
	}
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("publishing to %q: timed out", topic)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("publishing to %q: %w", topic, err)
	}
	return nil
}

func (pc *pahoClient) Disconnect() {
	c := pc.client()
	if c.IsConnectionOpen() {
		pc.awaitAcks(ackWait)
		c.Disconnect(250)
	}
}

// awaitAcks waits until the source has no commit in progress and every
// acknowledgement is written to the connection, at most d.
func (pc *pahoClient) awaitAcks(d time.Duration) {
	deadline := time.Now().Add(d)
	pending := func() bool {
		return !pc.h.settled() || (pc.countsWrites && pc.written.Load() < pc.h.acks.Load())
	}
	for pending() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !pc.countsWrites {
		time.Sleep(50 * time.Millisecond) // for paho to write what it has queued
	}
}
