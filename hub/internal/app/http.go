package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// guard puts h behind the hub's authentication (package auth): the users
// and tokens files, and the acknowledge links signed with the hub secret.
func guard(cfg *config.Config, h http.Handler, log *slog.Logger) (http.Handler, error) {
	if cfg.HTTP.Listen == "" {
		return h, nil
	}
	accounts, err := auth.OpenAccounts(cfg.Users(), cfg.Tokens())
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	if accounts.Empty() {
		log.Warn("no users and no API tokens: only acknowledge links get in; add some with `hub user add` or `hub token add`",
			"users_file", cfg.Users(), "tokens_file", cfg.Tokens())
	}
	secret, err := auth.LoadSecret(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("hub secret: %w", err)
	}
	if host, _, _ := net.SplitHostPort(cfg.HTTP.Listen); !cfg.HTTP.TLSOn() && !loopback(host) {
		log.Warn("http without tls on a network address: passwords, tokens and session cookies travel in clear text", "listen", cfg.HTTP.Listen)
	}
	return auth.New(auth.Options{Accounts: accounts, Links: auth.NewLinks(secret, cfg.HTTP.AckLinkTTL),
		SessionTTL: cfg.HTTP.SessionTTL, TLS: cfg.HTTP.TLSOn(), Log: log.With("part", "auth")}).Wrap(h), nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveHTTP serves h as c says (nothing when c.Listen is empty) until ctx ends.
func serveHTTP(ctx context.Context, g *errgroup.Group, c config.HTTP, h http.Handler, log *slog.Logger) {
	if c.Listen == "" {
		return
	}
	// Requests that last until their client leaves (the live pages'
	// streams) end when the shutdown begins; it would otherwise wait for
	// them until its timeout and fail.
	base, endRequests := context.WithCancel(context.Background())
	srv := &http.Server{Addr: c.Listen, Handler: h, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes,
		TLSConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
		BaseContext: func(net.Listener) context.Context { return base }}
	srv.RegisterOnShutdown(endRequests)
	g.Go(func() error {
		log.Info("http listening", "addr", c.Scheme()+"://"+c.Listen)
		var err error
		if c.TLSOn() {
			err = srv.ListenAndServeTLS(c.TLS.CertFile, c.TLS.KeyFile)
		} else {
			err = srv.ListenAndServe()
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
}
