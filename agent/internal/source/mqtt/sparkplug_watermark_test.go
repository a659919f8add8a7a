package mqtt

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A born, current edge node is vouched for up to its last data time moved
// on by the wait since, less the liveness: for the equipment of the node
// and its born devices, rising; nothing while its data is historical,
// after a sequence gap until the rebirth, or after its death.
func TestSparkplugWatermarks(t *testing.T) {
	d := testSparkplug(t, config.Subscription{Topic: "spBv1.0/plant1/#", Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway"})
	const liveness = 10 * time.Second
	rx := t0
	decode := func(topic string, payload []byte) {
		t.Helper()
		if _, err := d.Decode(topic, payload, rx); err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
	}
	marks := func(at time.Time) map[string]time.Time {
		out := map[string]time.Time{}
		for _, s := range d.Watermarks(at, liveness) {
			if s.Name != signal.SeenName || s.Value != signal.Bool(true) || s.Agent != "a1" {
				t.Fatalf("watermark %+v", s)
			}
			out[s.Line+"/"+s.Equipment] = s.Time
		}
		return out
	}
	historical := protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1)

	decode(gtop+"NBIRTH/L4", encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)}))
	decode(gtop+"DBIRTH/L4/M01", encPayload(t0ms, 1, spm{name: "run", alias: 10, dtype: spBoolean, value: true}))
	decode(gtop+"DBIRTH/L4/M02", encPayload(t0ms, 2, spm{name: "run", alias: 10, dtype: spBoolean, value: false}))
	if m := marks(t0.Add(5 * time.Second)); len(m) != 0 {
		t.Fatalf("within the liveness of the last data: %v, want none", m)
	}
	got := marks(t0.Add(30 * time.Second))
	want := t0.Add(20 * time.Second)
	if len(got) != 2 || !got["L4/M01"].Equal(want) || !got["L4/M02"].Equal(want) {
		t.Fatalf("30 s after the births: %v, want M01 and M02 at %s", got, want)
	}
	if m := marks(t0.Add(30 * time.Second)); len(m) != 0 {
		t.Fatalf("again at the same time: %v, want none (not rising)", m)
	}
	// The node's clock runs 2 s behind the agent's: the watermark is on the node's.
	rx = t0.Add(42 * time.Second)
	decode(gtop+"DDATA/L4/M01", encPayload(t0ms+40000, 3, spm{alias: 10, value: false}))
	if got := marks(t0.Add(62 * time.Second)); !got["L4/M01"].Equal(t0.Add(50 * time.Second)) {
		t.Fatalf("after data of the node's time t0+40s received at t0+42s, at t0+62s: %v, want t0+50s", got)
	}
	// Historical data (held while the host was away): none until live data again.
	rx = t0.Add(70 * time.Second)
	decode(gtop+"DDATA/L4/M01", encPayload(t0ms+65000, 4, spm{alias: 10, value: true, extras: historical}))
	if m := marks(t0.Add(100 * time.Second)); len(m) != 0 {
		t.Fatalf("after historical data: %v, want none", m)
	}
	decode(gtop+"DDATA/L4/M01", encPayload(t0ms+70000, 5, spm{alias: 10, value: true}))
	if m := marks(t0.Add(100 * time.Second)); !m["L4/M01"].Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("after live data again: %v, want t0+90s", m)
	}
	// A message missing (seq 7 after 5): none until the node births again.
	decode(gtop+"DDATA/L4/M01", encPayload(t0ms+71000, 7, spm{alias: 10, value: true}))
	if m := marks(t0.Add(200 * time.Second)); len(m) != 0 {
		t.Fatalf("after a sequence gap: %v, want none", m)
	}
	rx = t0.Add(210 * time.Second)
	decode(gtop+"NBIRTH/L4", encPayload(t0ms+210000, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(2)}, spm{name: "temp", alias: 1, dtype: spFloat, value: float32(20)}))
	decode(gtop+"DBIRTH/L4/M01", encPayload(t0ms+210000, 1, spm{name: "run", alias: 10, dtype: spBoolean, value: true}))
	got = marks(t0.Add(230 * time.Second))
	if keys := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(keys, []string{"L4/M01", "L4/gateway"}) || !got["L4/M01"].Equal(t0.Add(220*time.Second)) {
		t.Fatalf("after the rebirth (node metric, M01 born, M02 not): %v", got)
	}
	// The death: nothing after it.
	decode(gtop+"NDEATH/L4", encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(2)}))
	if m := marks(t0.Add(300 * time.Second)); len(m) != 0 {
		t.Fatalf("after the death: %v, want none", m)
	}
}
