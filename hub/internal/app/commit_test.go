package app

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// failingStore is the real store whose Save fails while fail is set (a full
// disk, an I/O error), and whose LoadKeys fails while failLoad is.
type failingStore struct {
	*store.Store
	fail, failLoad error
}

func (f *failingStore) Save(changes []state.Change, dirty map[signal.Key]state.Range) error {
	if f.fail != nil {
		return f.fail
	}
	return f.Store.Save(changes, dirty)
}

func (f *failingStore) LoadKeys(keys []signal.Key) (map[signal.Key]state.Saved, error) {
	if f.failLoad != nil {
		return nil, f.failLoad
	}
	return f.Store.LoadKeys(keys)
}

func at(eq, name string, v signal.Value, t time.Time) signal.Signal {
	return signal.Signal{Site: "s1", Line: "L1", Equipment: eq, Name: name, Value: v, Time: t, Quality: signal.Good}
}

// restarted closes pt's store and builds an engine from what it holds, as
// a hub does at its next start.
func restarted(t *testing.T, pt *part) *engine.Engine {
	t.Helper()
	if err := pt.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(pt.path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	saved, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(testConfig(t).EngineOptions(), saved)
}

// monthOf is what a month's figures say: equipment, rollups and operators.
type monthOf struct {
	Figures   []activity.Figures
	Rollups   []activity.Rollup
	Operators []activity.OperatorFigures
}

func figures(eng *engine.Engine, m activity.Period) monthOf {
	figs, rollups := eng.Month(m)
	return monthOf{figs, rollups, eng.Operators(m)}
}

// A batch whose commit failed is redelivered and must then be applied and
// stored again: the engine may not keep the effect of a batch the store
// does not hold. After a restart the figures are those of a run without
// the failure, and so are the figures before it.
func TestFailedCommitLosesNothing(t *testing.T) {
	day := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	a := []signal.Signal{
		at("M01", signal.Run, signal.Bool(true), h(8)),
		at("M01", signal.Operator, signal.String("op1"), h(8)),
		at("M01", signal.Count, signal.Number(0), h(8)),
	}
	b := []signal.Signal{ // M02 is new: it reports first in this batch
		at("M01", signal.Run, signal.Bool(false), h(12)),
		at("M01", signal.Operator, signal.String(""), h(12)),
		at("M01", signal.Count, signal.Number(100), h(12)),
		at("M02", signal.Run, signal.Bool(true), h(9)),
		at("M02", signal.Operator, signal.String("op2"), h(9)),
	}
	c := []signal.Signal{
		at("M01", signal.Run, signal.Bool(true), h(14)),
		at("M01", signal.Operator, signal.String("op1"), h(14)),
		at("M02", signal.Run, signal.Bool(false), h(15)),
	}
	m := activity.MonthOf(day, time.UTC)
	ctx := context.Background()

	ref := testPart(t, &recorder{})
	for _, batch := range [][]signal.Signal{a, b, c} {
		if err := ref.handle(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	want := figures(ref.eng, m)
	if want.Figures[0].RunHours() == 0 || len(want.Operators) == 0 {
		t.Fatalf("the reference run counts nothing: %+v", want)
	}

	diskFull, ioErr := errors.New("disk full"), errors.New("read error")
	for _, tc := range []struct {
		name     string
		failLoad error // the reload after the failed commit fails too
	}{{"commit fails", nil}, {"commit and reload fail", ioErr}} {
		t.Run(tc.name, func(t *testing.T) {
			pt := testPart(t, &recorder{})
			fs := &failingStore{Store: pt.st}
			pt.state = fs
			if err := pt.handle(ctx, a); err != nil {
				t.Fatal(err)
			}
			fs.fail, fs.failLoad = diskFull, tc.failLoad
			if err := pt.handle(ctx, b); !errors.Is(err, diskFull) {
				t.Fatalf("handle with a failing commit: %v, want its error", err)
			}
			fs.fail = nil
			if tc.failLoad != nil {
				// Nothing is applied while the engine may hold more than the store.
				if err := pt.handle(ctx, c); !errors.Is(err, ioErr) {
					t.Fatalf("handle before the engine was reset: %v, want the reload's error", err)
				}
				fs.failLoad = nil
			}
			// The consumer takes the next batch before the failed one comes back.
			if err := pt.handle(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := pt.handle(ctx, b); err != nil {
				t.Fatalf("redelivered batch: %v", err)
			}
			if got := figures(pt.eng, m); !reflect.DeepEqual(got, want) {
				t.Errorf("figures before the restart\ngot  %+v\nwant %+v", got, want)
			}
			if got := figures(restarted(t, pt), m); !reflect.DeepEqual(got, want) {
				t.Errorf("figures after the restart\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

// A string value too large to store (an operator id of 100 KB becomes part
// of a store key) is set aside and counted; the batch's other signals are
// applied and committed, so the batch is not redelivered forever.
func TestOversizedValueIsSetAsideNotABlockedBatch(t *testing.T) {
	pt := testPart(t, &recorder{})
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	huge := strings.Repeat("x", 100<<10)
	batch := []signal.Signal{
		at("M01", signal.Run, signal.Bool(true), t0),
		at("M01", signal.Operator, signal.String(huge), t0),
		at("M01", signal.Login, signal.String(huge), t0.Add(time.Minute)),
		at("M01", signal.Count, signal.Number(7), t0.Add(2*time.Minute)),
	}
	if err := pt.handle(context.Background(), batch); err != nil {
		t.Fatalf("a batch with an oversized value failed: %v", err)
	}
	if n := pt.eng.Stats().TooLarge; n != 2 {
		t.Errorf("%d signals counted as too large, want 2", n)
	}
	saved, err := pt.st.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := saved[signal.Key{Site: "s1", Line: "L1", Equipment: "M01"}]
	if len(got.Run) != 1 || len(got.Count) != 1 || len(got.Ops) != 0 {
		t.Fatalf("stored %+v, want the run and count signals and no operator event", got)
	}
	if got.Horizon != t0.Add(2*time.Minute).UnixNano() {
		t.Fatalf("stored horizon %v", time.Unix(0, got.Horizon).UTC())
	}
}
