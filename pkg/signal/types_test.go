package signal

import (
	"errors"
	"testing"
)

func TestCheckType(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Value
		q    Quality
		ok   bool
	}{
		{Run, Bool(true), Good, true},
		{Run, Number(0), Good, true},
		{Run, Number(1), Uncertain, true},
		{Run, Number(3), Good, false},
		{Run, Number(0.5), Good, false},
		{Run, String("yes"), Good, false},
		{Run, String("true"), Good, false},
		{Run, String(""), Bad, true}, // a death or a null value
		{State, String("idle"), Good, true},
		{State, Number(40001), Good, true},
		{State, Bool(true), Good, false},
		{Operator, String("op1,op2"), Good, true},
		{Operator, String(""), Good, true},
		{Operator, Number(1234), Good, false},
		{Login, Bool(true), Good, false},
		{Logout, String("op1"), Good, true},
		{Count, Number(12), Good, true},
		{Count, String("12"), Good, false},
		{Count, Bool(false), Uncertain, false},
		{Count, String(""), Bad, true},
		{Alarm, String("E42"), Good, true},
		{Alarm, Number(0), Good, true},
		{Alarm, Bool(true), Good, true},
		{"temperature", String("hot"), Good, true},
	} {
		err := Signal{Name: tc.name, Value: tc.v, Quality: tc.q}.CheckType()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrWrongType) {
			t.Errorf("%s = %v (%s): %v, want ok %v", tc.name, tc.v, tc.q, err, tc.ok)
		}
	}
}
