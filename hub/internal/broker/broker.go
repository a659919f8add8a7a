// Package broker runs the hub's embedded NATS server with JetStream, the
// default for a single-machine plant, and keeps the NATS identities of the
// agents (agents.go). Production sites may point the hub at an external NATS
// cluster instead (nats.url); then the cluster's own configuration carries
// the same identities and permissions (docs/security.md).
//
// What always holds: with authentication on (the default) no client connects
// without an nkey user that the server knows. The hub's own user has every
// permission; an agent's user may publish only on its own sites' signal
// subjects and subscribe only to its own reply inbox (Agent.Permissions). A
// change of the agents file reaches the running server within ReloadEvery:
// added agents may connect, a removed agent's connections are closed, changed
// sites apply to the open connections. A file that does not load leaves the
// identities as they were.
package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options say how the embedded server runs.
type Options struct {
	// Listen is the client address, host:port (port 0: a free one).
	Listen string
	// StoreDir holds the JetStream files.
	StoreDir string
	// Auth requires every client to authenticate with an nkey user: the
	// hub's (HubKey) or an agent's from AgentsFile. Off, anyone who reaches
	// Listen may do anything.
	Auth bool
	// HubKey is the public key of the hub's own user.
	HubKey string
	// AgentsFile holds the agents' identities (see Agents).
	AgentsFile string
	// Streams name the subjects and streams of the permissions.
	Streams Streams
	// TLS, when set, makes clients use TLS (in-process connections excepted).
	TLS *TLS
}

// TLS is the embedded server's TLS.
type TLS struct {
	// CertFile and KeyFile are the server's certificate and key (PEM).
	CertFile, KeyFile string
	// CAFile verifies client certificates.
	CAFile string
	// VerifyClients requires a client certificate signed by CAFile.
	VerifyClients bool
}

// Config builds the server's TLS configuration, reading the files.
func (t *TLS) Config() (*tls.Config, error) {
	return server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: t.CertFile, KeyFile: t.KeyFile, CaFile: t.CAFile, Verify: t.VerifyClients,
	})
}

// ReloadEvery is how often the agents file is checked for changes.
var ReloadEvery = 2 * time.Second

// Server is an embedded NATS server with JetStream.
type Server struct {
	srv  *server.Server
	opts server.Options // as started, to clone for reloads
	o    Options
	log  *slog.Logger
	last []byte // agents file contents in force
}

// Start starts the server.
func Start(o Options, log *slog.Logger) (*Server, error) {
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats.listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats.listen: port %q: %w", portStr, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := server.Options{
		ServerName: "floorpulse-hub",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 1 << 20,
	}
	if o.TLS != nil {
		tc, err := o.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("nats.tls: %w", err)
		}
		opts.TLSConfig, opts.TLS, opts.TLSVerify = tc, true, o.TLS.VerifyClients
		opts.TLSTimeout = 5
	}
	s := &Server{o: o, log: log}
	if o.Auth {
		data, err := readAgents(o.AgentsFile)
		if err != nil {
			return nil, err
		}
		if opts.Nkeys, err = s.users(data); err != nil {
			return nil, err
		}
		s.last = data
	}
	s.opts = opts
	start := opts.Clone()
	srv, err := server.NewServer(start)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready on %s", o.Listen)
	}
	s.srv = srv
	log.Info("embedded nats listening", "url", srv.ClientURL(), "store", o.StoreDir,
		"auth", o.Auth, "agents", max(len(opts.Nkeys)-1, 0), "tls", o.TLS != nil)
	if !o.Auth {
		log.Warn("embedded nats without authentication (nats.auth: none): any client that reaches it may publish and read everything")
	}
	return s, nil
}

// readAgents reads the agents file; one that does not exist is empty.
func readAgents(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agents file: %w", err)
	}
	return data, nil
}

// users returns the server's nkey users, the hub's first, from the agents
// file's contents.
func (s *Server) users(data []byte) ([]*server.NkeyUser, error) {
	a, err := ParseAgents(s.o.AgentsFile, data)
	if err != nil {
		return nil, err
	}
	users := []*server.NkeyUser{{Nkey: s.o.HubKey}}
	for _, ag := range a.Agents {
		if ag.NKey == s.o.HubKey {
			return nil, fmt.Errorf("%s: agent %s has the hub's key", s.o.AgentsFile, ag.Name)
		}
		users = append(users, &server.NkeyUser{Nkey: ag.NKey, Permissions: ag.Permissions(s.o.Streams)})
	}
	return users, nil
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.srv.ClientURL() }

// InProcessConn is a connection to the server that does not go through the
// network (nats.InProcessServer): the hub's own client uses it, so it needs
// no TLS even when clients must use TLS.
func (s *Server) InProcessConn() (net.Conn, error) { return s.srv.InProcessConn() }

// Run checks the agents file for changes every ReloadEvery and applies them,
// until ctx ends. It leaves the server running: the hub's parts may still use
// it while they stop (a partition's hand-over); Close shuts it down.
func (s *Server) Run(ctx context.Context) error {
	if !s.o.Auth {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.reload()
		}
	}
}

// reload applies the agents file if it changed since it was last applied.
func (s *Server) reload() {
	data, err := readAgents(s.o.AgentsFile)
	if err != nil {
		s.log.Warn("reading the agents file failed; identities unchanged", "err", err)
		return
	}
	if bytes.Equal(data, s.last) {
		return
	}
	users, err := s.users(data)
	if err != nil {
		s.log.Error("agents file not loaded; identities unchanged", "err", err)
		s.last = data // do not complain again until it changes
		return
	}
	opts := s.opts.Clone()
	opts.Nkeys = users
	if err := s.srv.ReloadOptions(opts); err != nil {
		s.log.Error("reloading the nats identities failed", "err", err)
		return
	}
	s.last = data
	s.log.Info("agents file reloaded", "agents", len(users)-1)
}

// Close shuts the server down; it is idempotent.
func (s *Server) Close() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
