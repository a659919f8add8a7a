package benchmark

import (
	"os"
	"testing"
	"time"
)

func TestParseCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		bad        bool
	}{
		{name: "plain", stat: "4242 (agent) S 1 4242 4242 0 -1 4194304 812 0 0 0 250 37 0 0 20 0 7 0 1000 1 1",
			want: 2870 * time.Millisecond},
		{name: "name with spaces and parentheses", stat: "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 1 1",
			want: 30 * time.Millisecond},
		{name: "no name", stat: "7 a R 1", bad: true},
		{name: "truncated", stat: "7 (a) R 1 7 7", bad: true},
		{name: "not a number", stat: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 2 0", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCPU(tc.stat)
			if tc.bad {
				if err == nil {
					t.Fatalf("parseCPU accepted %q: %v", tc.stat, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseCPU = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestStatusBytes(t *testing.T) {
	status := "Name:\tagent\nVmPeak:\t  812000 kB\nVmHWM:\t   21504 kB\nVmRSS:\t   19000 kB\nThreads:\t7\n"
	if got, err := statusBytes(status, "VmHWM"); err != nil || got != 21504*1024 {
		t.Fatalf("VmHWM = %d, %v; want %d", got, err, 21504*1024)
	}
	if got, err := statusBytes(status, "VmRSS"); err != nil || got != 19000*1024 {
		t.Fatalf("VmRSS = %d, %v; want %d", got, err, 19000*1024)
	}
	if _, err := statusBytes(status, "VmSwap"); err == nil {
		t.Fatal("a missing key gave no error")
	}
	if _, err := statusBytes("VmHWM:\t12 MB\n", "VmHWM"); err == nil {
		t.Fatal("a unit other than kB gave no error")
	}
}

// TestReadUsage reads this test process: busy work makes its CPU time grow,
// and its peak resident memory covers a buffer it touched.
func TestReadUsage(t *testing.T) {
	before, err := ReadUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	// Busy until 50ms of CPU time were counted; on a loaded machine that
	// takes longer than 50ms of wall time, never 10s.
	deadline := time.Now().Add(10 * time.Second)
	var after Usage
	for {
		for i := 0; i < 1e6; i++ {
			buf[i%len(buf)]++
		}
		if after, err = ReadUsage(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if after.CPU-before.CPU >= 50*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time grew by %v in 10s of busy work", after.CPU-before.CPU)
		}
	}
	if after.RSSAnon < 64<<20 || after.RSSFile == 0 || after.RSSAnon+after.RSSFile > after.RSS {
		t.Errorf("RssAnon %d, RssFile %d, VmRSS %d after touching 64 MiB", after.RSSAnon, after.RSSFile, after.RSS)
	}
	if after.PeakRSS < 64<<20 || after.PeakRSS < after.RSS {
		t.Errorf("peak RSS %d, RSS %d after touching 64 MiB", after.PeakRSS, after.RSS)
	}
	if _, err := ReadUsage(1 << 30); err == nil {
		t.Error("a process that does not exist gave no error")
	}
}
