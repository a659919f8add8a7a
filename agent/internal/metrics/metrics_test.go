package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEndpoints(t *testing.T) {
	r := &Registry{}
	s := r.Source("mqtt", "tcp://b:1883")
	s.SignalsIn.Add(3)
	r.SetQueue(func() Queue { return Queue{Records: 5, Bytes: 500} })
	h := r.Handler()
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, `mqtt tcp://b:1883: not connected`) {
		t.Errorf("readyz %d %s", code, body)
	}
	s.Connected.Store(true)
	s.Subscribed.Store(true)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz when ready: %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{
		`floorpulse_agent_source_connected{kind="mqtt",source="tcp://b:1883"} 1`,
		`floorpulse_agent_signals_in_total{kind="mqtt",source="tcp://b:1883"} 3`,
		"floorpulse_agent_queue_records 5", "floorpulse_agent_queue_bytes 500", "# TYPE floorpulse_agent_forwarded_total counter",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
