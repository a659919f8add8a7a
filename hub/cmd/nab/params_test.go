package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
)

// The split depends on the base name only and is fixed: these names are
// pinned, so a change of the hash would show here (and change every
// published split score).
func TestHalfIsFixed(t *testing.T) {
	for name, want := range map[string]string{
		"nyc_taxi.csv":                              "a",
		"realKnownCause/nyc_taxi.csv":               "a",
		"/elsewhere/x/speed_7578.csv":               "a",
		"exchange-2_cpc_results.csv":                "b",
		"realAdExchange/exchange-2_cpc_results.csv": "b",
	} {
		if got := Half(name); got != want {
			t.Errorf("Half(%q) = %q, want %q", name, got, want)
		}
	}
	// Roughly balanced over many names.
	n := map[string]int{}
	for i := 0; i < 1000; i++ {
		n[Half(fmt.Sprintf("series_%d.csv", i))]++
	}
	if n["a"] < 450 || n["b"] < 450 || n["a"]+n["b"] != 1000 {
		t.Fatalf("halves %v", n)
	}
}

func TestSetParam(t *testing.T) {
	cfg := gauge.DefaultConfig()
	for _, kv := range []string{"window=512", "half_surprise=4", "levels=0", "repeat=1", "record_after=0", "spread=true"} {
		if err := setParam(&cfg, kv); err != nil {
			t.Fatalf("%s: %v", kv, err)
		}
	}
	if cfg.Window != 512 || cfg.HalfSurprise != 4 || cfg.Levels != 0 || cfg.Repeat != 1 || cfg.RecordAfter != 0 || !cfg.Spread {
		t.Fatalf("config %+v", cfg)
	}
	for _, kv := range []string{"window", "window=x", "nope=1", "repeat=abc", "spread=2"} {
		if err := setParam(&cfg, kv); err == nil {
			t.Errorf("%q accepted", kv)
		}
	}
}

func TestNabMainHalfSetExplain(t *testing.T) {
	src := t.TempDir()
	data, err := os.ReadFile(nabTestdata)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range []string{"one.csv", "two.csv", "three.csv", "four.csv", "five.csv"} {
		if err := os.WriteFile(filepath.Join(src, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	for _, h := range []string{"a", "b"} {
		out := t.TempDir()
		if code := nabMain([]string{"-in", src, "-out", out, "-half", h, "-explain", "-set", "levels=0"}); code != 0 {
			t.Fatalf("half %s: exit code %d", h, code)
		}
		for _, n := range names {
			_, err := os.Stat(filepath.Join(out, n))
			if (err == nil) != (Half(n) == h) {
				t.Errorf("half %s: %s written %v, in half %s", h, n, err == nil, Half(n))
			}
			if err == nil {
				recs := readCSV(t, filepath.Join(out, n))
				if got := strings.Join(recs[0], ","); got != "timestamp,value,anomaly_score,raw,feature,familiar" {
					t.Fatalf("header %q", got)
				}
				if recs[502][5] != "false" {
					t.Fatalf("familiar %q with the pattern memory off", recs[502][5])
				}
			}
		}
	}
	for _, args := range [][]string{
		{"-in", src, "-out", t.TempDir(), "-half", "c"},
		{"-in", src, "-out", t.TempDir(), "-set", "window=1"},
		{"-in", src, "-out", t.TempDir(), "-set", "bogus=1"},
	} {
		if code := nabMain(args); code != 2 {
			t.Errorf("%v: exit code %d, want 2", args, code)
		}
	}
}
