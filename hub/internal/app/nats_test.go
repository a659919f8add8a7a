package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// embedded is the hub's embedded NATS server on a free port, started by the
// hub's own code, with the signals and events streams created by the hub's
// client.
type embedded struct {
	cfg *config.Config
	url string
	js  jetstream.JetStream // the hub's
	srv *broker.Server
}

func startHubNATS(t *testing.T, natsYAML string, agents map[string][]string) (*embedded, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf("site: plant1\ndata_dir: %s\nnats: %s\n", filepath.Join(dir, "hub"), natsYAML)))
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string]string{}
	for name, sites := range agents {
		seeds[name] = addAgent(t, cfg, name, sites...)
	}
	nc, srv, closeNATS, err := connectNATS(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeNATS)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	js, _ := jetstream.New(nc)
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	if _, err := consume.EnsureStream(cctx, js, consumeConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(cctx, jetstream.StreamConfig{Name: cfg.Events.Stream.Name, Subjects: []string{cfg.Events.Stream.SubjectPrefix + ".>"}}); err != nil {
		t.Fatal(err)
	}
	return &embedded{cfg: cfg, url: srv.URL(), js: js, srv: srv}, seeds
}

func (e *embedded) msgs(t *testing.T) uint64 {
	t.Helper()
	st, err := e.js.Stream(context.Background(), e.cfg.NATS.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// asyncErrs collects the errors the server sends a client (permission
// violations arrive asynchronously).
type asyncErrs chan error

func (a asyncErrs) option() nats.Option {
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case a <- err:
		default:
		}
	})
}

// wait returns once the server refused what (a subject, quoted in its
// message), failing the test after a deadline.
func (a asyncErrs) wait(t *testing.T, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-a:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), `"`+what+`"`) {
				return
			}
		case <-deadline:
			t.Fatalf("the server did not refuse %s", what)
		}
	}
}

func sig(site string) signal.Signal {
	return signal.Signal{Site: site, Line: "L1", Equipment: "M01", Name: signal.Run, Value: signal.Bool(true), Time: time.Now()}
}

// The embedded server refuses clients without an nkey it knows; an agent's
// identity publishes its own site's signals (and gets the stream's acks on
// its own inbox) and nothing else: not another site, not a subscription to
// everything, to the events or to another agent's inbox, not the JetStream
// API.
func TestEmbeddedNATSAgentPermissions(t *testing.T) {
	e, seeds := startHubNATS(t, `{listen: "127.0.0.1:0"}`, map[string][]string{"gw1": {"plant1"}})

	if nc, err := nats.Connect(e.url, nats.Timeout(2*time.Second)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client was accepted")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous client: %v, want an authorization violation", err)
	}
	stranger, _ := nkeys.CreateUser()
	strangerSeed, _ := stranger.Seed()
	strangerFile := filepath.Join(t.TempDir(), "stranger.nk")
	if err := os.WriteFile(strangerFile, strangerSeed, 0o600); err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(e.url, append(agentOptions(t, "stranger", strangerFile), nats.Timeout(2*time.Second))...); err == nil {
		nc.Close()
		t.Fatal("an unknown nkey was accepted")
	}

	errs := make(asyncErrs, 16)
	nc, err := nats.Connect(e.url, append(agentOptions(t, "gw1", seeds["gw1"]), errs.option())...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	own := sig("plant1")
	b, _ := signal.Marshal(own)
	ack, err := js.Publish(ctx, own.Subject(signal.SubjectPrefix), b)
	if err != nil || ack.Stream != e.cfg.NATS.Stream {
		t.Fatalf("publishing for its own site: ack %+v, err %v", ack, err)
	}

	other := sig("plant2")
	b, _ = signal.Marshal(other)
	short, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, err := js.Publish(short, other.Subject(signal.SubjectPrefix), b); err == nil {
		t.Fatal("published for another site")
	}
	scancel()
	errs.wait(t, other.Subject(signal.SubjectPrefix))

	for _, subject := range []string{">", e.cfg.Events.Stream.SubjectPrefix + ".>", "_INBOX.gw2.>", "$JS.API.>"} {
		if _, err := nc.SubscribeSync(subject); err != nil {
			t.Fatal(err)
		}
		errs.wait(t, subject)
	}
	for _, subject := range []string{"$JS.API.STREAM.DELETE." + e.cfg.NATS.Stream, "$JS.API.STREAM.CREATE.MINE", "$JS.API.STREAM.INFO." + e.cfg.NATS.Stream} {
		if _, err := nc.Request(subject, nil, 500*time.Millisecond); err == nil {
			t.Fatalf("%s answered", subject)
		}
		errs.wait(t, subject)
	}
	short, scancel = context.WithTimeout(ctx, 500*time.Millisecond)
	defer scancel()
	if _, err := js.CreateStream(short, jetstream.StreamConfig{Name: "MINE", Subjects: []string{"mine.>"}}); err == nil {
		t.Fatal("an agent created a stream")
	}
	if n := e.msgs(t); n != 1 {
		t.Fatalf("the signals stream holds %d messages, want the agent's own one", n)
	}
}

// A maintenance system's identity reads the events stream with a durable
// consumer of its own, and can neither publish signals, nor read the
// signals stream, nor delete the events stream.
func TestEmbeddedNATSEventsReader(t *testing.T) {
	e, seeds := startHubNATS(t, `{listen: "127.0.0.1:0"}`, map[string][]string{"cmms": nil})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := e.cfg.Events.Stream
	if _, err := e.js.Publish(ctx, events.SubjectPrefix+".unplanned_downtime.plant1.L1.M01", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	errs := make(asyncErrs, 16)
	nc, err := nats.Connect(e.url, append(agentOptions(t, "cmms", seeds["cmms"]), errs.option())...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cons, err := js.CreateOrUpdateConsumer(ctx, events.Name, jetstream.ConsumerConfig{Durable: "cmms", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != 1 {
		t.Fatalf("read %d events, want 1", got)
	}

	s := sig("plant1")
	if err := nc.Publish(s.Subject(signal.SubjectPrefix), nil); err != nil {
		t.Fatal(err)
	}
	errs.wait(t, s.Subject(signal.SubjectPrefix))
	if _, err := nc.SubscribeSync(signal.SubjectPrefix + ".>"); err != nil {
		t.Fatal(err)
	}
	errs.wait(t, signal.SubjectPrefix+".>")
	for _, subject := range []string{"$JS.API.CONSUMER.DURABLE.CREATE." + e.cfg.NATS.Stream + ".mine", "$JS.API.STREAM.DELETE." + events.Name} {
		if _, err := nc.Request(subject, nil, 500*time.Millisecond); err == nil {
			t.Fatalf("%s answered", subject)
		}
		errs.wait(t, subject)
	}
}

// The running hub applies the agents file: an added agent may connect,
// changed sites apply to its open connection, a removed one is disconnected.
func TestEmbeddedNATSReloadsAgents(t *testing.T) {
	old := broker.ReloadEvery
	broker.ReloadEvery = 50 * time.Millisecond
	t.Cleanup(func() { broker.ReloadEvery = old })
	e, _ := startHubNATS(t, `{listen: "127.0.0.1:0"}`, nil)

	seed := addAgent(t, e.cfg, "gw2", "plant1")
	var nc *nats.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		nc, err = nats.Connect(e.url, append(agentOptions(t, "gw2", seed), nats.NoReconnect(), nats.Timeout(time.Second))...)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an added agent cannot connect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	b, _ := signal.Marshal(sig("plant1"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, sig("plant1").Subject(signal.SubjectPrefix), b); err != nil {
		t.Fatal(err)
	}

	// Its sites change: the open connection may publish for the new one.
	a, err := broker.LoadAgents(e.cfg.AgentsPath())
	if err != nil {
		t.Fatal(err)
	}
	a.Agents[0].Sites = []string{"plant2"}
	if err := a.Save(e.cfg.AgentsPath()); err != nil {
		t.Fatal(err)
	}
	b, _ = signal.Marshal(sig("plant2"))
	for {
		short, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := js.Publish(short, sig("plant2").Subject(signal.SubjectPrefix), b)
		scancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("changed sites do not apply to an open connection")
		}
	}

	a.Remove("gw2")
	if err := a.Save(e.cfg.AgentsPath()); err != nil {
		t.Fatal(err)
	}
	for !nc.IsClosed() {
		if ctx.Err() != nil {
			t.Fatal("a removed agent stays connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if nc, err := nats.Connect(e.url, append(agentOptions(t, "gw2", seed), nats.Timeout(time.Second))...); err == nil {
		nc.Close()
		t.Fatal("a removed agent connected again")
	}
}

// With TLS and client certificates the hub's own client still connects (in
// process); an agent with a certificate of the configured CA and its nkey
// publishes; a certificate of another CA, no certificate, plain TCP and a
// client that does not trust the server's certificate are refused.
func TestEmbeddedNATSTLS(t *testing.T) {
	old := broker.ReloadEvery
	broker.ReloadEvery = 50 * time.Millisecond
	t.Cleanup(func() { broker.ReloadEvery = old })
	pki, other := testenv.GenerateCerts(t), testenv.GenerateCerts(t)
	e, seeds := startHubNATS(t, fmt.Sprintf(`{listen: "127.0.0.1:0", tls: {cert_file: %s, key_file: %s, ca_file: %s, verify_clients: true}}`,
		pki.ServerCert, pki.ServerKey, pki.CA), map[string][]string{"gw1": {"plant1"}})
	agent := agentOptions(t, "gw1", seeds["gw1"])
	try := func(opts ...nats.Option) error {
		nc, err := nats.Connect(e.url, append(append([]nats.Option{nats.Timeout(2 * time.Second)}, agent...), opts...)...)
		if err == nil {
			nc.Close()
		}
		return err
	}
	for name, opts := range map[string][]nats.Option{
		"a certificate of another CA":    {nats.RootCAs(pki.CA), nats.ClientCert(other.ClientCert, other.ClientKey)},
		"no client certificate":          {nats.RootCAs(pki.CA)},
		"plain TCP":                      nil,
		"not trusting the server's cert": {nats.RootCAs(other.CA), nats.ClientCert(pki.ClientCert, pki.ClientKey)},
	} {
		if err := try(opts...); err == nil {
			t.Errorf("%s: connected", name)
		}
	}

	nc, err := nats.Connect(e.url, append(agent, nats.RootCAs(pki.CA), nats.ClientCert(pki.ClientCert, pki.ClientKey))...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.TLSRequired() {
		t.Fatal("the server does not require TLS")
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := sig("plant1")
	b, _ := signal.Marshal(s)
	if _, err := js.Publish(ctx, s.Subject(signal.SubjectPrefix), b); err != nil {
		t.Fatal(err)
	}
	if n := e.msgs(t); n != 1 {
		t.Fatalf("the stream holds %d messages, want 1", n)
	}

	// A reload of the identities keeps TLS as it was.
	seed := addAgent(t, e.cfg, "gw2", "plant1")
	for {
		nc, err := nats.Connect(e.url, append(agentOptions(t, "gw2", seed), nats.RootCAs(pki.CA), nats.ClientCert(pki.ClientCert, pki.ClientKey), nats.Timeout(time.Second))...)
		if err == nil {
			nc.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("an agent added under TLS cannot connect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := try(); err == nil {
		t.Fatal("plain TCP accepted after a reload")
	}
}
