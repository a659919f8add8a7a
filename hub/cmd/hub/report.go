package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/report"
)

const reportUsage = `usage: hub report -month YYYY-MM [-format table|csv|json] [-url http://HOST:PORT | -config FILE]

Prints a month's figures: equipment, lines, the site and operators. From a
running hub's API (-url, the default; the API token in FLOORPULSE_TOKEN), or
from the state store with -config (the hub must be stopped).`

func reportMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, reportUsage); fs.PrintDefaults() }
	month := fs.String("month", "", "the month, YYYY-MM (in the plant's time zone)")
	format := fs.String("format", "table", "table | csv | json")
	hubURL := fs.String("url", "http://127.0.0.1:8080", "a running hub's HTTP address")
	cfgPath := fs.String("config", "", "hub configuration file: read the state store instead of asking a hub")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	urlSet := false
	fs.Visit(func(f *flag.Flag) { urlSet = urlSet || f.Name == "url" })
	switch {
	case *month == "" || fs.NArg() > 0:
		fmt.Fprintln(stderr, "hub report: -month is required")
	case urlSet && *cfgPath != "":
		fmt.Fprintln(stderr, "hub report: give -url or -config, not both")
	case !validFormat(*format):
		fmt.Fprintf(stderr, "hub report: -format must be one of %s\n", strings.Join(report.Formats, ", "))
	default:
		var m report.Month
		var err error
		if *cfgPath != "" {
			m, err = reportOffline(*cfgPath, *month)
		} else {
			m, err = reportRemote(*hubURL, *month)
		}
		if err == nil {
			err = report.Write(stdout, *format, m)
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

func validFormat(f string) bool {
	for _, v := range report.Formats {
		if v == f {
			return true
		}
	}
	return false
}

func reportOffline(cfgPath, month string) (report.Month, error) {
	cfg, eng, err := openOffline(cfgPath)
	if err != nil {
		return report.Month{}, err
	}
	m, err := activity.ParseMonth(month, cfg.Location)
	if err != nil {
		return report.Month{}, fmt.Errorf("-month %q: want YYYY-MM", month)
	}
	return report.Month{MonthJSON: api.Month(eng, cfg.Location, cfg.Site, m),
		Operators: api.Operators(eng, cfg.Location, m).Operators}, nil
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

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(withToken(req))
	if err != nil {
		return fmt.Errorf("asking the hub: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
