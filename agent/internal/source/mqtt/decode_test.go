package mqtt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

var rx = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

func TestDecodeJSON(t *testing.T) {
	ts := time.Date(2026, 10, 1, 5, 59, 58, 123456789, time.UTC)
	for _, tc := range []struct {
		name, payload, value, time, format string
		want                               signal.Value
		wantTime                           time.Time // zero: none
		err                                bool
	}{
		{"bool rfc3339", `{"value":true,"ts":"2026-10-01T05:59:58.123456789Z"}`, "value", "ts", "rfc3339", signal.Bool(true), ts, false},
		{"offset", `{"value":1,"ts":"2026-10-01T07:59:58.123456789+02:00"}`, "value", "ts", "rfc3339", signal.Number(1), ts, false},
		{"number nested", `{"data":{"v":-1.5e3},"meta":{"t":1790834398}}`, "data.v", "meta.t", "unix", signal.Number(-1500), time.Unix(1790834398, 0).UTC(), false},
		{"unix float", `{"v":"op1,op2","t":1790834398.25}`, "v", "t", "unix", signal.String("op1,op2"), time.Unix(1790834398, 250000000).UTC(), false},
		{"unix_ms", `{"v":3,"t":1790834398123}`, "v", "t", "unix_ms", signal.Number(3), time.UnixMilli(1790834398123).UTC(), false},
		{"unix_ms string", `{"v":3,"t":"1790834398123"}`, "v", "t", "unix_ms", signal.Number(3), time.UnixMilli(1790834398123).UTC(), false},
		{"no time field", `{"value":"idle"}`, "value", "ts", "rfc3339", signal.String("idle"), time.Time{}, false},
		{"no time configured", `{"value":"idle","ts":"garbage"}`, "value", "", "rfc3339", signal.String("idle"), time.Time{}, false},
		{"whole document", `42`, "", "", "rfc3339", signal.Number(42), time.Time{}, false},
		{"empty string", `{"value":""}`, "value", "", "rfc3339", signal.String(""), time.Time{}, false},
		{"bad time", `{"value":1,"ts":"yesterday"}`, "value", "ts", "rfc3339", signal.Value{}, time.Time{}, true},
		{"time wrong type", `{"value":1,"ts":true}`, "value", "ts", "unix", signal.Value{}, time.Time{}, true},
		{"missing value", `{"val":1}`, "value", "", "rfc3339", signal.Value{}, time.Time{}, true},
		{"null value", `{"value":null}`, "value", "", "rfc3339", signal.Value{}, time.Time{}, true},
		{"object value", `{"value":{"a":1}}`, "value", "", "rfc3339", signal.Value{}, time.Time{}, true},
		{"huge number", `{"value":1e999}`, "value", "", "rfc3339", signal.Value{}, time.Time{}, true},
		{"not json", `value=1`, "value", "", "rfc3339", signal.Value{}, time.Time{}, true},
		{"trailing", `{"value":1} x`, "value", "", "rfc3339", signal.Value{}, time.Time{}, true},
		{"path through scalar", `{"value":1}`, "value.x", "", "rfc3339", signal.Value{}, time.Time{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, got, err := DecodeJSON([]byte(tc.payload), splitPath(tc.value), splitPath(tc.time), tc.format)
			if tc.err {
				if !errors.Is(err, errDecode) {
					t.Fatalf("want a decode error, got %v (%v)", err, v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v != tc.want || !got.Equal(tc.wantTime) {
				t.Fatalf("got %v at %v, want %v at %v", v, got, tc.want, tc.wantTime)
			}
		})
	}
}

func TestDecodePlain(t *testing.T) {
	for in, want := range map[string]signal.Value{
		"true": signal.Bool(true), " false\n": signal.Bool(false), "12.5": signal.Number(12.5), "-3": signal.Number(-3),
		"running": signal.String("running"), "": signal.String(""), "op1,op2": signal.String("op1,op2"),
	} {
		got, err := DecodePlain([]byte(in))
		if err != nil || got != want {
			t.Errorf("DecodePlain(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"NaN", "+Inf", "\xff\xfe"} {
		if _, err := DecodePlain([]byte(in)); !errors.Is(err, errDecode) {
			t.Errorf("DecodePlain(%q): want a decode error, got %v", in, err)
		}
	}
}

func testDecoder(t testing.TB, sub config.Subscription) *Decoder {
	t.Helper()
	c := config.Config{AgentID: "a1", Site: "plant1", DataDir: "x", LogLevel: "info", MQTT: []config.MQTT{{Broker: "tcp://h:1", Subscriptions: []config.Subscription{sub}}}}
	c.NATS = config.NATS{URL: "nats://h:1", SubjectPrefix: "p", Batch: 1, AckTimeout: time.Second}
	c.Buffer = config.Buffer{MaxBytes: 1 << 30, Policy: "drop_oldest", CommitMax: 1}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return NewDecoder(c.MQTT[0].Subscriptions[0], c.Site, c.AgentID)
}

func TestDecoderMapsTopicAndFlagsReceiveTime(t *testing.T) {
	d := testDecoder(t, config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Format: "json", Value: "value", Time: "ts", TimeFormat: "rfc3339"})
	s, err := d.Decode("fp/L4/M01/run", []byte(`{"value":true}`), rx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Site != "plant1" || s.Line != "L4" || s.Equipment != "M01" || s.Name != "run" || s.Agent != "a1" || !s.Received || !s.Time.Equal(rx) {
		t.Fatalf("got %+v", s)
	}
	s, err = d.Decode("fp/L4/M01/run", []byte(`{"value":false,"ts":"2026-10-01T05:00:00Z"}`), rx)
	if err != nil || s.Received || s.Time.Hour() != 5 {
		t.Fatalf("got %+v, %v", s, err)
	}
	for _, bad := range []struct{ topic, payload string }{
		{"fp/L4/M01", `{"value":true}`},                                 // too few levels
		{"fp/L4/M01/run", `{"value":true,"ts":"1970-01-01T00:00:00Z"}`}, // implausible time
	} {
		if _, err := d.Decode(bad.topic, []byte(bad.payload), rx); err == nil {
			t.Errorf("Decode(%q, %q): want error", bad.topic, bad.payload)
		}
	}
}

func TestDecoderSetsAsideImplausibleAndOversized(t *testing.T) {
	d := testDecoder(t, config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Format: "json", Value: "value", Time: "ts", TimeFormat: "rfc3339"})
	plain := testDecoder(t, config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Format: "plain"})
	for name, tc := range map[string]struct {
		d       *Decoder
		topic   string
		payload string
	}{
		"before 2000":          {d, "fp/L4/M01/run", `{"value":true,"ts":"1999-12-31T23:59:59Z"}`},
		"a day and more ahead": {d, "fp/L4/M01/run", `{"value":true,"ts":"` + rx.Add(24*time.Hour+time.Second).Format(time.RFC3339) + `"}`},
		"year 3000":            {d, "fp/L4/M01/run", `{"value":true,"ts":"3000-01-01T00:00:00Z"}`},
		"oversized json":       {d, "fp/L4/M01/run", `{"value":"` + strings.Repeat("x", maxPayload) + `"}`},
		"oversized plain":      {plain, "fp/L4/M01/run", strings.Repeat("x", maxPayload+1)},
		// Fits the payload bound, but JSON escapes each '<' to six bytes on the wire.
		"grows on the wire": {plain, "fp/L4/M01/alarm", strings.Repeat("<", 20000)},
		"topic not utf-8":   {plain, "fp/L4/M\xff/run", "1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tc.d.Decode(tc.topic, []byte(tc.payload), rx); !errors.Is(err, errDecode) {
				t.Fatalf("want a decode error, got %v", err)
			}
		})
	}
	// A clock a little ahead is tolerated.
	if _, err := d.Decode("fp/L4/M01/run", []byte(`{"value":true,"ts":"`+rx.Add(time.Hour).Format(time.RFC3339)+`"}`), rx); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Decode("fp/L4/M01/alarm", []byte(strings.Repeat("<", 1000)), rx); err != nil {
		t.Fatal(err)
	}
}

func TestTopicMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/+/c", "a/b/c", true}, {"a/+/c", "a/b/d", false}, {"a/#", "a/b/c", true}, {"a/#", "a", true},
		{"a/b", "a/b/c", false}, {"floorpulse/+/+/+/+", "floorpulse/p/L/M/run", true},
		{"a/+", "a", false}, {"#", "a/b", true}, {"+", "", true}, {"a//c", "a//c", true}, {"a/+/c", "a//c", true},
		{"a/b/c", "a/b", false}, {"+/+", "a/b/c", false},
	} {
		if got := topicMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("topicMatches(%q, %q) = %v", tc.filter, tc.topic, got)
		}
		if got := splitMatches(tc.filter, tc.topic); got != tc.want {
			t.Errorf("splitMatches(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}

// splitMatches is topicMatches written plainly, level by level.
func splitMatches(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(t) || (level != "+" && level != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// FuzzTopicMatches checks topicMatches against splitMatches.
func FuzzTopicMatches(f *testing.F) {
	f.Add("a/+/c", "a/b/c")
	f.Add("a/#", "a")
	f.Add("+/+", "a/b/c")
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if got, want := topicMatches(filter, topic), splitMatches(filter, topic); got != want {
			t.Fatalf("topicMatches(%q, %q) = %v, want %v", filter, topic, got, want)
		}
	})
}

// checkRoundTrip asserts that a decoded value makes a signal that survives the wire.
func checkRoundTrip(t *testing.T, v signal.Value, ts time.Time) {
	s := signal.Signal{Site: "s", Line: "l", Equipment: "e", Name: "n", Value: v, Time: rx}
	if !ts.IsZero() {
		s.Time = ts
	}
	if checkSignal(s) != nil {
		return // out-of-range time or too large: Decode rejects it after this point
	}
	b, err := signal.Marshal(s)
	if err != nil {
		t.Fatalf("decoded value %v does not marshal: %v", v, err)
	}
	back, err := signal.Unmarshal(b)
	if err != nil || back.ID() != s.ID() {
		t.Fatalf("decoded value %v does not round-trip: %v", v, err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"value":true,"ts":"2026-10-01T05:59:58Z"}`), "value", "ts", "rfc3339")
	f.Add([]byte(`{"d":{"v":1.5},"t":1790834398.5}`), "d.v", "t", "unix")
	f.Add([]byte(`{"v":"x","t":"1790834398123"}`), "v", "t", "unix_ms")
	for _, p := range []string{
		` { "value" : -0.5e+3 , "ts" : "2026-10-01T05:59:58.5+02:00" } `,
		`{"value":1,"value":"two","ts":null}`, `{"value":"a\"b","ts":"2026-10-01T05:59:58Z"}`,
		`{"value":01,"ts":"x"}`, `{"value":1.}`, `{"value":-}`, `{"value":1e}`, `{"value":tru}`,
		`{"value":null}`, `{"value":{"x":1}}`, `{"value":[1]}`, `{"value":1,}`, `{"value":1} x`,
		"{\"value\":\"\xff\"}", `{"value":1e400}`, `{}`, `[]`, `{"ts":1790834398,"value":true}`,
	} {
		f.Add([]byte(p), "value", "ts", "rfc3339")
	}
	f.Fuzz(func(t *testing.T, payload []byte, valuePath, timePath, format string) {
		v, ts, err := DecodeJSON(payload, splitPath(valuePath), splitPath(timePath), format)
		// The fast path for flat objects agrees with the general decoder.
		gv, gts, gerr := decodeGeneric(payload, splitPath(valuePath), splitPath(timePath), format)
		if (err == nil) != (gerr == nil) || err == nil && (v != gv || !ts.Equal(gts)) {
			t.Fatalf("fast path %v %v %v, general %v %v %v", v, ts, err, gv, gts, gerr)
		}
		if err != nil {
			if !errors.Is(err, errDecode) {
				t.Fatalf("error not wrapping errDecode: %v", err)
			}
			return
		}
		checkRoundTrip(t, v, ts)
		// Decoding is deterministic: the same message gives the same signal ID.
		v2, ts2, _ := DecodeJSON(payload, splitPath(valuePath), splitPath(timePath), format)
		if v2 != v || !ts2.Equal(ts) {
			t.Fatal("decoding twice gave different results")
		}
	})
}

func FuzzDecodePlain(f *testing.F) {
	for _, s := range []string{"true", "12.5", "running", "", " -1e3 ", "0x10"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		v, err := DecodePlain(payload)
		if err != nil {
			if !errors.Is(err, errDecode) {
				t.Fatalf("error not wrapping errDecode: %v", err)
			}
			return
		}
		checkRoundTrip(t, v, time.Time{})
	})
}

// FuzzDecoder runs whole messages (topic and payload) through the JSON and
// plain decoders: whatever comes in, the result is an errDecode error or
// signals that are valid, plausible in time and fit the wire.
func FuzzDecoder(f *testing.F) {
	f.Add("fp/L4/M01/run", []byte(`{"value":true,"ts":"2026-10-01T05:59:58Z"}`), false)
	f.Add("fp/L4/M01/state", []byte("idle"), true)
	f.Add("fp/L4/M01/count", []byte(`{"value":1e308,"ts":"1970-01-01T00:00:00Z"}`), false)
	f.Add("fp/L4//run", []byte("1"), true)
	dj := testDecoder(f, config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Format: "json", Value: "value", Time: "ts", TimeFormat: "rfc3339"})
	dp := testDecoder(f, config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Format: "plain"})
	f.Fuzz(func(t *testing.T, topic string, payload []byte, plain bool) {
		d := dj
		if plain {
			d = dp
		}
		s, err := d.Decode(topic, payload, rx)
		if err != nil {
			if !errors.Is(err, errDecode) {
				t.Fatalf("error not wrapping errDecode: %v", err)
			}
			if sa := (*setAside)(nil); !errors.As(err, &sa) {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if err := s.CheckType(); err != nil {
			t.Fatalf("wrong type passed: %v", err)
		}
		if !plausibleAt(s.Time, rx) {
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
	})
}

// BenchmarkDecodeJSON compares the flat fast path with the general decoder
// on the simulator's payload shape.
func BenchmarkDecodeJSON(b *testing.B) {
	payload := []byte(`{"ts":"2026-10-01T06:00:00.123Z","value":42.5}`)
	vp, tp := []string{"value"}, []string{"ts"}
	b.Run("flat", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := DecodeJSON(payload, vp, tp, "rfc3339"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("general", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, _, err := decodeGeneric(payload, vp, tp, "rfc3339"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
