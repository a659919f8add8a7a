package mqtt

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// store is what the queue's state bucket would hold after the puts.
type store map[string][]byte

func (st store) apply(puts []buffer.Put) {
	for _, p := range puts {
		if p.Value == nil {
			delete(st, string(p.Key))
		} else {
			st[string(p.Key)] = bytes.Clone(p.Value)
		}
	}
}

// restore loads the records into d in key order, as Source.restore does.
func (st store) restore(t *testing.T, d *Sparkplug) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(st)) {
		if err := d.Restore([]byte(k[len(d.prefix):]), st[k]); err != nil {
			t.Fatalf("restoring %q: %v", k, err)
		}
	}
}

var spSub = config.Subscription{Topic: "spBv1.0/plant1/#", Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway"}

func newStored(t *testing.T) *Sparkplug {
	d := testSparkplug(t, spSub)
	d.prefix = stateKey("tcp://h:1", spSub.Topic)
	return d
}

// TestSparkplugStateRestored: an agent that starts again with the records
// its predecessor committed reads DDATA by alias, in sequence, and marks the
// signals of the earlier birth bad at the node's death.
func TestSparkplugStateRestored(t *testing.T) {
	st := store{}
	d := newStored(t)
	rx := t0.Add(time.Second)
	decode := func(d *Sparkplug, topic string, payload []byte) spOutcome {
		t.Helper()
		out, err := d.Decode(topic, payload, rx)
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		st.apply(out.puts)
		return out
	}
	decode(d, gtop+"NBIRTH/L4", encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(5)},
		spm{name: "uptime", alias: 1, dtype: spUInt32, value: uint32(1)}))
	decode(d, gtop+"DBIRTH/L4/M01", encPayload(t0ms+1, 1, spm{name: "run", alias: 2, dtype: spBoolean, value: true},
		spm{name: "count", alias: 3, dtype: spInt32, value: uint32(7)}))
	decode(d, gtop+"DBIRTH/L4/M02", encPayload(t0ms+2, 2, spm{name: "run", alias: 2, dtype: spBoolean, value: true}))
	decode(d, gtop+"DDEATH/L4/M02", encPayload(t0ms+3, 3))
	decode(d, gtop+"DDATA/L4/M01", encPayload(t0ms+1000, 4, spm{alias: 3, value: uint32(0xFFFFFFFF)}))
	if len(st) != 3 { // node, position, M01 (M02 died)
		t.Fatalf("records %q, want node, position and one device", slices.Sorted(maps.Keys(st)))
	}

	// The restart: a new decoder from the records.
	d = newStored(t)
	st.restore(t, d)
	out := decode(d, gtop+"DDATA/L4/M01", encPayload(t0ms+2000, 5, spm{alias: 3, value: uint32(8)}, spm{alias: 2, value: false}))
	got := sigs(out.signals)
	if len(out.problems) != 0 || out.rebirth != "" || got["M01/count"].Value != signal.Number(8) || got["M01/run"].Value != signal.Bool(false) {
		t.Fatalf("DDATA after the restart: %+v", out)
	}
	// The data type came from the birth too: Int32 -1.
	if n := d.nodes["plant1/L4"].devices["M01"].dtype["count"]; n != spInt32 {
		t.Fatalf("count's data type %d", n)
	}
	out = decode(d, gtop+"DDATA/L4/M02", encPayload(t0ms+2500, 6, spm{alias: 2, value: true}))
	if !hasProblem(out, errNoBirth) {
		t.Fatalf("DDATA of the device that died before the restart: %+v", out)
	}

	// The death after the restart: node and M01 signals, at the last data.
	d = newStored(t)
	st.restore(t, d)
	rx = t0.Add(time.Hour)
	out = decode(d, gtop+"NDEATH/L4", encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(5)}))
	got = sigs(out.signals)
	if len(out.signals) != 3 || got["gateway/uptime"].Quality != signal.Bad || got["M01/run"].Quality != signal.Bad || got["M01/count"].Quality != signal.Bad {
		t.Fatalf("NDEATH after the restart: %+v", out.signals)
	}
	for _, s := range out.signals {
		if !s.Time.Equal(t0.Add(2500*time.Millisecond)) || s.Received {
			t.Errorf("death signal %s/%s at %s, want the last data at %s", s.Equipment, s.Name, s.Time, t0.Add(2500*time.Millisecond))
		}
	}
	if len(st) != 0 {
		t.Fatalf("records left after the death: %q", slices.Sorted(maps.Keys(st)))
	}
}

// TestSparkplugStateOnlyWhatChanged: data writes the small position record
// only; the birth record again only when a signal not known before appears.
func TestSparkplugStateOnlyWhatChanged(t *testing.T) {
	d := newStored(t)
	out, _ := d.Decode(gtop+"NBIRTH/L4", encPayload(t0ms, 0, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)},
		spm{name: "a", alias: 1, dtype: spUInt32, value: uint32(1)}), t0)
	if len(out.puts) != 2 {
		t.Fatalf("NBIRTH puts %d, want node and position", len(out.puts))
	}
	out, _ = d.Decode(gtop+"NDATA/L4", encPayload(t0ms+1, 1, spm{alias: 1, value: uint32(2)}), t0)
	if len(out.puts) != 1 || out.puts[0].Key[len(out.puts[0].Key)-1] != recPosition {
		t.Fatalf("NDATA puts %q, want the position only", out.puts)
	}
	out, _ = d.Decode(gtop+"NDATA/L4", encPayload(t0ms+2, 2, spm{name: "b", dtype: spUInt32, value: uint32(2)}), t0)
	if len(out.puts) != 2 {
		t.Fatalf("NDATA with a new signal: puts %q, want node and position", out.puts)
	}
}

// TestSparkplugRecordRoundTrip: what is encoded is what is restored.
func TestSparkplugRecordRoundTrip(t *testing.T) {
	n := &spNode{self: newScope(), devices: map[string]*spScope{}, seq: 200, bdSeq: 9, hasBdSeq: true,
		birthAt: t0.UnixNano(), last: t0.Add(time.Minute).UnixNano(), lastRx: true}
	n.self.born = true
	n.self.alias[1], n.self.alias[1<<40] = "run", "Folder/Motor Speed"
	n.self.dtype["run"], n.self.dtype["Folder/Motor Speed"] = spBoolean, spDouble
	n.self.known[sigKey{"s", "L", "M", "run"}] = struct{}{}
	dev := newScope()
	dev.born = true
	dev.alias[3] = "count"
	d := testSparkplug(t, spSub)
	for k, v := range map[string][]byte{"g/e\x00n": encodeNode(n), "g/e\x00p": encodePosition(n), "g/e\x00dM01": encodeDevice(dev)} {
		if err := d.Restore([]byte(k), v); err != nil {
			t.Fatalf("%q: %v", k, err)
		}
	}
	got := d.nodes["g/e"]
	if got == nil || !got.self.born || got.seq != 200 || got.bdSeq != 9 || !got.hasBdSeq || got.birthAt != n.birthAt ||
		got.last != n.last || !got.lastRx || !maps.Equal(got.self.alias, n.self.alias) || !maps.Equal(got.self.dtype, n.self.dtype) ||
		!maps.Equal(got.self.known, n.self.known) || got.devices["M01"] == nil || !got.devices["M01"].born || got.devices["M01"].alias[3] != "count" {
		t.Fatalf("restored %+v", got)
	}
}

// TestSparkplugRecordRejects: damaged records are refused without taking
// memory, and the bounds on edge nodes hold for restored state too.
func TestSparkplugRecordRejects(t *testing.T) {
	n := &spNode{self: newScope(), devices: map[string]*spScope{}}
	n.self.alias[1] = "run"
	good := encodeNode(n)
	huge := []byte{recVersion}
	huge = protowire.AppendVarint(huge, flagBorn)
	huge = protowire.AppendVarint(huge, 0)
	huge = protowire.AppendVarint(huge, 0)
	huge = protowire.AppendVarint(huge, 1<<40) // aliases
	tooMany := []byte{recVersion, flagBorn, 0, 0}
	tooMany = protowire.AppendVarint(tooMany, maxSparkplugMetrics+1)
	tooMany = append(tooMany, make([]byte, 2*(maxSparkplugMetrics+1))...)
	for name, tc := range map[string]struct{ key, value []byte }{
		"no kind":          {[]byte("g/e"), good},
		"unknown kind":     {[]byte("g/e\x00x"), good},
		"unknown version":  {[]byte("g/e\x00n"), append([]byte{2}, good[1:]...)},
		"empty":            {[]byte("g/e\x00n"), nil},
		"truncated":        {[]byte("g/e\x00n"), good[:len(good)-2]},
		"trailing bytes":   {[]byte("g/e\x00n"), append(bytes.Clone(good), 0)},
		"count over bytes": {[]byte("g/e\x00n"), huge},
		"count over bound": {[]byte("g/e\x00n"), tooMany},
		"seq over 255":     {[]byte("g/e\x00p"), []byte{recVersion, 0x80, 0x02, 0, 0}},
	} {
		t.Run(name, func(t *testing.T) {
			d := testSparkplug(t, spSub)
			if err := d.Restore(tc.key, tc.value); !errors.Is(err, errRecord) {
				t.Fatalf("got %v, want errRecord", err)
			}
		})
	}
	t.Run("edge nodes", func(t *testing.T) {
		d := testSparkplug(t, spSub)
		for i := range maxNodes {
			d.nodes[string(rune('a'+i%26))+string(rune(i))] = &spNode{self: newScope(), devices: map[string]*spScope{}}
		}
		if err := d.Restore([]byte("new/node\x00n"), good); !errors.Is(err, errRecord) {
			t.Fatalf("node beyond the bound: %v", err)
		}
	})
}
