// Command nab runs the hub's streaming gauge detector over Numenta Anomaly
// Benchmark data files and writes NAB result files, to score the detector
// with NAB's scorer. It is an evaluation tool, not part of the hub binary.
//
//	nab -in DIR_OR_CSV [-in DIR_OR_CSV ...] [DIR_OR_CSV ...] -out DIR
//	    [-half a|b] [-set name=value ...]
//
// -half keeps one of two fixed halves of the inputs (by a hash of the file
// name), for scoring on series that played no part in tuning; -set changes
// one detector parameter from its default (to compare alternatives: the hub
// always runs the defaults).
package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
)

func main() { os.Exit(nabMain(os.Args[1:])) }

// nabMain runs the detector over the inputs. Each input CSV (header, then timestamp,value rows) gets a fresh detector
// with the default parameters and one output file of the same name (a
// directory's CSVs keep their path relative to it) holding
// timestamp,value,anomaly_score, one row per input row in the same order.
// It returns the process exit code.
func nabMain(args []string) int {
	fset := flag.NewFlagSet("nab", flag.ContinueOnError)
	var ins multiFlag
	fset.Var(&ins, "in", "NAB data CSV, or directory searched for *.csv (repeatable)")
	out := fset.String("out", "", "directory for the result files")
	half := fset.String("half", "", "score only half a or half b of the files (by a hash of the file name)")
	var opt options
	fset.BoolVar(&opt.explain, "explain", false, "add the columns raw (score before episode suppression), feature and familiar")
	cfg := gauge.DefaultConfig()
	fset.Func("set", "detector parameter name=value, changed from its default (repeatable): window, min_history, half_surprise, threshold, rearm, quiet, refractory, levels, word, memory, familiar, record_after, record_margin, repeat, spread, retrigger", func(kv string) error {
		return setParam(&cfg, kv)
	})
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "nab:", err)
		return 2
	}
	opt.cfg = cfg
	if *half != "" && *half != "a" && *half != "b" {
		fmt.Fprintf(os.Stderr, "nab: -half: %q is neither a nor b\n", *half)
		return 2
	}
	ins = append(ins, fset.Args()...)
	if len(ins) == 0 || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: nab -in DIR_OR_CSV... -out DIR")
		return 2
	}
	jobs, err := nabJobs(ins)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, j := range jobs {
		if *half != "" && Half(j.rel) != *half {
			continue
		}
		dst := filepath.Join(*out, j.rel)
		rows, err := nabFile(j.src, dst, opt)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: %d rows -> %s\n", j.src, rows, dst)
	}
	return 0
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type nabJob struct{ src, rel string }

// nabJobs expands the inputs, in the order given; a directory contributes
// its *.csv files in lexical order. Two inputs mapping to the same output
// name are an error.
func nabJobs(ins []string) ([]nabJob, error) {
	var jobs []nabJob
	seen := map[string]string{}
	add := func(src, rel string) error {
		if prev, dup := seen[rel]; dup {
			return fmt.Errorf("nab: %s and %s would both write %s", prev, src, rel)
		}
		seen[rel] = src
		jobs = append(jobs, nabJob{src: src, rel: rel})
		return nil
	}
	for _, in := range ins {
		info, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("nab: -in: %w", err)
		}
		if !info.IsDir() {
			if err := add(in, filepath.Base(in)); err != nil {
				return nil, err
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(in, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && strings.EqualFold(filepath.Ext(p), ".csv") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("nab: reading %s: %w", in, err)
		}
		sort.Strings(found)
		for _, p := range found {
			rel, err := filepath.Rel(in, p)
			if err != nil {
				return nil, fmt.Errorf("nab: %w", err)
			}
			if err := add(p, rel); err != nil {
				return nil, err
			}
		}
	}
	if len(jobs) == 0 {
		return nil, errors.New("nab: no CSV files in the inputs")
	}
	return jobs, nil
}

// nabFile scores src into dst and returns the number of data rows.
// options are what a run applies to every file.
type options struct {
	cfg     gauge.Config
	explain bool // add raw, feature and familiar columns
}

func nabFile(src, dst string, opt options) (int, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("nab: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("nab: %w", err)
	}
	outF, err := os.Create(dst)
	if err != nil {
		return 0, fmt.Errorf("nab: %w", err)
	}
	w := bufio.NewWriter(outF)
	rows, err := scoreNAB(in, w, opt)
	if err == nil {
		err = w.Flush()
	}
	if cerr := outF.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return 0, fmt.Errorf("nab: %s: %w", src, err)
	}
	return rows, nil
}

// nabTimeLayouts are the timestamp forms accepted, NAB's first.
var nabTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
}

// parseNABTime parses a NAB timestamp (UTC when it has no zone) or numeric
// epoch seconds.
func parseNABTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range nabTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > -1e11 && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q: not a NAB timestamp", s)
}

// scoreNAB reads a NAB data CSV from r and writes the result CSV to w. The
// header must name the columns timestamp and value (any order, other columns
// ignored). The timestamp and value are copied as read; a value that is
// empty or not a number is written as read and scored 0, like NaN.
func scoreNAB(r io.Reader, w io.Writer, opt options) (int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return 0, fmt.Errorf("reading header: %w", err)
	}
	ti, vi := -1, -1
	for i, h := range head {
		switch strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) {
		case "timestamp":
			ti = i
		case "value":
			vi = i
		}
	}
	if ti < 0 || vi < 0 {
		return 0, fmt.Errorf("header %q: want columns timestamp and value", strings.Join(head, ","))
	}
	det, err := gauge.New(opt.cfg)
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	head = []string{"timestamp", "value", "anomaly_score"}
	if opt.explain {
		head = append(head, "raw", "feature", "familiar")
	}
	if err := cw.Write(head); err != nil {
		return 0, err
	}
	rows := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, err
		}
		line, _ := cr.FieldPos(0)
		if ti >= len(rec) || vi >= len(rec) {
			return rows, fmt.Errorf("line %d: %d fields, want at least %d", line, len(rec), max(ti, vi)+1)
		}
		ts, err := parseNABTime(rec[ti])
		if err != nil {
			return rows, fmt.Errorf("line %d: %w", line, err)
		}
		var res gauge.Result // a value that is not a number scores 0
		if v, err := strconv.ParseFloat(strings.TrimSpace(rec[vi]), 64); err == nil {
			res = det.Update(ts, v)
		}
		out := []string{rec[ti], rec[vi], strconv.FormatFloat(res.Score, 'f', -1, 64)}
		if opt.explain {
			out = append(out, strconv.FormatFloat(res.Raw, 'f', -1, 64), res.Feature, strconv.FormatBool(res.Familiar))
		}
		if err := cw.Write(out); err != nil {
			return rows, err
		}
		rows++
	}
	cw.Flush()
	return rows, cw.Error()
}
