// Package run wires the simulator: it starts the built-in MQTT broker and the
// OPC UA server, publishes the plant's history fast (MQTT lines only), then
// its live events at their wall-clock time, ends with a final sample of every
// machine (OPC UA variables go bad at the end instead; Sparkplug B edge
// nodes die after it) and writes the ground truth.
//
// What always holds: every event before the end time T has been published
// (and acknowledged by the MQTT broker) before the final sample at T; the
// truth file is written after the final sample, atomically; the brokers and
// servers stay up after a finite live phase until the context is done, so
// consumers can drain.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/pkg/sparkplug"
	"github.com/floorpulse/floorpulse/simulators/internal/mqttout"
	"github.com/floorpulse/floorpulse/simulators/internal/opcuasrv"
	"github.com/floorpulse/floorpulse/simulators/internal/plant"
)

// Simulator is the whole simulator.
type Simulator struct {
	cfg       Config
	truthPath string
	clock     Clock
	log       *slog.Logger

	ready     chan struct{}
	mqttURL   string
	nodes     map[string]*mqttout.EdgeNode // by line: lines published as Sparkplug B edge nodes
	published atomic.Int64
}

// New returns a simulator writing the ground truth to truthPath ("" = none).
func New(cfg Config, truthPath string, clock Clock, log *slog.Logger) *Simulator {
	return &Simulator{cfg: cfg, truthPath: truthPath, clock: clock, log: log, ready: make(chan struct{})}
}

// Ready is closed once the brokers and servers listen.
func (s *Simulator) Ready() <-chan struct{} { return s.ready }

// MQTTURL is the broker the simulator publishes to; valid after Ready.
func (s *Simulator) MQTTURL() string { return s.mqttURL }

// Published is the number of MQTT messages published so far.
func (s *Simulator) Published() int64 { return s.published.Load() }

// Run simulates until the live phase ends (then serves on until ctx is done)
// or until ctx is done.
func (s *Simulator) Run(ctx context.Context) error {
	var topics []string
	var opcEq []opcuasrv.Equipment
	spLines := map[string]mqttout.SparkplugNode{}
	for _, n := range s.cfg.MQTT.Sparkplug {
		spLines[n.Line] = n
	}
	devices := map[string][]string{}
	for _, l := range s.cfg.Lines {
		for i := 1; i <= l.Machines; i++ {
			eq := fmt.Sprintf("M%02d", i)
			if l.Source == plant.SourceOPCUA {
				opcEq = append(opcEq, opcuasrv.Equipment{Line: l.Name, Equipment: eq})
				continue
			}
			if n, ok := spLines[l.Name]; ok {
				devices[l.Name] = append(devices[l.Name], eq)
				topics = append(topics, sparkplug.Topic(n.Group, "DDATA", n.Node, eq))
				continue
			}
			topics = append(topics, mqttout.Topic(s.cfg.MQTT.TopicPrefix, s.cfg.Site, l.Name, eq, "run"))
		}
	}
	var broker *mqttout.Broker
	if len(topics) > 0 {
		s.mqttURL = s.cfg.MQTT.Broker
		if s.mqttURL == "" {
			b, err := mqttout.NewBroker(s.cfg.MQTT.Listen, topics, s.log.With("part", "broker"))
			if err != nil {
				return err
			}
			broker, s.mqttURL = b, b.URL()
		}
	}
	var opc *opcuasrv.Server
	if len(opcEq) > 0 {
		o, err := opcuasrv.New(s.cfg.OPCUA, s.cfg.Site, opcEq, s.log.With("part", "opcua"))
		if err != nil {
			return err
		}
		opc = o
	}

	// The servers outlive ctx until the final sample is out.
	srvCtx, stopServers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServers()
	g, gctx := errgroup.WithContext(srvCtx)
	if broker != nil {
		g.Go(func() error { return broker.Run(gctx) })
	}
	if opc != nil {
		g.Go(func() error { return opc.Run(gctx) })
	}
	s.nodes = map[string]*mqttout.EdgeNode{}
	for _, n := range s.cfg.MQTT.Sparkplug {
		node := mqttout.NewEdgeNode(s.mqttURL, n, devices[n.Line], s.log.With("part", "sparkplug"))
		s.nodes[n.Line] = node
		g.Go(func() error { return node.Run(gctx) })
	}
	g.Go(func() error {
		defer stopServers()
		simCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(gctx, cancel)
		defer stop()
		finished, err := s.simulate(simCtx, broker, opc)
		if err != nil || !finished {
			return err
		}
		s.log.Info("simulation finished", "truth", s.truthPath)
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		return nil
	})
	return g.Wait()
}

// simulate runs the phases; finished is false when ctx ended them.
func (s *Simulator) simulate(ctx context.Context, broker *mqttout.Broker, opc *opcuasrv.Server) (finished bool, err error) {
	var pub *mqttout.Publisher
	if s.mqttURL != "" {
		o := mqttout.Options{URL: s.mqttURL, ClientID: s.cfg.MQTT.ClientID, QoS: s.cfg.MQTT.QoS, Log: s.log}
		if broker != nil {
			o.Backlog = broker
		}
		p, err := mqttout.Dial(ctx, o)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		defer p.Close()
		pub = p
	}
	attrs := []any{"mqtt", s.mqttURL}
	if opc != nil {
		attrs = append(attrs, "opcua", opc.URL(), "opcua_namespace", opc.Namespace())
	}
	s.log.Info("serving", attrs...)
	close(s.ready)

	if broker != nil && s.cfg.History > 0 {
		s.log.Info("waiting for a subscriber before publishing history", "topics", s.cfg.MQTT.TopicPrefix+"/"+s.cfg.Site+"/#")
		select {
		case <-broker.Subscribed():
		case <-ctx.Done():
			return false, nil
		}
	}

	if opc != nil && s.cfg.OPCUA.WaitForClient {
		s.log.Info("waiting for an opc ua client to subscribe before going live", "endpoint", opc.URL())
		if err := opc.WaitClient(ctx); err != nil {
			return false, nil
		}
	}

	now := s.clock.Now().Truncate(time.Millisecond)
	p, err := plant.New(s.cfg.Config, now.Add(-s.cfg.History), now)
	if err != nil {
		return false, err
	}
	var end time.Time
	if s.cfg.Live > 0 {
		end = now.Add(s.cfg.Live)
	}
	s.log.Info("simulation starts", "history_from", now.Add(-s.cfg.History), "live_from", now, "live_until", end)
	publish := func(evs []plant.Event) error {
		for _, e := range evs {
			if err := s.send(ctx, pub, opc, e); err != nil {
				return err
			}
		}
		return nil
	}
	var T time.Time
	inHistory := s.cfg.History > 0
	for {
		t := p.Peek()
		if !end.IsZero() && !t.Before(end) {
			T = end
			if err := s.clock.SleepUntil(ctx, end); err != nil {
				T = minTime(s.clock.Now().Truncate(time.Millisecond), end)
			}
			break
		}
		if inHistory && !t.Before(now) {
			inHistory = false
			s.log.Info("history published", "messages", s.published.Load())
		}
		if ctx.Err() != nil {
			T = t
			break
		}
		if t.After(s.clock.Now()) {
			if err := s.clock.SleepUntil(ctx, t); err != nil {
				T = minTime(s.clock.Now().Truncate(time.Millisecond), t)
				break
			}
		}
		if err := publish(p.Next()); err != nil {
			if ctx.Err() == nil {
				return false, err
			}
			T = t
			break
		}
	}
	finished = ctx.Err() == nil

	// Final sample and truth, even when interrupted.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, e := range p.Final(T) {
		if e.Source == plant.SourceOPCUA {
			continue // ended below
		}
		if err := s.send(fctx, pub, opc, e); err != nil {
			return false, fmt.Errorf("publishing the final sample: %w", err)
		}
	}
	// The OPC UA server stays up, and its subscriptions prove it alive (a
	// client may commit watermarks past T): its variables go bad at T, as
	// when a server's devices go away, so that what is known ends at T.
	if opc != nil {
		if err := opc.End(T); err != nil {
			return false, fmt.Errorf("ending the opc ua variables: %w", err)
		}
	}
	// Sparkplug B edge nodes, alive, would be vouched for past T: they die
	// after their final sample, and stay dead.
	for _, node := range s.nodes {
		node.End()
	}
	if pub != nil {
		if err := pub.Flush(fctx); err != nil {
			return false, fmt.Errorf("flushing: %w", err)
		}
	}
	s.log.Info("final sample published", "end", T, "messages", s.published.Load())
	if s.truthPath != "" {
		if err := writeTruth(s.truthPath, p.Truth()); err != nil {
			return false, err
		}
		s.log.Info("ground truth written", "path", s.truthPath)
	}
	return finished, nil
}

func (s *Simulator) send(ctx context.Context, pub *mqttout.Publisher, opc *opcuasrv.Server, e plant.Event) error {
	if (e.Name == plant.Temperature || e.Name == plant.Vibration) && (e.Source == plant.SourceOPCUA || s.nodes[e.Line] != nil) {
		return nil // the degradation gauges go over plain MQTT only
	}
	if e.Source == plant.SourceOPCUA {
		return opc.Set(e.Line, e.Equipment, e.Name, e.Time, e.Value)
	}
	if node := s.nodes[e.Line]; node != nil {
		node.Send(e.Equipment, e.Name, e.Time, e.Value)
		s.published.Add(1)
		return nil
	}
	payload, err := mqttout.Payload(e.Time, e.Value)
	if err != nil {
		return err
	}
	topic := mqttout.Topic(s.cfg.MQTT.TopicPrefix, s.cfg.Site, e.Line, e.Equipment, e.Name)
	if err := pub.Publish(ctx, topic, payload); err != nil {
		return err
	}
	s.published.Add(1)
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// writeTruth writes the truth as JSON via a temporary file and a rename.
func writeTruth(path string, t plant.Truth) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing truth: %w", err)
	}
	f, err := os.CreateTemp(dir, ".truth-*.json")
	if err != nil {
		return fmt.Errorf("writing truth: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	err = errors.Join(err, f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing truth: %w", err)
	}
	return nil
}
