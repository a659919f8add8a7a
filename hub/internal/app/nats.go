package app

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// connectNATS starts the embedded server when no nats.url is configured and
// connects to the server; the returned function closes both.
func connectNATS(cfg *config.Config, log *slog.Logger) (*nats.Conn, func(), error) {
	natsURL := cfg.NATS.URL
	var srv *broker.Server
	if natsURL == "" {
		storeDir := cfg.NATS.StoreDir
		if storeDir == "" {
			storeDir = filepath.Join(cfg.DataDir, "jetstream")
		}
		var err error
		srv, err = broker.Start(cfg.NATS.Listen, storeDir, log.With("part", "nats"))
		if err != nil {
			return nil, nil, err
		}
		natsURL = srv.URL()
	}
	nc, err := nats.Connect(natsURL, natsOptions(cfg, log)...)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return nil, nil, fmt.Errorf("connecting to nats %s: %w", natsURL, err)
	}
	return nc, func() {
		nc.Close()
		if srv != nil {
			srv.Close()
		}
	}, nil
}

func natsOptions(cfg *config.Config, log *slog.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name("floorpulse-hub"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	}
	if cfg.NATS.User != "" {
		opts = append(opts, nats.UserInfo(cfg.NATS.User, cfg.NATS.Password))
	}
	if cfg.NATS.Token != "" {
		opts = append(opts, nats.Token(cfg.NATS.Token))
	}
	return opts
}
