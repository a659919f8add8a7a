package mqtt

import (
	"errors"
	"fmt"

	"github.com/floorpulse/floorpulse/agent/internal/metrics"
)

// setAside is a decode error with the reason it is counted under
// (floorpulse_agent_decode_errors_total{reason}). It wraps errDecode.
type setAside struct {
	reason metrics.DecodeReason
	err    error
}

func (e *setAside) Error() string        { return e.err.Error() }
func (e *setAside) Unwrap() error        { return e.err }
func (e *setAside) Is(target error) bool { return target == errDecode }

// aside returns a decode error for reason, with a message as fmt.Errorf
// makes it.
func aside(reason metrics.DecodeReason, format string, args ...any) error {
	return &setAside{reason: reason, err: fmt.Errorf(format, args...)}
}

// reasonOf is the reason err is counted under: the first one it wraps,
// bad_payload when it wraps none.
func reasonOf(err error) metrics.DecodeReason {
	var sa *setAside
	if errors.As(err, &sa) {
		return sa.reason
	}
	return metrics.BadPayload
}
