package state

import (
	"math/rand"
	"testing"
)

func TestWithin(t *testing.T) {
	var tl Timeline
	tl.SetRun(10, true)
	tl.SetRun(20, false)
	tl.SetRun(30, true)
	tl.Observe(50)
	for _, c := range []struct {
		a, b, run, known int64
	}{
		{0, 100, 30, 40},
		{0, 10, 0, 0},
		{15, 35, 10, 20},
		{20, 30, 0, 10},
		{45, 60, 5, 5},
		{50, 60, 0, 0},
		{12, 18, 6, 6},
	} {
		run, known := tl.Within(c.a, c.b)
		if run != c.run || known != c.known {
			t.Errorf("Within(%d,%d) = %d,%d want %d,%d", c.a, c.b, run, known, c.run, c.known)
		}
	}
}

// Any arrival order and any number of duplicates give the same timeline.
func TestOrderAndDuplicatesDoNotMatter(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var obs []Point
	for i := 0; i < 500; i++ {
		obs = append(obs, Point{T: int64(rng.Intn(10000)), Run: rng.Intn(2) == 0})
	}
	var ref Timeline
	for _, p := range obs {
		ref.SetRun(p.T, p.Run)
	}
	refRun, refKnown := ref.Within(0, 10000)
	for trial := 0; trial < 20; trial++ {
		shuffled := append([]Point(nil), obs...)
		shuffled = append(shuffled, obs[:100]...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		var tl Timeline
		for _, p := range shuffled {
			tl.SetRun(p.T, p.Run)
		}
		run, known := tl.Within(0, 10000)
		if run != refRun || known != refKnown || len(tl.Points()) != len(ref.Points()) {
			t.Fatalf("trial %d: got %d/%d, want %d/%d", trial, run, known, refRun, refKnown)
		}
	}
}

func TestSplitAddsUp(t *testing.T) {
	var tl Timeline
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 200; i++ {
		tl.SetRun(int64(rng.Intn(100000)), rng.Intn(3) > 0)
	}
	total, _ := tl.Within(0, 100000)
	var sum int64
	for a := int64(0); a < 100000; a += 777 {
		r, _ := tl.Within(a, min(a+777, 100000))
		sum += r
	}
	if sum != total {
		t.Fatalf("pieces add to %d, whole is %d", sum, total)
	}
}

func BenchmarkSetRunInOrder(b *testing.B) {
	var tl Timeline
	for i := 0; i < b.N; i++ {
		tl.SetRun(int64(i), i%2 == 0)
	}
}
