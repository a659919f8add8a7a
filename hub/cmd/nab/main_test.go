package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
)

const nabTestdata = "../../internal/anomaly/gauge/testdata/spindle_load.csv"

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestNabMainWritesResultFile(t *testing.T) {
	out := t.TempDir()
	if code := nabMain([]string{"-in", nabTestdata, "-out", out}); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	in := readCSV(t, nabTestdata)
	res := readCSV(t, filepath.Join(out, "spindle_load.csv"))
	if got := strings.Join(res[0], ","); got != "timestamp,value,anomaly_score" {
		t.Fatalf("header %q", got)
	}
	if len(res) != len(in) {
		t.Fatalf("%d result rows, want %d", len(res)-1, len(in)-1)
	}
	best, bestRow := -1.0, -1
	for i := 1; i < len(res); i++ {
		if res[i][0] != in[i][0] || res[i][1] != in[i][1] {
			t.Fatalf("row %d: %v does not copy input %v", i, res[i][:2], in[i])
		}
		s, err := strconv.ParseFloat(res[i][2], 64)
		if err != nil || !(s >= 0 && s <= 1) {
			t.Fatalf("row %d: anomaly_score %q not in [0, 1]", i, res[i][2])
		}
		if s > best {
			best, bestRow = s, i-1
		}
	}
	if bestRow != 500 {
		t.Fatalf("highest score at data row %d, want 500 (the jam)", bestRow)
	}
}

func TestNabMainDirectoryKeepsNamesAndOrder(t *testing.T) {
	src := t.TempDir()
	data, err := os.ReadFile(nabTestdata)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b/two.csv", "a/one.csv", "notes.txt"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := nabJobs([]string{src})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[0].rel != filepath.Join("a", "one.csv") || jobs[1].rel != filepath.Join("b", "two.csv") {
		t.Fatalf("jobs %+v", jobs)
	}
	out := t.TempDir()
	if code := nabMain([]string{"-in", src, "-out", out}); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	a := readCSV(t, filepath.Join(out, "a", "one.csv"))
	b := readCSV(t, filepath.Join(out, "b", "two.csv"))
	if len(a) != 601 || len(b) != 601 || a[501][2] != b[501][2] {
		t.Fatal("identical inputs gave different results")
	}
	if _, err := os.Stat(filepath.Join(out, "notes.txt")); err == nil {
		t.Fatal("a non-CSV file was scored")
	}
}

func TestNabMainErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("timestamp,value\nyesterday,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no out", []string{"-in", nabTestdata}, 2},
		{"no in", []string{"-out", dir}, 2},
		{"unknown flag", []string{"-x"}, 2},
		{"missing file", []string{"-in", filepath.Join(dir, "nope.csv"), "-out", dir}, 1},
		{"bad timestamp", []string{"-in", bad, "-out", filepath.Join(dir, "out")}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := nabMain(tc.args); got != tc.want {
				t.Fatalf("exit code %d, want %d", got, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "bad.csv")); err == nil {
		t.Fatal("a failed file left a partial result")
	}
}

// The command streams: the result rows of a truncated input are a prefix of
// those of the whole input.
func TestScoreNABNoLookAhead(t *testing.T) {
	data, err := os.ReadFile(nabTestdata)
	if err != nil {
		t.Fatal(err)
	}
	var whole bytes.Buffer
	if _, err := scoreNAB(bytes.NewReader(data), &whole, options{cfg: gauge.DefaultConfig()}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	for _, k := range []int{2, 300, 501, 502, 520} {
		var part bytes.Buffer
		if _, err := scoreNAB(strings.NewReader(strings.Join(lines[:k], "")), &part, options{cfg: gauge.DefaultConfig()}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(whole.String(), part.String()) {
			t.Fatalf("the first %d lines score differently alone", k)
		}
	}
}

func TestScoreNABOddValues(t *testing.T) {
	in := "value,timestamp,extra\n1.5,2014-01-01 00:00:00,x\nNaN,2014-01-01 00:05:00,x\n,2014-01-01 00:10:00,x\n-Inf,1388535000,x\n1e308,2014-01-01T00:20:00Z,x\n"
	var out bytes.Buffer
	n, err := scoreNAB(strings.NewReader(in), &out, options{cfg: gauge.DefaultConfig()})
	if err != nil || n != 5 {
		t.Fatalf("rows %d, err %v", n, err)
	}
	want := "timestamp,value,anomaly_score\n2014-01-01 00:00:00,1.5,0\n2014-01-01 00:05:00,NaN,0\n2014-01-01 00:10:00,,0\n1388535000,-Inf,0\n2014-01-01T00:20:00Z,1e308,0\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func FuzzScoreNAB(f *testing.F) {
	data, err := os.ReadFile(nabTestdata)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("timestamp,value\n2013-12-02 21:15:00,NaN\n2013-12-02 21:20:00,1e309\n"))
	f.Add([]byte("\ufefftimestamp,value\n\"2013-12-02 21:15:00\",\"-0\"\n"))
	f.Add([]byte("timestamp,value\n1,2\n0,3\n1e10,4\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		n, err := scoreNAB(bytes.NewReader(in), &out, options{cfg: gauge.DefaultConfig()})
		if err != nil {
			return
		}
		recs, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatalf("unreadable output: %v", err)
		}
		if len(recs) != n+1 {
			t.Fatalf("%d output rows for %d input rows", len(recs)-1, n)
		}
		for _, r := range recs[1:] {
			s, err := strconv.ParseFloat(r[2], 64)
			if err != nil || math.IsNaN(s) || s < 0 || s > 1 {
				t.Fatalf("score %q", r[2])
			}
		}
	})
}
