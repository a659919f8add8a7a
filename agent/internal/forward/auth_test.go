package forward

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// pki is a throw-away CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files.
type pki struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage) (string, string) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".crt", "CERTIFICATE", der), write(name+".key", "EC PRIVATE KEY", kder)
	}
	p := pki{CA: write("ca.crt", "CERTIFICATE", caDER)}
	p.ServerCert, p.ServerKey = leaf(2, "server", x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = leaf(3, "client", x509.ExtKeyUsageClientAuth)
	return p
}

// TestConnectWithTLSAndNKey forwards through a server that verifies client
// certificates and admits only an nkey user.
func TestConnectWithTLSAndNKey(t *testing.T) {
	p := newPKI(t)
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	seedFile := filepath.Join(t.TempDir(), "agent.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, CaFile: p.CA, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 2,
		Nkeys: []*server.NkeyUser{{Nkey: pub}},
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	url := ns.ClientURL()

	// The server enforces both: without a client certificate, and with one
	// but without the nkey, a client is refused.
	if nc, err := nats.Connect(url, nats.RootCAs(p.CA), nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("server accepted a client without a certificate")
	}
	if nc, err := nats.Connect(url, nats.RootCAs(p.CA), nats.ClientCert(p.ClientCert, p.ClientKey), nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("server accepted a client without the nkey")
	}

	cfg := natsConfig(url)
	cfg.NKey = seedFile
	cfg.TLS = &config.TLS{CA: p.CA, Cert: p.ClientCert, Key: p.ClientKey}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &metrics.Registry{}
	nc, err := Connect(cfg, "test", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, "a connection", func() bool { return m.NATSConnected.Load() })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jsm, _ := jetstream.New(nc)
	stream, err := jsm.CreateStream(ctx, jetstream.StreamConfig{Name: streamtest.Stream, Subjects: []string{signal.SubjectPrefix + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fill(t, q, 0, 50)
	f := New(q, nc, cfg, m, log)
	fctx, fcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(fctx) }()
	defer func() { fcancel(); <-done }()
	waitFor(t, "an empty queue", func() bool { return q.Len() == 0 })
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 50 {
		t.Fatalf("stream holds %d messages, want 50", info.State.Msgs)
	}
}

// TestConnectRejectsBadNKeyFile: a seed file that is not a seed stops the
// agent at start with the key named, rather than retrying forever.
func TestConnectRejectsBadNKeyFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.nk")
	if err := os.WriteFile(bad, []byte("not a seed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := natsConfig("nats://127.0.0.1:1")
	cfg.NKey = bad
	_, err := Connect(cfg, "test", &metrics.Registry{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("want an error")
	}
	if want := "nats.nkey"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestForwardWithAgentPermissions forwards as an identity that may publish
// only its site's signals and subscribe only below its own inbox prefix, as
// a hub's agent identity: the acks come back under nats.inbox_prefix, and
// the forwarder calls no JetStream API.
func TestForwardWithAgentPermissions(t *testing.T) {
	admin, _ := nkeys.CreateUser()
	adminSeed, _ := admin.Seed()
	adminPub, _ := admin.PublicKey()
	agent, _ := nkeys.CreateUser()
	agentSeed, _ := agent.Seed()
	agentPub, _ := agent.PublicKey()
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "gw1.nk")
	if err := os.WriteFile(seedFile, agentSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Nkeys: []*server.NkeyUser{{Nkey: adminPub}, {Nkey: agentPub, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{signal.SubjectPrefix + ".s1.*.*"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.gw1.>"}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	adminFile := filepath.Join(dir, "admin.nk")
	if err := os.WriteFile(adminFile, adminSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	adminOpt, err := nats.NkeyOptionFromSeed(adminFile)
	if err != nil {
		t.Fatal(err)
	}
	anc, err := nats.Connect(ns.ClientURL(), adminOpt)
	if err != nil {
		t.Fatal(err)
	}
	defer anc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jsm, _ := jetstream.New(anc)
	stream, err := jsm.CreateStream(ctx, jetstream.StreamConfig{Name: streamtest.Stream, Subjects: []string{signal.SubjectPrefix + ".>"}})
	if err != nil {
		t.Fatal(err)
	}

	cfg := natsConfig(ns.ClientURL())
	cfg.NKey, cfg.InboxPrefix = seedFile, "_INBOX.gw1"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &metrics.Registry{}
	nc, err := Connect(cfg, "test", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	fill(t, q, 0, 50)
	f := New(q, nc, cfg, m, log)
	fctx, fcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.Run(fctx) }()
	defer func() { fcancel(); <-done }()
	waitFor(t, "an empty queue", func() bool { return q.Len() == 0 })
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 50 {
		t.Fatalf("stream info %v, %v; want 50 messages", info, err)
	}
	if n := m.PublishErrors.Load(); n != 0 {
		t.Fatalf("%d publish errors", n)
	}
}
