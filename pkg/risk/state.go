package risk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrState is returned (wrapped) by UnmarshalBinary for data that is not a
// state written by MarshalBinary of this version.
var ErrState = errors.New("invalid failure-risk state")

// stateMagic starts every saved state; its last byte is the version, which
// changes with the model's fixed parameters.
var stateMagic = []byte{'F', 'P', 'R', 'S', 1}

// MarshalBinary encodes the detector's whole state.
func (d *Detector) MarshalBinary() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, stateMagic...), b...), nil
}

// UnmarshalBinary replaces the detector's state with one MarshalBinary wrote.
func (d *Detector) UnmarshalBinary(data []byte) error {
	if !bytes.HasPrefix(data, stateMagic) {
		return fmt.Errorf("%w: bad header", ErrState)
	}
	n := New()
	if err := json.Unmarshal(data[len(stateMagic):], n); err != nil {
		return fmt.Errorf("%w: %w", ErrState, err)
	}
	if n.Ch == nil || n.LastT == nil {
		return fmt.Errorf("%w: missing channels", ErrState)
	}
	for name, c := range n.Ch {
		if c == nil {
			return fmt.Errorf("%w: empty channel %q", ErrState, name)
		}
	}
	*d = *n
	return nil
}
