package mqttout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/sparkplug"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// spMsg is a Sparkplug message as a host application sees it.
type spMsg struct {
	typ string // NBIRTH, DDATA, ...
	p   sparkplug.Payload
}

// spWatcher records the messages of a Sparkplug group and plays the
// primary host "scada" (its retained STATE).
type spWatcher struct {
	t   *testing.T
	c   paho.Client
	mu  sync.Mutex
	got []spMsg
}

func watchSparkplug(t *testing.T, url string) *spWatcher {
	t.Helper()
	w := &spWatcher{t: t}
	w.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("host").SetCleanSession(true).SetOrderMatters(true))
	if tok := w.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("host connect: %v", tok.Error())
	}
	t.Cleanup(func() { w.c.Disconnect(50) })
	tok := w.c.Subscribe("spBv1.0/g1/#", 1, func(_ paho.Client, m paho.Message) {
		typ := strings.Split(m.Topic(), "/")[2]
		if typ == "NCMD" {
			return
		}
		p, err := sparkplug.Unmarshal(m.Payload())
		if err != nil {
			t.Errorf("%s: %v", m.Topic(), err)
			return
		}
		w.mu.Lock()
		w.got = append(w.got, spMsg{typ, p})
		w.mu.Unlock()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return w
}

func (w *spWatcher) state(online bool, ts int64) {
	w.t.Helper()
	tok := w.c.Publish(sparkplug.StateTopic("scada"), 1, true, sparkplug.State{Online: online, Timestamp: ts}.Marshal())
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		w.t.Fatalf("publishing STATE: %v", tok.Error())
	}
}

// wait returns the messages once there are at least n of them.
func (w *spWatcher) wait(what string, n int) []spMsg {
	w.t.Helper()
	var out []spMsg
	waitFor(w.t, what, 10*time.Second, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		out = append([]spMsg(nil), w.got...)
		return len(out) >= n
	})
	return out
}

func (w *spWatcher) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got)
}

func types(ms []spMsg) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.typ)
	}
	return strings.Join(s, " ")
}

// TestEdgeNodeStoreAndForward runs an edge node with the primary host
// "scada" against the built-in broker: it births only once the host's
// STATE is online (and every device has its values), publishes changes as
// DDATA by alias with seq following its births, answers an offline STATE
// with its NDEATH (the connect's bdSeq) and holds what happens meanwhile,
// then, with the host online again, births with the next bdSeq and sends
// what it held as historical metrics at their own times, in seq order. A
// rebirth request makes it birth again.
func TestEdgeNodeStoreAndForward(t *testing.T) {
	b, err := NewBroker(fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Run(ctx)
	w := watchSparkplug(t, b.URL())
	w.state(false, 1000) // the host is away when the node starts

	node := NewEdgeNode(b.URL(), SparkplugNode{Line: "L1", Group: "g1", Node: "L1", PrimaryHostID: "scada"}, []string{"M01"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx) }()
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	for _, e := range []struct {
		name string
		v    signal.Value
	}{{"state", signal.String("idle")}, {"run", signal.Bool(false)}, {"count", signal.Number(5)}, {"power", signal.Number(1.5)}, {"operator", signal.String("")}, {"alarm", signal.String("")}} {
		node.Send("M01", e.name, t0, e.v)
	}
	time.Sleep(300 * time.Millisecond)
	if n := w.len(); n != 0 {
		t.Fatalf("%d messages while the host is offline, want none", n)
	}

	w.state(true, 2000)
	got := w.wait("births", 8) // NBIRTH, DBIRTH, then the 6 held initial values (historical)
	if got[0].typ != "NBIRTH" || got[0].p.Seq != 0 || got[0].p.Metrics[0].Name != "bdSeq" || got[1].typ != "DBIRTH" || got[1].p.Seq != 1 || len(got[1].p.Metrics) != 6 {
		t.Fatalf("births: %+v", got)
	}
	bd := got[0].p.Metrics[0].Value
	born := 8
	seq := got[born-1].p.Seq
	node.Send("M01", "run", t0.Add(time.Minute), signal.Bool(true))
	got = w.wait("live DDATA", born+1)
	live := got[born]
	if live.typ != "DDATA" || live.p.Seq != seq+1 || len(live.p.Metrics) != 1 || live.p.Metrics[0].IsHistorical ||
		live.p.Metrics[0].Name != "" || live.p.Metrics[0].Alias != 2 || live.p.Metrics[0].Value != true || live.p.Metrics[0].Timestamp != uint64(t0.Add(time.Minute).UnixMilli()) {
		t.Fatalf("live DDATA: %+v", live)
	}

	w.state(false, 2000) // the host's will
	got = w.wait("NDEATH", born+2)
	if d := got[born+1]; d.typ != "NDEATH" || d.p.Metrics[0].Value != bd {
		t.Fatalf("death: %+v, want NDEATH with bdSeq %v", d, bd)
	}
	for i := 2; i <= 4; i++ {
		node.Send("M01", "count", t0.Add(time.Duration(i)*time.Minute), signal.Number(float64(5+i)))
	}
	time.Sleep(300 * time.Millisecond)
	if n := w.len(); n != born+2 {
		t.Fatalf("%d messages after the death, want %d: %s", n, born+2, types(w.wait("", 0)))
	}

	w.state(true, 3000)
	got = w.wait("births and held data", born+2+2+3)
	after := got[born+2:]
	if types(after) != "NBIRTH DBIRTH DDATA DDATA DDATA" || after[0].p.Metrics[0].Value != bd.(uint64)+1 {
		t.Fatalf("after the host came back: %s, bdSeq %v", types(after), after[0].p.Metrics[0].Value)
	}
	for i, m := range after[2:] {
		mt := m.p.Metrics[0]
		if m.p.Seq != i+2 || !mt.IsHistorical || mt.Alias != 3 || mt.Value != float64(7+i) || mt.Timestamp != uint64(t0.Add(time.Duration(i+2)*time.Minute).UnixMilli()) {
			t.Fatalf("held DDATA %d: %+v", i, m)
		}
	}

	n := w.len()
	rebirth := sparkplug.Payload{Seq: -1, Metrics: []sparkplug.Metric{{Name: sparkplug.Rebirth, DataType: sparkplug.Boolean, Value: true}}}
	w.c.Publish(sparkplug.Topic("g1", "NCMD", "L1", ""), 0, false, rebirth.Marshal())
	got = w.wait("rebirth", n+2)
	if types(got[n:]) != "NBIRTH DBIRTH" || got[n].p.Metrics[0].Value != bd.(uint64)+1 {
		t.Fatalf("rebirth: %s", types(got[n:]))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
