package anomaly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// ErrGaugeState is returned (wrapped) by Restore for data that is not a
// gauge state written by State of this version with these detector
// parameters.
var ErrGaugeState = errors.New("invalid gauge state")

// gaugeMagic starts every saved gauge state; its last byte is the version.
var gaugeMagic = [4]byte{'F', 'P', 'G', 'S'}

const gaugeVersion = 1

// Tracks reports whether the gauge has a state (it was observed or restored).
func (g *Gauges) Tracks(k signal.Key, name string) bool {
	_, ok := g.gauges[gaugeKey{k, name}]
	return ok
}

// State encodes the gauge's whole state: its last sample time, its flatline
// run and its detector (gauge.Detector.MarshalBinary, about 84 KiB with the
// default parameters). ok is false for a gauge not tracked.
func (g *Gauges) State(k signal.Key, name string) (data []byte, ok bool, err error) {
	gs := g.gauges[gaugeKey{k, name}]
	if gs == nil {
		return nil, false, nil
	}
	det, err := gs.det.MarshalBinary()
	if err != nil {
		return nil, false, err
	}
	b := make([]byte, 0, 4+1+8*3+1+len(det))
	b = append(b, gaugeMagic[:]...)
	b = append(b, gaugeVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(gs.lastT))
	b = binary.LittleEndian.AppendUint64(b, uint64(gs.flatStart))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(gs.flatV))
	var flags byte
	if gs.started {
		flags |= 1
	}
	if gs.flatOpen {
		flags |= 2
	}
	b = append(b, flags)
	return append(b, det...), true, nil
}

// Restore replaces the gauge's state with data written by State. It fails
// (and leaves the gauge as it was) on data of another version or written
// with other detector parameters: the gauge then starts afresh.
func (g *Gauges) Restore(k signal.Key, name string, data []byte) error {
	const head = 4 + 1 + 8*3 + 1
	if len(data) < head || [4]byte(data[:4]) != gaugeMagic || data[4] != gaugeVersion {
		return fmt.Errorf("%w: bad header", ErrGaugeState)
	}
	u64 := func(i int) uint64 { return binary.LittleEndian.Uint64(data[5+8*i:]) }
	gs := &gaugeState{lastT: int64(u64(0)), flatStart: int64(u64(1)), flatV: math.Float64frombits(u64(2))}
	flags := data[head-1]
	if flags&^3 != 0 || math.IsNaN(gs.flatV) || math.IsInf(gs.flatV, 0) {
		return fmt.Errorf("%w: bad flatline state", ErrGaugeState)
	}
	gs.started, gs.flatOpen = flags&1 != 0, flags&2 != 0
	gs.det = &gauge.Detector{}
	if err := gs.det.UnmarshalBinary(data[head:]); err != nil {
		return fmt.Errorf("%w: %w", ErrGaugeState, err)
	}
	if gs.det.Config() != g.cfg {
		return fmt.Errorf("%w: saved with other detector parameters", ErrGaugeState)
	}
	g.gauges[gaugeKey{k, name}] = gs
	return nil
}
