package mqtt

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// spm is a metric for the test encoder. value picks the oneof field by its
// Go type: bool, string, float32, float64, uint64 (long_value) or uint32
// (int_value); nil sends no value.
type spm struct {
	name   string
	alias  uint64 // 0: none
	ts     uint64 // ms; 0: none
	dtype  uint32 // 0: none
	null   bool
	value  any
	extras []byte // raw fields appended as they are
}

func encMetric(m spm) []byte {
	var b []byte
	if m.name != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, m.name)
	}
	if m.alias != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, m.alias)
	}
	if m.ts != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, m.ts)
	}
	if m.dtype != 0 {
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.dtype))
	}
	if m.null {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	switch v := m.value.(type) {
	case nil:
	case uint32:
		b = protowire.AppendTag(b, fieldIntValue, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	case uint64:
		b = protowire.AppendTag(b, fieldLongValue, protowire.VarintType)
		b = protowire.AppendVarint(b, v)
	case float32:
		b = protowire.AppendTag(b, fieldFloatValue, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(v))
	case float64:
		b = protowire.AppendTag(b, fieldDoubleValue, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	case bool:
		b = protowire.AppendTag(b, fieldBoolValue, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v))
	case string:
		b = protowire.AppendTag(b, fieldStringValue, protowire.BytesType)
		b = protowire.AppendString(b, v)
	case []byte:
		b = protowire.AppendTag(b, 16, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	default:
		panic("unsupported test value")
	}
	return append(b, m.extras...)
}

// encPayload encodes a Sparkplug B Payload; ts 0 and seq < 0 leave them out.
func encPayload(ts uint64, seq int, metrics ...spm) []byte {
	var b []byte
	if ts != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, ts)
	}
	for _, m := range metrics {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, encMetric(m))
	}
	if seq >= 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(seq))
	}
	// An unknown field (uuid) the decoder must skip.
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	return protowire.AppendString(b, "f1a8a7f0")
}

func TestSparkplugValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    spm
		want signal.Value
		err  error // nil: want is the value
	}{
		{"int8 two's complement", spm{dtype: spInt8, value: uint32(0xFFFFFFFE)}, signal.Number(-2), nil},
		{"int8 plus 256", spm{dtype: spInt8, value: uint32(254)}, signal.Number(-2), nil},
		{"int16", spm{dtype: spInt16, value: uint32(0xFFFF8000)}, signal.Number(math.MinInt16), nil},
		{"int32", spm{dtype: spInt32, value: uint32(0x80000000)}, signal.Number(math.MinInt32), nil},
		{"int32 in long_value", spm{dtype: spInt32, value: uint64(42)}, signal.Number(42), nil},
		{"int64 negative", spm{dtype: spInt64, value: uint64(math.MaxUint64)}, signal.Number(-1), nil},
		{"uint8", spm{dtype: spUInt8, value: uint32(200)}, signal.Number(200), nil},
		{"uint32", spm{dtype: spUInt32, value: uint32(4000000000)}, signal.Number(4e9), nil},
		{"uint64", spm{dtype: spUInt64, value: uint64(1 << 40)}, signal.Number(1 << 40), nil},
		{"float", spm{dtype: spFloat, value: float32(1.5)}, signal.Number(1.5), nil},
		{"double", spm{dtype: spDouble, value: float64(-2.25)}, signal.Number(-2.25), nil},
		{"boolean", spm{dtype: spBoolean, value: true}, signal.Bool(true), nil},
		{"string", spm{dtype: spString, value: "op1,op2"}, signal.String("op1,op2"), nil},
		{"text", spm{dtype: spText, value: "long text"}, signal.String("long text"), nil},
		{"datetime", spm{dtype: spDateTime, value: uint64(1790834398123)}, signal.Number(1790834398123), nil},
		{"no datatype, int", spm{value: uint32(7)}, signal.Number(7), nil},
		{"no datatype, bool", spm{value: false}, signal.Bool(false), nil},
		{"null", spm{dtype: spDouble, null: true}, signal.String(""), nil},
		{"bytes", spm{dtype: 17, value: []byte{1, 2}}, signal.Value{}, errUnsupported},
		{"dataset type", spm{dtype: 16}, signal.Value{}, errUnsupported},
		{"no value", spm{dtype: spDouble}, signal.Value{}, errDecode},
		{"type mismatch", spm{dtype: spBoolean, value: "true"}, signal.Value{}, errDecode},
		{"string as int", spm{dtype: spInt32, value: "1"}, signal.Value{}, errDecode},
		{"nan", spm{dtype: spDouble, value: math.NaN()}, signal.Value{}, errDecode},
		{"inf float", spm{dtype: spFloat, value: float32(math.Inf(1))}, signal.Value{}, errDecode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.m.name = "m"
			p, err := parseSparkplug(encPayload(0, -1, tc.m))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.metrics) != 1 {
				t.Fatalf("%d metrics", len(p.metrics))
			}
			got, err := p.metrics[0].value(tc.m.dtype)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, %v; want error %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseSparkplugRejects(t *testing.T) {
	good := encPayload(1790834398000, 3, spm{name: "a", dtype: spBoolean, value: true})
	badUTF8 := encPayload(0, 0, spm{name: "a\xff", dtype: spBoolean, value: true})
	wrongWire := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 5)
	metricWrongWire := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType),
		protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1))
	var many []byte
	one := encMetric(spm{alias: 1})
	for i := 0; i <= maxSparkplugMetrics; i++ {
		many = protowire.AppendBytes(protowire.AppendTag(many, 2, protowire.BytesType), one)
	}
	for name, b := range map[string][]byte{
		"truncated":               good[:len(good)-3],
		"name not utf-8":          badUTF8,
		"metrics as varint":       wrongWire,
		"metric name as varint":   metricWrongWire,
		"too many metrics":        many,
		"oversized":               make([]byte, maxSparkplugPayload+1),
		"garbage":                 []byte("{\"value\":1}"),
		"field number 0":          {0x00, 0x01},
		"unterminated varint":     {0x08, 0xff, 0xff},
		"bytes longer than given": {0x12, 0x7f, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseSparkplug(b); !errors.Is(err, errDecode) {
				t.Fatalf("want a decode error, got %v", err)
			}
		})
	}
	if p, err := parseSparkplug(good); err != nil || p.seq != 3 || !p.hasTimestamp || len(p.metrics) != 1 {
		t.Fatalf("good payload: %+v, %v", p, err)
	}
}

func TestRebirthRequest(t *testing.T) {
	now := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	p, err := parseSparkplug(rebirthRequest(now))
	if err != nil {
		t.Fatal(err)
	}
	if !p.hasTimestamp || p.timestamp != uint64(now.UnixMilli()) || len(p.metrics) != 1 {
		t.Fatalf("rebirth payload: %+v", p)
	}
	m := p.metrics[0]
	if v, err := m.value(m.datatype); m.name != "Node Control/Rebirth" || m.datatype != spBoolean || err != nil || v != signal.Bool(true) {
		t.Fatalf("rebirth metric: %+v %v %v", m, v, err)
	}
}

func testSparkplug(t testing.TB, sub config.Subscription) *Sparkplug {
	t.Helper()
	sub.Format = config.FormatSparkplug
	c := config.Config{AgentID: "a1", Site: "plant1", DataDir: "x", LogLevel: "info", MQTT: []config.MQTT{{Broker: "tcp://h:1", Subscriptions: []config.Subscription{sub}}}}
	c.NATS = config.NATS{URL: "nats://h:1", SubjectPrefix: "p", Batch: 1, AckTimeout: time.Second}
	c.Buffer = config.Buffer{MaxBytes: 1 << 30, Policy: "drop_oldest", CommitMax: 1}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return NewSparkplug(c.MQTT[0].Subscriptions[0], c.Site, c.AgentID)
}

// sigs indexes signals by "equipment/name" for the checks.
func sigs(list []signal.Signal) map[string]signal.Signal {
	m := map[string]signal.Signal{}
	for _, s := range list {
		m[s.Equipment+"/"+s.Name] = s
	}
	return m
}

func hasProblem(out spOutcome, kind error) bool {
	for _, p := range out.problems {
		if errors.Is(p, kind) {
			return true
		}
	}
	return false
}

const (
	t0ms = 1790834400000 // 2026-10-01T06:00:00Z
	gtop = "spBv1.0/plant1/"
)

var t0 = time.UnixMilli(t0ms).UTC()

func TestSparkplugLifecycle(t *testing.T) {
	d := testSparkplug(t, config.Subscription{
		Topic: "spBv1.0/plant1/#", Template: "spBv1.0/{site}/+/{line}/{equipment}",
		Equipment: "gateway", Rename: map[string]string{"Motor Speed": "speed"},
	})
	rx := t0.Add(time.Second)
	decode := func(topic string, payload []byte) spOutcome {
		t.Helper()
		out, err := d.Decode(topic, payload, rx)
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		rx = rx.Add(time.Second)
		return out
	}

	// NBIRTH: node metrics; control metrics are not signals.
	out := decode(gtop+"NBIRTH/L4", encPayload(t0ms, 0,
		spm{name: "bdSeq", dtype: spUInt64, value: uint64(7)},
		spm{name: "Node Control/Rebirth", dtype: spBoolean, value: false},
		spm{name: "uptime", alias: 1, dtype: spUInt32, value: uint32(360)},
	))
	got := sigs(out.signals)
	if len(out.signals) != 1 || got["gateway/uptime"].Value != signal.Number(360) || got["gateway/uptime"].Line != "L4" ||
		got["gateway/uptime"].Site != "plant1" || !got["gateway/uptime"].Time.Equal(t0) || got["gateway/uptime"].Received {
		t.Fatalf("NBIRTH: %+v", out.signals)
	}

	// DBIRTH: device metrics with aliases, the payload timestamp as source time.
	out = decode(gtop+"DBIRTH/L4/M01", encPayload(t0ms+1000, 1,
		spm{name: "run", alias: 10, dtype: spBoolean, value: true},
		spm{name: "count", alias: 11, dtype: spInt64, value: uint64(100), ts: t0ms + 500},
		spm{name: "Motor Speed", alias: 12, dtype: spFloat, value: float32(1450)},
		spm{name: "Bad Name", alias: 13, dtype: spFloat, value: float32(1)}, // a space: not a valid signal name
	))
	got = sigs(out.signals)
	if len(out.signals) != 3 || got["M01/run"].Value != signal.Bool(true) || got["M01/count"].Value != signal.Number(100) ||
		got["M01/speed"].Value != signal.Number(1450) || !got["M01/count"].Time.Equal(t0.Add(500*time.Millisecond)) ||
		!got["M01/run"].Time.Equal(t0.Add(time.Second)) || len(out.problems) != 0 || out.unmapped != 1 || out.example != "Bad Name" {
		t.Fatalf("DBIRTH: %+v %+v", out.signals, out)
	}

	// DDATA by alias only, no datatype: resolved through the birth.
	out = decode(gtop+"DDATA/L4/M01", encPayload(t0ms+2000, 2,
		spm{alias: 10, value: false, ts: t0ms + 1900},
		spm{alias: 11, value: uint64(math.MaxUint64)}, // Int64 from the birth: -1
	))
	got = sigs(out.signals)
	if len(out.signals) != 2 || got["M01/run"].Value != signal.Bool(false) || got["M01/count"].Value != signal.Number(-1) ||
		!got["M01/run"].Time.Equal(t0.Add(1900*time.Millisecond)) || !got["M01/count"].Time.Equal(t0.Add(2*time.Second)) ||
		out.rebirth != "" || len(out.problems) != 0 {
		t.Fatalf("DDATA: %+v %+v", out.signals, out)
	}

	// An unknown alias: counted, a rebirth requested, the rest still used.
	out = decode(gtop+"DDATA/L4/M01", encPayload(t0ms+3000, 3, spm{alias: 99, value: true}, spm{alias: 10, value: true}))
	if len(out.signals) != 1 || !hasProblem(out, errUnknownAlias) || out.rebirth != gtop+"NCMD/L4" {
		t.Fatalf("unknown alias: %+v", out)
	}
	// A sequence gap (4 expected): counted; the rebirth request is rate-limited.
	out = decode(gtop+"DDATA/L4/M01", encPayload(t0ms+4000, 9, spm{alias: 10, value: false}))
	if len(out.signals) != 1 || !hasProblem(out, errSeqGap) || out.rebirth != "" {
		t.Fatalf("seq gap: %+v", out)
	}
	rx = rx.Add(rebirthEvery)
	out = decode(gtop+"NDATA/L4", encPayload(t0ms+5000, 11, spm{alias: 1, value: uint32(365)}))
	if !hasProblem(out, errSeqGap) || out.rebirth != gtop+"NCMD/L4" || sigs(out.signals)["gateway/uptime"].Value != signal.Number(365) {
		t.Fatalf("seq gap after the rate limit: %+v", out)
	}
	// Absurd timestamps: the metric is set aside and counted.
	out = decode(gtop+"DDATA/L4/M01", encPayload(t0ms+6000, 12,
		spm{alias: 10, value: true, ts: uint64(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())},
		spm{alias: 11, value: uint64(5), ts: uint64(rx.Add(48 * time.Hour).UnixMilli())},
		spm{alias: 12, value: float32(3)},
	))
	if len(out.signals) != 1 || !hasProblem(out, errBadMetric) || len(out.problems) != 1 {
		t.Fatalf("absurd timestamps: %+v", out)
	}
	// No timestamp anywhere: the receive time, flagged.
	lastData := rx
	out = decode(gtop+"DDATA/L4/M01", encPayload(0, 13, spm{alias: 10, value: true}))
	if len(out.signals) != 1 || !out.signals[0].Received || !out.signals[0].Time.Equal(rx.Add(-time.Second)) {
		t.Fatalf("no timestamp: %+v", out)
	}

	// A death from an earlier session (bdSeq 6) is ignored.
	out = decode(gtop+"NDEATH/L4", encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(6)}))
	if len(out.signals) != 0 {
		t.Fatalf("stale NDEATH: %+v", out)
	}
	// The node's death: every known metric, node and device, bad at the
	// node's last data (a receive time here, so flagged), not at its own.
	out = decode(gtop+"NDEATH/L4", encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(7)}))
	got = sigs(out.signals)
	if len(out.signals) != 4 {
		t.Fatalf("NDEATH: %+v", out.signals)
	}
	for _, k := range []string{"gateway/uptime", "M01/run", "M01/count", "M01/speed"} {
		s := got[k]
		if s.Quality != signal.Bad || s.Status != StatusNoCommunication || s.Value != signal.String("") || !s.Time.Equal(lastData) || !s.Received || s.Validate() != nil {
			t.Errorf("NDEATH %s: %+v", k, s)
		}
	}
	// Data after the death, before a new birth: named metrics still pass, a rebirth is asked for.
	rx = rx.Add(rebirthEvery)
	out = decode(gtop+"DDATA/L4/M01", encPayload(t0ms+9000, 0, spm{name: "run", value: true}, spm{alias: 10, value: true}))
	if len(out.signals) != 1 || !hasProblem(out, errNoBirth) || !hasProblem(out, errUnknownAlias) || out.rebirth != gtop+"NCMD/L4" {
		t.Fatalf("data after death: %+v", out)
	}
}

func TestSparkplugDeviceDeathAndMetricTemplate(t *testing.T) {
	// Edge node = line, the equipment and signal come from the metric name.
	d := testSparkplug(t, config.Subscription{
		Topic: "spBv1.0/plant1/#", Template: "spBv1.0/{site}/+/{line}", Metric: "{equipment}/{signal}",
	})
	rx := t0.Add(time.Minute)
	out, err := d.Decode(gtop+"NBIRTH/L4", encPayload(t0ms, 0,
		spm{name: "bdSeq", dtype: spUInt64, value: uint64(0)},
		spm{name: "M01/run", alias: 1, dtype: spBoolean, value: true},
		spm{name: "M02/state", alias: 2, dtype: spString, value: "idle"},
		spm{name: "Properties/Hardware Make", dtype: spString, value: "x"}, // a space: not a valid name
	), rx)
	got := sigs(out.signals)
	if err != nil || len(out.signals) != 2 || got["M01/run"].Line != "L4" || got["M02/state"].Value != signal.String("idle") || out.unmapped != 1 {
		t.Fatalf("NBIRTH: %+v %v", out, err)
	}
	// A device under this node: its device level is not in the template.
	out, err = d.Decode(gtop+"DBIRTH/L4/PLC1", encPayload(t0ms, 1, spm{name: "M03/run", alias: 3, dtype: spBoolean, value: false}), rx)
	if err != nil || len(out.signals) != 1 || out.signals[0].Equipment != "M03" {
		t.Fatalf("DBIRTH: %+v %v", out, err)
	}
	// The device dies at 5 s, but the node's last data is of 0 s: the
	// death says nothing of what came after that.
	out, err = d.Decode(gtop+"DDEATH/L4/PLC1", encPayload(t0ms+5000, 2), rx)
	if err != nil || len(out.signals) != 1 || out.signals[0].Equipment != "M03" || out.signals[0].Quality != signal.Bad ||
		!out.signals[0].Time.Equal(t0) || out.signals[0].Received {
		t.Fatalf("DDEATH: %+v %v", out, err)
	}
	// Node metrics are untouched by the device's death; DDATA of the dead device asks for a rebirth.
	out, err = d.Decode(gtop+"DDATA/L4/PLC1", encPayload(t0ms+6000, 3, spm{alias: 3, value: true}), rx)
	if err != nil || len(out.signals) != 0 || !hasProblem(out, errNoBirth) || !hasProblem(out, errUnknownAlias) || out.rebirth == "" {
		t.Fatalf("DDATA of a dead device: %+v %v", out, err)
	}
	out, err = d.Decode(gtop+"NDATA/L4", encPayload(t0ms+7000, 4, spm{alias: 1, value: false}), rx)
	if err != nil || len(out.signals) != 1 || out.signals[0].Value != signal.Bool(false) || len(out.problems) != 0 {
		t.Fatalf("NDATA: %+v %v", out, err)
	}
}

func TestSparkplugTopics(t *testing.T) {
	d := testSparkplug(t, config.Subscription{Topic: "spBv1.0/#", Template: "spBv1.0/{site}/+/{line}/{equipment}"})
	rx := t0
	for topic, wantErr := range map[string]bool{
		"spBv1.0/STATE/host1":           false, // host state: ignored
		"spBv1.0/plant1/NCMD/L4":        false, // commands (our own rebirth requests): ignored
		"spBv1.0/plant1/DCMD/L4/M01":    false,
		"spBv1.0/plant1/NBIRTH/L4/M01":  true, // node message with a device level
		"spBv1.0/plant1/DDATA/L4":       true, // device message without one
		"spBv1.0/plant1/NFOO/L4":        true,
		"spBv1.0/plant 1/NBIRTH/L4":     true, // group is not a valid name for {site}
		"spBv1.0/plant1/NBIRTH/L4\xff":  true,
		"spAv1.0/plant1/NBIRTH/L4":      true,
		"spBv1.0/plant1/DBIRTH/L4/M.01": true,
	} {
		out, err := d.Decode(topic, encPayload(t0ms, 0, spm{name: "run", dtype: spBoolean, value: true}), rx)
		if wantErr != (err != nil) || (err != nil && !errors.Is(err, errDecode)) || len(out.signals) != 0 {
			t.Errorf("%q: %+v, %v", topic, out, err)
		}
	}
}

func FuzzSparkplug(f *testing.F) {
	f.Add("NBIRTH/L4", encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)}, spm{name: "run", alias: 1, dtype: spBoolean, value: true}))
	f.Add("DBIRTH/L4/M01", encPayload(t0ms, 1, spm{name: "count", alias: 2, dtype: spInt32, value: uint32(0xFFFFFFFF)}, spm{name: "s", alias: 3, dtype: spString, value: "x"}))
	f.Add("DDATA/L4/M01", encPayload(t0ms, 2, spm{alias: 2, value: uint32(5)}, spm{alias: 3, null: true}))
	f.Add("NDATA/L4", encPayload(0, 7, spm{name: "power", value: float32(1.5), ts: t0ms}))
	f.Add("NDEATH/L4", encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)}))
	f.Add("DDEATH/L4/M01", encPayload(t0ms, 3))
	f.Add("NDATA/L4", []byte{0x12, 0x03, 0x7a, 0x01, 0xff})
	d := testSparkplug(f, config.Subscription{Topic: "spBv1.0/#", Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gw"})
	rx := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, rest string, payload []byte) {
		topic := "spBv1.0/plant1/" + rest
		out, err := d.Decode(topic, payload, rx)
		if err != nil {
			if !errors.Is(err, errDecode) {
				t.Fatalf("error not wrapping errDecode: %v", err)
			}
			if sa := (*setAside)(nil); !errors.As(err, &sa) {
				t.Fatalf("error without a reason: %v", err)
			}
			if len(out.signals) != 0 {
				t.Fatal("signals with an error")
			}
			return
		}
		for _, p := range out.problems {
			if sa := (*setAside)(nil); !errors.As(p, &sa) {
				t.Fatalf("problem without a reason: %v", p)
			}
		}
		if out.rebirth != "" && !strings.HasPrefix(out.rebirth, "spBv1.0/plant1/NCMD/") {
			t.Fatalf("rebirth to %q", out.rebirth)
		}
		for _, s := range out.signals {
			if err := s.Validate(); err != nil {
				t.Fatalf("invalid signal %+v: %v", s, err)
			}
			if err := s.CheckType(); err != nil {
				t.Fatalf("wrong type passed: %v", err)
			}
			if s.Time.After(rx.Add(maxAhead)) {
				t.Fatalf("implausible time passed: %v", s.Time)
			}
			b, err := signal.Marshal(s)
			if err != nil || len(b) > signal.MaxEncodedSize-seqRoom {
				t.Fatalf("signal does not fit the wire: %d bytes, %v", len(b), err)
			}
			back, err := signal.Unmarshal(b)
			if err != nil || back.ID() != s.ID() {
				t.Fatalf("signal does not round-trip: %v", err)
			}
		}
	})
}

// TestSparkplugLateDeath: a death that arrives long after the node's last
// data (replayed by the broker after an agent restart, or a will sent late)
// yields signals at the last data, not at its arrival: it ends what is
// known, it does not stretch it to the receive time.
func TestSparkplugLateDeath(t *testing.T) {
	birth := func(d *Sparkplug) {
		t.Helper()
		for _, m := range []struct {
			topic   string
			payload []byte
		}{
			{gtop + "NBIRTH/L4", encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(3)},
				spm{name: "uptime", alias: 1, dtype: spUInt32, value: uint32(1)})},
			{gtop + "DBIRTH/L4/M01", encPayload(t0ms+10, 1, spm{name: "run", alias: 2, dtype: spBoolean, value: true})},
			{gtop + "DBIRTH/L4/M02", encPayload(t0ms+20, 2, spm{name: "run", alias: 2, dtype: spBoolean, value: true})},
			{gtop + "DDATA/L4/M01", encPayload(t0ms+2000, 3, spm{alias: 2, value: false})},
		} {
			if _, err := d.Decode(m.topic, m.payload, t0.Add(3*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
	}
	lastData := t0.Add(2 * time.Second)
	late := t0.Add(time.Hour)
	sub := config.Subscription{Topic: "spBv1.0/plant1/#", Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway"}
	for _, tc := range []struct {
		name    string
		topic   string
		payload []byte
		want    time.Time
		n       int
	}{
		{"NDEATH without a timestamp", gtop + "NDEATH/L4", encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(3)}), lastData, 3},
		{"NDEATH stamped when the node connected", gtop + "NDEATH/L4", encPayload(t0ms-5000, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(3)}), lastData, 3},
		{"NDEATH stamped after the last data", gtop + "NDEATH/L4", encPayload(t0ms+30*60*1000, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(3)}), lastData, 3},
		{"NDEATH stamped before the last data", gtop + "NDEATH/L4", encPayload(t0ms+1000, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(3)}), t0.Add(time.Second), 3},
		{"DDEATH without a timestamp", gtop + "DDEATH/L4/M02", encPayload(0, 4), lastData, 1},
		{"DDEATH stamped late", gtop + "DDEATH/L4/M02", encPayload(uint64(late.UnixMilli()), 4), lastData, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testSparkplug(t, sub)
			birth(d)
			out, err := d.Decode(tc.topic, tc.payload, late)
			if err != nil || len(out.signals) != tc.n {
				t.Fatalf("%d signals, want %d: %+v %v", len(out.signals), tc.n, out.signals, err)
			}
			for _, s := range out.signals {
				if s.Quality != signal.Bad || !s.Time.Equal(tc.want) || s.Received || s.Time.After(lastData) {
					t.Errorf("death signal %s/%s at %s (received %v), want %s", s.Equipment, s.Name, s.Time, s.Received, tc.want)
				}
			}
		})
	}
}
