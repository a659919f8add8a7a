package signal

import (
	"reflect"
	"testing"
	"time"
)

// decodeSamples are encoded signals of every value kind, as Marshal writes
// them, and variants the scanner must either read exactly as
// encoding/json does or leave to it.
func decodeSamples() [][]byte {
	var out [][]byte
	for _, s := range []Signal{
		sample(),
		func() Signal { s := sample(); s.Value = Number(-1.5e-9); return s }(),
		func() Signal { s := sample(); s.Value = String("op1,op2 小王"); s.Received = true; return s }(),
		func() Signal { s := sample(); s.Value = String(""); s.Quality = Bad; s.Status = 0x80340000; return s }(),
		func() Signal { s := sample(); s.ServerTime = s.Time.Add(time.Millisecond); return s }(),
		func() Signal {
			s := sample()
			s.Time = time.Date(2026, 3, 29, 2, 30, 0, 5, time.FixedZone("", 3600))
			s.Seq = 1<<64 - 1
			return s
		}(),
	} {
		b, err := Marshal(s)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	for _, s := range []string{
		` { "v" : 1 , "site":"s1","line":"L1","eq":"M01","sig":"run","n":42,"ts":"2026-10-25T01:30:00Z" } ` + "\n",
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25T01:30:00Z","site":"s2"}`,
		`{"v":1,"Site":"s1","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s\u0031","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":null,"n":1,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","n":1e400,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","n":01,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":01,"site":"s1","line":"L1","eq":"M01","sig":"run","n":1,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1.0,"site":"s1","line":"L1","eq":"M01","sig":"run","n":1,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","n":-0.5E+3,"ts":"2026-10-25T01:30:00Z","sc":4294967296}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25T01:30:00Z"} ]`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25T01:30:00Z"}{}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":truex,"ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","s":"\xff","ts":"2026-10-25T01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25 01:30:00Z"}`,
		`{"v":1,"site":"s1","line":"L1","eq":"M01","sig":"run","b":true,"ts":"2026-10-25T01:30:00Z","extra":1}`,
		`{"v":1,"site":"s","line":"l","eq":"e","sig":"_gap","n":1,"ts":"2026-01-01T00:00:00Z","gap":{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T00:00:00Z","dropped":1}}`,
		`{}`, `[]`, ``, `{"v":1,`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// The scanner reads what Marshal writes: the hub's signals never take the
// encoding/json path.
func TestDecoderScansMarshalOutput(t *testing.T) {
	var d Decoder
	for _, b := range decodeSamples()[:6] {
		var w wire
		var h holder
		if !d.scan(b, &w, &h) {
			t.Errorf("left to encoding/json: %s", b)
		}
	}
}

// The Decoder decodes each sample exactly as encoding/json does, or fails
// as it does, with fresh strings and with strings it kept.
func TestDecoderEqualsJSON(t *testing.T) {
	var d Decoder
	for _, b := range decodeSamples() {
		checkDecoder(t, &d, b)
		checkDecoder(t, &d, b)
	}
}

func checkDecoder(t *testing.T, d *Decoder, b []byte) {
	t.Helper()
	want, werr := unmarshalJSON(b)
	got, err := d.Unmarshal(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: error %v, encoding/json %v", b, err, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
	}
}

func FuzzDecoder(f *testing.F) {
	for _, b := range decodeSamples() {
		f.Add(b)
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoder(t, &d, data)
	})
}

// BenchmarkUnmarshal compares the Decoder with encoding/json on what the
// agent sends.
//
//	go test -run '^$' -bench Unmarshal -benchmem ./pkg/signal
func BenchmarkUnmarshal(b *testing.B) {
	data, _ := Marshal(sample())
	b.Run("decoder", func(b *testing.B) {
		var d Decoder
		for b.Loop() {
			if _, err := d.Unmarshal(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := unmarshalJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
