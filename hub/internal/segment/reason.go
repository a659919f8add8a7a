package segment

import (
	"fmt"
	"math"
)

// Reason codes: why an entity is in its segment. They are written to
// InfluxDB as the field reason and stable (docs/schema.md).
const (
	ReasonInService   = "in_service"   // new: put in service on Date
	ReasonFirstActive = "first_active" // new: first active day Date
	ReasonFirstSeen   = "first_seen"   // new: first day with data Date
	ReasonNeverActive = "never_active" // dormant: no active day in Months months
	ReasonDormant     = "no_activity"  // dormant: last active on Date, Days ago
	ReasonAtRisk      = "gap_falling"  // at risk: Days without activity, and falling
	ReasonDeclining   = "fell_months"  // declining: fell Months months running, FromHours to Hours
	ReasonBelowMean   = "below_mean"   // declining: Hours against a mean of FromHours over Months months
	ReasonCore        = "core"         // core: ActiveDays days, Hours h, last active on Date
	ReasonSteady      = "steady"       // steady: the same numbers
)

// Reason is why an entity is in its segment: a code and the numbers the
// sentence is built from. Change is a fraction (-0.55: 55 % lower).
type Reason struct {
	Code       string  `json:"code"`
	Date       string  `json:"date,omitempty"`
	Days       int     `json:"days,omitempty"`
	Months     int     `json:"months,omitempty"`
	Hours      float64 `json:"hours,omitempty"`
	FromHours  float64 `json:"from_hours,omitempty"`
	Change     float64 `json:"change,omitempty"`
	ActiveDays int     `json:"active_days,omitempty"`
	// Trend is how an at-risk entity's hours fell: ReasonDeclining or
	// ReasonBelowMean, with Months, FromHours, Hours and Change as they say.
	Trend string `json:"trend,omitempty"`
}

// Languages the reasons are written in.
var Languages = []string{"en", "zh-CN"}

// Text says the reason in plain words in lang ("en" or "zh-CN"; anything
// else is English). An at-risk reason also says how the hours fell.
func (r Reason) Text(lang string) string {
	zh := lang == "zh-CN"
	pct := fmt.Sprintf("%+.0f %%", 100*r.Change)
	if math.Round(100*r.Change) == 0 {
		pct = "0 %"
	}
	fall := func() string {
		trend := r.Code
		if trend == ReasonAtRisk {
			trend = r.Trend
		}
		if trend == ReasonDeclining {
			if zh {
				return fmt.Sprintf("运行小时连续 %d 个月下降，从 %.1f 小时降至 %.1f 小时（%s）", r.Months, r.FromHours, r.Hours, pct)
			}
			return fmt.Sprintf("run hours fell %d months running, from %.1f h to %.1f h (%s)", r.Months, r.FromHours, r.Hours, pct)
		}
		if zh {
			return fmt.Sprintf("运行 %.1f 小时，比前 %d 个月的平均值 %.1f 小时低（%s）", r.Hours, r.Months, r.FromHours, pct)
		}
		return fmt.Sprintf("run hours %.1f h against a mean of %.1f h over the %d months before (%s)", r.Hours, r.FromHours, r.Months, pct)
	}
	switch r.Code {
	case ReasonInService:
		if zh {
			return fmt.Sprintf("%s 投入使用", r.Date)
		}
		return fmt.Sprintf("in service since %s", r.Date)
	case ReasonFirstSeen:
		if zh {
			return fmt.Sprintf("%s 首次出现数据", r.Date)
		}
		return fmt.Sprintf("first seen on %s", r.Date)
	case ReasonFirstActive:
		if zh {
			return fmt.Sprintf("%s 首次活跃", r.Date)
		}
		return fmt.Sprintf("first active on %s", r.Date)
	case ReasonNeverActive:
		if zh {
			return fmt.Sprintf("%d 个月内没有活跃日", r.Months)
		}
		return fmt.Sprintf("no active day in %d months", r.Months)
	case ReasonDormant:
		if zh {
			return fmt.Sprintf("最后活跃于 %s，已 %d 天没有活动", r.Date, r.Days)
		}
		return fmt.Sprintf("last active on %s, %d days without activity", r.Date, r.Days)
	case ReasonAtRisk:
		if zh {
			return fmt.Sprintf("已 %d 天没有活动（最后活跃于 %s），且%s", r.Days, r.Date, fall())
		}
		return fmt.Sprintf("%d days without activity (last active on %s), and %s", r.Days, r.Date, fall())
	case ReasonDeclining, ReasonBelowMean:
		return fall()
	case ReasonCore, ReasonSteady:
		if zh {
			return fmt.Sprintf("活跃 %d 天，运行 %.1f 小时，最后活跃于 %s", r.ActiveDays, r.Hours, r.Date)
		}
		return fmt.Sprintf("active %d days, %.1f run hours, last active on %s", r.ActiveDays, r.Hours, r.Date)
	}
	return r.Code
}
