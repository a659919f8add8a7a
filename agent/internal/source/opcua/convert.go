package opcua

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// errDecode is wrapped by every conversion error.
var errDecode = errors.New("unconvertible value")

// mapping ties a configured node to the signal it feeds.
type mapping struct {
	name     string            // node_id or browse_path as configured, for logs
	nodeID   *ua.NodeID        // configured, or resolved from path in the current session
	path     config.BrowsePath // nil when the node is given by NodeId
	sampling time.Duration
	queue    uint32
	deadband *config.Deadband

	site, line, equipment, signalName string
}

var (
	earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func plausible(t time.Time) bool { return !t.Before(earliest) && t.Before(latest) }

// toSignal converts a data change. The time is the SourceTimestamp (with
// the ServerTimestamp kept beside it), else the ServerTimestamp, else the
// receive time (flagged). The full status code is
// kept; bad and uncertain values are converted too (a bad value without a
// value becomes the empty string: its quality says it means nothing). A
// value of a type the hub cannot interpret for the signal's name is an
// error wrapping signal.ErrWrongType.
func toSignal(m mapping, dv *ua.DataValue, agent string, rx time.Time) (signal.Signal, error) {
	if dv == nil {
		return signal.Signal{}, fmt.Errorf("%w: no data value", errDecode)
	}
	s := signal.Signal{
		Site: m.site, Line: m.line, Equipment: m.equipment, Name: m.signalName, Agent: agent,
		Status: uint32(dv.Status), Quality: signal.QualityOf(uint32(dv.Status)),
	}
	switch {
	case dv.EncodingMask&ua.DataValueSourceTimestamp != 0 && plausible(dv.SourceTimestamp):
		s.Time = dv.SourceTimestamp.UTC()
		if dv.EncodingMask&ua.DataValueServerTimestamp != 0 && plausible(dv.ServerTimestamp) {
			s.ServerTime = dv.ServerTimestamp.UTC()
		}
	case dv.EncodingMask&ua.DataValueServerTimestamp != 0 && plausible(dv.ServerTimestamp):
		s.Time = dv.ServerTimestamp.UTC()
	default:
		s.Time, s.Received = rx.UTC(), true
	}
	v, err := toValue(dv.Value)
	switch {
	case err == nil:
		s.Value = v
	case s.Quality != signal.Good && (dv.Value == nil || dv.Value.Value() == nil):
		s.Value = signal.String("")
	default:
		return signal.Signal{}, err
	}
	if err := s.Validate(); err != nil {
		return signal.Signal{}, fmt.Errorf("%w: %v", errDecode, err)
	}
	if err := s.CheckType(); err != nil {
		return signal.Signal{}, err
	}
	return s, nil
}

func toValue(v *ua.Variant) (signal.Value, error) {
	if v == nil || v.Value() == nil {
		return signal.Value{}, fmt.Errorf("%w: empty value", errDecode)
	}
	switch x := v.Value().(type) {
	case bool:
		return signal.Bool(x), nil
	case int8:
		return signal.Number(float64(x)), nil
	case uint8:
		return signal.Number(float64(x)), nil
	case int16:
		return signal.Number(float64(x)), nil
	case uint16:
		return signal.Number(float64(x)), nil
	case int32:
		return signal.Number(float64(x)), nil
	case uint32:
		return signal.Number(float64(x)), nil
	case int64:
		return signal.Number(float64(x)), nil
	case uint64:
		return signal.Number(float64(x)), nil
	case float32:
		return signal.Number(float64(x)), nil
	case float64:
		return signal.Number(x), nil
	case string:
		return signal.String(x), nil
	case *ua.LocalizedText:
		if x == nil {
			return signal.String(""), nil
		}
		return signal.String(x.Text), nil
	case time.Time:
		return signal.String(x.UTC().Format(time.RFC3339Nano)), nil
	case ua.StatusCode:
		return signal.Number(float64(x)), nil
	default:
		return signal.Value{}, fmt.Errorf("%w: unsupported type %T", errDecode, x)
	}
}
