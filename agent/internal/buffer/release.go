package buffer

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// releaseEvery is the least time between two releases of the mapped pages.
const releaseEvery = 20 * time.Millisecond

// releasePages drops the queue file's pages from the process's mapping
// after the forwarder deleted what it had read (see unmapPages). bbolt reads
// the file through a shared, read-only mmap and writes it with pwrite, so
// every page the forwarder reads, and every page a delete frees, stays
// resident in the agent (counted in its RSS) until bbolt remaps the file,
// although nothing will read it again: a backlog of a million records would
// keep a few hundred MB resident. The pages stay in the kernel's page cache;
// a page read again is mapped again from there (a minor fault, no disk
// read).
//
// It runs after the delete committed (committing reads every freed page),
// inside a read transaction: bbolt remaps the file only when none is open,
// so the mapping released is the one in use.
func (q *Queue) releasePages() {
	now := time.Now().UnixNano()
	last := q.released.Load()
	if now-last < int64(releaseEvery) || !q.released.CompareAndSwap(last, now) {
		return
	}
	err := q.db.View(func(tx *bolt.Tx) error {
		return unmapPages(q.db.Info().Data, uintptr(tx.Size()))
	})
	if err != nil {
		q.log.Debug("releasing mapped queue pages failed", "err", err)
	}
}
