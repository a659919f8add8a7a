// Package broker runs the hub's embedded NATS server with JetStream, the
// default for a single-machine plant. Production sites point the hub at an
// external NATS cluster instead (nats.url) and this package is not used.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is an embedded NATS server with JetStream.
type Server struct {
	srv *server.Server
	log *slog.Logger
}

// Start starts the server listening on listen (host:port), storing JetStream
// data in storeDir.
func Start(listen, storeDir string, log *slog.Logger) (*Server, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("nats.listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("nats.listen: port %q: %w", portStr, err)
	}
	opts := &server.Options{
		ServerName: "floorpulse-hub",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 1 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready on %s", listen)
	}
	log.Info("embedded nats listening", "url", srv.ClientURL(), "store", storeDir)
	return &Server{srv: srv, log: log}, nil
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Run blocks until ctx ends, then shuts the server down.
func (s *Server) Run(ctx context.Context) error {
	<-ctx.Done()
	s.Close()
	return nil
}

// Close shuts the server down; it is idempotent.
func (s *Server) Close() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
