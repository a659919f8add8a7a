package store

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// Master data: bucket "masterdata" holds "seq", the last change of the
// shared master data (a partitioned hub's) whose restatement this store's
// pending ranges hold. It travels with the partition's snapshot, so the
// next holder restates the changes after it.
var (
	bucketMasterData = []byte("masterdata")
	keyMasterDataSeq = []byte("seq")
)

// MasterDataSeq returns the stored master data sequence (0: none).
func (s *Store) MasterDataSeq() (uint64, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMasterData); b != nil {
			if v := b.Get(keyMasterDataSeq); len(v) == 8 {
				seq = binary.BigEndian.Uint64(v)
			}
		}
		return nil
	})
	return seq, err
}

// SetMasterDataSeq stores the master data sequence: call it once the
// ranges the changes up to seq restate are saved.
func (s *Store) SetMasterDataSeq(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketMasterData)
		if err != nil {
			return err
		}
		return b.Put(keyMasterDataSeq, binary.BigEndian.AppendUint64(nil, seq))
	})
}
