package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
)

const recomputeUsage = `usage: hub recompute -config FILE -from YYYY-MM[-DD] -to YYYY-MM[-DD]
       hub recompute -url http://HOST:PORT -from YYYY-MM[-DD] -to YYYY-MM[-DD]

Rewrites every figure (equipment, lines, site, operators; every configured
period kind) of the range, both ends included, from the stored timelines and
the current configuration. With -config it reads the hub's state store
(the hub must be stopped) and writes to InfluxDB itself; with -url the
running hub does it, asked with the API token in FLOORPULSE_TOKEN (an
admin's). Safe to repeat: points are replaced, not added.`

func recomputeMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hub recompute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, recomputeUsage); fs.PrintDefaults() }
	cfgPath := fs.String("config", "", "hub configuration file (offline: the hub must be stopped)")
	hubURL := fs.String("url", "", "a running hub's HTTP address, e.g. http://127.0.0.1:8080")
	from := fs.String("from", "", "first month (YYYY-MM) or day (YYYY-MM-DD)")
	to := fs.String("to", "", "last month or day, included (default: from)")
	poll := fs.Duration("poll", 500*time.Millisecond, "with -url: how often to ask for progress")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *from == "" || fs.NArg() > 0 || (*cfgPath == "") == (*hubURL == "") {
		fmt.Fprintln(stderr, "hub recompute: give -from and exactly one of -config and -url")
		fs.Usage()
		return 2
	}
	if *to == "" {
		*to = *from
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *hubURL != "" {
		err = recomputeRemote(ctx, *hubURL, *from, *to, *poll, newBar(stderr), stdout)
	} else {
		err = recomputeOffline(ctx, *cfgPath, *from, *to, newBar(stderr), stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hub recompute:", err)
		return 1
	}
	return 0
}

func recomputeOffline(ctx context.Context, cfgPath, fromS, toS string, b *bar, stdout io.Writer) error {
	cfg, eng, err := openOffline(cfgPath)
	if err != nil {
		return err
	}
	from, to, err := recompute.ParseRange(fromS, toS, cfg.Location)
	if err != nil {
		return err
	}
	if err := cfg.CheckRecompute(from, to); err != nil {
		return err
	}
	w := influx.New(influx.Config{URL: cfg.Influx.URL, Token: cfg.Influx.Token.Value(), Org: cfg.Influx.Org,
		Bucket: cfg.Influx.Bucket, CreateDatabase: cfg.Influx.CreateDatabase, Timeout: cfg.Influx.Timeout})
	defer w.Close()
	if err := w.Prepare(ctx); err != nil {
		return err
	}
	p, err := recompute.Run(ctx, eng, w, from, to, b.update)
	if err != nil {
		return fmt.Errorf("%d of %d periods written (run it again to finish: writes are idempotent): %w", p.Done, p.Total, err)
	}
	fmt.Fprintf(stdout, "recomputed %s to %s: %d periods, %d points in %s\n",
		from.Format(time.RFC3339), to.Format(time.RFC3339), p.Total, p.Points, p.Elapsed.Round(time.Millisecond))
	return nil
}

// status decodes a recompute answer of the API.
func status(resp *http.Response) (recompute.Progress, error) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var rj api.RecomputeJSON
	if resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &rj) != nil {
		return recompute.Progress{}, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	rj.Progress.Elapsed = time.Duration(rj.ElapsedSeconds * float64(time.Second))
	return rj.Progress, nil
}

func recomputeRemote(ctx context.Context, base, from, to string, every time.Duration, b *bar, stdout io.Writer) error {
	base = strings.TrimRight(base, "/")
	client := &http.Client{Timeout: 30 * time.Second}
	q := url.Values{"from": {from}, "to": {to}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/recompute?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(withToken(req))
	if err != nil {
		return fmt.Errorf("asking the hub: %w", err)
	}
	code := resp.StatusCode
	p, err := status(resp)
	switch {
	case code == http.StatusConflict && err == nil:
		return fmt.Errorf("the hub is already recomputing %s to %s (%d of %d periods); try again when it is done",
			p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Done, p.Total)
	case code != http.StatusAccepted || err != nil:
		return fmt.Errorf("the hub refused the recompute: %v", err)
	}
	started := p.Started
	b.update(p)
	t := time.NewTicker(every)
	defer t.Stop()
	for p.Running {
		select {
		case <-ctx.Done():
			return errors.New("interrupted; the hub goes on with the recompute (progress: GET " + base + "/api/v1/recompute)")
		case <-t.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/recompute", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(withToken(req))
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("asking the hub for progress: %w", err)
		}
		np, err := status(resp)
		if err != nil {
			return fmt.Errorf("asking the hub for progress: %w", err)
		}
		if !np.Started.Equal(started) {
			return errors.New("the hub no longer reports this recompute (was it restarted? it finishes pending ranges at start)")
		}
		p = np
		b.update(p)
	}
	if p.Error != "" {
		return fmt.Errorf("the hub's recompute failed after %d of %d periods: %s", p.Done, p.Total, p.Error)
	}
	fmt.Fprintf(stdout, "recomputed %s to %s: %d periods, %d points in %s\n",
		p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Total, p.Points, p.Elapsed.Round(time.Millisecond))
	return nil
}

// TokenEnv names the environment variable holding the API token that
// commands send to a running hub (-url).
const TokenEnv = "FLOORPULSE_TOKEN"

// withToken adds the API token of FLOORPULSE_TOKEN to req, when set.
func withToken(req *http.Request) *http.Request {
	if t := os.Getenv(TokenEnv); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	return req
}
