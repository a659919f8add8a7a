package store

import (
	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole store (timelines and pending
// ranges, as of one transaction) to a new file at path. A partitioned hub
// uploads it as the partition's snapshot; another hub opens the copy with
// Open and resumes from it.
func (s *Store) Backup(path string) error {
	return s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) })
}
