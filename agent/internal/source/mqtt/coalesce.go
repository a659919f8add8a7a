package mqtt

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// coalesceDelay is how long written packets may wait to be sent together.
const coalesceDelay = time.Millisecond

// MQTT control packet types, the high nibble of a packet's first byte.
const (
	pubackType = 4
	pubrecType = 5
)

// coalescingConn gathers small writes and sends them together. paho writes
// every packet with its own system call; under load most of them are
// PUBACKs, acknowledged in groups after each queue commit, so gathering them
// for up to coalesceDelay turns thousands of writes a second into hundreds.
// A Write returns once its bytes are buffered, in order; an error of the
// underlying connection is returned by the next Write and by Close. Close
// sends what is buffered first.
//
// Reads are buffered too: paho reads each packet's fixed header a byte at a
// time straight from the connection, several system calls per message; one
// read now takes in whatever the broker has sent, up to readBuffer bytes.
// Bytes read ahead are only ever messages not yet acknowledged, so a crash
// loses nothing: the broker sends them again.
type coalescingConn struct {
	net.Conn
	r       *bufio.Reader
	mu      sync.Mutex
	buf     []byte
	err     error
	closed  bool
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	out     sync.Mutex // one write to the connection at a time
	acks    *atomic.Int64
}

// newCoalescingConn wraps c; acks (may be nil) counts the PUBACK and PUBREC
// packets written (paho writes each packet with one Write).
func newCoalescingConn(c net.Conn, acks *atomic.Int64) *coalescingConn {
	cc := &coalescingConn{Conn: c, r: bufio.NewReaderSize(c, readBuffer), kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}), acks: acks}
	go cc.loop()
	return cc
}

// maxBuffered bounds the buffer: a writer that gets ahead of the network
// sends synchronously instead.
const maxBuffered = 256 << 10

// readBuffer is how much one read from the connection may take in.
const readBuffer = 64 << 10

// Read reads from the buffer, refilling it with one read of the connection.
func (c *coalescingConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.buf = append(c.buf, p...)
	full := len(c.buf) >= maxBuffered
	c.mu.Unlock()
	if c.acks != nil && len(p) > 0 && (p[0]>>4 == pubackType || p[0]>>4 == pubrecType) {
		c.acks.Add(1)
	}
	if full {
		if err := c.flush(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flush sends the buffered bytes.
func (c *coalescingConn) flush() error {
	c.out.Lock()
	defer c.out.Unlock()
	c.mu.Lock()
	b := c.buf
	c.buf = nil
	err := c.err
	c.mu.Unlock()
	if err != nil || len(b) == 0 {
		return err
	}
	if _, err := c.Conn.Write(b); err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

func (c *coalescingConn) loop() {
	defer close(c.stopped)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.kick:
		}
		t.Reset(coalesceDelay)
		select {
		case <-c.done:
			t.Stop()
			return
		case <-t.C:
		}
		_ = c.flush()
	}
}

func (c *coalescingConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	<-c.stopped
	ferr := c.flush()
	if ferr == nil {
		c.drain()
	}
	if err := c.Conn.Close(); err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	return nil
}

// drainTimeout bounds how long Close waits for the broker to close its side.
const drainTimeout = time.Second

// drain ends the connection the graceful way: it closes the sending side
// and reads (and drops) what the broker still sends until the broker closes
// its side. A socket closed at once makes the broker's next write fail, and
// mosquitto then drops the connection without reading what is still in its
// input, the last PUBACKs and PUBRECs among it: it would send those
// messages again after a restart.
func (c *coalescingConn) drain() {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(drainTimeout))
	_, _ = io.Copy(io.Discard, c.Conn)
}

// openCoalescing opens tcp and TLS connections the way paho does and wraps
// them; for other schemes, or with a proxy configured in the environment,
// ok is false and paho opens the connection itself.
func coalescingOpener(broker string, acks *atomic.Int64) (paho.OpenConnectionFunc, bool) {
	u, err := url.Parse(broker)
	if err != nil || os.Getenv("all_proxy") != "" || os.Getenv("ALL_PROXY") != "" {
		return nil, false
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
	default:
		return nil, false
	}
	return func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		d := &net.Dialer{Timeout: o.ConnectTimeout}
		var c net.Conn
		var err error
		switch uri.Scheme {
		case "tcp", "mqtt":
			c, err = d.Dial("tcp", uri.Host)
		default:
			c, err = tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
		}
		if err != nil {
			return nil, err
		}
		return newCoalescingConn(c, acks), nil
	}, true
}
