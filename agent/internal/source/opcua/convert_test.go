package opcua

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// TestDataChangeReasons hands a session one data change per case, without
// a server: a value set aside is counted under its reason only, and logged
// naming it; the values of the types the hub interprets pass.
func TestDataChangeReasons(t *testing.T) {
	t1 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	const (
		run = iota
		count
		state
		operator
	)
	for _, tc := range []struct {
		name   string
		handle uint32
		dv     *ua.DataValue
		reason metrics.DecodeReason // ignored when ok
		ok     bool
	}{
		{"run bool", run, value(true, ua.StatusOK, t1), 0, true},
		{"run 0", run, value(int32(0), ua.StatusOK, t1), 0, true},
		{"run text", run, value("RUNNING", ua.StatusOK, t1), metrics.WrongType, false},
		{"run 3", run, value(int16(3), ua.StatusOK, t1), metrics.WrongType, false},
		{"count number", count, value(uint32(12), ua.StatusOK, t1), 0, true},
		{"count text", count, value("12", ua.StatusOK, t1), metrics.WrongType, false},
		{"count uncertain bool", count, value(true, ua.StatusUncertain, t1), metrics.WrongType, false},
		{"count bad without value", count, &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadCommunicationError}, 0, true},
		{"count not finite", count, value(math.NaN(), ua.StatusOK, t1), metrics.BadValue, false},
		{"count bytes", count, value([]byte{1, 2}, ua.StatusOK, t1), metrics.BadValue, false},
		{"count good without value", count, &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusOK}, metrics.BadValue, false},
		{"state code", state, value(uint16(2), ua.StatusOK, t1), 0, true},
		{"state text", state, value("idle", ua.StatusOK, t1), 0, true},
		{"state bool", state, value(false, ua.StatusOK, t1), metrics.WrongType, false},
		{"operator text", operator, value("op1", ua.StatusOK, t1), 0, true},
		{"operator number", operator, value(uint32(1234), ua.StatusOK, t1), metrics.WrongType, false},
		{"unknown handle", 99, value(true, ua.StatusOK, t1), metrics.BadPayload, false},
		{"unknown node", count, &ua.DataValue{EncodingMask: ua.DataValueStatusCode, Status: ua.StatusBadNodeIDUnknown}, metrics.RejectedNode, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.OPCUA{Endpoint: "opc.tcp://plc:4840"}
			for _, sig := range []string{"run", "count", "state", "operator"} {
				cfg.Nodes = append(cfg.Nodes, config.Node{NodeID: "ns=2;s=M01." + sig, Line: "L1", Equipment: "M01", Signal: sig})
			}
			var logs bytes.Buffer
			stat, k := &metrics.Source{Kind: "opcua", Name: cfg.Endpoint}, &sink{}
			s := New(cfg, "a1", "plant1", k, stat, slog.New(slog.NewTextHandler(&logs, nil)))
			ss := &session{Source: s, refused: map[uint32]bool{}, live: map[uint32]bool{}}
			x := &ua.DataChangeNotification{MonitoredItems: []*ua.MonitoredItemNotification{{ClientHandle: tc.handle, Value: tc.dv}}}
			if err := ss.handleDataChange(context.Background(), nil, x, nil); err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				if got := k.all(); stat.DecodeErrors.Load() != 0 || len(got) != 1 {
					t.Fatalf("%d decode errors, signals %+v", stat.DecodeErrors.Load(), got)
				}
				return
			}
			for r := range len(metrics.DecodeReasons()) {
				want := uint64(0)
				if metrics.DecodeReason(r) == tc.reason {
					want = 1
				}
				if n := stat.DecodeErrors.Of(metrics.DecodeReason(r)); n != want {
					t.Errorf("%s: %d, want %d", metrics.DecodeReason(r), n, want)
				}
			}
			if got := k.all(); len(got) != 0 {
				t.Errorf("signals %+v", got)
			}
			if tc.reason != metrics.BadPayload && !strings.Contains(logs.String(), "reason="+tc.reason.String()) {
				t.Errorf("log does not name the reason:\n%s", logs.String())
			}
		})
	}
}

// Values the type check would refuse are not taken for wrong types when
// their quality is bad: they mean nothing.
func TestBadQualityPassesTypeCheck(t *testing.T) {
	m := mapping{site: "plant1", line: "L1", equipment: "M01", signalName: signal.Count}
	s, err := toSignal(m, value("offline", ua.StatusBadNoCommunication, time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)), "a1", time.Now())
	if err != nil || s.Quality != signal.Bad || s.Value != signal.String("offline") {
		t.Fatalf("%+v, %v", s, err)
	}
}
