package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
)

type fakeNATS struct {
	up         bool
	reconnects uint64
}

func (f fakeNATS) IsConnected() bool { return f.up }
func (f fakeNATS) Stats() nats.Statistics {
	return nats.Statistics{Reconnects: f.reconnects}
}

func scrape(t *testing.T, src Sources) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// Every source's values are read at scrape time and exposed under their
// contracted names, with the runtime and process collectors beside them.
func TestHandlerExposesEverySource(t *testing.T) {
	cs := &consume.Stats{}
	cs.Consumed.Store(42)
	cs.Bad.Store(3)
	cs.Mismatched.Store(8)
	is := &influx.Stats{}
	is.Failures.Store(2)
	is.Requests.Store(7)
	wh := &delivery.Counts{}
	wh.Delivered.Store(5)
	wh.Failed.Store(4)
	wh.Dead.Store(1)
	src := Sources{
		Consume:    cs,
		Engine:     func() engine.Stats { return engine.Stats{TooLate: 9, TooLarge: 4} },
		Influx:     is,
		NATS:       fakeNATS{up: true, reconnects: 6},
		Deliveries: map[string]*delivery.Counts{"cmms": wh, delivery.StreamDest: {}},
		Outbox:     func() (map[string]int, error) { return map[string]int{"cmms": 12}, nil },
		StateBytes: func() int64 { return 1 << 20 },
		EventBytes: func() int64 { return 32768 },
		Stream:     func() (uint64, uint64, bool) { return 5000, 17, true },
	}
	out := scrape(t, src)
	for _, want := range []string{
		"# TYPE floorpulse_hub_signals_consumed_total counter",
		"floorpulse_hub_signals_consumed_total 42",
		"floorpulse_hub_bad_messages_total 3",
		"floorpulse_hub_subject_mismatch_total 8",
		"floorpulse_hub_signals_too_late_total 9",
		"floorpulse_hub_signals_too_large_total 4",
		"floorpulse_hub_influx_write_failures_total 2",
		"floorpulse_hub_influx_writes_total 7",
		"floorpulse_hub_nats_connected 1",
		"floorpulse_hub_nats_reconnects_total 6",
		`floorpulse_hub_event_deliveries_total{destination="cmms"} 5`,
		`floorpulse_hub_event_delivery_failures_total{destination="cmms"} 4`,
		`floorpulse_hub_event_dead_letters_total{destination="cmms"} 1`,
		`floorpulse_hub_event_outbox_items{destination="cmms"} 12`,
		`floorpulse_hub_event_outbox_items{destination="` + delivery.StreamDest + `"} 0`,
		"floorpulse_hub_state_store_bytes 1.048576e+06",
		"floorpulse_hub_event_store_bytes 32768",
		"floorpulse_hub_stream_bytes 5000",
		"floorpulse_hub_stream_messages 17",
		"go_goroutines ",
		"process_",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Values are read again at each scrape.
	cs.Consumed.Add(1)
	src.NATS = fakeNATS{}
	out = scrape(t, src)
	for _, want := range []string{"floorpulse_hub_signals_consumed_total 43", "floorpulse_hub_nats_connected 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("second scrape lacks %q", want)
		}
	}
}

// A failing outbox count, or a stream size not known, leaves its gauge out
// instead of failing the scrape.
func TestHandlerOutboxError(t *testing.T) {
	out := scrape(t, Sources{
		Deliveries: map[string]*delivery.Counts{"cmms": {}},
		Outbox:     func() (map[string]int, error) { return nil, errors.New("closed") },
		Stream:     func() (uint64, uint64, bool) { return 0, 0, false },
	})
	if strings.Contains(out, "floorpulse_hub_event_outbox_items") || strings.Contains(out, "floorpulse_hub_stream_bytes") || !strings.Contains(out, `floorpulse_hub_event_deliveries_total{destination="cmms"} 0`) {
		t.Errorf("unexpected metrics:\n%s", out)
	}
}

// What the hub sets aside at its bounds: out of the time window per agent,
// and equipment missing from the registry by decision.
func TestHandlerExposesBounds(t *testing.T) {
	out := scrape(t, Sources{
		Engine:      func() engine.Stats { return engine.Stats{UnregisteredAccepted: 3, UnregisteredRejected: 5} },
		OutOfWindow: func() map[string]uint64 { return map[string]uint64{"a1": 2, "other": 7} },
	})
	for _, want := range []string{
		`floorpulse_hub_signals_unregistered_total{decision="accepted"} 3`,
		`floorpulse_hub_signals_unregistered_total{decision="rejected"} 5`,
		`floorpulse_hub_signals_out_of_window_total{agent="a1"} 2`,
		`floorpulse_hub_signals_out_of_window_total{agent="other"} 7`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
