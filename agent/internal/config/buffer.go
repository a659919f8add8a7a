package config

import (
	"time"

	loader "github.com/floorpulse/floorpulse/pkg/config"
)

// Buffer is the on-disk queue between sources and the forwarder.
type Buffer struct {
	MaxBytes Size `yaml:"max_bytes"`
	// Policy when MaxBytes is reached: drop_oldest (the only policy): the
	// oldest records are dropped, counted, and replaced by gap markers.
	Policy       string        `yaml:"policy"`
	CommitMax    int           `yaml:"commit_max"`    // signals per commit (one fsync)
	CommitLinger time.Duration `yaml:"commit_linger"` // how long a commit waits to fill up
}

// validate returns every problem of the buffer section.
func (b *Buffer) validate() []error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	if b.MaxBytes < 1<<20 {
		bad("buffer.max_bytes", "must be at least 1MiB, got %s", b.MaxBytes)
	}
	if b.Policy != "drop_oldest" {
		bad("buffer.policy", "unknown policy %q (want drop_oldest)", b.Policy)
	}
	if b.CommitMax < 1 {
		bad("buffer.commit_max", "must be positive")
	}
	if b.CommitLinger < 0 || b.CommitLinger > time.Second {
		bad("buffer.commit_linger", "must be between 0 and 1s, got %s", b.CommitLinger)
	}

	return errs
}
