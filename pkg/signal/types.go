package signal

import (
	"errors"
	"fmt"
)

// ErrWrongType is wrapped by CheckType's errors.
var ErrWrongType = errors.New("wrong value type")

// CheckType reports whether the value's type is one the hub can interpret
// for the signal's name:
//   - run: a bool, or the number 0 or 1 (a PLC bit read as an integer);
//   - state: a number (a PLC code) or a string, both mapped to a state by the hub;
//   - operator, login, logout: a string;
//   - count: a number;
//   - alarm and every other name: any value (other numbers are gauges).
//
// A bad-quality value means nothing whatever its type (a null value, a
// death) and always passes.
func (s Signal) CheckType() error {
	if s.Quality == Bad {
		return nil
	}
	v := s.Value
	var want string
	switch s.Name {
	case Run:
		if v.Kind == KindBool || v.Kind == KindNumber && (v.Num == 0 || v.Num == 1) {
			return nil
		}
		want = "a bool, 0 or 1"
	case State:
		if v.Kind == KindNumber || v.Kind == KindString {
			return nil
		}
		want = "a number or a string"
	case Operator, Login, Logout:
		if v.Kind == KindString {
			return nil
		}
		want = "a string"
	case Count, Scrap, Power, Energy:
		if v.Kind == KindNumber {
			return nil
		}
		want = "a number"
	default:
		return nil
	}
	got := v.Kind.String()
	if v.Kind == KindNumber {
		got = fmt.Sprintf("the number %v", v.Num)
	}
	return fmt.Errorf("%w: %s must be %s, not %s", ErrWrongType, s.Name, want, got)
}
