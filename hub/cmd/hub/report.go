package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/report"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

const reportUsage = `usage: hub report -month YYYY-MM [-format table|csv|json|html|pdf] [-lang en|zh-CN] [-o FILE]
                  [-url http://HOST:PORT | -config FILE]

Prints a month's figures: equipment, lines, the site and operators (table,
csv, json), or the full monthly report with its charts (html, pdf; pdf is
printed with headless Chromium). From a running hub's API (-url, the
default; the API token in FLOORPULSE_TOKEN), or from the state store with
-config (the hub must be stopped).`

func reportMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, reportUsage); fs.PrintDefaults() }
	month := fs.String("month", "", "the month, YYYY-MM (in the plant's time zone)")
	format := fs.String("format", "table", "table | csv | json | html | pdf")
	lang := fs.String("lang", "en", "language of the html and pdf report: en | zh-CN")
	out := fs.String("o", "", "write to this file instead of standard output")
	hubURL := fs.String("url", "http://127.0.0.1:8080", "a running hub's HTTP address")
	cfgPath := fs.String("config", "", "hub configuration file: read the state store instead of asking a hub")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	urlSet := false
	fs.Visit(func(f *flag.Flag) { urlSet = urlSet || f.Name == "url" })
	full := slices.Contains(report.FullFormats, *format)
	switch {
	case *month == "" || fs.NArg() > 0:
		fmt.Fprintln(stderr, "hub report: -month is required")
	case urlSet && *cfgPath != "":
		fmt.Fprintln(stderr, "hub report: give -url or -config, not both")
	case !full && !slices.Contains(report.Formats, *format):
		fmt.Fprintf(stderr, "hub report: -format must be one of %s\n", strings.Join(append(slices.Clone(report.Formats), report.FullFormats...), ", "))
	case !slices.Contains(report.Languages, *lang):
		fmt.Fprintf(stderr, "hub report: -lang must be one of %s\n", strings.Join(report.Languages, ", "))
	default:
		var b bytes.Buffer
		err := writeReport(&b, *format, *lang, *month, *hubURL, *cfgPath)
		if err == nil {
			err = output(*out, b.Bytes(), stdout)
		}
		if err != nil {
			fmt.Fprintln(stderr, "hub report:", err)
			return 1
		}
		return 0
	}
	fs.Usage()
	return 2
}

// writeReport writes the month's report in format to w.
func writeReport(w io.Writer, format, lang, month, hubURL, cfgPath string) error {
	if format == "pdf" { // fail before the work when it cannot print
		if _, err := report.Chromium(); err != nil {
			return err
		}
	}
	if !slices.Contains(report.FullFormats, format) {
		var m report.Month
		var err error
		if cfgPath != "" {
			m, err = reportOffline(cfgPath, month)
		} else {
			m, err = reportRemote(hubURL, month)
		}
		if err != nil {
			return err
		}
		return report.Write(w, format, m)
	}
	var page bytes.Buffer
	if cfgPath != "" {
		src, loc, closeSrc, err := offlineSource(cfgPath)
		if err != nil {
			return err
		}
		defer closeSrc()
		d, err := report.Build(src, month, loc)
		if err != nil {
			return err
		}
		if err := report.HTML(&page, d, lang); err != nil {
			return err
		}
	} else if err := getReportPage(hubURL, month, lang, &page); err != nil {
		return err
	}
	if format == "html" {
		_, err := w.Write(page.Bytes())
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pdf, err := report.PDF(ctx, page.Bytes())
	if err != nil {
		return err
	}
	_, err = w.Write(pdf)
	return err
}

// output writes b to the file path, or to stdout when path is empty.
func output(path string, b []byte, stdout io.Writer) error {
	if path == "" {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func reportOffline(cfgPath, month string) (report.Month, error) {
	src, _, closeSrc, err := offlineSource(cfgPath)
	if err != nil {
		return report.Month{}, err
	}
	defer closeSrc()
	mj, err := src.Month(month)
	if err != nil {
		return report.Month{}, fmt.Errorf("-month %q: want YYYY-MM", month)
	}
	ops, err := src.Operators(month)
	if err != nil {
		return report.Month{}, err
	}
	return report.Month{MonthJSON: mj, Operators: ops}, nil
}

// offlineSource reads the report from the state store, and its events from
// the event store beside it (none when the hub never kept any).
func offlineSource(cfgPath string) (report.EngineSource, *time.Location, func(), error) {
	cfg, eng, err := openOffline(cfgPath)
	if err != nil {
		return report.EngineSource{}, nil, nil, err
	}
	eqRules, opRules := cfg.SegmentRules()
	segs := segment.Source{Engine: eng, Location: cfg.Location, Equipment: eqRules, Operators: opRules}
	src := report.EngineSource{Engine: eng, Location: cfg.Location, Site: cfg.Site, SegmentRules: &segs}
	closeSrc := func() {}
	path := filepath.Join(cfg.DataDir, "events.db")
	if _, err := os.Stat(path); err == nil {
		ev, err := ledger.Open(path, ledger.Options{})
		if err != nil {
			return report.EngineSource{}, nil, nil, lockedOr(err, cfg)
		}
		closeSrc = func() { _ = ev.Close() }
		src.ListEvents = func(from, to time.Time) ([]anomaly.Record, error) {
			var all []anomaly.Record
			cursor := ""
			for {
				recs, next, more, err := ev.List(ledger.Filter{}, cursor, 1000)
				if err != nil {
					return nil, fmt.Errorf("listing events: %w", err)
				}
				all = append(all, recs...)
				if !more {
					return report.EventsIn(all, from, to), nil
				}
				cursor = next
			}
		}
	}
	if _, err := os.Stat(cfg.ActionsPath()); err == nil {
		st, err := action.OpenStore(cfg.ActionsPath())
		if err != nil {
			closeSrc()
			return report.EngineSource{}, nil, nil, lockedOr(err, cfg)
		}
		closeEvents := closeSrc
		closeSrc = func() { _ = st.Close(); closeEvents() }
		src.ActionRules = &action.Options{Store: st, Location: cfg.Location, Site: cfg.Site, WindowDays: cfg.Actions.EffectDays,
			Day: api.ActionDay(eng), Events: src.ListEvents}
	}
	return src, cfg.Location, closeSrc, nil
}

func reportRemote(base, month string) (report.Month, error) {
	base = strings.TrimRight(base, "/")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var m report.Month
	if err := getJSON(ctx, base+"/api/v1/months/"+month, &m.MonthJSON); err != nil {
		return m, err
	}
	var ops api.OperatorsJSON
	if err := getJSON(ctx, base+"/api/v1/months/"+month+"/operators", &ops); err != nil {
		return m, err
	}
	m.Operators = ops.Operators
	return m, nil
}

// getReportPage asks a running hub for the month's HTML report.
func getReportPage(base, month, lang string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u := strings.TrimRight(base, "/") + "/api/v1/months/" + url.PathEscape(month) + "/report?" + url.Values{"format": {"html"}, "lang": {lang}}.Encode()
	body, err := get(ctx, u)
	if err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

func getJSON(ctx context.Context, u string, v any) error {
	body, err := get(ctx, u)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(withToken(req))
	if err != nil {
		return nil, fmt.Errorf("asking the hub: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
