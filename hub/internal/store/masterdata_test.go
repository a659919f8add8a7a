package store

import (
	"path/filepath"
	"testing"
)

// The master data sequence a partition applied is 0 in a new store, is
// kept, and travels in a backup (the partition's snapshot).
func TestMasterDataSeq(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "p0.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if seq, err := s.MasterDataSeq(); err != nil || seq != 0 {
		t.Fatalf("new store: %d, %v", seq, err)
	}
	if err := s.SetMasterDataSeq(42); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := s.Backup(copyPath); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMasterDataSeq(43); err != nil {
		t.Fatal(err)
	}
	c, err := Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if seq, err := c.MasterDataSeq(); err != nil || seq != 42 {
		t.Fatalf("backup: %d, %v", seq, err)
	}
	if seq, _ := s.MasterDataSeq(); seq != 43 {
		t.Fatalf("store: %d", seq)
	}
}
