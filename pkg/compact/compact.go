// Package compact shrinks a bbolt file that is mostly free pages. bbolt
// never gives pages back to the file system: pages freed by deletions (the
// agent's sent records, the hub's retention) are reused, so the file stops
// growing, but it shrinks only when it is copied. IfBloated does that copy
// at start, before the file is opened; the agent's queue and the hub's
// stores use it.
//
// What holds: a crash at any step leaves the original file or its complete,
// synced copy under the original name, never a partial one (the copy is
// fsynced, renamed over the file, and the directory fsynced; rename replaces
// the directory entry in one step). bolt.Compact copies bucket sequences.
package compact

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/pkg/atomicfile"
)

// MinBytes is the file size below which a file is never compacted:
// rewriting a small file gains little.
const MinBytes = 64 << 20

// ratio: a file is compacted when it is more than ratio times the size of
// its live pages.
const ratio = 2

// Suffix names the temporary copy beside the file.
const Suffix = ".compact"

// Options change how IfBloated works; the zero value is the default.
type Options struct {
	// Open opens a bbolt file (the source and the copy); default bolt.Open
	// with a 5 s lock timeout.
	Open func(path string) (*bolt.DB, error)
	// Hook, when set (by tests), is called at each step: "copied" once the
	// copy is complete and synced, "renamed" once it replaced the file but
	// before the directory is synced.
	Hook func(step string)
}

func (o Options) open(path string) (*bolt.DB, error) {
	if o.Open != nil {
		return o.Open(path)
	}
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
}

func (o Options) step(s string) {
	if o.Hook != nil {
		o.Hook(s)
	}
}

// IfBloated rewrites the bbolt file at path into a fresh file when it is at
// least minBytes and more than twice its live data. The copy goes to
// path+".compact", is fsynced and renamed over path, then the directory is
// fsynced; the leftover of an interrupted compaction is removed first. The
// file must not be open.
func IfBloated(path string, minBytes int64, log *slog.Logger, opts ...Options) error {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	tmp := path + Suffix
	if err := os.Remove(tmp); err == nil {
		log.Info("removed the leftover of an interrupted compaction", "path", tmp)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", tmp, err)
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Size() < minBytes {
		return nil
	}
	src, err := o.open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer src.Close()
	live, err := liveBytes(src)
	if err != nil {
		return err
	}
	if fi.Size() <= ratio*live {
		return nil
	}
	began := time.Now()
	if err := copyCompacted(o, src, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	o.step("copied")
	if err := src.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	o.step("renamed")
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return err
	}
	after := int64(0)
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	log.Info("compacted a bbolt file", "path", path, "bytes_before", fi.Size(), "bytes_after", after,
		"live_bytes", live, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// liveBytes is the size of the pages in use: the file's high-water mark
// minus the free pages.
func liveBytes(db *bolt.DB) (int64, error) {
	var size int64
	if err := db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		return 0, err
	}
	st := db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(db.Info().PageSize)
	return max(size-free, int64(db.Info().PageSize)), nil
}

// copyCompacted writes the live data of src into a new file at dst and
// fsyncs it.
func copyCompacted(o Options, src *bolt.DB, dst string) error {
	out, err := o.open(dst)
	if err != nil {
		return err
	}
	if err := bolt.Compact(out, src, 64<<20); err != nil {
		out.Close()
		return fmt.Errorf("compacting into %s: %w", dst, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
