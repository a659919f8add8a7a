package sparkplug

import (
	"errors"
	"reflect"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	in := Payload{Timestamp: 1700000000123, Seq: 255, Metrics: []Metric{
		{Name: "bdSeq", DataType: Int64, Value: uint64(3)},
		{Name: "run", Alias: 1, HasAlias: true, Timestamp: 1700000000100, DataType: Boolean, Value: true},
		{Alias: 2, HasAlias: true, Timestamp: 1700000000000, IsHistorical: true, Value: 41.5},
		{Name: "operator", Alias: 0, HasAlias: true, DataType: String, Value: "op01,op02"},
		{Name: "power", DataType: Double, IsNull: true},
	}}
	out, err := Unmarshal(in.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	none, err := Unmarshal(Payload{Seq: -1}.Marshal())
	if err != nil || none.Seq != -1 || none.Timestamp != 0 || len(none.Metrics) != 0 {
		t.Fatalf("empty payload: %+v, %v", none, err)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated tag":    {0x0a},
		"truncated metric": {0x12, 0x05, 0x0a},
		"bad utf-8 name":   {0x12, 0x03, 0x0a, 0x01, 0xff},
		"too large":        make([]byte, MaxPayload+1),
	} {
		if _, err := Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

func TestState(t *testing.T) {
	s := State{Online: true, Timestamp: 1700000000123}
	if got := string(s.Marshal()); got != `{"online":true,"timestamp":1700000000123}` {
		t.Fatalf("marshal: %s", got)
	}
	back, err := ParseState(s.Marshal())
	if err != nil || back != s {
		t.Fatalf("parse: %+v, %v", back, err)
	}
	for _, bad := range []string{`ONLINE`, `{"online":true}`, `{"timestamp":1}`, `{"online":"yes","timestamp":1}`} {
		if _, err := ParseState([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", bad, err)
		}
	}
	if StateTopic("scada") != "spBv1.0/STATE/scada" || !ValidHostID("scada-1") || ValidHostID("a/b") || ValidHostID("") || ValidHostID("#") {
		t.Fatal("topic or host id check wrong")
	}
}
