package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/floorpulse/floorpulse/hub/internal/app"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/store"
)

// errLocked says the state store is held by a running hub.
var errLocked = errors.New("state store is locked")

// openOffline loads the configuration and the hub's state store (read and
// closed again) and builds the engine over it, as the hub would at start.
func openOffline(cfgPath string) (*config.Config, *engine.Engine, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(cfg.DataDir, "state.db")
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no state store at %s (data_dir of %s): %w", path, cfgPath, err)
	}
	// Probe the lock first: the hub holds the file exclusively while it runs.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if err != nil {
		return nil, nil, lockedOr(err, path, cfg)
	}
	_ = db.Close()
	st, err := store.Open(path)
	if err != nil {
		return nil, nil, lockedOr(err, path, cfg)
	}
	saved, err := st.Load()
	_ = st.Close()
	if err != nil {
		return nil, nil, err
	}
	return cfg, engine.New(app.Options(cfg), saved), nil
}

func lockedOr(err error, path string, cfg *config.Config) error {
	if !errors.Is(err, bolterrors.ErrTimeout) {
		return err
	}
	hint := "stop the hub first"
	if cfg.HTTP != "" {
		hint = fmt.Sprintf("stop the hub, or ask it with -url http://%s", cfg.HTTP)
	}
	return fmt.Errorf("%w: %s is in use by a running hub; %s", errLocked, path, hint)
}
