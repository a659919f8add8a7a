package config

import (
	"time"

	loader "github.com/floorpulse/floorpulse/pkg/config"
)

// Buffer policies (buffer.policy): what the on-disk queue does when
// max_bytes is reached. The buffer package implements them under the same names.
const (
	PolicyDropOldest = "drop_oldest" // drop the oldest records, leave gap markers
	PolicyDropNewest = "drop_newest" // refuse new signals, leave gap markers
	PolicyBlock      = "block"       // stop acknowledging upstream until there is room
)

// Buffer is the on-disk queue between sources and the forwarder.
type Buffer struct {
	// MaxBytes bounds the queue's size on disk (at least 1MiB), e.g. 512MiB
	// or 1GiB.
	MaxBytes loader.Size `yaml:"max_bytes"`
	// Policy when max_bytes is reached: drop_oldest (drop the oldest
	// records, leave gap markers), drop_newest (refuse new signals, leave
	// gap markers) or block (stop acknowledging upstream until there is room).
	Policy string `yaml:"policy"`
	// MaxAge drops records committed longer ago than this (counted, replaced
	// by gap markers); 0 turns it off.
	MaxAge time.Duration `yaml:"max_age"`
	// CommitMax is the most signals per commit (one fsync).
	CommitMax int `yaml:"commit_max"`
	// CommitLinger is how long a commit waits to fill up (0 to 1s).
	CommitLinger time.Duration `yaml:"commit_linger"`
}

// validate returns every problem of the buffer section.
func (b *Buffer) validate() []error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	if b.MaxBytes < 1<<20 {
		bad("buffer.max_bytes", "must be at least 1MiB, got %s", b.MaxBytes)
	}
	switch b.Policy {
	case PolicyDropOldest, PolicyDropNewest, PolicyBlock:
	default:
		bad("buffer.policy", "unknown policy %q (want drop_oldest, drop_newest or block)", b.Policy)
	}
	if b.MaxAge < 0 || (b.MaxAge > 0 && b.MaxAge < time.Second) {
		bad("buffer.max_age", "must be 0 (off) or at least 1s, got %s", b.MaxAge)
	}
	if b.CommitMax < 1 {
		bad("buffer.commit_max", "must be positive")
	}
	if b.CommitLinger < 0 || b.CommitLinger > time.Second {
		bad("buffer.commit_linger", "must be between 0 and 1s, got %s", b.CommitLinger)
	}

	return errs
}
