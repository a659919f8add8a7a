package gauge

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2024, 3, 4, 6, 0, 0, 0, time.UTC)

type sample struct {
	t time.Time
	v float64
}

// series returns n samples, one a minute, of f(i).
func series(n int, f func(i int) float64) []sample {
	out := make([]sample, n)
	for i := range out {
		out[i] = sample{t0.Add(time.Duration(i) * time.Minute), f(i)}
	}
	return out
}

// noisy is a daily-like sine plus Gaussian noise, seeded.
func noisy(n int, seed uint64) []sample {
	r := rand.New(rand.NewPCG(seed, 1))
	return series(n, func(i int) float64 {
		return 50 + 5*math.Sin(float64(i)*2*math.Pi/288) + r.NormFloat64()
	})
}

func newDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func run(d *Detector, s []sample) []Result {
	out := make([]Result, len(s))
	for i, x := range s {
		out[i] = d.Update(x.t, x.v)
	}
	return out
}

func loadTestdata(t *testing.T, name string) []sample {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, r := range recs[1:] {
		ts, err := time.Parse(time.DateTime, r[0])
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{ts, v})
	}
	return out
}

// learning is how many rows the tests leave to the detector to learn a
// series before judging its scores (NAB calls it the probationary period):
// a full baseline plus its delay line.
const learning = 1024 + histLen

// onsets returns the rows, after the learning period, that opened an episode.
func onsets(rs []Result) []int {
	var out []int
	for i, r := range rs {
		if r.Onset && i >= learning {
			out = append(out, i)
		}
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"window too small", func(c *Config) { c.Window = 8 }},
		{"min history above window", func(c *Config) { c.MinHistory = c.Window + 1 }},
		{"half surprise zero", func(c *Config) { c.HalfSurprise = 0 }},
		{"half surprise NaN", func(c *Config) { c.HalfSurprise = math.NaN() }},
		{"threshold 1", func(c *Config) { c.Threshold = 1 }},
		{"rearm above threshold", func(c *Config) { c.Rearm = 0.9 }},
		{"refractory negative", func(c *Config) { c.Refractory = -1 }},
		{"quiet zero", func(c *Config) { c.Quiet = 0 }},
		{"record after negative", func(c *Config) { c.RecordAfter = -1 }},
		{"repeat above 1", func(c *Config) { c.Repeat = 2 }},
		{"retrigger below threshold", func(c *Config) { c.Retrigger = 0.4 }},
		{"retrigger 1", func(c *Config) { c.Retrigger = 1 }},
		{"record margin NaN", func(c *Config) { c.RecordMargin = math.NaN() }},
		{"one level", func(c *Config) { c.Levels = 1 }},
		{"word too long for 64 bits", func(c *Config) { c.Word = 30 }},
		{"word zero", func(c *Config) { c.Word = 0 }},
		{"no memory", func(c *Config) { c.Memory = 0 }},
		{"familiar above 1", func(c *Config) { c.Familiar = 1.5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if _, err := New(c); err == nil {
				t.Fatalf("New accepted %+v", c)
			}
		})
	}
}

func TestScoresInRange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]sample{
		"noise":    noisy(4000, 1),
		"steps":    series(3000, func(i int) float64 { return float64((i / 300) % 3 * 40) }),
		"spikes":   series(3000, func(i int) float64 { return map[bool]float64{true: 1e6, false: 0}[i%997 == 0] }),
		"walk":     series(3000, func(i int) float64 { return float64(i) * r.NormFloat64() }),
		"heavy":    series(3000, func(int) float64 { return math.Tan(math.Pi * (r.Float64() - 0.5)) }),
		"testdata": loadTestdata(t, "spindle_load.csv"),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			for i, res := range run(newDetector(t), s) {
				if !(res.Score >= 0 && res.Score <= 1) || !(res.Raw >= 0 && res.Raw <= 1) {
					t.Fatalf("row %d: score %v raw %v outside [0, 1]", i, res.Score, res.Raw)
				}
				if res.Score > res.Raw {
					t.Fatalf("row %d: score %v above raw %v", i, res.Score, res.Raw)
				}
			}
		})
	}
}

// The score of row i must not depend on rows after i: scoring every prefix
// of a series gives the same scores as scoring the whole series.
func TestNoLookAhead(t *testing.T) {
	s := loadTestdata(t, "spindle_load.csv")
	full := run(newDetector(t), s)
	for _, k := range []int{1, 2, 63, 64, 65, 200, 499, 500, 501, 505, len(s)} {
		prefix := run(newDetector(t), s[:k])
		for i := range prefix {
			if prefix[i] != full[i] {
				t.Fatalf("prefix %d, row %d: %+v, whole series gives %+v", k, i, prefix[i], full[i])
			}
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	s := append(noisy(2500, 5), series(500, func(i int) float64 { return 80 })...)
	for i := 2500; i < len(s); i++ {
		s[i].t = t0.Add(time.Duration(i) * time.Minute)
	}
	// Cut points: before any feature is scored, mid-history, just after the
	// step (an episode is open), and later.
	for _, k := range []int{0, 10, 100, 700, 2501, 2510, 2900} {
		a := newDetector(t)
		run(a, s[:k])
		blob, err := a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var b Detector
		if err := b.UnmarshalBinary(blob); err != nil {
			t.Fatalf("cut %d: %v", k, err)
		}
		again, _ := b.MarshalBinary()
		if !bytes.Equal(blob, again) {
			t.Fatalf("cut %d: state changed through a round trip", k)
		}
		if b.Samples() != a.Samples() || b.Config() != a.Config() {
			t.Fatalf("cut %d: samples or config differ", k)
		}
		ra, rb := run(a, s[k:]), run(&b, s[k:])
		for i := range ra {
			if ra[i] != rb[i] {
				t.Fatalf("cut %d, row %d: original %+v, restored %+v", k, k+i, ra[i], rb[i])
			}
		}
	}
}

func TestUnmarshalRejectsBadState(t *testing.T) {
	d := newDetector(t)
	run(d, noisy(300, 9))
	blob, _ := d.MarshalBinary()
	nan := append([]byte(nil), blob...)
	copy(nan[len(nan)-8:], []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}) // a NaN feature value
	spread := append([]byte(nil), blob...)
	spread[4+8*14] = 2 // the Spread flag, after the magic and 14 parameters
	for name, data := range map[string][]byte{
		"empty":      nil,
		"bad magic":  append([]byte("XXXX"), blob[4:]...),
		"truncated":  blob[:len(blob)-3],
		"trailing":   append(append([]byte(nil), blob...), 0),
		"nan value":  nan,
		"bad spread": spread,
	} {
		t.Run(name, func(t *testing.T) {
			var x Detector
			if err := x.UnmarshalBinary(data); !errors.Is(err, ErrState) {
				t.Fatalf("got %v, want ErrState", err)
			}
		})
	}
}

func TestConstantAndFlatScoreLow(t *testing.T) {
	for name, s := range map[string][]sample{
		"zero":     series(3000, func(int) float64 { return 0 }),
		"constant": series(3000, func(int) float64 { return 73.25 }),
		"negative": series(3000, func(int) float64 { return -1e9 }),
		"noise":    noisy(5000, 11),
		"dither":   series(3000, func(i int) float64 { return 20 + 0.1*float64(i%2) }),
	} {
		t.Run(name, func(t *testing.T) {
			rs := run(newDetector(t), s)
			for i, r := range rs {
				// A sine needs a full baseline to be learnt; the others
				// are judged from the first row. A corrected tail
				// probability of 1e-3 is a third of the way to an onset.
				if (name != "noise" || i >= learning) && r.Surprise >= 3 {
					t.Fatalf("row %d: raw %v (%s) on a %s series", i, r.Raw, r.Feature, name)
				}
			}
		})
	}
}

func TestInjectedAnomaliesScoreHigh(t *testing.T) {
	for _, tc := range []struct {
		name   string
		at     int
		inject func(i int, v float64) float64
		most   int // onsets allowed: a burst that goes on can reopen once
	}{
		{"step up", 3000, func(i int, v float64) float64 { return v + 15 }, 1},
		{"step down", 3000, func(i int, v float64) float64 { return v - 15 }, 1},
		{"spike", 3000, func(i int, v float64) float64 { return v + 30*b2f(i == 3000) }, 1},
		{"dropout", 3000, func(i int, v float64) float64 { return v * b2f(i >= 3010) }, 1},
		{"noise burst", 3000, func(i int, v float64) float64 { return v + 12*math.Sin(float64(i)*2.1) }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := noisy(4000, 21)
			for i := tc.at; i < len(s); i++ {
				s[i].v = tc.inject(i, s[i].v)
			}
			rs := run(newDetector(t), s)
			// Before the injection only a record (a new extreme of the
			// noise, rare: TestRecords) may open an episode.
			var got []int
			for _, i := range onsets(rs) {
				if i >= tc.at {
					got = append(got, i)
				} else if rs[i].Feature != "record" {
					t.Fatalf("row %d: onset %+v before the injection", i, rs[i])
				}
			}
			if len(got) == 0 || len(got) > tc.most || got[0] < tc.at || got[0] > tc.at+16 {
				t.Fatalf("onsets %v, want the first in [%d, %d] and at most %d", got, tc.at, tc.at+16, tc.most)
			}
			if r := rs[got[0]]; r.Score < DefaultConfig().Threshold {
				t.Fatalf("onset score %v below the threshold", r.Score)
			}
		})
	}
	t.Run("testdata jam", func(t *testing.T) {
		// A short series: the jam comes before a full baseline, so this
		// checks every onset.
		rs := run(newDetector(t), loadTestdata(t, "spindle_load.csv"))
		var got []int
		for i, r := range rs {
			if r.Onset {
				got = append(got, i)
			}
		}
		if len(got) != 1 || got[0] != 500 {
			t.Fatalf("onsets %v, want [500] (the jam)", got)
		}
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// While an episode is open the published score stays below Threshold, and
// a new episode needs the refractory period and the rearm level.
// While an episode is open, a raw score of at least Retrigger opens a new
// one once the refractory period is over, and nothing less does.
func TestRetrigger(t *testing.T) {
	cfg := DefaultConfig()
	for _, c := range []struct {
		name      string
		retrigger float64
		since     int
		raw       float64
		onset     bool
	}{
		{"strong after refractory", cfg.Retrigger, cfg.Refractory, cfg.Retrigger, true},
		{"weaker", cfg.Retrigger, cfg.Refractory, 0.99, false},
		{"within refractory", cfg.Retrigger, cfg.Refractory - 2, 0.9999, false},
		{"off", 0, cfg.Refractory, 0.9999, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Retrigger = c.retrigger
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			d.armed, d.since = false, c.since
			r := Result{Raw: c.raw}
			d.episode(&r)
			want := c.raw * cfg.Threshold
			if c.onset {
				want = c.raw
			}
			if r.Onset != c.onset || r.Score != want {
				t.Fatalf("onset %v, score %v: want %v, %v", r.Onset, r.Score, c.onset, want)
			}
			if c.onset && (d.since != 0 || d.armed) {
				t.Fatalf("after a retrigger: since %d, armed %v", d.since, d.armed)
			}
		})
	}
}

func TestEpisodeSuppression(t *testing.T) {
	s := noisy(4000, 13)
	for i := 3000; i < 3300; i++ {
		s[i].v += 25 * b2f(i%40 < 20) // a square wave: many steps
	}
	rs := run(newDetector(t), s)
	cfg := DefaultConfig()
	last := -1 << 30
	for i, r := range rs {
		if r.Score >= cfg.Threshold && !r.Onset {
			t.Fatalf("row %d: score %v at or above threshold outside an onset", i, r.Score)
		}
		if r.Onset {
			if i-last < cfg.Refractory {
				t.Fatalf("onsets %d and %d closer than the refractory period", last, i)
			}
			last = i
		}
	}
	if len(onsets(rs)) == 0 {
		t.Fatal("no onset for the square wave")
	}
}

func TestSkippedSamples(t *testing.T) {
	d := newDetector(t)
	s := noisy(500, 17)
	run(d, s)
	before, _ := d.MarshalBinary()
	last := s[len(s)-1].t
	for _, x := range []sample{
		{last, math.NaN()},
		{last, math.Inf(1)},
		{last, math.Inf(-1)},
		{last.Add(-time.Second), 50},
	} {
		if r := d.Update(x.t, x.v); !r.Skipped || r.Score != 0 {
			t.Fatalf("Update(%v, %v) = %+v, want skipped", x.t, x.v, r)
		}
	}
	after, _ := d.MarshalBinary()
	if !bytes.Equal(before, after) {
		t.Fatal("skipped samples changed the state")
	}
	if r := d.Update(last, 50); r.Skipped {
		t.Fatal("a sample with the previous timestamp was skipped")
	}
}

func FuzzDetector(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(bytes.Repeat([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0x7f}, 40)) // MaxFloat64
	f.Add(bytes.Repeat([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0}, 30))
	f.Add(bytes.Repeat([]byte{0x55}, 2000))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := newDetector(t)
		// Each 8 bytes are a value; every value is repeated (with a small
		// perturbation) so that short inputs still reach the scored regime.
		var vals []float64
		for len(data) >= 8 {
			v := math.Float64frombits(uint64(data[0]) | uint64(data[1])<<8 | uint64(data[2])<<16 |
				uint64(data[3])<<24 | uint64(data[4])<<32 | uint64(data[5])<<40 | uint64(data[6])<<48 | uint64(data[7])<<56)
			data = data[8:]
			for k := 0; k < 20; k++ {
				vals = append(vals, v+float64(k%3))
			}
		}
		half := len(vals) / 2
		var restored *Detector
		for i, v := range vals {
			if i == half {
				blob, err := d.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				restored = new(Detector)
				if err := restored.UnmarshalBinary(blob); err != nil {
					t.Fatalf("round trip: %v", err)
				}
			}
			ts := t0.Add(time.Duration(i) * time.Second)
			r := d.Update(ts, v)
			if !(r.Score >= 0 && r.Score <= 1) || !(r.Raw >= 0 && r.Raw <= 1) || math.IsNaN(r.Surprise) {
				t.Fatalf("value %v: result %+v", v, r)
			}
			if restored != nil {
				if r2 := restored.Update(ts, v); r2 != r {
					t.Fatalf("value %v: restored %+v, original %+v", v, r2, r)
				}
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	s := noisy(20000, 23)
	d := newDetector(b)
	run(d, s[:2000]) // full windows
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x := s[2000+i%18000]
		d.Update(t0.Add(time.Duration(2000+i)*time.Minute), x.v)
	}
}

// A version 1 state (written before the pattern memory existed, with that
// version's defaults) restores to a detector that scores the following
// samples exactly as the version 1 detector did (testdata/state_v1.bin: the
// state after the first 400 rows of spindle_load.csv; state_v1_scores.csv:
// the scores version 1 gave the remaining rows).
func TestUnmarshalVersion1(t *testing.T) {
	blob, err := os.ReadFile("testdata/state_v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	var d Detector
	if err := d.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	if c := d.Config(); c.Levels != 0 || c.HalfSurprise != 6 || d.Samples() != 400 {
		t.Fatalf("config %+v, %d samples: want version 1's (no pattern memory, half surprise 6) after 400", c, d.Samples())
	}
	f, err := os.Open("testdata/state_v1_scores.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	s := loadTestdata(t, "spindle_load.csv")
	if len(want)-1 != len(s)-400 {
		t.Fatalf("%d recorded scores for %d rows", len(want)-1, len(s)-400)
	}
	for _, rec := range want[1:] {
		i, _ := strconv.Atoi(rec[0])
		got := d.Update(s[i].t, s[i].v).Score
		if strconv.FormatFloat(got, 'g', -1, 64) != rec[1] {
			t.Fatalf("row %d: score %v, version 1 gave %s", i, got, rec[1])
		}
	}
	// Written again, it is a current state that round-trips.
	again, _ := d.MarshalBinary()
	if again[3] != stateMagic[3] {
		t.Fatalf("re-encoded as version %d", again[3])
	}
	var e Detector
	if err := e.UnmarshalBinary(again); err != nil || e.Config() != d.Config() {
		t.Fatalf("re-encoded state: %v", err)
	}
}

// A version 2 state (written before the Spread parameter existed, with that
// version's defaults) restores to a detector that scores the following
// samples exactly as the version 2 detector did (testdata/state_v2.bin: the
// state after the first 480 rows of spindle_load.csv; state_v2_scores.csv:
// the scores version 2 gave the remaining rows, the jam's onset among them).
func TestUnmarshalVersion2(t *testing.T) {
	blob, err := os.ReadFile("testdata/state_v2.bin")
	if err != nil {
		t.Fatal(err)
	}
	var d Detector
	if err := d.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	v2 := DefaultConfig()
	v2.Repeat, v2.Spread, v2.Retrigger = 0.5, true, 0
	if c := d.Config(); c != v2 || d.Samples() != 480 {
		t.Fatalf("config %+v, %d samples: want version 2's defaults after 480", c, d.Samples())
	}
	f, err := os.Open("testdata/state_v2_scores.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	s := loadTestdata(t, "spindle_load.csv")
	if len(want)-1 != len(s)-480 {
		t.Fatalf("%d recorded scores for %d rows", len(want)-1, len(s)-480)
	}
	onsets := 0
	for _, rec := range want[1:] {
		i, _ := strconv.Atoi(rec[0])
		r := d.Update(s[i].t, s[i].v)
		if strconv.FormatFloat(r.Score, 'g', -1, 64) != rec[1] {
			t.Fatalf("row %d: score %v, version 2 gave %s", i, r.Score, rec[1])
		}
		if r.Onset {
			onsets++
		}
	}
	if onsets == 0 {
		t.Fatal("no onset: the recorded rows should hold the jam's")
	}
	again, _ := d.MarshalBinary()
	var e Detector
	if err := e.UnmarshalBinary(again); err != nil || e.Config() != d.Config() || again[3] != stateMagic[3] {
		t.Fatalf("re-encoded state (version %d): %v", again[3], err)
	}
}

// The pattern memory lowers the surprise of an excursion the gauge has made
// before, and only of that: the edges of a pulse that comes back every cycle
// are familiar once the cycle has repeated (their surprise is halved: an
// edge as sharp as this one still opens episodes); a spike above anything
// seen is not.
func TestPatternMemory(t *testing.T) {
	period := 300
	s := series(6000, func(i int) float64 {
		v := 10 + 5*math.Sin(float64(i)*2*math.Pi/float64(period))
		if i%period < 20 {
			v += 8 // a short pulse every cycle
		}
		return v
	})
	s[5600].v = 40 // a spike above anything seen, mid-cycle
	rs := run(newDetector(t), s)
	firstFamiliar := -1
	for i := 0; i < 5500; i++ {
		if rs[i].Familiar && i%period < 20 && firstFamiliar < 0 {
			firstFamiliar = i
		}
	}
	if firstFamiliar < 0 || firstFamiliar > 4*period {
		t.Fatalf("the pulse's pattern first familiar at row %d, want within 4 periods", firstFamiliar)
	}
	for i := 4000; i < 5500; i++ {
		if i%period == 1 && !rs[i].Familiar {
			t.Fatalf("row %d: the pulse's edge, seen many times, is not familiar", i)
		}
	}
	if r := rs[5600]; r.Familiar || !r.Onset {
		t.Fatalf("the new spike: %+v, want an unfamiliar onset", r)
	}
	// The familiar pulses are scored lower than without the memory.
	cfg := DefaultConfig()
	cfg.Levels = 0
	off, _ := New(cfg)
	ro := run(off, s)
	lower := 0
	for i := 4000; i < 5500; i++ {
		if rs[i].Familiar && rs[i].Raw < ro[i].Raw {
			lower++
		}
	}
	if lower == 0 {
		t.Fatal("no familiar sample was scored lower than without the pattern memory")
	}
}

// A value beyond everything the gauge has shown opens an episode; one within
// the range seen so far is scored lower than when it is new; new extremes of
// stationary noise are rare.
func TestRecords(t *testing.T) {
	t.Run("new extreme", func(t *testing.T) {
		// Noise, then a shift of 4 standard deviations: too little for
		// the features alone, but the first shifted values are beyond
		// anything seen.
		r := rand.New(rand.NewPCG(47, 1))
		s := series(4000, func(i int) float64 { return 20 + r.NormFloat64() + 4*b2f(i >= 3000) })
		rs := run(newDetector(t), s)
		first := -1
		for i := 3000; i < len(rs) && first < 0; i++ {
			if rs[i].Onset {
				first = i
			}
		}
		if first < 0 || first > 3016 || rs[first].Feature != "record" {
			t.Fatalf("first onset after the shift at row %d (%+v), want a record within 16 rows", first, rs[max(first, 0)])
		}
		cfg := DefaultConfig()
		cfg.RecordAfter = 0
		off, _ := New(cfg)
		if ro := run(off, s); ro[first].Onset {
			t.Fatalf("without records row %d opens an episode too: the test does not test records", first)
		}
	})
	t.Run("repeat", func(t *testing.T) {
		s := noisy(6000, 41)
		s[2000].v += 40 // a spike
		s[3500].v += 40 // as high again, after the baseline forgot the first
		rs := run(newDetector(t), s)
		cfg := DefaultConfig()
		cfg.RecordAfter = 0
		off, _ := New(cfg)
		ro := run(off, s)
		if !rs[2000].Onset || rs[3500].Raw >= rs[2000].Raw || rs[3500].Raw >= ro[3500].Raw {
			t.Fatalf("first spike %+v, repeat %+v (without records %+v): want the repeat scored lower than both",
				rs[2000], rs[3500], ro[3500])
		}
	})
	t.Run("noise", func(t *testing.T) {
		// 200,000 samples: a handful of records at most, fewer as the
		// range fills (the chance that a sample sets one falls as 1/n).
		long := noisy(200000, 43)
		d := newDetector(t)
		var early, late int
		for i, x := range long {
			if r := d.Update(x.t, x.v); r.Onset {
				if i < 20000 {
					early++
				} else {
					late++
				}
			}
		}
		if early+late > 8 || late > early+2 {
			t.Fatalf("%d onsets in the first 20,000 samples of noise and %d in the next 180,000", early, late)
		}
	})
}

func TestExtremes(t *testing.T) {
	var x extremes
	if x.within(1, true) || x.beyond(1) != 0 {
		t.Fatal("an empty range holds or excludes something")
	}
	for _, v := range []float64{3, 1, 2} {
		x.add(v)
	}
	for _, c := range []struct {
		v        float64
		twoSided bool
		within   bool
		beyond   float64
	}{
		{1, true, true, 0}, {3, true, true, 0}, {2, true, true, 0},
		{0, true, false, 0.5}, {0, false, true, 0.5}, {4, false, false, 0.5}, {7, true, false, 2},
	} {
		if got := x.within(c.v, c.twoSided); got != c.within {
			t.Errorf("within(%v, %v) = %v", c.v, c.twoSided, got)
		}
		if got := x.beyond(c.v); got != c.beyond {
			t.Errorf("beyond(%v) = %v, want %v", c.v, got, c.beyond)
		}
	}
}

// After an onset a new episode needs the refractory period and Quiet samples
// in a row below Rearm: a sustained anomaly whose score dips now and then
// stays one episode.
func TestQuietRearm(t *testing.T) {
	cfg := DefaultConfig()
	feed := func(d *Detector, raw float64, n int) (onsets int) {
		for k := 0; k < n; k++ {
			r := Result{Raw: raw}
			d.episode(&r)
			if r.Onset {
				onsets++
			}
		}
		return onsets
	}
	d := newDetector(t)
	if feed(d, 0.9, 1) != 1 {
		t.Fatal("no onset")
	}
	// Past the refractory period, dipping below Rearm for fewer than
	// Quiet samples at a time: no new episode.
	for k := 0; k < 3*cfg.Refractory/cfg.Quiet; k++ {
		if n := feed(d, 0.1, cfg.Quiet-1) + feed(d, 0.9, 1); n != 0 {
			t.Fatalf("round %d: %d onsets while the anomaly goes on", k, n)
		}
	}
	// Quiet samples below Rearm end the episode; the next high score opens one.
	if n := feed(d, 0.1, cfg.Quiet) + feed(d, 0.9, 1); n != 1 {
		t.Fatalf("%d onsets after a quiet spell, want 1", n)
	}
}
