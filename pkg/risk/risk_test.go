package risk

import (
	"bytes"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// wear is a degradation from its onset to the breakdown at its due time:
// the changes at the breakdown, reached linearly.
type wear struct {
	onset, due  time.Time
	temp, cycle float64 // °C, fraction
	micro       float64 // extra micro-stops per running hour
}

func (w *wear) level(t time.Time) float64 {
	if w == nil || t.Before(w.onset) {
		return 0
	}
	return math.Min(1, float64(t.Sub(w.onset))/float64(w.due.Sub(w.onset)))
}

// downAt is when machine's degradation broke it down.
var downAt time.Time

// machine generates days of a machine working 06:00-22:00: runs of about
// 50 minutes, idle spells, micro-stops, a temperature and a power gauge every
// 5 minutes while it runs, a part counter; with w, a degradation that ends
// in a breakdown (state down for 2 h) at w.due.
func machine(days int, seed uint64, w *wear) []Obs {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []Obs
	count := 0.0
	down := false
	for day := 0; day < days; day++ {
		t := t0.Add(time.Duration(day)*24*time.Hour + 6*time.Hour)
		end := t.Add(16 * time.Hour)
		for t.Before(end) {
			if w != nil && !down && !t.Before(w.due) {
				out = append(out, Obs{T: t, Kind: State, Str: "down"})
				downAt = t
				t = t.Add(2 * time.Hour)
				down = true
				continue
			}
			out = append(out, Obs{T: t, Kind: State, Str: "running"})
			run := time.Duration(30+r.IntN(40)) * time.Minute
			lv := w.level(t)
			if down {
				lv = 0 // repaired
			}
			rate := 0.5 + lv*pick(w, func(w *wear) float64 { return w.micro })
			if u := time.Duration(-math.Log(1-r.Float64()) / rate * float64(time.Hour)); u < run {
				run = u
			}
			cycle := 60 * (1 + lv*pick(w, func(w *wear) float64 { return w.cycle }))
			for s := time.Duration(0); s < run; s += 5 * time.Minute {
				temp := 40 + 0.5*r.NormFloat64() + lv*pick(w, func(w *wear) float64 { return w.temp })
				out = append(out, Obs{T: t.Add(s), Kind: Gauge, Name: "temperature", Num: temp},
					Obs{T: t.Add(s), Kind: Gauge, Name: "power", Num: 20 * (0.95 + 0.1*r.Float64())},
					Obs{T: t.Add(s), Kind: Count, Num: count + math.Floor(s.Seconds()/cycle)})
			}
			count += math.Floor(run.Seconds() / cycle)
			t = t.Add(run)
			out = append(out, Obs{T: t, Kind: Count, Num: count}, Obs{T: t, Kind: State, Str: "idle"})
			if run < time.Duration(30)*time.Minute && r.Float64() < 0.7 {
				t = t.Add(time.Duration(20+r.IntN(60)) * time.Second) // a micro-stop
			} else {
				t = t.Add(time.Duration(5+r.IntN(15)) * time.Minute)
			}
		}
		out = append(out, Obs{T: end, Kind: State, Str: "idle"})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}

func pick(w *wear, f func(*wear) float64) float64 {
	if w == nil {
		return 0
	}
	return f(w)
}

func run(d *Detector, obs []Obs) []Change {
	var out []Change
	for _, o := range obs {
		out = append(out, d.Observe(o, DefaultConfig())...)
	}
	return out
}

func TestStableMachineNoWarning(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		if ch := run(New(), machine(60, seed, nil)); len(ch) != 0 {
			t.Errorf("seed %d: %d changes on a stable machine, first %+v", seed, len(ch), ch[0])
		}
	}
}

func TestDegradationWarnsBeforeBreakdown(t *testing.T) {
	onset := t0.Add(30 * 24 * time.Hour)
	due := onset.Add(4 * 24 * time.Hour).Add(10 * time.Hour)
	for _, tc := range []struct {
		name   string
		w      wear
		signal string
	}{
		{"temperature", wear{temp: 6}, "temperature"},
		{"cycle time", wear{cycle: 0.15}, CycleTime},
		{"micro-stops", wear{micro: 4}, MicroStops},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w
			w.onset, w.due = onset, due
			ch := run(New(), machine(40, 1, &w))
			if len(ch) != 2 || !ch[0].Opened || ch[1].Opened {
				t.Fatalf("changes %+v, want one warning opened and closed", ch)
			}
			open, closed := ch[0], ch[1]
			if open.At.Before(onset) || due.Sub(open.At) < 24*time.Hour {
				t.Errorf("opened at %v, want after the onset %v and at least 24 h before the breakdown %v", open.At, onset, due)
			}
			if len(open.Evidence) == 0 || open.Evidence[0].Signal != tc.signal || open.Evidence[0].Z <= 1 {
				t.Errorf("evidence %+v, want %s first", open.Evidence, tc.signal)
			}
			if e := open.Evidence[0]; e.Current <= e.Baseline {
				t.Errorf("evidence %+v: current not above normal", e)
			}
			if !closed.Breakdown || !closed.At.Equal(downAt) || !closed.Start.Equal(open.Start) {
				t.Errorf("closed %+v, want closed by the breakdown at %v", closed, downAt)
			}
		})
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	onset := t0.Add(30 * 24 * time.Hour)
	w := wear{onset: onset, due: onset.Add(3 * 24 * time.Hour), temp: 3, micro: 2}
	obs := machine(40, 2, &w)
	want := run(New(), obs)
	if len(want) == 0 {
		t.Fatal("no warning to compare")
	}
	for _, cut := range []int{len(obs) / 3, len(obs)*3/4 + 7} {
		d := New()
		got := run(d, obs[:cut])
		data, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		r := New()
		if err := r.UnmarshalBinary(data); err != nil {
			t.Fatal(err)
		}
		// A redelivered stretch before the cut changes nothing.
		got = append(got, run(r, obs[cut-50:])...)
		if len(got) != len(want) {
			t.Fatalf("cut at %d: %d changes, want %d", cut, len(got), len(want))
		}
		for i := range want {
			if got[i].Opened != want[i].Opened || !got[i].At.Equal(want[i].At) || !got[i].Start.Equal(want[i].Start) || got[i].Score != want[i].Score {
				t.Errorf("cut at %d: change %d %+v, want %+v", cut, i, got[i], want[i])
			}
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	d := New()
	run(d, machine(3, 1, nil))
	good, _ := d.MarshalBinary()
	for name, data := range map[string][]byte{
		"empty":       nil,
		"header":      []byte("XXXX{}"),
		"version":     append([]byte{'F', 'P', 'R', 'S', 0}, good[5:]...),
		"truncated":   good[:len(good)-3],
		"nil channel": append(append([]byte{}, good[:5]...), []byte(`{"Ch":{"x":null}}`)...),
	} {
		r := New()
		if err := r.UnmarshalBinary(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r := New()
	if err := r.UnmarshalBinary(good); err != nil {
		t.Fatal(err)
	}
	again, _ := r.MarshalBinary()
	if !bytes.Equal(good, again) {
		t.Error("the state does not round-trip")
	}
}
