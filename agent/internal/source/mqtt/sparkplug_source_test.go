package mqtt

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// TestSparkplugThroughBroker publishes an edge node's life (NBIRTH, DBIRTH,
// DDATA by alias, an unknown alias, NDEATH) to mosquitto and checks the
// signals committed to the queue, the decode error counted, and the rebirth
// request the source sends back.
func TestSparkplugThroughBroker(t *testing.T) {
	mosq := testenv.StartMosquitto(t)
	r := newRig(t)
	qos := 1
	stat, _ := r.start(config.MQTT{
		Broker: mosq.URL, ClientID: "agent-sparkplug", QoS: &qos, MaxReconnectInterval: 200 * time.Millisecond,
		Subscriptions: []config.Subscription{{
			Topic: "spBv1.0/plant1/#", Format: config.FormatSparkplug,
			Template: "spBv1.0/{site}/+/{line}/{equipment}", Equipment: "gateway",
			Rename: map[string]string{"Motor Speed": "speed"},
		}},
	})
	waitFor(t, "source ready", 10*time.Second, ready(stat))

	// A host application's view of the commands sent to the edge node.
	spy := publisher(t, mosq.URL, nil)
	cmds := make(chan []byte, 10)
	if tok := spy.Subscribe("spBv1.0/plant1/NCMD/L4", 1, func(_ paho.Client, m paho.Message) { cmds <- m.Payload() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("spy subscribe: %v", tok.Error())
	}

	node := publisher(t, mosq.URL, nil)
	publish(t, node, gtop+"NBIRTH/L4", 0, encPayload(t0ms, 0,
		spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)},
		spm{name: "Node Control/Rebirth", dtype: spBoolean, value: false},
		spm{name: "uptime", alias: 1, dtype: spUInt32, value: uint32(10)},
	))
	publish(t, node, gtop+"DBIRTH/L4/M01", 0, encPayload(t0ms+1, 1,
		spm{name: "run", alias: 2, dtype: spBoolean, value: true},
		spm{name: "count", alias: 3, dtype: spInt64, value: uint64(100)},
		spm{name: "Motor Speed", alias: 4, dtype: spDouble, value: 1450.5},
	))
	publish(t, node, gtop+"DDATA/L4/M01", 0, encPayload(t0ms+2000, 2,
		spm{alias: 2, value: false, ts: t0ms + 1500},
		spm{alias: 3, value: uint64(101)},
	))
	publish(t, node, gtop+"DDATA/L4/M01", 0, encPayload(t0ms+3000, 3, spm{alias: 77, value: true}))
	got := r.waitSignals(6)

	want := []struct {
		equipment, name string
		v               signal.Value
		at              time.Time
	}{
		{"gateway", "uptime", signal.Number(10), t0},
		{"M01", "run", signal.Bool(true), t0.Add(time.Millisecond)},
		{"M01", "count", signal.Number(100), t0.Add(time.Millisecond)},
		{"M01", "speed", signal.Number(1450.5), t0.Add(time.Millisecond)},
		{"M01", "run", signal.Bool(false), t0.Add(1500 * time.Millisecond)},
		{"M01", "count", signal.Number(101), t0.Add(2 * time.Second)},
	}
	for i, w := range want {
		s := got[i]
		if s.Site != "plant1" || s.Line != "L4" || s.Equipment != w.equipment || s.Name != w.name || s.Value != w.v ||
			!s.Time.Equal(w.at) || s.Received || s.Quality != signal.Good || s.Agent != "a1" {
			t.Errorf("signal %d: got %+v, want %+v", i, s, w)
		}
	}
	waitFor(t, "the unknown alias counted", 5*time.Second, func() bool { return stat.DecodeErrors.Load() == 1 })
	select {
	case b := <-cmds:
		p, err := parseSparkplug(b)
		if err != nil || len(p.metrics) != 1 || p.metrics[0].name != "Node Control/Rebirth" || p.metrics[0].u64 != 1 {
			t.Fatalf("rebirth request: %+v, %v", p, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no rebirth request sent")
	}

	// The node dies (its MQTT will): every metric it and its device had goes
	// bad, at the node's last message (3 s), not when the will arrived.
	publish(t, node, gtop+"NDEATH/L4", 0, encPayload(0, -1, spm{name: "bdSeq", dtype: spUInt64, value: uint64(1)}))
	got = r.waitSignals(10)
	dead := map[string]bool{}
	for _, s := range got[6:] {
		if s.Quality != signal.Bad || s.Status != StatusNoCommunication || s.Value != signal.String("") || !s.Time.Equal(t0.Add(3*time.Second)) || s.Received {
			t.Errorf("death signal: %+v", s)
		}
		dead[s.Equipment+"/"+s.Name] = true
	}
	for _, k := range []string{"gateway/uptime", "M01/run", "M01/count", "M01/speed"} {
		if !dead[k] {
			t.Errorf("%s not marked bad at death (%v)", k, dead)
		}
	}
	if n := stat.SignalsIn.Load(); n != 10 {
		t.Errorf("signals in %d, want 10", n)
	}
}
