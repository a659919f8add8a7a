// Package testenv starts the real servers that integration and end-to-end
// tests talk to (mosquitto, NATS with JetStream, InfluxDB 1.8) on free
// loopback ports, and stops them when the test ends. Binaries come from PATH
// or the project's tool cache (.cache/bin, filled by `make tools`); a missing
// binary fails the test with the command that installs it.
package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Root returns the module root (the folder holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Binary finds a tool: in the tool cache first, then on PATH, then in sbin.
func Binary(t testing.TB, name string) string {
	t.Helper()
	cand := filepath.Join(Root(t), ".cache", "bin", name)
	if _, err := os.Stat(cand); err == nil {
		return cand
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Fatalf("%s not found: run `make tools` (or `make test`, which runs it) to install it", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// WaitPort waits until something accepts connections on addr.
func WaitPort(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %s: %v", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Process is a server or component started as a real process.
type Process struct {
	Cmd  *exec.Cmd
	name string
	w    *Buffer
	done chan struct{}
}

// Start runs a command, its output kept (and printed on test failure); the
// process is killed at cleanup.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	w := &Buffer{}
	p := &Process{Cmd: cmd, name: name, w: w}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("--- %s output (last 4 KiB) ---\n%s", name, tail(w.String(), 4096))
			keepLog(t, name, w.String())
		}
	})
	p.done = done
	p.w = w
	return p
}

// Output returns what the process printed so far.
func (p *Process) Output() string { return p.w.String() }

// Kill sends SIGKILL to the process (and its group) and waits for it to end.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Process) Stop(timeout time.Duration) {
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// keepLog writes a failed test's whole process output into the folder named
// by FLOORPULSE_TEST_LOGS, when it is set, as <test>-<process>.log.
func keepLog(t testing.TB, name, out string) {
	dir := os.Getenv("FLOORPULSE_TEST_LOGS")
	if dir == "" {
		return
	}
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '/' || r == ' ' || r == '(' || r == ')' {
				return '_'
			}
			return r
		}, s)
	}
	path := filepath.Join(dir, clean(t.Name())+"-"+clean(name)+".log")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(path, []byte(out), 0o644)
		if err == nil {
			t.Logf("whole output of %s: %s", name, path)
			return
		}
	}
	t.Logf("keeping the output of %s failed", name)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Mosquitto is a running mosquitto broker.
type Mosquitto struct {
	*Process
	Port int
	URL  string // tcp://127.0.0.1:port
	conf string
	bin  string
	t    testing.TB
}

// StartMosquitto starts a mosquitto broker with persistence on a free port.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	dir := t.TempDir()
	port := FreePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("user root\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 0\nmax_inflight_messages 0\nautosave_interval 1\n", port, dir)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &Mosquitto{Port: port, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), conf: conf, bin: Binary(t, "mosquitto"), t: t}
	m.Process = Start(t, "mosquitto", exec.Command(m.bin, "-c", conf))
	WaitPort(t, fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	return m
}

// Restart kills the broker and starts it again on the same port and store.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.Kill()
	m.Process = Start(m.t, "mosquitto", exec.Command(m.bin, "-c", m.conf))
	WaitPort(m.t, fmt.Sprintf("127.0.0.1:%d", m.Port), 10*time.Second)
}

// NATS is an in-process NATS server with JetStream on a random port.
type NATS struct {
	Server *server.Server
	URL    string
	opts   *server.Options
}

// StartNATS starts an embedded NATS server with JetStream storing under a temp dir.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	n := &NATS{opts: opts}
	n.start(t)
	t.Cleanup(func() { n.Server.Shutdown(); n.Server.WaitForShutdown() })
	return n
}

func (n *NATS) start(t testing.TB) {
	s, err := server.NewServer(n.opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	n.Server = s
	n.URL = s.ClientURL()
	// Keep the port across restarts.
	n.opts.Port = s.Addr().(*net.TCPAddr).Port
}

// Shutdown stops the server; Start brings it back on the same port and store.
func (n *NATS) Shutdown() { n.Server.Shutdown(); n.Server.WaitForShutdown() }

// Restart starts a stopped server again on the same port and store.
func (n *NATS) Restart(t testing.TB) { n.start(t) }

// Influx is a running influxd 1.8 with Flux enabled.
type Influx struct {
	*Process
	URL string // http://127.0.0.1:port
}

// StartInflux starts influxd 1.8 with its data in a temp dir and creates database db.
func StartInflux(t testing.TB, db string) *Influx {
	t.Helper()
	// A free port can be taken by another process before influxd binds it:
	// then start again on other ports.
	for attempt := 1; ; attempt++ {
		in, err := startInflux(t)
		if err == nil {
			in.Query(t, "CREATE DATABASE "+db)
			return in
		}
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

func startInflux(t testing.TB) (*Influx, error) {
	dir := t.TempDir()
	httpPort, rpcPort := FreePort(t), FreePort(t)
	conf := filepath.Join(dir, "influxdb.conf")
	body := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%[2]s/meta"
[data]
  dir = "%[2]s/data"
  wal-dir = "%[2]s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%[3]d"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
`, rpcPort, dir, httpPort)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, "influxd", exec.Command(Binary(t, "influxd"), "-config", conf))
	in := &Influx{Process: p, URL: "http://127.0.0.1:" + strconv.Itoa(httpPort)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(in.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent && !p.Exited() {
				return in, nil
			}
		}
		if p.Exited() || time.Now().After(deadline) {
			p.Kill()
			return nil, fmt.Errorf("influxd not ready: %v\n%s", err, tail(p.Output(), 2048))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Query runs an InfluxQL statement and returns the raw JSON answer.
func (in *Influx) Query(t testing.TB, q string) string {
	t.Helper()
	resp, err := http.PostForm(in.URL+"/query", map[string][]string{"q": {q}})
	if err != nil {
		t.Fatalf("influx query %q: %v", q, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("influx query %q: %s %s %v", q, resp.Status, b, err)
	}
	return string(b)
}
