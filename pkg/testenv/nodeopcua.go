package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nodeOPCUADir is where node-opcua is installed, under the module root.
const nodeOPCUADir = ".cache/nodeopcua"

// InstallNodeOPCUA installs the node-opcua test server's packages
// (simulators/nodeopcua/package.json and its lock file) with npm into
// .cache/nodeopcua and returns that folder. It does nothing when the same
// package files were installed before, and holds a file lock meanwhile so
// that test binaries running in parallel install once. Without node or npm
// the test is skipped.
func InstallNodeOPCUA(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found on PATH: install Node.js (20 or later) with npm to run the node-opcua interoperability tests", tool)
		}
	}
	root := Root(t)
	src := filepath.Join(root, "simulators", "nodeopcua")
	dir := filepath.Join(root, nodeOPCUADir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("locking %s: %v", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck

	h := sha256.New()
	var files [][]byte
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatalf("reading the node-opcua server's %s: %v", name, err)
		}
		h.Write(b)
		files = append(files, b)
	}
	stamp := hex.EncodeToString(h.Sum(nil))
	stampPath := filepath.Join(dir, ".installed")
	if b, err := os.ReadFile(stampPath); err == nil && string(b) == stamp && fileExists(filepath.Join(dir, "node_modules", "node-opcua", "package.json")) {
		return dir
	}
	for i, name := range []string{"package.json", "package-lock.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), files[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	if err := os.WriteFile(stampPath, []byte(stamp), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// NodeOPCUAOptions configure a node-opcua test server.
type NodeOPCUAOptions struct {
	Trust           []string // client certificate files (DER or PEM) the server trusts
	MaxItemsPerCall int      // the server's MaxMonitoredItemsPerCall; 0 keeps node-opcua's default
	MaxNodesPerRead int      // the server's MaxNodesPerRead; 0 keeps node-opcua's default
	HideLimits      bool     // state neither limit (0) while enforcing them
	ClockOffset     int      // seconds the server's clock (ServerStatus.CurrentTime) runs ahead of the machine's; negative: behind
	// MaxMonitoredItems is the most monitored items the server holds over
	// all sessions (BadTooManyMonitoredItems beyond); 0 keeps node-opcua's default.
	MaxMonitoredItems int
	// FirstSequence numbers each subscription's notification messages from
	// it rather than 1 (node-opcua wraps them after 4294966271 to 1).
	FirstSequence uint32
}

// NodeOPCUA is a running node-opcua test server (simulators/nodeopcua/server.js):
// variables under Objects/1:Line1/1:M01, users "operator" / "op-secret" and
// "viewer" / "view-secret", endpoints None and secured ones.
type NodeOPCUA struct {
	*Process
	Port int
	URL  string // opc.tcp://127.0.0.1:port
	PKI  string // the server's PKI folder, kept across Restart

	t     testing.TB
	args  []string
	dir   string
	mu    sync.Mutex
	stdin io.WriteCloser
	sent  int
}

// StartNodeOPCUA installs node-opcua if needed and starts the server on a
// free port; it is stopped when the test ends.
func StartNodeOPCUA(t testing.TB, o NodeOPCUAOptions) *NodeOPCUA {
	t.Helper()
	dir := InstallNodeOPCUA(t)
	n := &NodeOPCUA{Port: FreePort(t), PKI: filepath.Join(t.TempDir(), "pki"), t: t, dir: dir}
	n.URL = fmt.Sprintf("opc.tcp://127.0.0.1:%d", n.Port)
	n.args = []string{filepath.Join(Root(t), "simulators", "nodeopcua", "server.js"), "--port", strconv.Itoa(n.Port), "--pki", n.PKI}
	for _, f := range o.Trust {
		n.args = append(n.args, "--trust", f)
	}
	if o.MaxItemsPerCall > 0 {
		n.args = append(n.args, "--max-items-per-call", strconv.Itoa(o.MaxItemsPerCall))
	}
	if o.MaxNodesPerRead > 0 {
		n.args = append(n.args, "--max-nodes-per-read", strconv.Itoa(o.MaxNodesPerRead))
	}
	if o.HideLimits {
		n.args = append(n.args, "--hide-limits")
	}
	if o.ClockOffset != 0 {
		n.args = append(n.args, "--clock-offset", strconv.Itoa(o.ClockOffset))
	}
	if o.FirstSequence > 0 {
		n.args = append(n.args, "--first-sequence", strconv.FormatUint(uint64(o.FirstSequence), 10))
	}
	if o.MaxMonitoredItems > 0 {
		n.args = append(n.args, "--max-monitored-items", strconv.Itoa(o.MaxMonitoredItems))
	}
	n.start()
	return n
}

func (n *NodeOPCUA) start() {
	n.t.Helper()
	cmd := exec.Command("node", n.args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(n.dir, "node_modules"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	p := Start(n.t, "node-opcua", cmd)
	n.mu.Lock()
	n.Process, n.stdin, n.sent = p, stdin, 0
	n.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.Output(), "ready ") {
		if p.Exited() || time.Now().After(deadline) {
			n.t.Fatalf("node-opcua server did not start:\n%s", tail(p.Output(), 4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart kills the server and starts it again on the same port with the
// same PKI (and so the same certificate).
func (n *NodeOPCUA) Restart() {
	n.t.Helper()
	n.Kill()
	n.start()
}

// Value is a variable's new value: Node is "Line1.M01.Power", Value nil
// for none, Status a StatusCodes name ("Good", "UncertainLastUsableValue")
// or number, SourceTime zero for now.
type Value struct {
	Node       string
	Type       string // node-opcua DataType name; "" keeps the variable's
	Value      any
	Status     any
	SourceTime time.Time
}

// Set sets a variable and waits until the server confirms.
func (n *NodeOPCUA) Set(v Value) {
	n.t.Helper()
	cmd := map[string]any{"set": v.Node, "value": v.Value}
	if v.Type != "" {
		cmd["type"] = v.Type
	}
	if v.Status != nil {
		cmd["status"] = v.Status
	}
	if !v.SourceTime.IsZero() {
		cmd["source_time"] = v.SourceTime.UTC().Format(time.RFC3339Nano)
	}
	n.command(cmd)
}

// DropSubscriptions deletes every subscription on the server while the
// sessions stay open, as a server short of resources may, and waits until
// it is done.
func (n *NodeOPCUA) DropSubscriptions() {
	n.t.Helper()
	n.command(map[string]any{"drop_subscriptions": true})
}

// StallPublishing makes the server take publish requests and answer none
// (on) or answer them again (off), as a server whose publishing hung: reads
// and subscriptions go on working, and no client is told.
func (n *NodeOPCUA) StallPublishing(on bool) {
	n.t.Helper()
	n.command(map[string]any{"stall_publishing": on})
}

// Count has the server set variable node to 1, 2, ... to, one every
// interval (on its own clock, each stamped with the time it is set), and
// returns once counting started; CountedTo tells when it is done.
func (n *NodeOPCUA) Count(node string, to int, every time.Duration) {
	n.t.Helper()
	n.command(map[string]any{"count": node, "to": to, "every_ms": every.Milliseconds()})
}

// CountedTo reports whether a Count of node to to is done.
func (n *NodeOPCUA) CountedTo(node string, to int) bool {
	n.mu.Lock()
	p := n.Process
	n.mu.Unlock()
	return strings.Contains(p.Output(), fmt.Sprintf("counted %s to %d\n", node, to))
}

// command sends one command to the server and waits until it confirms.
func (n *NodeOPCUA) command(cmd map[string]any) {
	n.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		n.t.Fatal(err)
	}
	n.mu.Lock()
	n.sent++
	want := fmt.Sprintf("cmd ok %d\n", n.sent)
	_, err = n.stdin.Write(append(b, '\n'))
	p := n.Process
	n.mu.Unlock()
	if err != nil {
		n.t.Fatalf("writing to node-opcua: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Output(), want) {
		if out := p.Output(); strings.Contains(out, "cmd error ") || p.Exited() || time.Now().After(deadline) {
			n.t.Fatalf("node-opcua did not take %s:\n%s", b, tail(out, 2048))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Sessions is how many sessions clients created since the last start.
func (n *NodeOPCUA) Sessions() int {
	n.mu.Lock()
	p := n.Process
	n.mu.Unlock()
	return strings.Count(p.Output(), "session created ")
}

// Certificate returns the server's certificate (DER), made at first start.
func (n *NodeOPCUA) Certificate() []byte {
	n.t.Helper()
	b, err := os.ReadFile(filepath.Join(n.PKI, "own", "certs", "certificate.pem"))
	if err != nil {
		n.t.Fatalf("node-opcua server certificate: %v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		n.t.Fatalf("node-opcua server certificate: no PEM certificate")
	}
	return blk.Bytes
}

// CountConnections listens on 127.0.0.1:port for d, hanging up on every
// connection, and returns how many were made: what a client's reconnect
// attempts against a server that is down (or restarting) add up to.
func CountConnections(t testing.TB, port int, d time.Duration) int {
	t.Helper()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listening on port %d: %v", port, err)
	}
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n++
			c.Close()
		}
	}()
	time.Sleep(d)
	l.Close()
	<-done
	return n
}
