package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
)

const masterdataUsage = `usage: hub masterdata import -entity ENTITY -f FILE [-dry-run] [-url http://HOST:PORT]
       hub masterdata export -entity ENTITY [-format csv|json] [-o FILE] [-url http://HOST:PORT]
       hub masterdata audit [-after SEQ] [-url http://HOST:PORT]

Imports master data (sites, lines, equipment, operators, shifts, planned stops,
closures, rosters) into a running hub as CSV (or JSON, for a FILE ending in
.json; - reads standard input), exports it in the same format, or lists the
audit log. Every bad row is named with its
line and column, and nothing of a bad file is applied. The API token of an
admin in FLOORPULSE_TOKEN.`

func masterdataMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, masterdataUsage)
		return 2
	}
	cmd := args[0]
	fs := flag.NewFlagSet("hub masterdata "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, masterdataUsage); fs.PrintDefaults() }
	entity := fs.String("entity", "", "sites | lines | equipment | operators | shifts | planned_stops | closures | rosters")
	file := fs.String("f", "", "import: the file to import (- for standard input)")
	dry := fs.Bool("dry-run", false, "import: only say what would change")
	format := fs.String("format", "csv", "export: csv | json")
	out := fs.String("o", "", "export: write to this file instead of standard output")
	after := fs.Uint64("after", 0, "audit: list the changes after this sequence number")
	hubURL := fs.String("url", "http://127.0.0.1:8080", "a running hub's HTTP address")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := strings.TrimRight(*hubURL, "/")
	var err error
	switch {
	case cmd == "audit":
		err = masterdataAudit(ctx, base, *after, stdout)
	case cmd != "import" && cmd != "export", fs.NArg() > 0:
		fs.Usage()
		return 2
	default:
		e, perr := masterdata.ParseEntity(*entity)
		if perr != nil {
			fmt.Fprintln(stderr, "hub masterdata:", perr)
			return 2
		}
		if cmd == "import" {
			if *file == "" {
				fmt.Fprintln(stderr, "hub masterdata import: -f FILE is required")
				return 2
			}
			err = masterdataImport(ctx, base, e, *file, *dry, stdin, stdout)
		} else {
			err = masterdataExport(ctx, base, e, *format, *out, stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "hub masterdata:", err)
		return 1
	}
	return 0
}

// errRejected: the hub named the file's problems (printed already).
var errRejected = errors.New("nothing applied")

func masterdataImport(ctx context.Context, base string, e masterdata.Entity, file string, dry bool, stdin io.Reader, stdout io.Writer) error {
	var body []byte
	var err error
	if file == "-" {
		body, err = io.ReadAll(io.LimitReader(stdin, masterdata.MaxBody+1))
	} else {
		body, err = os.ReadFile(file)
	}
	if err != nil {
		return err
	}
	u := base + "/api/v1/masterdata/" + url.PathEscape(string(e))
	if dry {
		u += "?dry_run=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/csv")
	if strings.EqualFold(filepath.Ext(file), ".json") {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(withToken(req))
	if err != nil {
		return fmt.Errorf("asking the hub: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	var ans masterdata.ImportJSON
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnprocessableEntity || json.Unmarshal(b, &ans) != nil {
		return fmt.Errorf("PUT %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	if len(ans.Problems) > 0 {
		for _, p := range ans.Problems {
			fmt.Fprintf(stdout, "%s:%s\n", file, strings.TrimPrefix(p.Error(), "line "))
		}
		return fmt.Errorf("%d problems in %s: %w", len(ans.Problems), file, errRejected)
	}
	printDiff(stdout, *ans.Diff, dry)
	return nil
}

// printDiff writes what an import changed (or, dry, would change).
func printDiff(w io.Writer, d masterdata.Diff, dry bool) {
	verb := "imported"
	if dry {
		verb = "would import"
	}
	fmt.Fprintf(w, "%s %s: %d added, %d changed, %d unchanged\n", verb, d.Entity, d.Added, d.Changed, d.Unchanged)
	for _, c := range d.Changes {
		if c.Before == nil {
			fmt.Fprintf(w, "  + %s\n", c.Key)
			continue
		}
		var cols []string
		for k, v := range c.After {
			if c.Before[k] != v {
				cols = append(cols, fmt.Sprintf("%s %q -> %q", k, c.Before[k], v))
			}
		}
		sort.Strings(cols)
		fmt.Fprintf(w, "  ~ %s: %s\n", c.Key, strings.Join(cols, ", "))
	}
}

func masterdataExport(ctx context.Context, base string, e masterdata.Entity, format, out string, stdout io.Writer) error {
	if format != "csv" && format != "json" {
		return fmt.Errorf("-format must be csv or json")
	}
	body, err := get(ctx, base+"/api/v1/masterdata/"+url.PathEscape(string(e))+"?format="+format)
	if err != nil {
		return err
	}
	return output(out, body, stdout)
}

func masterdataAudit(ctx context.Context, base string, after uint64, stdout io.Writer) error {
	for {
		var page struct{ Changes []masterdata.Change }
		if err := getJSON(ctx, fmt.Sprintf("%s/api/v1/masterdata/audit?after=%d&limit=1000", base, after), &page); err != nil {
			return err
		}
		for _, c := range page.Changes {
			fmt.Fprintf(stdout, "%d\t%s\t%s\t%s\t%s\tv%d\n", c.Seq, c.At.Format(time.RFC3339), c.By, c.Entity, c.Key, c.Version)
			after = c.Seq
		}
		if len(page.Changes) < 1000 {
			return nil
		}
	}
}
