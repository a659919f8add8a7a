package buffer

import (
	"log/slog"

	"github.com/floorpulse/floorpulse/pkg/compact"
)

// DefaultCompactMinBytes is the file size below which the queue file is
// never compacted: rewriting a small file gains little.
const DefaultCompactMinBytes = compact.MinBytes

// compactHook, when set (by tests), is called at each step of a compaction:
// "copied" once the new file is complete and synced, "renamed" once it has
// replaced the old one but before the directory is synced.
var compactHook func(step string)

// compactIfBloated rewrites the queue file at path into a fresh file when it
// is larger than minBytes and more than twice its live data (pkg/compact:
// a crash at any step leaves the original file or its complete copy, so the
// queue opens with every record, its sequence and its counters).
func compactIfBloated(path string, minBytes int64, log *slog.Logger) error {
	return compact.IfBloated(path, minBytes, log, compact.Options{Open: openDB, Hook: compactHook})
}
