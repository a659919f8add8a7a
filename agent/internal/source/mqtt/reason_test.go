package mqtt

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// syncBuf is a log sink the source's goroutines and the test share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func subscriptionBroker(subs ...config.Subscription) config.MQTT {
	qos := 1
	return config.MQTT{Broker: "tcp://broker:1883", ClientID: "agent", QoS: &qos, MaxReconnectInterval: 200 * time.Millisecond, Subscriptions: subs}
}

var (
	jsonSub      = config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Time: "ts"}
	plainSub     = config.Subscription{Topic: "fp/#", Template: "fp/{line}/{equipment}/{signal}", Format: config.FormatPlain}
	sparkplugSub = config.Subscription{Topic: "spBv1.0/plant1/#", Format: config.FormatSparkplug,
		Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway"}
)

// sparkplugBirths are an edge node's births, after which its next message
// has seq 2.
func sparkplugBirths() []*fakeMessage {
	return []*fakeMessage{
		{topic: gtop + "NBIRTH/L4", payload: encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)})},
		{topic: gtop + "DBIRTH/L4/M01", payload: encPayload(t0ms+1, 1,
			spm{name: "run", alias: 2, dtype: spBoolean, value: true},
			spm{name: "count", alias: 3, dtype: spInt64, value: uint64(100)},
		)},
	}
}

// TestDecodeErrorReasons sends, per format, a message for each reason a
// message or value is set aside for, through a source on a fake client:
// each is counted once under its reason and nowhere else, acknowledged,
// gives no signal, and is logged naming the reason and the topic.
func TestDecodeErrorReasons(t *testing.T) {
	big := strings.Repeat("x", 70<<10)
	for _, tc := range []struct {
		name    string
		sub     config.Subscription
		before  []*fakeMessage // accepted first, without decode errors
		topic   string
		payload []byte
		reason  metrics.DecodeReason
	}{
		{"json not json", jsonSub, nil, "fp/L1/M01/count", []byte("garbage"), metrics.BadPayload},
		{"json no value", jsonSub, nil, "fp/L1/M01/count", []byte(`{"val":1}`), metrics.BadPayload},
		{"json null", jsonSub, nil, "fp/L1/M01/count", []byte(`{"value":null}`), metrics.BadValue},
		{"json object", jsonSub, nil, "fp/L1/M01/power", []byte(`{"value":{"kw":1}}`), metrics.BadValue},
		{"json time before 2000", jsonSub, nil, "fp/L1/M01/count", []byte(`{"value":1,"ts":"1970-01-01T00:00:00Z"}`), metrics.BadTimestamp},
		{"json time unreadable", jsonSub, nil, "fp/L1/M01/count", []byte(`{"value":1,"ts":"yesterday"}`), metrics.BadTimestamp},
		{"json too large", jsonSub, nil, "fp/L1/M01/alarm", []byte(`{"value":"` + big + `"}`), metrics.TooLarge},
		{"json run text", jsonSub, nil, "fp/L1/M01/run", []byte(`{"value":"yes"}`), metrics.WrongType},
		{"json run 3", jsonSub, nil, "fp/L1/M01/run", []byte(`{"value":3}`), metrics.WrongType},
		{"json count text", jsonSub, nil, "fp/L1/M01/count", []byte(`{"value":"12"}`), metrics.WrongType},
		{"json operator number", jsonSub, nil, "fp/L1/M01/operator", []byte(`{"value":1234}`), metrics.WrongType},
		{"json login bool", jsonSub, nil, "fp/L1/M01/login", []byte(`{"value":true}`), metrics.WrongType},
		{"json state bool", jsonSub, nil, "fp/L1/M01/state", []byte(`{"value":false}`), metrics.WrongType},
		{"json too few levels", jsonSub, nil, "fp/L1/M01", []byte(`{"value":1}`), metrics.UnmappedTopic},
		{"json bad name", jsonSub, nil, "fp/L1/M 01/count", []byte(`{"value":1}`), metrics.UnmappedTopic},
		{"json reserved name", jsonSub, nil, "fp/L1/M01/_gap", []byte(`{"value":1}`), metrics.UnmappedTopic},
		{"json watermark name", jsonSub, nil, "fp/L1/M01/_seen", []byte(`{"value":true}`), metrics.UnmappedTopic},
		{"json no subscription", jsonSub, nil, "elsewhere/L1/M01/count", []byte(`{"value":1}`), metrics.UnmappedTopic},

		{"plain not utf-8", plainSub, nil, "fp/L1/M01/alarm", []byte("\xff\xfe"), metrics.BadPayload},
		{"plain nan", plainSub, nil, "fp/L1/M01/power", []byte("NaN"), metrics.BadValue},
		{"plain too large", plainSub, nil, "fp/L1/M01/alarm", []byte(big), metrics.TooLarge},
		{"plain grows on the wire", plainSub, nil, "fp/L1/M01/alarm", []byte(strings.Repeat("<", 20000)), metrics.TooLarge},
		{"plain run text", plainSub, nil, "fp/L1/M01/run", []byte("on"), metrics.WrongType},
		{"plain run 2", plainSub, nil, "fp/L1/M01/run", []byte("2"), metrics.WrongType},
		{"plain count text", plainSub, nil, "fp/L1/M01/count", []byte("twelve"), metrics.WrongType},
		{"plain state bool", plainSub, nil, "fp/L1/M01/state", []byte("true"), metrics.WrongType},
		{"plain topic not utf-8", plainSub, nil, "fp/L1/M\xff/run", []byte("1"), metrics.UnmappedTopic},

		{"sparkplug bad protobuf", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01", []byte{0x12, 0x03, 0x7a, 0x01, 0xff}, metrics.BadPayload},
		{"sparkplug value not of its type", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 2, spm{alias: 3, value: 1.5}), metrics.BadValue},
		{"sparkplug metric time", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 2, spm{alias: 3, value: uint64(101), ts: 1000}), metrics.BadTimestamp},
		{"sparkplug too large", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 2, spm{name: "note", value: strings.Repeat("x", maxSparkplugPayload)}), metrics.TooLarge},
		{"sparkplug run text", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 2, spm{name: "run", dtype: spString, value: "yes"}), metrics.WrongType},
		{"sparkplug count text", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 2, spm{name: "count", dtype: spString, value: "12"}), metrics.WrongType},
		{"sparkplug device name", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M.01",
			encPayload(t0ms+2, 2, spm{alias: 3, value: uint64(101)}), metrics.UnmappedTopic},
		{"sparkplug node level count", sparkplugSub, nil, gtop + "NBIRTH/L4/M01",
			encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)}), metrics.UnmappedTopic},
		{"sparkplug data before birth", sparkplugSub, nil, gtop + "NDATA/L4",
			encPayload(t0ms, 5, spm{name: "power", dtype: spDouble, value: 2.5}), metrics.BeforeBirth},
		{"sparkplug unknown alias", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 2, spm{alias: 77, value: true}), metrics.BeforeBirth},
		{"sparkplug seq gap", sparkplugSub, sparkplugBirths(), gtop + "DDATA/L4/M01",
			encPayload(t0ms+2, 7, spm{alias: 3, value: uint64(101)}), metrics.SeqGap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, commit := &fakeClient{}, &holdCommitter{auto: true}
			s, stat := runFake(t, subscriptionBroker(tc.sub), client, commit)
			var logs syncBuf
			s.warn = lograte.New(slog.New(slog.NewTextHandler(&logs, nil)), 10*time.Second)
			for _, m := range tc.before {
				client.deliver(m)
			}
			if n := stat.DecodeErrors.Load(); n != 0 {
				t.Fatalf("%d decode errors before the bad message", n)
			}
			before := len(commit.signals())
			m := &fakeMessage{topic: tc.topic, payload: tc.payload, qos: 1}
			client.deliver(m)
			for r := range len(metrics.DecodeReasons()) {
				want := uint64(0)
				if metrics.DecodeReason(r) == tc.reason {
					want = 1
				}
				if n := stat.DecodeErrors.Of(metrics.DecodeReason(r)); n != want {
					t.Errorf("%s: %d, want %d", metrics.DecodeReason(r), n, want)
				}
			}
			// Sparkplug sequence and birth problems leave the message's usable metrics in use.
			if got := commit.signals()[before:]; len(got) != 0 && tc.reason != metrics.BeforeBirth && tc.reason != metrics.SeqGap {
				t.Errorf("signals from the bad message: %+v", got)
			}
			if m.acks.Load() != 1 {
				t.Error("bad message not acknowledged")
			}
			out := logs.String()
			if !strings.Contains(out, "reason="+tc.reason.String()) || !strings.Contains(out, "topic=") {
				t.Errorf("log does not name the reason %s and the topic:\n%s", tc.reason, out)
			}
		})
	}
}

// TestDecodeErrorsLoggedPerReason: a flood of one reason is logged once
// per interval and does not hide another reason.
func TestDecodeErrorsLoggedPerReason(t *testing.T) {
	client, commit := &fakeClient{}, &holdCommitter{auto: true}
	s, stat := runFake(t, subscriptionBroker(jsonSub), client, commit)
	var logs syncBuf
	s.warn = lograte.New(slog.New(slog.NewTextHandler(&logs, nil)), 10*time.Second)
	for range 50 {
		client.deliver(&fakeMessage{topic: "fp/L1/M01/count", payload: []byte("garbage"), qos: 1})
	}
	for range 50 {
		client.deliver(&fakeMessage{topic: "fp/L1/M01", payload: []byte(`{"value":1}`), qos: 1})
	}
	client.deliver(&fakeMessage{topic: "fp/L1/M01/run", payload: []byte(`{"value":"RUNNING"}`), qos: 1})
	if stat.DecodeErrors.Of(metrics.BadPayload) != 50 || stat.DecodeErrors.Of(metrics.UnmappedTopic) != 50 || stat.DecodeErrors.Of(metrics.WrongType) != 1 {
		t.Fatalf("counted %d bad payloads, %d unmapped topics, %d wrong types", stat.DecodeErrors.Of(metrics.BadPayload),
			stat.DecodeErrors.Of(metrics.UnmappedTopic), stat.DecodeErrors.Of(metrics.WrongType))
	}
	out := logs.String()
	for _, want := range []string{
		`msg="dropping an undecodable mqtt message" reason=bad_payload topic=fp/L1/M01/count`,
		`msg="dropping an mqtt message whose topic the template cannot map" reason=unmapped_topic topic=fp/L1/M01 `,
		`msg="dropping an undecodable mqtt message" reason=wrong_type topic=fp/L1/M01/run err="wrong value type: run must be a bool, 0 or 1, not string"`,
	} {
		if strings.Count(out, want) != 1 {
			t.Errorf("want one line with %q:\n%s", want, out)
		}
	}
}

// TestTypedSignalsPass: values of the types the hub interprets pass, and a
// death's bad-quality empty values are not taken for wrong types.
func TestTypedSignalsPass(t *testing.T) {
	client, commit := &fakeClient{}, &holdCommitter{auto: true}
	_, stat := runFake(t, subscriptionBroker(jsonSub, sparkplugSub), client, commit)
	for _, m := range []*fakeMessage{
		{topic: "fp/L1/M01/run", payload: []byte(`{"value":true}`)},
		{topic: "fp/L1/M01/run", payload: []byte(`{"value":1}`)},
		{topic: "fp/L1/M01/state", payload: []byte(`{"value":40001}`)},
		{topic: "fp/L1/M01/state", payload: []byte(`{"value":"idle"}`)},
		{topic: "fp/L1/M01/operator", payload: []byte(`{"value":""}`)},
		{topic: "fp/L1/M01/count", payload: []byte(`{"value":12}`)},
		{topic: "fp/L1/M01/alarm", payload: []byte(`{"value":true}`)},
		{topic: "fp/L1/M01/temperature", payload: []byte(`{"value":"n/a"}`)},
	} {
		client.deliver(m)
	}
	// A plain subscription of its own: the plain payload of an operator
	// signal is its text, digits or not.
	client2, commit2 := &fakeClient{}, &holdCommitter{auto: true}
	_, stat2 := runFake(t, subscriptionBroker(plainSub), client2, commit2)
	client2.deliver(&fakeMessage{topic: "fp/L1/M01/operator", payload: []byte(" 0042\n")})
	client2.deliver(&fakeMessage{topic: "fp/L1/M01/login", payload: []byte("17")})
	client2.deliver(&fakeMessage{topic: "fp/L1/M01/run", payload: []byte("1")})
	if got := commit2.signals(); stat2.DecodeErrors.Load() != 0 || len(got) != 3 || got[0].Value != signal.String("0042") ||
		got[1].Value != signal.String("17") || got[2].Value != signal.Number(1) {
		t.Fatalf("plain: %d decode errors, signals %+v", stat2.DecodeErrors.Load(), got)
	}
	for _, m := range append(sparkplugBirths(),
		&fakeMessage{topic: gtop + "NDEATH/L4", payload: encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)})}) {
		client.deliver(m)
	}
	if n := stat.DecodeErrors.Load(); n != 0 {
		t.Fatalf("%d decode errors", n)
	}
	dead := 0
	for _, s := range commit.signals() {
		if s.Quality == signal.Bad && s.Value == signal.String("") {
			dead++
		}
	}
	if dead != 2 { // run and count of M01
		t.Fatalf("%d death signals, want 2: %+v", dead, commit.signals())
	}
}
