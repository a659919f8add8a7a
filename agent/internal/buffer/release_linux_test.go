package buffer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssFile is the file-backed part of this process's resident memory.
func rssFile(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// Reading a backlog maps its pages into the process; once the forwarder
// deleted what it read, they leave the process's resident memory instead
// of staying until bbolt remaps the file.
func TestDeleteReleasesMappedPages(t *testing.T) {
	q := openQueue(t, filepath.Join(t.TempDir(), "queue.db"), 0)
	for i := 0; i < 40; i++ {
		if err := q.Append(context.Background(), sigs(i*5000, 5000)); err != nil {
			t.Fatal(err)
		}
	}
	if fs := q.FileSize(); fs < 32<<20 {
		t.Fatalf("queue file %d bytes, want a backlog of at least 32 MiB", fs)
	}
	before := rssFile(t)
	recs, err := q.Peek(1 << 30) // every page of the backlog is read through the mapping
	if err != nil || len(recs) != 200000 {
		t.Fatalf("peek: %d records, %v", len(recs), err)
	}
	read := rssFile(t)
	if read < before+16<<20 {
		t.Fatalf("reading the backlog added %d bytes of mapped pages, want more than 16 MiB", read-before)
	}
	time.Sleep(releaseEvery)
	if err := q.Delete(recs[len(recs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if after := rssFile(t); after > before+4<<20 {
		t.Fatalf("mapped pages after the delete: %d bytes more than before the backlog was read (%d after reading it)", after-before, read-before)
	}
}
