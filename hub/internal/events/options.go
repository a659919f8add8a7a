package events

import (
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// OptionsFrom builds the store options of a validated hub configuration.
func OptionsFrom(cfg *config.Config, js jetstream.JetStream, log *slog.Logger) Options {
	ev := cfg.Events
	o := Options{
		Location:  cfg.Location,
		Calendar:  cfg.CalendarOf,
		Alerts:    ev.Alerts.Policy(),
		JetStream: js,
		Stream: StreamConfig{Name: ev.Stream.Name, SubjectPrefix: ev.Stream.SubjectPrefix,
			DuplicateWindow: ev.Stream.DuplicateWindow, MaxAge: ev.Stream.MaxAge, Replicas: ev.Stream.Replicas},
		RetryMin:  ev.Retry.Min,
		RetryMax:  ev.Retry.Max,
		PublicURL: ev.PublicURL,
		Log:       log,
	}
	for _, w := range ev.Webhooks {
		o.Webhooks = append(o.Webhooks, Endpoint{Name: w.Name, URL: w.URL, Secret: w.Secret, Format: w.Format,
			Events: w.ReceivesEvents(), Types: w.Types, Lines: w.Lines, MinSeverity: w.MinSeverity,
			Timeout: w.Timeout, MaxAttempts: w.MaxAttempts, Headers: w.Headers})
	}
	return o
}
