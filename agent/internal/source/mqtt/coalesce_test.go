package mqtt

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// Writes arrive complete and in order, gathered into fewer writes, and
// Close sends what is still buffered.
func TestCoalescingConnKeepsOrder(t *testing.T) {
	a, b := net.Pipe()
	c := newCoalescingConn(a, nil)
	var want bytes.Buffer
	got := make(chan []byte)
	reads := make(chan int, 1)
	go func() {
		var all []byte
		buf := make([]byte, 1<<16)
		n := 0
		for {
			k, err := b.Read(buf)
			all = append(all, buf[:k]...)
			if k > 0 {
				n++
			}
			if err != nil {
				reads <- n
				got <- all
				return
			}
		}
	}()
	for i := 0; i < 5000; i++ {
		p := []byte{0x40, 0x02, byte(i >> 8), byte(i)} // a PUBACK
		want.Write(p)
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * coalesceDelay) // let the flusher send while the connection is open
	c.Write([]byte("last"))
	want.WriteString("last")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	n := <-reads
	if all := <-got; !bytes.Equal(all, want.Bytes()) {
		t.Fatalf("received %d bytes, want %d, or out of order", len(all), want.Len())
	}
	if n >= 5000 {
		t.Fatalf("%d reads for 5001 writes: nothing was gathered", n)
	}
}

// A failed send is reported by the next Write.
func TestCoalescingConnReportsErrors(t *testing.T) {
	a, b := net.Pipe()
	b.Close()
	c := newCoalescingConn(a, nil)
	c.Write([]byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := c.Write([]byte("y")); err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Fatalf("error %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("write error never reported")
		}
		time.Sleep(time.Millisecond)
	}
	c.Close()
}

// countingConn counts the reads of the connection it wraps.
type countingConn struct {
	net.Conn
	reads int
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.Conn.Read(p)
}

// paho reads a packet's fixed header a byte at a time; through the
// connection those bytes come from a buffer filled by few reads.
func TestCoalescingConnBuffersReads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var want bytes.Buffer
	for i := 0; i < 2000; i++ {
		want.Write([]byte{0x40, 0x02, byte(i >> 8), byte(i)})
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Write(want.Bytes())
		c.Close()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConn{Conn: raw}
	c := newCoalescingConn(counted, nil)
	defer c.Close()
	got := make([]byte, 0, want.Len())
	one := make([]byte, 1)
	for len(got) < want.Len() {
		if _, err := io.ReadFull(c, one); err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, one[0])
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("bytes read differ from those sent")
	}
	if counted.reads > 50 {
		t.Fatalf("%d reads of the connection for %d bytes read a byte at a time: reads are not buffered", counted.reads, want.Len())
	}
}

// Close leaves the broker time to read everything: it closes the sending
// side and waits for the broker to close its own. A socket closed at once
// while the broker has sent bytes it never read is reset; the broker's next
// write then fails, and mosquitto drops such a connection without reading
// what it had not read yet (the last acknowledgements, so it would send
// those messages again). The server here does the same.
func TestCoalescingConnCloseLetsThePeerReadEverything(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	sent := make(chan struct{})
	go func() {
		s, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		_, _ = s.Write(bytes.Repeat([]byte{0x30}, 4096)) // what the client never reads
		close(sent)
		time.Sleep(100 * time.Millisecond) // the client closes meanwhile
		if _, err := s.Write(bytes.Repeat([]byte{0x62}, 4096)); err != nil {
			got <- nil // a write failed: dropped unread, as mosquitto does
			return
		}
		b, _ := io.ReadAll(s)
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newCoalescingConn(raw, nil)
	want := bytes.Repeat([]byte{0x40, 0x02, 0x00, 0x01}, 100)
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	<-sent
	time.Sleep(20 * time.Millisecond) // the server's bytes have arrived, unread
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, want the %d written", len(b), len(want))
	}
}
