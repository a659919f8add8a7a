package signal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// marshalReflect is Marshal through encoding/json and the wire struct: the
// definition of the encoding AppendMarshal writes by hand.
func marshalReflect(s Signal) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	w := wire{
		V: SchemaVersion, Site: s.Site, Line: s.Line, Eq: s.Equipment, Sig: s.Name,
		TS: s.Time.UTC(), RX: s.Received, SC: s.Status, Agent: s.Agent, Seq: s.Seq,
	}
	if s.Quality != Good {
		w.Q = s.Quality.String()
	}
	if !s.ServerTime.IsZero() {
		st := s.ServerTime.UTC()
		w.V, w.STS = SchemaVersionServerTime, &st
	}
	switch s.Value.Kind {
	case KindBool:
		b := s.Value.Bool
		w.B = &b
	case KindNumber:
		n := s.Value.Num
		w.N = &n
	case KindString:
		str := s.Value.Str
		w.S = &str
	}
	if s.Gap != nil {
		w.Gap = &wireGap{From: s.Gap.From.UTC(), To: s.Gap.To.UTC(), Dropped: s.Gap.Dropped, Reason: s.Gap.Reason}
	}
	return json.Marshal(w)
}

// idReference is ID as first written, hashing through sha256.New.
func idReference(s Signal) string {
	h := sha256.New()
	var b [8]byte
	for _, f := range []string{s.Site, s.Line, s.Equipment, s.Name} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	binary.BigEndian.PutUint64(b[:], uint64(s.Time.UnixNano()))
	h.Write(b[:])
	h.Write([]byte{byte(s.Value.Kind)})
	switch s.Value.Kind {
	case KindBool:
		if s.Value.Bool {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	case KindNumber:
		binary.BigEndian.PutUint64(b[:], math.Float64bits(s.Value.Num))
		h.Write(b[:])
	case KindString:
		h.Write([]byte(s.Value.Str))
	}
	if s.Gap != nil {
		binary.BigEndian.PutUint64(b[:], uint64(s.Gap.From.UnixNano()))
		h.Write(b[:])
		binary.BigEndian.PutUint64(b[:], uint64(s.Gap.To.UnixNano()))
		h.Write(b[:])
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// FuzzAppendMarshal holds AppendMarshal to encoding/json's bytes and ID to
// its first definition, for any signal, valid or not.
func FuzzAppendMarshal(f *testing.F) {
	f.Add("s1", "L1", "M01", "run", uint8(0), true, 0.0, "", int64(1790000000123000000), int64(0), false, uint8(0), uint32(0), "a1", uint64(7), "")
	f.Add("s1", "L1", "M01", "power", uint8(1), false, 1.5e-7, "", int64(1790000000000000000), int64(1790000000000000001), true, uint8(1), uint32(0x40920000), "", uint64(0), "")
	f.Add("s<1>", "L&1", "M\u00e901", "op", uint8(2), false, 0.0, "op1,\"op2\"\n\u2028", int64(1790000000000000000), int64(0), false, uint8(2), uint32(1), "gw\xff", uint64(1), "")
	f.Add("s1", "L1", "M01", GapName, uint8(1), false, 3.0, "", int64(1790000000000000000), int64(0), false, uint8(0), uint32(0), "a1", uint64(9), "buffer full")
	f.Add("s1", "L1", "M01", "n", uint8(1), false, 1e21, "", int64(1790000000000000000), int64(-70000000000000000), false, uint8(0), uint32(0), "a1", uint64(9), "")
	f.Fuzz(func(t *testing.T, site, line, eq, name string, kind uint8, b bool, n float64, str string,
		ts, sts int64, rx bool, q uint8, sc uint32, agent string, seq uint64, reason string) {
		s := Signal{Site: site, Line: line, Equipment: eq, Name: name, Value: Value{Kind: Kind(kind % 4), Bool: b, Num: n, Str: str},
			Time: time.Unix(0, ts), Received: rx, Quality: Quality(q % 4), Status: sc, Agent: agent, Seq: seq}
		if sts != 0 {
			s.ServerTime = time.Unix(0, sts)
		}
		if name == GapName {
			s.Gap = &Gap{From: s.Time.Add(-time.Minute), To: s.Time, Dropped: seq, Reason: reason}
		}
		want, wantErr := marshalReflect(s)
		got, err := AppendMarshal([]byte("x"), s)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%+v: error %v, encoding/json %v", s, err, wantErr)
		}
		if err == nil && !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Fatalf("%+v:\n got %s\nwant x%s", s, got, want)
		}
		if id, ref := s.ID(), idReference(s); id != ref {
			t.Fatalf("%+v: id %s, first definition %s", s, id, ref)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	s := sample()
	s.Value = Number(1234.5)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for b.Loop() {
			buf, _ = AppendMarshal(buf[:0], s)
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = marshalReflect(s)
		}
	})
}
