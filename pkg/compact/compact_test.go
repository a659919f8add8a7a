package compact

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A file that is mostly free pages is rewritten smaller with every key it
// holds; a file that is mostly live data is left alone.
func TestIfBloated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 1024)
	put := func(from, to int) {
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for i := from; i < to; i++ {
				if err := b.Put([]byte(fmt.Sprintf("k%06d", i)), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	put(0, 4000)
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for i := 100; i < 4000; i++ {
			if err := b.Delete([]byte(fmt.Sprintf("k%06d", i))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	log := slog.New(slog.DiscardHandler)
	if err := IfBloated(path, before+1, log); err != nil || size() != before {
		t.Fatalf("compacted below the minimum size: %v", err)
	}
	if err := os.WriteFile(path+Suffix, []byte("leftover"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := IfBloated(path, 0, log); err != nil {
		t.Fatal(err)
	}
	if after := size(); after*2 > before {
		t.Fatalf("%d bytes before, %d after", before, after)
	}
	if _, err := os.Stat(path + Suffix); !os.IsNotExist(err) {
		t.Fatalf("leftover still there: %v", err)
	}
	db, err = bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("b")).Stats().KeyN; n != 100 {
			return fmt.Errorf("%d keys", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	compacted := size()
	db.Close()
	if err := IfBloated(path, 0, log); err != nil || size() != compacted {
		t.Fatalf("a compact file was rewritten: %v", err)
	}
}
