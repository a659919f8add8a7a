package gauge

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

var (
	_ encoding.BinaryMarshaler   = (*Detector)(nil)
	_ encoding.BinaryUnmarshaler = (*Detector)(nil)
)

// ErrState is returned (wrapped) by UnmarshalBinary for data that is not a
// state written by MarshalBinary of this version, of version 2 or of
// version 1.
var ErrState = errors.New("invalid gauge detector state")

// stateMagic starts every serialised state; its last byte is the format
// version. Older versions are still read and restore a detector that scores
// exactly as the version that wrote it: version 1 (no pattern memory) with
// Levels 0 and Spread on, version 2 (no Spread and Retrigger parameters)
// with Spread on and Retrigger 0.
var stateMagic = [4]byte{'F', 'P', 'G', 3}

const (
	stateV1 = 1
	stateV2 = 2
)

// MarshalBinary encodes the parameters and the whole state (about 8 bytes
// per held value: about 84 KiB with the defaults, Window 1024 and Memory
// 4096).
func (d *Detector) MarshalBinary() ([]byte, error) {
	held := d.pat.held()
	b := make([]byte, 0, 192+8*(histLen+numFeatures*(d.cfg.Window+histLen)+len(held)))
	b = append(b, stateMagic[:]...)
	u64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	f64 := func(v float64) { u64(math.Float64bits(v)) }
	u64(uint64(d.cfg.Window))
	u64(uint64(d.cfg.MinHistory))
	f64(d.cfg.HalfSurprise)
	f64(d.cfg.Threshold)
	f64(d.cfg.Rearm)
	u64(uint64(d.cfg.Refractory))
	u64(uint64(d.cfg.Levels))
	u64(uint64(d.cfg.Word))
	u64(uint64(d.cfg.Memory))
	f64(d.cfg.Familiar)
	u64(uint64(d.cfg.RecordAfter))
	f64(d.cfg.RecordMargin)
	f64(d.cfg.Repeat)
	u64(uint64(d.cfg.Quiet))
	if d.cfg.Spread {
		u64(1)
	} else {
		u64(0)
	}
	f64(d.cfg.Retrigger)
	u64(d.n)
	u64(uint64(d.lastT))
	u64(uint64(d.since))
	if d.armed {
		u64(1)
	} else {
		u64(0)
	}
	// Raw history, oldest first.
	for k := histLen - 1; k >= 0; k-- {
		f64(d.recent(k))
	}
	for i := range d.feats {
		vals := d.feats[i].values()
		u64(uint64(len(vals)))
		for _, v := range vals {
			f64(v)
		}
	}
	u64(uint64(d.quiet))
	// Pattern memory: the current pattern, its length, and the remembered
	// patterns, oldest first.
	u64(d.pat.cur)
	u64(uint64(d.pat.have))
	u64(uint64(len(held)))
	for _, w := range held {
		u64(w)
	}
	// Extremes: the values', then each feature's; a flag, low, high.
	for _, x := range append([]extremes{d.rng}, d.franges[:]...) {
		if x.seen {
			u64(1)
		} else {
			u64(0)
		}
		f64(x.lo)
		f64(x.hi)
	}
	return b, nil
}

// UnmarshalBinary replaces the detector's parameters and state with those
// encoded in data by MarshalBinary.
func (d *Detector) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var magic [4]byte
	copy(magic[:], r.take(4))
	version := magic[3]
	if r.err != nil || [3]byte(magic[:3]) != [3]byte(stateMagic[:3]) || (version != stateMagic[3] && version != stateV2 && version != stateV1) {
		return fmt.Errorf("%w: bad header", ErrState)
	}
	cfg := Config{
		Window:       r.int(),
		MinHistory:   r.int(),
		HalfSurprise: r.f64(),
		Threshold:    r.f64(),
		Rearm:        r.f64(),
		Refractory:   r.int(),
	}
	if version != stateV1 {
		cfg.Levels, cfg.Word, cfg.Memory, cfg.Familiar = r.int(), r.int(), r.int(), r.f64()
		cfg.RecordAfter, cfg.RecordMargin, cfg.Repeat = r.int(), r.f64(), r.f64()
		cfg.Quiet = r.int()
	} else {
		cfg.Quiet = 1 // version 1 rearmed on the first sample below Rearm
	}
	switch version {
	case stateV1, stateV2:
		cfg.Spread = true // both scored spread32
	default:
		switch r.u64() {
		case 0:
		case 1:
			cfg.Spread = true
		default:
			r.fail("bad spread flag")
		}
		cfg.Retrigger = r.f64()
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrState, r.err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	nd, _ := New(cfg)
	nd.n = r.u64()
	nd.lastT = int64(r.u64())
	nd.since = r.int()
	nd.armed = r.u64() == 1
	if nd.since > cfg.Refractory {
		r.fail("refractory counter out of range")
	}
	for k := 0; k < histLen; k++ {
		nd.hist[k] = r.finite()
	}
	nd.histNext = 0
	for i := range nd.feats {
		m := r.int()
		if m > cfg.Window+histLen {
			r.fail("feature window longer than Window plus its delay line")
			break
		}
		if i == fSpread32 && !cfg.Spread && m != 0 {
			r.fail("spread32 history without the spread32 feature")
			break
		}
		for k := 0; k < m && r.err == nil; k++ {
			nd.feats[i].push(r.finite())
		}
	}
	if version != stateV1 {
		nd.quiet = r.int()
		if nd.quiet >= cfg.Quiet {
			r.fail("quiet counter out of range")
		}
		nd.pat.cur = r.u64()
		nd.pat.have = r.int()
		m := r.int()
		switch {
		case cfg.Levels == 0 && (nd.pat.cur != 0 || nd.pat.have != 0 || m != 0):
			r.fail("pattern state without a pattern memory")
		case cfg.Levels > 0 && (nd.pat.cur >= nd.pat.mod || nd.pat.have > cfg.Word || m > cfg.Memory):
			r.fail("pattern state out of range")
		}
		for k := 0; k < m && r.err == nil; k++ {
			w := r.u64()
			if w >= nd.pat.mod {
				r.fail("pattern out of range")
				break
			}
			nd.pat.remember(w)
		}
		for i := -1; i < numFeatures && r.err == nil; i++ {
			x := &nd.rng
			if i >= 0 {
				x = &nd.franges[i]
			}
			flag := r.u64()
			x.lo, x.hi = r.finite(), r.finite()
			switch {
			case flag > 1:
				r.fail("bad extremes flag")
			case flag == 1 && !(x.lo <= x.hi):
				r.fail("extremes out of order")
			case flag == 0 && (x.lo != 0 || x.hi != 0):
				r.fail("extremes without values")
			}
			x.seen = flag == 1
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrState, r.err)
	}
	*d = *nd
	return nil
}

// reader decodes little-endian values, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if len(r.b) < n {
		r.fail("truncated")
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

func (r *reader) int() int {
	v := r.u64()
	if v > 1<<31 {
		r.fail("integer out of range")
		return 0
	}
	return int(v)
}

func (r *reader) f64() float64 { return math.Float64frombits(r.u64()) }

func (r *reader) finite() float64 {
	v := r.f64()
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxAbs*2 {
		r.fail("non-finite value")
		return 0
	}
	return v
}
