package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Sparkplug metrics into signals: names through aliases, values through
// data types, places through Rename and the metric template.

// bdSeqOf returns the value of the payload's bdSeq metric.
func bdSeqOf(p *spPayload) (uint64, bool) {
	for i := range p.metrics {
		if m := &p.metrics[i]; m.name == "bdSeq" && (m.valueField == fieldLongValue || m.valueField == fieldIntValue) {
			return m.u64, true
		}
	}
	return 0, false
}

// emit converts the metrics of a birth or data message; a birth (re)defines
// aliases and data types. It reports whether a metric's alias was unknown
// (the edge node should be asked to rebirth).
func (d *Sparkplug) emit(out *spOutcome, sc *spScope, fields map[string]string, p *spPayload, rx time.Time, birth bool) (unknownAlias bool) {
	for i := range p.metrics {
		m := &p.metrics[i]
		if birth {
			sc.define(m)
		}
		name, err := sc.name(m)
		if err != nil {
			out.problem(err)
			unknownAlias = unknownAlias || errors.Is(err, errUnknownAlias)
			continue
		}
		if control(name) {
			continue
		}
		mp := d.mapping(sc, name, fields)
		if !mp.ok {
			out.unmapped++
			out.example = name
			continue
		}
		s, err := d.signalOf(sc, m, name, mp.key, p, rx)
		if errors.Is(err, errUnsupported) {
			continue
		}
		if err != nil {
			out.problem(err)
			continue
		}
		if _, ok := sc.known[mp.key]; !ok && len(sc.known) < maxKnown {
			sc.known[mp.key] = struct{}{}
			sc.grown = true
		}
		out.signals = append(out.signals, s)
	}
	return unknownAlias
}

// define records a birth metric's alias and data type.
func (sc *spScope) define(m *spMetric) {
	if m.hasAlias && m.hasName {
		sc.alias[m.alias] = m.name
	}
	if m.hasName && m.hasDatatype && len(sc.dtype) < maxKnown {
		sc.dtype[m.name] = m.datatype
	}
}

// name returns a metric's name, through its alias when it has none.
func (sc *spScope) name(m *spMetric) (string, error) {
	if m.hasName {
		return m.name, nil
	}
	if !m.hasAlias {
		return "", fmt.Errorf("%w: %w", errBadMetric, aside(metrics.BadPayload, "metric with neither name nor alias"))
	}
	name, ok := sc.alias[m.alias]
	if !ok {
		return "", fmt.Errorf("%w: alias %d", errUnknownAlias, m.alias)
	}
	return name, nil
}

// signalOf converts a mapped metric into its signal: the value by the
// metric's data type (or its birth's), the time the metric's, else the
// payload's, else the receive time. errUnsupported: no signal, no problem.
func (d *Sparkplug) signalOf(sc *spScope, m *spMetric, name string, key sigKey, p *spPayload, rx time.Time) (signal.Signal, error) {
	dtype := m.datatype
	if !m.hasDatatype {
		dtype = sc.dtype[name]
	}
	v, err := m.value(dtype)
	if errors.Is(err, errUnsupported) {
		return signal.Signal{}, err
	}
	if err != nil {
		return signal.Signal{}, fmt.Errorf("%w: %w", errBadMetric, err)
	}
	s := signal.Signal{Site: key.site, Line: key.line, Equipment: key.equipment, Name: key.name, Value: v, Agent: d.agent}
	if m.isNull {
		s.Quality = signal.Bad
	}
	switch {
	case m.hasTimestamp:
		s.Time = msTime(m.timestamp)
	case p.hasTimestamp:
		s.Time = msTime(p.timestamp)
	default:
		s.Time, s.Received = rx, true
	}
	if !plausibleAt(s.Time, rx) {
		return signal.Signal{}, fmt.Errorf("%w: metric %q: %w", errBadMetric, name, errImplausibleTime(s.Time))
	}
	if err := checkSignal(s); err != nil {
		return signal.Signal{}, fmt.Errorf("%w: metric %q: %w", errBadMetric, name, err)
	}
	return s, nil
}

// die emits every signal known in scope with quality bad and no value, and
// forgets the scope's birth.
func (d *Sparkplug) die(out *spOutcome, sc *spScope, at time.Time, flagged bool) {
	for k := range sc.known {
		out.signals = append(out.signals, signal.Signal{
			Site: k.site, Line: k.line, Equipment: k.equipment, Name: k.name, Value: signal.String(""),
			Time: at, Received: flagged, Quality: signal.Bad, Status: StatusNoCommunication, Agent: d.agent,
		})
	}
	*sc = *newScope()
}

// mapping places a metric name: Rename first, then the metric template; the
// fields the metric template lacks come from the topic, then the fixed ones.
func (d *Sparkplug) mapping(sc *spScope, name string, topicFields map[string]string) spMapping {
	if mp, ok := sc.mapped[name]; ok {
		return mp
	}
	var mp spMapping
	n := name
	if r, ok := d.rename[name]; ok {
		n = r
	}
	if mf, err := d.metric.Match(n); err == nil {
		get := func(f string) string {
			if v, ok := mf[f]; ok {
				return v
			}
			if v, ok := topicFields[f]; ok {
				return v
			}
			return d.fixed[f]
		}
		mp.key = sigKey{get(config.FieldSite), get(config.FieldLine), get(config.FieldEquipment), get(config.FieldSignal)}
		mp.ok = signal.ValidToken(mp.key.site) && signal.ValidToken(mp.key.line) && signal.ValidToken(mp.key.equipment) &&
			signal.ValidToken(mp.key.name) && !signal.Reserved(mp.key.name)
	}
	if len(sc.mapped) < maxKnown {
		sc.mapped[name] = mp
	}
	return mp
}

// control reports whether a metric is Sparkplug bookkeeping rather than data.
func control(name string) bool {
	return name == "bdSeq" || strings.HasPrefix(name, "Node Control/") || strings.HasPrefix(name, "Device Control/")
}
