package state

import "sort"

// NoAlarm is the alarm bucket of time when no alarm is active (or the alarm
// was never observed), and UnknownAlarm the bucket of time when the alarm
// is not known: its value had bad quality, or it was active but stored
// before codes were kept.
const (
	NoAlarm      = ""
	UnknownAlarm = "?"
)

// Bucket is the alarm bucket of an observation: its code when active,
// NoAlarm when none is, UnknownAlarm when not known.
func (p AlarmPoint) Bucket() string {
	switch {
	case p.V == True && p.Code != "":
		return p.Code
	case p.V == True || p.V == Bad:
		return UnknownAlarm
	}
	return NoAlarm
}

// AlarmSeg is a stretch [Start, End) with one alarm bucket (see Bucket).
type AlarmSeg struct {
	Start, End int64
	Code       string
}

// AlarmSegments cuts [a, b) into stretches of one alarm bucket each, in
// order and without gaps, from the latest alarm observation at or before
// each instant (NoAlarm before the first). Whether the data covers an
// instant is not looked at: Segments says that.
func (tl *Timeline) AlarmSegments(a, b int64) []AlarmSeg {
	if b <= a {
		return nil
	}
	i := sort.Search(len(tl.alarm), func(i int) bool { return tl.alarm[i].T > a }) - 1
	code := NoAlarm
	if i >= 0 {
		code = tl.alarm[i].Bucket()
	}
	out := []AlarmSeg{{Start: a, End: b, Code: code}}
	for i++; i < len(tl.alarm) && tl.alarm[i].T < b; i++ {
		c := tl.alarm[i].Bucket()
		if n := len(out) - 1; c != out[n].Code {
			out[n].End = tl.alarm[i].T
			out = append(out, AlarmSeg{Start: tl.alarm[i].T, End: b, Code: c})
		}
	}
	return out
}
