package main

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
)

// Half returns the half, "a" or "b", that a data file belongs to: "a" when
// the FNV-1a hash of its base name is even. The split depends on the name
// only, so it is the same on every machine and for every detector.
func Half(name string) string {
	h := fnv.New32a()
	h.Write([]byte(filepath.Base(name)))
	if h.Sum32()%2 == 0 {
		return "a"
	}
	return "b"
}

// setParam sets one parameter of cfg from "name=value"; the names are the
// Config fields in snake case.
func setParam(cfg *gauge.Config, kv string) error {
	name, val, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("%q: want name=value", kv)
	}
	ints := map[string]*int{
		"window": &cfg.Window, "min_history": &cfg.MinHistory, "refractory": &cfg.Refractory,
		"record_after": &cfg.RecordAfter, "quiet": &cfg.Quiet,
		"levels": &cfg.Levels, "word": &cfg.Word, "memory": &cfg.Memory,
	}
	floats := map[string]*float64{
		"half_surprise": &cfg.HalfSurprise, "threshold": &cfg.Threshold,
		"rearm": &cfg.Rearm, "familiar": &cfg.Familiar,
		"record_margin": &cfg.RecordMargin, "repeat": &cfg.Repeat, "retrigger": &cfg.Retrigger,
	}
	if name == "spread" {
		v, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("%s: %q is not true or false", name, val)
		}
		cfg.Spread = v
		return nil
	}
	if p, ok := ints[name]; ok {
		v, err := strconv.Atoi(val)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", name, val)
		}
		*p = v
		return nil
	}
	if p, ok := floats[name]; ok {
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("%s: %q is not a number", name, val)
		}
		*p = v
		return nil
	}
	return fmt.Errorf("%s: unknown parameter (want one of window, min_history, half_surprise, threshold, rearm, quiet, refractory, levels, word, memory, familiar, record_after, record_margin, repeat, spread, retrigger)", name)
}
