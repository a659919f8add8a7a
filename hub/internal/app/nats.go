package app

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// connectNATS starts the embedded server when no nats.url is configured and
// connects to the server. The embedded server (nil with nats.url) runs until
// its Run returns; the returned function closes the connection and the
// server.
func connectNATS(cfg *config.Config, log *slog.Logger) (*nats.Conn, *broker.Server, func(), error) {
	if cfg.NATS.URL != "" {
		opts, err := externalOptions(cfg.NATS)
		if err != nil {
			return nil, nil, nil, err
		}
		nc, err := nats.Connect(cfg.NATS.URL, append(natsOptions(log), opts...)...)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("connecting to nats %s: %w", cfg.NATS.URL, err)
		}
		return nc, nil, nc.Close, nil
	}
	srv, opts, err := startEmbedded(cfg, log.With("part", "nats"))
	if err != nil {
		return nil, nil, nil, err
	}
	// The hub's own client goes through no network: it needs no TLS (a
	// tls:// URL would make the client insist on it).
	url := "nats://" + strings.TrimPrefix(srv.URL(), "tls://")
	nc, err := nats.Connect(url, append(natsOptions(log), append(opts, nats.InProcessServer(srv))...)...)
	if err != nil {
		srv.Close()
		return nil, nil, nil, fmt.Errorf("connecting to the embedded nats: %w", err)
	}
	return nc, srv, func() { nc.Close(); srv.Close() }, nil
}

// startEmbedded starts the embedded server and returns the options of the
// hub's client: its nkey when authentication is on.
func startEmbedded(cfg *config.Config, log *slog.Logger) (*broker.Server, []nats.Option, error) {
	storeDir := cfg.NATS.StoreDir
	if storeDir == "" {
		storeDir = filepath.Join(cfg.DataDir, "jetstream")
	}
	bo := broker.Options{
		Listen: cfg.NATS.Listen, StoreDir: storeDir, Auth: cfg.NATS.Auth == config.AuthNKey,
		AgentsFile: cfg.AgentsPath(), Streams: streams(cfg),
	}
	if t := cfg.NATS.TLS; t != nil {
		bo.TLS = &broker.TLS{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile, VerifyClients: t.VerifyClients}
	}
	var opts []nats.Option
	if bo.Auth {
		seed := cfg.HubSeedPath()
		pub, err := broker.HubKey(seed)
		if err != nil {
			return nil, nil, err
		}
		o, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			return nil, nil, fmt.Errorf("the hub's nkey: %w", err)
		}
		bo.HubKey, opts = pub, append(opts, o)
	}
	srv, err := broker.Start(bo, log)
	if err != nil {
		return nil, nil, err
	}
	return srv, opts, nil
}

// streams names what the identities' permissions refer to.
func streams(cfg *config.Config) broker.Streams {
	return broker.Streams{SignalPrefix: cfg.NATS.SubjectPrefix, Events: cfg.Events.Stream.Name}
}

func natsOptions(log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name("floorpulse-hub"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
}

// externalOptions are the credentials and TLS settings for an external
// server, as the agent's.
func externalOptions(n config.NATS) ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case n.Creds != "":
		opts = append(opts, nats.UserCredentials(n.Creds))
	case n.NKey != "":
		o, err := nats.NkeyOptionFromSeed(n.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats.nkey: %w", err)
		}
		opts = append(opts, o)
	case n.Token.IsSet():
		opts = append(opts, nats.Token(n.Token.Value()))
	case n.User != "":
		opts = append(opts, nats.UserInfo(n.User, n.Password.Value()))
	}
	if t := n.TLS; t != nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("nats.tls.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("nats.tls.ca_file: no PEM certificate in %s", t.CAFile)
			}
		}
		if t.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("nats.tls.cert_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}
