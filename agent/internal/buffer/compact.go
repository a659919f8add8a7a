package buffer

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

// DefaultCompactMinBytes is the file size below which the queue file is
// never compacted: rewriting a small file gains little.
const DefaultCompactMinBytes = 64 << 20

// compactRatio: the file is compacted when it is more than this many times
// the size of its live pages.
const compactRatio = 2

// compactSuffix names the temporary file a compaction writes beside the queue.
const compactSuffix = ".compact"

// compactHook, when set (by tests), is called at each step of a compaction:
// "copied" once the new file is complete and synced, "renamed" once it has
// replaced the old one but before the directory is synced.
var compactHook func(step string)

// compactIfBloated rewrites the queue file at path into a fresh file when it
// is larger than minBytes and more than compactRatio times its live data.
//
// Crash safety: the copy goes to path+".compact" in the same directory, is
// fsynced, then renamed over path (atomic on POSIX file systems), and the
// directory is fsynced. A crash before the rename leaves the original file
// intact and a stale temporary file, which the next open removes; a crash
// after it leaves the complete, synced copy under either name, because
// rename replaces the directory entry in one step. Either way the queue opens
// with every record, its sequence and its counters (bolt.Compact copies
// bucket sequences).
func compactIfBloated(path string, minBytes int64, log *slog.Logger) error {
	tmp := path + compactSuffix
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
	src, err := openDB(path)
	if err != nil {
		return err
	}
	defer src.Close()
	live, err := liveBytes(src)
	if err != nil {
		return err
	}
	if fi.Size() <= compactRatio*live {
		return nil
	}
	began := time.Now()
	if err := copyCompacted(src, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if compactHook != nil {
		compactHook("copied")
	}
	if err := src.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replacing the queue file: %w", err)
	}
	if compactHook != nil {
		compactHook("renamed")
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return err
	}
	after := int64(0)
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	log.Info("compacted the queue file", "path", path, "bytes_before", fi.Size(), "bytes_after", after,
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
func copyCompacted(src *bolt.DB, dst string) error {
	out, err := openDB(dst)
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
