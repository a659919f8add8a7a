package events

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
)

// Options configure a Store.
type Options struct {
	// Location is the plant's time zone (times in messages).
	Location *time.Location
	// Calendar returns a line's calendar (nil: around the clock).
	Calendar func(site, line string) *calendar.Calendar
	Alerts   alert.Policy
	Webhooks []delivery.Endpoint
	Stream   delivery.StreamConfig
	// JetStream publishes to the stream (required when Stream.Name is set, for Run).
	JetStream jetstream.JetStream
	// RetryMin and RetryMax bound the back-off between attempts (default 1s, 5m).
	RetryMin, RetryMax time.Duration
	// PublicURL is the hub's address for links in messages ("" : no links).
	PublicURL string
	// SignLink signs the acknowledge link of an alert for its recipient
	// (nil: alerts carry the plain link, which needs a login).
	SignLink func(event, person string, now time.Time) string
	// Clock is the time source of timers and back-off (default time.Now).
	Clock func() time.Time
	// Poll is how often due timers and retries are looked for (default 1s).
	Poll time.Duration
	// HTTPClient sends webhooks (default: a client without redirects).
	HTTPClient *http.Client
	Log        *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Calendar == nil {
		o.Calendar = func(string, string) *calendar.Calendar { return nil }
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(o.RetryMin, 5*time.Minute)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
}

// OptionsFrom builds the store options of a validated hub configuration.
func OptionsFrom(cfg *config.Config, js jetstream.JetStream, log *slog.Logger) Options {
	ev := cfg.Events
	o := Options{
		Location:  cfg.Location,
		Calendar:  cfg.CalendarOf,
		Alerts:    ev.Alerts.Policy(),
		JetStream: js,
		Stream: delivery.StreamConfig{Name: ev.Stream.Name, SubjectPrefix: ev.Stream.SubjectPrefix,
			DuplicateWindow: ev.Stream.DuplicateWindow, MaxAge: ev.Stream.MaxAge, MaxBytes: int64(ev.Stream.MaxBytes), Replicas: ev.Stream.Replicas},
		RetryMin:  ev.Retry.Min,
		RetryMax:  ev.Retry.Max,
		PublicURL: ev.PublicURL,
		Log:       log,
	}
	for _, w := range ev.Webhooks {
		headers := make(map[string]string, len(w.Headers))
		for k, v := range w.Headers {
			headers[k] = v.Value()
		}
		o.Webhooks = append(o.Webhooks, delivery.Endpoint{Name: w.Name, URL: w.URL, Secret: w.Secret.Value(), Format: w.Format,
			Events: w.ReceivesEvents(), Types: w.Types, Lines: w.Lines, MinSeverity: w.MinSeverity,
			Timeout: w.Timeout, MaxAttempts: w.MaxAttempts, Headers: headers})
	}
	return o
}
