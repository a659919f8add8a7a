package engine

import (
	"testing"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

func TestAlarmCode(t *testing.T) {
	for _, c := range []struct {
		v    signal.Value
		want string
	}{
		{signal.Number(42), "42"},
		{signal.Number(42.0), "42"},
		{signal.Number(3.5), "3.5"},
		{signal.Number(1e21), "1000000000000000000000"},
		{signal.Number(-7), "-7"},
		{signal.String("  E-17 over temp "), "E-17 over temp"},
		{signal.String("007"), "007"},
		{signal.Bool(true), "true"},
	} {
		if got := AlarmCode(c.v); got != c.want {
			t.Errorf("%+v: %q, want %q", c.v, got, c.want)
		}
	}
}
