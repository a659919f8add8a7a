package signal

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func sample() Signal {
	return Signal{
		Site: "s1", Line: "L1", Equipment: "M01", Name: Run, Value: Bool(true),
		Time:    time.Date(2026, 10, 25, 1, 30, 0, 123000000, time.UTC),
		Quality: Uncertain, Status: 0x40920000, Agent: "a1", Seq: 7,
	}
}

func TestRoundTrip(t *testing.T) {
	gap := sample()
	gap.Name, gap.Value = GapName, Number(3)
	gap.Gap = &Gap{From: gap.Time.Add(-time.Minute), To: gap.Time, Dropped: 3, Reason: "buffer full"}
	for _, s := range []Signal{
		sample(),
		func() Signal { s := sample(); s.Value = Number(-1.5e9); return s }(),
		func() Signal { s := sample(); s.Value = String("op1,op2"); s.Received = true; return s }(),
		func() Signal { s := sample(); s.Value = String(""); s.Quality = Bad; return s }(),
		gap,
	} {
		b, err := Marshal(s)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", s, err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if got.ID() != s.ID() || got.Value != s.Value || !got.Time.Equal(s.Time) || got.Quality != s.Quality ||
			got.Status != s.Status || got.Received != s.Received || got.Seq != s.Seq || (got.Gap == nil) != (s.Gap == nil) {
			t.Errorf("round trip changed the signal:\n got %+v\nwant %+v", got, s)
		}
	}
}

// A server timestamp travels as schema version 2 and is not part of the
// identity; a signal without one stays version 1.
func TestServerTime(t *testing.T) {
	s := sample()
	b1, _ := Marshal(s)
	s.ServerTime = s.Time.Add(3 * time.Millisecond)
	b2, err := Marshal(s)
	if err != nil || !strings.Contains(string(b1), `"v":1`) || !strings.Contains(string(b2), `"v":2`) || !strings.Contains(string(b2), `"sts":`) {
		t.Fatalf("encodings: %s / %s (%v)", b1, b2, err)
	}
	got, err := Unmarshal(b2)
	if err != nil || !got.ServerTime.Equal(s.ServerTime) || got.ID() != sample().ID() {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

func TestIDStableAcrossReads(t *testing.T) {
	a, b := sample(), sample()
	b.Agent, b.Seq, b.Quality, b.Status = "other", 99, Good, 0
	if a.ID() != b.ID() {
		t.Fatal("the same observation read twice must keep its ID")
	}
	for name, change := range map[string]func(*Signal){
		"time":      func(s *Signal) { s.Time = s.Time.Add(time.Millisecond) },
		"value":     func(s *Signal) { s.Value = Bool(false) },
		"kind":      func(s *Signal) { s.Value = Number(1) },
		"equipment": func(s *Signal) { s.Equipment = "M02" },
		"name":      func(s *Signal) { s.Name = State },
	} {
		c := sample()
		change(&c)
		if c.ID() == a.ID() {
			t.Errorf("changing %s must change the ID", name)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{`,
		"version":       `{"v":3,"site":"s","line":"l","eq":"e","sig":"run","b":true,"ts":"2026-01-01T00:00:00Z"}`,
		"sts in v1":     `{"v":1,"site":"s","line":"l","eq":"e","sig":"run","b":true,"ts":"2026-01-01T00:00:00Z","sts":"2026-01-01T00:00:01Z"}`,
		"unknown field": `{"v":1,"site":"s","line":"l","eq":"e","sig":"run","b":true,"ts":"2026-01-01T00:00:00Z","x":1}`,
		"no value":      `{"v":1,"site":"s","line":"l","eq":"e","sig":"run","ts":"2026-01-01T00:00:00Z"}`,
		"two values":    `{"v":1,"site":"s","line":"l","eq":"e","sig":"run","b":true,"n":1,"ts":"2026-01-01T00:00:00Z"}`,
		"dot in name":   `{"v":1,"site":"s.x","line":"l","eq":"e","sig":"run","b":true,"ts":"2026-01-01T00:00:00Z"}`,
		"empty line":    `{"v":1,"site":"s","line":"","eq":"e","sig":"run","b":true,"ts":"2026-01-01T00:00:00Z"}`,
		"absurd time":   `{"v":1,"site":"s","line":"l","eq":"e","sig":"run","b":true,"ts":"1970-01-01T00:00:00Z"}`,
		"bad quality":   `{"v":1,"site":"s","line":"l","eq":"e","sig":"run","b":true,"ts":"2026-01-01T00:00:00Z","q":"meh"}`,
		"gap no marker": `{"v":1,"site":"s","line":"l","eq":"e","sig":"_gap","n":1,"ts":"2026-01-01T00:00:00Z"}`,
		"oversized":     `{"v":1,"site":"` + strings.Repeat("a", MaxEncodedSize) + `"}`,
	} {
		if _, err := Unmarshal([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
}

func TestQualityOf(t *testing.T) {
	for code, want := range map[uint32]Quality{0: Good, 0x40920000: Uncertain, 0x80340000: Bad, 0xC0000000: Bad} {
		if got := QualityOf(code); got != want {
			t.Errorf("QualityOf(%#x) = %v, want %v", code, got, want)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := Marshal(sample())
	f.Add(b)
	f.Add([]byte(`{"v":1,"site":"s","line":"l","eq":"e","sig":"_gap","n":1,"ts":"2026-01-01T00:00:00Z","gap":{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:00:00Z","dropped":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same observation.
		b, err := Marshal(s)
		if err != nil {
			t.Fatalf("decoded signal does not re-encode: %v", err)
		}
		s2, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("re-encoded signal does not decode: %v", err)
		}
		if s2.ID() != s.ID() {
			t.Fatalf("ID changed through a round trip")
		}
	})
}
