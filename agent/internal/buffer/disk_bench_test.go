package buffer

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkBoltCommit is the physical reference for the queue: bare bbolt
// on this disk, nothing of the queue's own, each commit appending records
// of 200 bytes (about one encoded signal) under increasing keys and
// fsyncing, as the queue's group commit does. One operation is one commit;
// records=1 is the disk's fsync rate, records=1000 the queue's largest
// commit (buffer.commit_max).
//
//	go test -run '^$' -bench BoltCommit -benchtime 2s ./agent/internal/buffer
func BenchmarkBoltCommit(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), 0o600,
				&bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			bucket := []byte("q")
			val := make([]byte, 200)
			var seq uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				err := db.Update(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists(bucket)
					if err != nil {
						return err
					}
					bk.FillPercent = appendFill
					for range n {
						seq++
						var k [8]byte
						binary.BigEndian.PutUint64(k[:], seq)
						if err := bk.Put(k[:], val); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/s, "commits/s")
			b.ReportMetric(float64(b.N*n)/s, "records/s")
		})
	}
}
