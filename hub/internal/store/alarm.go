package store

import "github.com/floorpulse/floorpulse/hub/internal/state"

// alarmCodeV1 marks an alarm record that carries a code.
const alarmCodeV1 = 1

// alarmBytes encodes an alarm observation: its value alone (one byte) when
// it has no code, the form stores written before codes were kept, which
// therefore still load; else the value, the version byte alarmCodeV1 and
// the code's bytes.
func alarmBytes(p state.AlarmPoint) []byte {
	if p.Code == "" {
		return []byte{byte(p.V)}
	}
	return append([]byte{byte(p.V), alarmCodeV1}, p.Code...)
}

// alarmValue decodes alarmBytes; ok is false for a record it does not know.
func alarmValue(t int64, v []byte) (p state.AlarmPoint, ok bool) {
	switch {
	case len(v) == 1:
		return state.AlarmPoint{T: t, V: int8(v[0])}, true
	case len(v) > 2 && v[1] == alarmCodeV1:
		return state.AlarmPoint{T: t, V: int8(v[0]), Code: string(v[2:])}, true
	}
	return state.AlarmPoint{}, false
}
