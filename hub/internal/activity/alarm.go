package activity

import (
	"sort"

	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// AlarmDown is the down time of one alarm bucket in a period.
//
// Down time counts the instants whose state is down (state.Down: not
// running and the state signal says down, or idle with an alarm active);
// idle, setup, planned stops and time outside shifts never count, even with
// an alarm active (an active alarm turns idle into down, not setup).
// Each down instant goes to the bucket of the alarm observation in force at
// it (state.AlarmPoint.Bucket): the active code, state.NoAlarm ("") when no
// alarm is active, state.UnknownAlarm ("?") when the alarm is not known.
// A stop is a down interval that began in the period (Figures.Failures),
// counted under the bucket in force when it began; the code may change
// during it, the seconds follow. So the seconds of all buckets add up to
// the down seconds, and the stops to the failures.
type AlarmDown struct {
	Code    string
	Seconds float64
	Stops   int
}

// downByAlarm cuts the down segments of segs (from a-1, as ComputeSpans
// cuts them) by the alarm buckets of tl, in [a, b).
func downByAlarm(tl *state.Timeline, segs []state.Seg, a, b int64) []AlarmDown {
	ns := map[string]int64{}
	stops := map[string]int{}
	var alarms []state.AlarmSeg
	for _, s := range segs {
		if s.State != state.Down {
			continue
		}
		if alarms == nil {
			alarms = tl.AlarmSegments(a-1, b)
		}
		i := sort.Search(len(alarms), func(i int) bool { return alarms[i].End > s.Start })
		if s.Start >= a && i < len(alarms) {
			stops[alarms[i].Code]++
		}
		for ; i < len(alarms) && alarms[i].Start < s.End; i++ {
			lo, hi := max(s.Start, alarms[i].Start, a), min(s.End, alarms[i].End)
			if hi > lo {
				ns[alarms[i].Code] += hi - lo
			}
		}
	}
	var out []AlarmDown
	for code, v := range ns {
		out = append(out, AlarmDown{Code: code, Seconds: float64(v) / 1e9, Stops: stops[code]})
	}
	for code, n := range stops {
		if _, ok := ns[code]; !ok {
			out = append(out, AlarmDown{Code: code, Stops: n})
		}
	}
	SortAlarmDown(out)
	return out
}

// SortAlarmDown orders a breakdown as a Pareto: most down seconds first,
// then most stops, then by code.
func SortAlarmDown(ds []AlarmDown) {
	sort.Slice(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Seconds != b.Seconds {
			return a.Seconds > b.Seconds
		}
		if a.Stops != b.Stops {
			return a.Stops > b.Stops
		}
		return a.Code < b.Code
	})
}

// AddAlarmDown adds the breakdown add into sum (by code) and returns it,
// sorted as a Pareto.
func AddAlarmDown(sum, add []AlarmDown) []AlarmDown {
	for _, d := range add {
		i := 0
		for i < len(sum) && sum[i].Code != d.Code {
			i++
		}
		if i == len(sum) {
			sum = append(sum, AlarmDown{Code: d.Code})
		}
		sum[i].Seconds += d.Seconds
		sum[i].Stops += d.Stops
	}
	SortAlarmDown(sum)
	return sum
}

// HasAlarmCodes reports whether a breakdown names at least one alarm code
// (a bucket other than no alarm and unknown).
func HasAlarmCodes(ds []AlarmDown) bool {
	for _, d := range ds {
		if d.Code != state.NoAlarm && d.Code != state.UnknownAlarm {
			return true
		}
	}
	return false
}
