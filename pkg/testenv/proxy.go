package testenv

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a local port to a target address, and
// can cut the network between them: Cut closes every forwarded connection
// and refuses new ones (each is closed as soon as it is accepted) until
// Restore. It stands for a network outage between a client and a server
// that both keep running. Drop makes it discard what either side sends
// while the connections stay open: bytes on their way when a network
// breaks.
type Proxy struct {
	Addr string // 127.0.0.1:port to connect to
	Port int

	target string
	ln     net.Listener

	mu    sync.Mutex
	cut   bool
	drop  bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// StartProxy forwards a free local port to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port, target: target, ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, u) {
			continue
		}
		p.wg.Add(2)
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

// track registers a forwarded pair, unless the network was cut meanwhile.
func (p *Proxy) track(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		c.Close()
		u.Close()
		return false
	}
	p.conns[c], p.conns[u] = true, true
	return true
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := p.drop
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every forwarded connection and refuses new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Drop discards (on) or forwards again (off) what either side sends on the
// forwarded connections.
func (p *Proxy) Drop(on bool) {
	p.mu.Lock()
	p.drop = on
	p.mu.Unlock()
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Connections is how many connections are being forwarded.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

// URL is the proxy's address with a scheme, e.g. opc.tcp://127.0.0.1:port.
func (p *Proxy) URL(scheme string) string { return scheme + "://127.0.0.1:" + strconv.Itoa(p.Port) }
