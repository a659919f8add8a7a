package buffer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/compact"
)

// bloated writes 60,000 signals to a fresh queue at path, deletes all but
// the last 100 and closes it: the file keeps its high-water size.
func bloated(t *testing.T, path string) []Record {
	t.Helper()
	q, err := OpenWith(path, Options{CompactMinBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		if err := q.Append(ctx, eqSigs(i*1000, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Delete(60000 - 100); err != nil {
		t.Fatal(err)
	}
	kept, err := q.Peek(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 100 {
		t.Fatalf("kept %d records", len(kept))
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	return kept
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// checkIntact opens the queue (compacting if due) and checks it holds
// exactly want and goes on with the sequence.
func checkIntact(t *testing.T, path string, want []Record) *Queue {
	t.Helper()
	q := openWith(t, path, Options{CompactMinBytes: 1 << 20})
	got, err := q.Peek(1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || q.Len() != uint64(len(want)) {
		t.Fatalf("reopened queue holds %d records (Len %d), want %d", len(got), q.Len(), len(want))
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("record %d differs after compaction", i)
		}
	}
	in := sigs(0, 1)
	if err := q.Append(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if in[0].Seq != want[len(want)-1].Seq+1 {
		t.Fatalf("sequence after compaction %d, want %d", in[0].Seq, want[len(want)-1].Seq+1)
	}
	if _, err := os.Stat(path + compact.Suffix); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	return q
}

func TestCompactionShrinksFileAndKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	want := bloated(t, path)
	before := fileSize(t, path)
	if before < 4<<20 {
		t.Fatalf("test file only %d bytes: not bloated enough to test", before)
	}
	q := checkIntact(t, path, want)
	if q.OldestAge() <= 0 {
		t.Fatal("commit times lost by compaction")
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, path)
	if after*4 > before {
		t.Fatalf("file %d bytes after compaction, %d before: did not shrink", after, before)
	}
	t.Logf("compacted %d -> %d bytes", before, after)

	// Small enough now: the next open leaves the file alone.
	q = openWith(t, path, Options{CompactMinBytes: 1 << 20})
	q.Close()
	if got := fileSize(t, path); got != after {
		t.Fatalf("compacted again: %d -> %d bytes", after, got)
	}
}

// TestCompactionSurvivesSIGKILL kills a process compacting the queue at each
// step (new file written and synced; renamed but directory not synced) and
// checks the next open finds every record.
func TestCompactionSurvivesSIGKILL(t *testing.T) {
	for _, step := range []string{"copied", "renamed"} {
		t.Run(step, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queue.db")
			want := bloated(t, path)
			before := fileSize(t, path)

			cmd := exec.Command(os.Args[0], "-test.run=^TestCompactionChildProcess$", "-test.v")
			cmd.Env = append(os.Environ(), "BUFFER_COMPACT_CHILD="+step+":"+path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			reached := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if sc.Text() == "compaction at "+step {
						reached <- true
						return
					}
				}
				reached <- false
			}()
			select {
			case ok := <-reached:
				if !ok {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("child ended before the %s step", step)
				}
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("child did not reach the %s step", step)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			_, tmpErr := os.Stat(path + compact.Suffix)
			switch step {
			case "copied": // killed before the rename: original in place, copy beside it
				if tmpErr != nil || fileSize(t, path) != before {
					t.Fatalf("after a kill before the rename: temp %v, size %d (was %d)", tmpErr, fileSize(t, path), before)
				}
			case "renamed": // killed after the rename: the copy is the queue
				if tmpErr == nil || fileSize(t, path)*4 > before {
					t.Fatalf("after a kill after the rename: temp %v, size %d (was %d)", tmpErr, fileSize(t, path), before)
				}
			}
			q := checkIntact(t, path, want)
			q.Close()
			if got := fileSize(t, path); got*4 > before {
				t.Fatalf("file not compacted after the restart: %d bytes (was %d)", got, before)
			}
		})
	}
}

// TestCompactionChildProcess is the process TestCompactionSurvivesSIGKILL
// kills: it opens the queue and stops at the named compaction step.
func TestCompactionChildProcess(t *testing.T) {
	arg := os.Getenv("BUFFER_COMPACT_CHILD")
	if arg == "" {
		t.Skip("runs only as the child of TestCompactionSurvivesSIGKILL")
	}
	step, path, _ := strings.Cut(arg, ":")
	compactHook = func(s string) {
		if s == step {
			fmt.Println("compaction at " + step)
			time.Sleep(time.Hour) // until SIGKILL
		}
	}
	if _, err := OpenWith(path, Options{CompactMinBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("compaction never reached step %s", step)
}
