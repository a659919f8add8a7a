// Command benchtable turns the output of a `go test -bench` run into the
// project's results table: it reads the run's raw output and a table
// specification (table.yaml: one row per figure, with its benchmark, unit,
// target, and the rows it is compared with) and writes the table as
// Markdown and JSON, with the machine, the date and the commit. Rows whose
// benchmark did not run say "not run" (or "failed", "skipped"); nothing
// vanishes from the table.
//
//	go run ./deploy/benchtable -raw var/bench/raw.txt -md var/bench/results.md -json var/bench/results.json
//
// With -docs FILE it also replaces the part of FILE between the lines
// "<!-- results begin -->" and "<!-- results end -->" with the Markdown.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	raw := flag.String("raw", "var/bench/raw.txt", "the `go test -bench` output of the run")
	specFile := flag.String("spec", "deploy/benchtable/table.yaml", "the table's specification")
	md := flag.String("md", "", "write the Markdown table to this file")
	js := flag.String("json", "", "write the table as JSON to this file")
	docs := flag.String("docs", "", "splice the Markdown table into this file, between its results markers")
	command := flag.String("command", "make bench", "the command the run came from, shown with the table")
	commit := flag.String("commit", "", "the commit the run measured; empty: the checked-out one")
	fromMD := flag.Bool("from-md", false, "with -docs: splice the existing -md file instead of building the table again")
	flag.Parse()
	if err := run(*raw, *specFile, *md, *js, *docs, *command, *commit, *fromMD); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(raw, specFile, md, js, docs, command, commit string, fromMD bool) error {
	if fromMD {
		if md == "" || docs == "" {
			return errors.New("-from-md needs -md and -docs")
		}
		text, err := os.ReadFile(md)
		if err != nil {
			return err
		}
		return spliceFile(docs, string(text))
	}
	data, err := os.ReadFile(specFile)
	if err != nil {
		return err
	}
	spec, err := ParseSpec(specFile, data)
	if err != nil {
		return err
	}
	f, err := os.Open(raw)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", raw, err)
	}
	t := Build(spec, r)
	t.Date = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	if commit == "" {
		commit = Commit()
	}
	t.Commit, t.Command, t.Machine = commit, command, ThisMachine()
	text := t.Markdown()
	fmt.Print(text)
	if md != "" {
		if err := os.WriteFile(md, []byte(text), 0o644); err != nil {
			return err
		}
	}
	if js != "" {
		b, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(js, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if docs != "" {
		return spliceFile(docs, text)
	}
	return nil
}

const (
	beginMarker = "<!-- results begin -->"
	endMarker   = "<!-- results end -->"
)

func spliceFile(path, table string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := Splice(string(doc), table)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

// Splice replaces what lies between the results markers of doc with table.
func Splice(doc, table string) (string, error) {
	b := strings.Index(doc, beginMarker)
	e := strings.Index(doc, endMarker)
	if b < 0 || e < b {
		return "", fmt.Errorf("no %q line followed by a %q line", beginMarker, endMarker)
	}
	return doc[:b+len(beginMarker)] + "\n" + strings.TrimSpace(table) + "\n" + doc[e:], nil
}
