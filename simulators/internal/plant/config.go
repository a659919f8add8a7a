package plant

import (
	"errors"
	"fmt"
	"time"

	"github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Sources a line's machines can be served by.
const (
	SourceMQTT  = "mqtt"
	SourceOPCUA = "opcua"
)

// Defaults for a line's optional durations.
const (
	DefaultMeanRun          = 90 * time.Minute
	DefaultMeanIdle         = 12 * time.Minute
	DefaultMeanSetup        = 30 * time.Minute
	DefaultBreakdownsPerDay = 0.15
	DefaultMeanRepair       = 2 * time.Hour
)

// Config is the plant: its calendar, lines and machines. It is the part of
// the simulator's configuration the generator needs.
type Config struct {
	// Site is the plant's site name.
	Site string `yaml:"site"`
	// Timezone is the plant's IANA time zone: shifts are in its local time,
	// and days and months of the ground truth are cut in it.
	Timezone string `yaml:"timezone"`
	// Seed of the random generator: the same seed and configuration give
	// the same plant.
	Seed int64 `yaml:"seed"`
	// SampleInterval is how often count, scrap, power and energy (and,
	// with degradation, temperature and vibration) are published (besides
	// at every state change).
	SampleInterval time.Duration `yaml:"sample_interval"`
	// Shifts are the plant's named daily shifts; at least one.
	Shifts []Shift `yaml:"shifts"`
	// Lines are the production lines; at least one.
	Lines []Line `yaml:"lines"`
	// Faults are injected into the live phase, at offsets from the live start.
	Faults []Fault `yaml:"faults"`
	// PlannedStops are injected into the live phase, at offsets from the
	// live start.
	PlannedStops []PlannedStop `yaml:"planned_stops"`
	// Degradation, when present, gives machines wear-out breakdowns
	// announced by precursors and the temperature and vibration gauges
	// they show in; absent, machines have neither.
	Degradation *Degradation `yaml:"degradation"`
}

// Fault forces one machine into a state (down or idle) from At after the
// live start for Duration; then the machine resumes what it was doing.
type Fault struct {
	// Line of the machine.
	Line string `yaml:"line"`
	// Machine is the machine's number on the line (1 is M01).
	Machine int `yaml:"machine"`
	// At is when the fault starts, after the live start (whole milliseconds).
	At time.Duration `yaml:"at"`
	// Duration of the fault (whole milliseconds, at least 1ms).
	Duration time.Duration `yaml:"duration"`
	// State the machine is forced into: down or idle.
	State string `yaml:"state"`
}

// PlannedStop stops every machine of a line (they report idle) from At after
// the live start for Duration; the truth counts the time as planned_stop
// inside shifts.
type PlannedStop struct {
	// Line that stops.
	Line string `yaml:"line"`
	// At is when the stop starts, after the live start (whole milliseconds).
	At time.Duration `yaml:"at"`
	// Duration of the stop (whole milliseconds, at least 1ms).
	Duration time.Duration `yaml:"duration"`
}

// Shift is a named daily window in plant local time. An end at or before the
// start means the shift ends the next day.
type Shift struct {
	// Name of the shift, unique.
	Name string `yaml:"name"`
	// Start is "HH:MM" local.
	Start string `yaml:"start"`
	// End is "HH:MM" local; at or before start: the next day.
	End string `yaml:"end"`
}

// Line is a group of machines of one class, worked in some shifts by its own
// operators.
type Line struct {
	// Name of the line, unique (e.g. L1).
	Name string `yaml:"name"`
	// Source the line's machines are served by: mqtt or opcua (live only).
	Source string `yaml:"source"`
	// Machines is the number of machines, M01 on (1 to 999).
	Machines int `yaml:"machines"`
	// Class of the machines (e.g. cnc).
	Class string `yaml:"class"`
	// Shifts the line works, by name; at least one.
	Shifts []string `yaml:"shifts"`
	// Weekend: the line works on Saturdays and Sundays too.
	Weekend bool `yaml:"weekend"`
	// Operators is the number of the line's operators.
	Operators int `yaml:"operators"`
	// MeanRun is the mean length of a run; 0 means the default, 90m.
	MeanRun time.Duration `yaml:"mean_run"`
	// MeanIdle is the mean length of an idle spell; 0 means the default, 12m.
	MeanIdle time.Duration `yaml:"mean_idle"`
	// MeanSetup is the mean length of a setup; 0 means the default, 30m.
	MeanSetup time.Duration `yaml:"mean_setup"`
	// MeanRepair is the mean length of a repair (repairs last a quarter to
	// four times the mean and go on outside shifts); 0 means the default, 2h.
	MeanRepair time.Duration `yaml:"mean_repair"`
	// BreakdownsPerDay is the expected number of breakdowns per 24 h of
	// running; absent means the default, 0.15, and 0 means none.
	BreakdownsPerDay *float64 `yaml:"breakdowns_per_day"`
	// IdealCycle is the machines' ideal cycle time per part; 0 means the
	// class's (cnc 60s, press 12s, assembly 40s, others 30s), or for lines
	// with runs shorter than 10 minutes a twentieth of mean_run. Each
	// machine runs slower than ideal by a performance factor of its own.
	IdealCycle time.Duration `yaml:"ideal_cycle"`
}

// classCycles are the ideal cycle times by class; defaultCycle for others.
var (
	classCycles  = map[string]time.Duration{"cnc": 60 * time.Second, "press": 12 * time.Second, "assembly": 40 * time.Second}
	defaultCycle = 30 * time.Second
)

// Ideal returns the line's ideal cycle time per part.
func (l Line) Ideal() time.Duration {
	switch {
	case l.IdealCycle > 0:
		return l.IdealCycle
	case l.MeanRun > 0 && l.MeanRun < 10*time.Minute:
		return max(l.MeanRun/20, time.Millisecond).Truncate(time.Millisecond)
	}
	if d, ok := classCycles[l.Class]; ok {
		return d
	}
	return defaultCycle
}

// SetToDefault fills the defaults of the plant-wide keys.
func (c *Config) SetToDefault() {
	*c = Config{
		Site:           "plant1",
		Timezone:       "UTC",
		Seed:           1,
		SampleInterval: 5 * time.Minute,
	}
}

// Validate returns every problem with the plant configuration, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	if !signal.ValidToken(c.Site) {
		errs = append(errs, config.Errorf("site", "%q is not a valid name", c.Site))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		errs = append(errs, config.Errorf("timezone", "unknown time zone %q", c.Timezone))
	}
	if c.SampleInterval < 100*time.Millisecond {
		errs = append(errs, config.Errorf("sample_interval", "must be at least 100ms, got %s", c.SampleInterval))
	}
	shifts := map[string]bool{}
	if len(c.Shifts) == 0 {
		errs = append(errs, config.Errorf("shifts", "at least one shift is required"))
	}
	for i, s := range c.Shifts {
		p := fmt.Sprintf("shifts[%d]", i)
		if s.Name == "" {
			errs = append(errs, config.Errorf(p+".name", "is required"))
		} else if shifts[s.Name] {
			errs = append(errs, config.Errorf(p+".name", "duplicate shift %q", s.Name))
		}
		shifts[s.Name] = true
		a, errA := parseClock(s.Start)
		if errA != nil {
			errs = append(errs, config.Errorf(p+".start", "%v", errA))
		}
		b, errB := parseClock(s.End)
		if errB != nil {
			errs = append(errs, config.Errorf(p+".end", "%v", errB))
		}
		if errA == nil && errB == nil && a == b {
			errs = append(errs, config.Errorf(p+".end", "equals the start; a shift must be shorter than a day"))
		}
	}
	if len(c.Lines) == 0 {
		errs = append(errs, config.Errorf("lines", "at least one line is required"))
	}
	lines := map[string]bool{}
	for i, l := range c.Lines {
		p := fmt.Sprintf("lines[%d]", i)
		switch {
		case !signal.ValidToken(l.Name):
			errs = append(errs, config.Errorf(p+".name", "%q is not a valid name", l.Name))
		case lines[l.Name]:
			errs = append(errs, config.Errorf(p+".name", "duplicate line %q", l.Name))
		}
		lines[l.Name] = true
		if l.Source != SourceMQTT && l.Source != SourceOPCUA {
			errs = append(errs, config.Errorf(p+".source", "must be %q or %q, got %q", SourceMQTT, SourceOPCUA, l.Source))
		}
		if l.Machines < 1 || l.Machines > 999 {
			errs = append(errs, config.Errorf(p+".machines", "must be between 1 and 999, got %d", l.Machines))
		}
		if l.Class == "" {
			errs = append(errs, config.Errorf(p+".class", "is required"))
		}
		if len(l.Shifts) == 0 {
			errs = append(errs, config.Errorf(p+".shifts", "at least one shift is required"))
		}
		seen := map[string]bool{}
		for j, s := range l.Shifts {
			if !shifts[s] {
				errs = append(errs, config.Errorf(fmt.Sprintf("%s.shifts[%d]", p, j), "unknown shift %q", s))
			} else if seen[s] {
				errs = append(errs, config.Errorf(fmt.Sprintf("%s.shifts[%d]", p, j), "duplicate shift %q", s))
			}
			seen[s] = true
		}
		if l.Operators < 0 {
			errs = append(errs, config.Errorf(p+".operators", "must not be negative, got %d", l.Operators))
		}
		for _, d := range []struct {
			key string
			v   time.Duration
		}{{"mean_run", l.MeanRun}, {"mean_idle", l.MeanIdle}, {"mean_setup", l.MeanSetup}, {"mean_repair", l.MeanRepair}} {
			if d.v < 0 || (d.v > 0 && d.v < 100*time.Millisecond) {
				errs = append(errs, config.Errorf(p+"."+d.key, "must be at least 100ms (or absent for the default), got %s", d.v))
			}
		}
		if l.IdealCycle < 0 || (l.IdealCycle > 0 && l.IdealCycle%time.Millisecond != 0) {
			errs = append(errs, config.Errorf(p+".ideal_cycle", "must be a positive whole number of milliseconds (or absent for the class's), got %s", l.IdealCycle))
		}
		if l.BreakdownsPerDay != nil && (*l.BreakdownsPerDay < 0 || *l.BreakdownsPerDay > 1000) {
			errs = append(errs, config.Errorf(p+".breakdowns_per_day", "must be between 0 and 1000, got %v", *l.BreakdownsPerDay))
		}
	}
	errs = append(errs, c.validateInjected(lines)...)
	if c.Degradation != nil {
		errs = append(errs, c.Degradation.validate())
	}
	return errors.Join(errs...)
}

// validateInjected checks the faults and planned stops; lines holds the
// valid line names.
func (c *Config) validateInjected(lines map[string]bool) []error {
	var errs []error
	machines := map[string]int{}
	for _, l := range c.Lines {
		machines[l.Name] = l.Machines
	}
	window := func(p string, at, d time.Duration) {
		if at < 0 || at%time.Millisecond != 0 {
			errs = append(errs, config.Errorf(p+".at", "must be a non-negative whole number of milliseconds, got %s", at))
		}
		if d < time.Millisecond || d%time.Millisecond != 0 {
			errs = append(errs, config.Errorf(p+".duration", "must be a whole number of milliseconds, at least 1ms, got %s", d))
		}
	}
	overlap := func(a1, d1, a2, d2 time.Duration) bool { return a1 < a2+d2 && a2 < a1+d1 }
	for i, f := range c.Faults {
		p := fmt.Sprintf("faults[%d]", i)
		switch {
		case f.Line == "":
			errs = append(errs, config.Errorf(p+".line", "is required"))
		case !lines[f.Line]:
			errs = append(errs, config.Errorf(p+".line", "unknown line %q", f.Line))
		case f.Machine < 1 || f.Machine > machines[f.Line]:
			errs = append(errs, config.Errorf(p+".machine", "must be between 1 and %d (the machines of line %s), got %d", machines[f.Line], f.Line, f.Machine))
		}
		window(p, f.At, f.Duration)
		if f.State != Down && f.State != Idle {
			errs = append(errs, config.Errorf(p+".state", "must be %q or %q, got %q", Down, Idle, f.State))
		}
		for j, g := range c.Faults[:i] {
			if g.Line == f.Line && g.Machine == f.Machine && overlap(f.At, f.Duration, g.At, g.Duration) {
				errs = append(errs, config.Errorf(p, "overlaps faults[%d] on the same machine", j))
			}
		}
	}
	for i, s := range c.PlannedStops {
		p := fmt.Sprintf("planned_stops[%d]", i)
		if s.Line == "" {
			errs = append(errs, config.Errorf(p+".line", "is required"))
		} else if !lines[s.Line] {
			errs = append(errs, config.Errorf(p+".line", "unknown line %q", s.Line))
		}
		window(p, s.At, s.Duration)
		for j, o := range c.PlannedStops[:i] {
			if o.Line == s.Line && overlap(s.At, s.Duration, o.At, o.Duration) {
				errs = append(errs, config.Errorf(p, "overlaps planned_stops[%d] on the same line", j))
			}
		}
	}
	return errs
}

// withDefaults returns the line with its optional values filled in.
func (l Line) withDefaults() Line {
	if l.MeanRun == 0 {
		l.MeanRun = DefaultMeanRun
	}
	if l.MeanIdle == 0 {
		l.MeanIdle = DefaultMeanIdle
	}
	if l.MeanSetup == 0 {
		l.MeanSetup = DefaultMeanSetup
	}
	if l.MeanRepair == 0 {
		l.MeanRepair = DefaultMeanRepair
	}
	if l.BreakdownsPerDay == nil {
		b := DefaultBreakdownsPerDay
		l.BreakdownsPerDay = &b
	}
	return l
}

// parseClock parses "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("invalid time of day %q, want HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}
