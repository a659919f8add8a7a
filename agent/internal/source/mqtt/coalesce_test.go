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
	c := newCoalescingConn(a)
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
	c := newCoalescingConn(a)
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
