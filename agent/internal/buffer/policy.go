package buffer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Policy is what the queue does when a commit would take the stored bytes
// above Options.MaxBytes.
type Policy string

const (
	// DropOldest stores the new signals and drops the oldest records down to
	// 90 % of the bound, replacing them by a gap marker per equipment.
	DropOldest Policy = "drop_oldest"
	// DropNewest stores what fits and refuses the rest, counting it; once
	// refusing, it refuses everything until the queue is back under 90 % of
	// the bound, then queues one gap marker per equipment covering the
	// refused range before any newer signal.
	DropNewest Policy = "drop_newest"
	// Block stores nothing and returns ErrFull: the committer holds the
	// signals (and the sources their upstream acknowledgements) until the
	// forwarder frees room.
	Block Policy = "block"
)

// Policies lists every policy.
var Policies = []Policy{DropOldest, DropNewest, Block}

// ParsePolicy returns the policy named s.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown buffer policy %q (want %s)", s, strings.Join(names, ", "))
}

// Reasons a signal is dropped: the reason label of
// floorpulse_agent_queue_dropped_total.
const (
	ReasonDropOldest = "drop_oldest" // the queue was full, policy drop_oldest
	ReasonDropNewest = "drop_newest" // the queue was full, policy drop_newest
	ReasonMaxAge     = "max_age"     // the record was older than buffer.max_age
)

type reason int

const (
	rDropOldest reason = iota
	rDropNewest
	rMaxAge
	numReasons
)

var reasonNames = [numReasons]string{ReasonDropOldest, ReasonDropNewest, ReasonMaxAge}

// gapReason is the Gap.Reason written into markers, by drop reason.
var gapReason = [numReasons]string{"buffer full", "buffer full", "max age"}

// lowWater is the level a full queue is brought back to (drop_oldest) or
// must reach before it takes signals again (drop_newest).
func lowWater(max uint64) uint64 { return max - max/10 }

// gap is the signals of one equipment a marker stands for.
type gap struct {
	Site      string    `json:"site"`
	Line      string    `json:"line"`
	Equipment string    `json:"eq"`
	Agent     string    `json:"agent,omitempty"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	N         uint64    `json:"n"`
}

// gaps collects gaps per equipment, in the order equipment first appears.
type gaps struct {
	list []*gap
	by   map[signal.Key]*gap
}

// add accounts for s: a signal counts one, a gap marker merges its own range
// and count. It reports whether s was a signal (a new drop) rather than a marker.
func (g *gaps) add(s signal.Signal) bool {
	if g.by == nil {
		g.by = map[signal.Key]*gap{}
		for _, x := range g.list {
			g.by[signal.Key{Site: x.Site, Line: x.Line, Equipment: x.Equipment}] = x
		}
	}
	from, n := s.Time, uint64(1)
	if s.Gap != nil {
		from, n = s.Gap.From, s.Gap.Dropped
	}
	x := g.by[s.Key()]
	if x == nil {
		x = &gap{Site: s.Site, Line: s.Line, Equipment: s.Equipment, Agent: s.Agent, From: from, To: s.Time}
		g.by[s.Key()] = x
		g.list = append(g.list, x)
	}
	x.N += n
	if from.Before(x.From) {
		x.From = from
	}
	if s.Time.After(x.To) {
		x.To = s.Time
	}
	return s.Gap == nil
}

// markers stores one gap marker per equipment.
func (g *gaps) markers(t *txn, r reason) error {
	for _, x := range g.list {
		m := signal.Signal{
			Site: x.Site, Line: x.Line, Equipment: x.Equipment, Name: signal.GapName,
			Value: signal.Number(float64(x.N)), Time: x.To, Agent: x.Agent,
			Gap: &signal.Gap{From: x.From, To: x.To, Dropped: x.N, Reason: gapReason[r]},
		}
		if err := t.store(m); err != nil {
			return fmt.Errorf("gap marker for %s: %w", m.Key(), err)
		}
	}
	return nil
}

// dropHead deletes records from the head while more(seq, bytes left) holds
// and replaces them by gap markers at the tail, counting dropped signals
// under r. An undecodable record is counted but cannot be covered by a marker.
func dropHead(t *txn, r reason, more func(seq, left uint64) bool) error {
	var g gaps
	keys := t.keyBuf()
	var size uint64
	c := t.b.Cursor()
	for k, v := c.First(); k != nil && more(seqOf(k), t.size-size); k, v = c.Next() {
		keys = append(keys, k...)
		size += uint64(len(v))
		_, _, js := unframe(v)
		s, err := signal.Unmarshal(js)
		if err != nil {
			t.drops[r]++
			continue
		}
		if g.add(s) {
			t.drops[r]++
		}
	}
	if err := t.deleteKeys(keys, size); err != nil {
		return err
	}
	return g.markers(t, r)
}

func (q *Queue) appendDropOldest(t *txn, sigs []signal.Signal) error {
	for i := range sigs {
		if err := t.store(sigs[i]); err != nil {
			return encodeErr(i, len(sigs), err)
		}
		sigs[i].Seq = t.b.Sequence()
	}
	max := q.opt.MaxBytes
	if max == 0 || t.size <= max {
		return nil
	}
	// Drop down to the low-water mark so a full queue does not drop on
	// every commit; the markers added afterwards are small.
	target := lowWater(max)
	return dropHead(t, rDropOldest, func(_, left uint64) bool { return left > target })
}

func (q *Queue) appendBlock(t *txn, sigs []signal.Signal) error {
	empty := t.recs == 0
	for i := range sigs {
		if err := t.store(sigs[i]); err != nil {
			return encodeErr(i, len(sigs), err)
		}
		sigs[i].Seq = t.b.Sequence()
	}
	if q.opt.MaxBytes > 0 && t.size > q.opt.MaxBytes && !empty {
		return ErrFull // rolls the transaction back
	}
	return nil
}

func (q *Queue) appendDropNewest(t *txn, sigs []signal.Signal) error {
	if err := q.flushPending(t); err != nil {
		return err
	}
	pend, err := loadPending(t)
	if err != nil {
		return err
	}
	refusing := len(pend.list) > 0
	refused := false
	for i := range sigs {
		if !refusing {
			data, err := t.encode(&sigs[i])
			if err != nil {
				return encodeErr(i, len(sigs), err)
			}
			if q.opt.MaxBytes == 0 || t.recs == 0 || t.size+uint64(len(data)) <= q.opt.MaxBytes {
				if err := t.put(sigs[i], data); err != nil {
					return err
				}
				continue
			}
			refusing = true
		}
		sigs[i].Seq = 0
		pend.add(sigs[i])
		t.drops[rDropNewest]++
		refused = true
	}
	if refused {
		return storePending(t, pend)
	}
	return nil
}

// flushPending queues the markers of refused signals once the queue is back
// under the low-water mark.
func (q *Queue) flushPending(t *txn) error {
	if t.size > lowWater(q.opt.MaxBytes) {
		return nil
	}
	pend, err := loadPending(t)
	if err != nil || len(pend.list) == 0 {
		return err
	}
	if err := pend.markers(t, rDropNewest); err != nil {
		return err
	}
	return t.m.Delete(keyPending)
}

func loadPending(t *txn) (gaps, error) {
	var g gaps
	v := t.m.Get(keyPending)
	if v == nil {
		return g, nil
	}
	if err := json.Unmarshal(v, &g.list); err != nil {
		return g, fmt.Errorf("reading pending gaps: %w", err)
	}
	return g, nil
}

func storePending(t *txn, g gaps) error {
	v, err := json.Marshal(g.list)
	if err != nil {
		return err
	}
	return t.m.Put(keyPending, v)
}
