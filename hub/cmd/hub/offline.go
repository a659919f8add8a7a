package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/app"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/store"
)

// openOffline loads the configuration and the hub's state store (read and
// closed again) and builds the engine over it, as the hub would at start.
// A store held by a running hub is not waited for.
func openOffline(cfgPath string) (*config.Config, *engine.Engine, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	path := cfg.StatePath()
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no state store at %s (data_dir of %s): %w", path, cfgPath, err)
	}
	st, err := store.Open(path, store.Wait(300*time.Millisecond))
	if err != nil {
		return nil, nil, lockedOr(err, cfg)
	}
	saved, err := st.Load()
	_ = st.Close()
	if err != nil {
		return nil, nil, err
	}
	opts, err := app.EngineOptions(cfg) // with the imported master data
	if err != nil {
		return nil, nil, err
	}
	return cfg, engine.New(opts, saved), nil
}

func lockedOr(err error, cfg *config.Config) error {
	if !errors.Is(err, store.ErrLocked) {
		return err
	}
	hint := "stop the hub first"
	if cfg.HTTP.Listen != "" {
		hint = fmt.Sprintf("stop the hub, or ask it with -url %s://%s", cfg.HTTP.Scheme(), cfg.HTTP.Listen)
	}
	return fmt.Errorf("%w (in use by a running hub); %s", err, hint)
}
