package opcuasrv

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// serve runs a server of the plant1 equipment eqs until the test ends and
// connects a client to it (security None, anonymous), closed at the end;
// ctx ends after a minute.
func serve(t *testing.T, eqs ...Equipment) (s *Server, c *opcua.Client, ctx context.Context) {
	t.Helper()
	port := testenv.FreePort(t)
	s, err := New(Config{Host: "127.0.0.1", Port: port}, "plant1", eqs, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(srvCtx) }()
	t.Cleanup(func() { stop(); <-done })
	testenv.WaitPort(t, "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
	c, err = opcua.NewClient(s.URL(), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.AuthAnonymous())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return s, c, ctx
}

func TestSubscribeGetsValuesWithSourceTimestamp(t *testing.T) {
	s, c, ctx := serve(t, Equipment{"L3", "M01"}, Equipment{"L3", "M02"})
	if s.Namespace() != 1 {
		t.Fatalf("namespace index %d, want 1 (documented)", s.Namespace())
	}

	// The namespace array names our namespace at the documented index.
	resp, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_NamespaceArray), AttributeID: ua.AttributeIDValue}}})
	if err != nil {
		t.Fatal(err)
	}
	if nss, ok := resp.Results[0].Value.Value().([]string); !ok || len(nss) < 2 || nss[1] != NamespaceURI {
		t.Fatalf("namespace array %v", resp.Results[0].Value.Value())
	}

	notes := make(chan *opcua.PublishNotificationData, 64)
	sub, err := c.Subscribe(ctx, &opcua.SubscriptionParameters{Interval: 50 * time.Millisecond}, notes)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*ua.NodeID{
		ua.MustParseNodeID("ns=1;s=plant1.L3.M01.run"),
		ua.MustParseNodeID("ns=1;s=plant1.L3.M02.state"),
		ua.MustParseNodeID("ns=1;s=plant1.L3.M02.count"),
	}
	var reqs []*ua.MonitoredItemCreateRequest
	for i, n := range nodes {
		reqs = append(reqs, opcua.NewMonitoredItemCreateRequestWithDefaults(n, ua.AttributeIDValue, uint32(i)))
	}
	const clock = 99 // the server's clock, which ticks in notifications
	reqs = append(reqs, opcua.NewMonitoredItemCreateRequestWithDefaults(ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), ua.AttributeIDValue, clock))
	if res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, reqs...); err != nil || res.Results[0].StatusCode != ua.StatusOK {
		t.Fatalf("monitor: %v", err)
	}
	src := time.Date(2026, 10, 1, 6, 0, 0, 123e6, time.UTC)
	want := map[uint32]any{0: true, 1: "running", 2: 42.0}
	set := func() {
		for _, e := range []struct {
			eq, name string
			v        signal.Value
		}{{"M01", "run", signal.Bool(true)}, {"M02", "state", signal.String("running")}, {"M02", "count", signal.Number(42)}} {
			if err := s.Set("L3", e.eq, e.name, src, e.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	set()
	got := map[uint32]bool{}
	for len(got) < len(want) {
		select {
		case n := <-notes:
			if n.Error != nil {
				t.Fatal(n.Error)
			}
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, it := range dc.MonitoredItems {
				if it.Value.Status != ua.StatusOK || it.Value.Value == nil || it.Value.Value.Value() != want[it.ClientHandle] {
					continue // the initial value, or not yet the new one
				}
				if !it.Value.SourceTimestamp.Equal(src) {
					t.Fatalf("handle %d: source timestamp %v, want %v", it.ClientHandle, it.Value.SourceTimestamp, src)
				}
				got[it.ClientHandle] = true
			}
		case <-ctx.Done():
			t.Fatalf("got %v of %v", got, want)
		}
	}
	if err := s.Set("L3", "M09", "run", src, signal.Bool(true)); err == nil {
		t.Error("setting an unknown node succeeded")
	}

	// SetPublishingMode tells which subscriptions the session has (the
	// agent asks it of a quiet subscription).
	var pm *ua.SetPublishingModeResponse
	err = c.Send(ctx, &ua.SetPublishingModeRequest{PublishingEnabled: true, SubscriptionIDs: []uint32{sub.SubscriptionID, sub.SubscriptionID + 1000}},
		func(v ua.Response) error {
			var ok bool
			if pm, ok = v.(*ua.SetPublishingModeResponse); !ok {
				return fmt.Errorf("response %T", v)
			}
			return nil
		})
	if err != nil {
		t.Fatalf("SetPublishingMode: %v", err)
	}
	if want := []ua.StatusCode{ua.StatusOK, ua.StatusBadSubscriptionIDInvalid}; !slices.Equal(pm.Results, want) {
		t.Errorf("SetPublishingMode results %v, want %v", pm.Results, want)
	}

	// The clock ticks (clients watch it to notice a subscription that
	// stopped publishing): two later values, each later than the one before.
	var ticks []time.Time
	for len(ticks) < 3 {
		select {
		case n := <-notes:
			dc, ok := n.Value.(*ua.DataChangeNotification)
			if !ok {
				continue
			}
			for _, it := range dc.MonitoredItems {
				if it.ClientHandle != clock {
					continue
				}
				v, ok := it.Value.Value.Value().(time.Time)
				if !ok {
					t.Fatalf("clock value %v (%T)", it.Value.Value.Value(), it.Value.Value.Value())
				}
				if len(ticks) > 0 && !v.After(ticks[len(ticks)-1]) {
					t.Fatalf("clock went from %v to %v", ticks[len(ticks)-1], v)
				}
				ticks = append(ticks, v)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("the clock did not tick in 5 s: %v", ticks)
		}
	}
}

// WaitClient may be called before Run has started the server: it waits
// instead of reading the server's services before they exist.
func TestWaitClientBeforeRun(t *testing.T) {
	s, err := New(Config{Host: "127.0.0.1", Port: testenv.FreePort(t)}, "plant1", []Equipment{{"L3", "M01"}}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.WaitClient(ctx); err == nil {
		t.Fatal("WaitClient returned without a client")
	}
}

// HistoryRead of raw values returns what was set, in order, a page at a
// time through continuation points, from the start time on; other
// history reads are refused per node.
func TestHistoryReadRaw(t *testing.T) {
	s, c, ctx := serve(t, Equipment{"L3", "M01"})

	t0 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	for i := range 7 {
		if err := s.Set("L3", "M01", "count", t0.Add(time.Duration(i)*time.Second), signal.Number(float64(i))); err != nil {
			t.Fatal(err)
		}
	}
	count := NodeID(s.Namespace(), "plant1", "L3", "M01", "count")
	read := func(details ua.ExtensionObject, node *ua.NodeID, cp []byte) *ua.HistoryReadResult {
		t.Helper()
		var res *ua.HistoryReadResponse
		err := c.Send(ctx, &ua.HistoryReadRequest{
			HistoryReadDetails: &details, TimestampsToReturn: ua.TimestampsToReturnBoth,
			NodesToRead: []*ua.HistoryReadValueID{{NodeID: node, DataEncoding: &ua.QualifiedName{}, ContinuationPoint: cp}},
		}, func(v ua.Response) error {
			var ok bool
			if res, ok = v.(*ua.HistoryReadResponse); !ok {
				return fmt.Errorf("response %T", v)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("HistoryRead: %v", err)
		}
		if len(res.Results) != 1 {
			t.Fatalf("%d results", len(res.Results))
		}
		return res.Results[0]
	}
	raw := func(d ua.ReadRawModifiedDetails) ua.ExtensionObject {
		return ua.ExtensionObject{
			TypeID:       ua.NewFourByteExpandedNodeID(0, id.ReadRawModifiedDetails_Encoding_DefaultBinary),
			EncodingMask: ua.ExtensionObjectBinary, Value: &d,
		}
	}

	// From the third value on, two at a time: 2,3 | 4,5 | 6.
	details := raw(ua.ReadRawModifiedDetails{StartTime: t0.Add(2 * time.Second), EndTime: t0.Add(time.Hour), NumValuesPerNode: 2})
	var got []float64
	var cp []byte
	for pages := 1; ; pages++ {
		r := read(details, count, cp)
		if r.StatusCode != ua.StatusOK {
			t.Fatalf("page %d: status %v", pages, r.StatusCode)
		}
		hd, ok := r.HistoryData.Value.(*ua.HistoryData)
		if !ok {
			t.Fatalf("page %d: history data %T", pages, r.HistoryData.Value)
		}
		for _, dv := range hd.DataValues {
			want := t0.Add(time.Duration(len(got)+2) * time.Second)
			if !dv.SourceTimestamp.Equal(want) {
				t.Errorf("value %d: source time %v, want %v", len(got)+2, dv.SourceTimestamp, want)
			}
			got = append(got, dv.Value.Value().(float64))
		}
		if cp = r.ContinuationPoint; len(cp) == 0 {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		if pages > 3 {
			t.Fatalf("more than 3 pages: %v", got)
		}
	}
	if want := []float64{2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}

	// End time excluded; nothing in range is GoodNoData.
	if r := read(raw(ua.ReadRawModifiedDetails{StartTime: t0, EndTime: t0.Add(time.Second)}), count, nil); r.StatusCode != ua.StatusOK ||
		len(r.HistoryData.Value.(*ua.HistoryData).DataValues) != 1 {
		t.Errorf("[t0, t0+1s): status %v, %v", r.StatusCode, r.HistoryData.Value)
	}
	if r := read(raw(ua.ReadRawModifiedDetails{StartTime: t0.Add(time.Hour), EndTime: t0.Add(2 * time.Hour)}), count, nil); r.StatusCode != ua.StatusGoodNoData {
		t.Errorf("an empty range: status %v, want GoodNoData", r.StatusCode)
	}
	if r := read(raw(ua.ReadRawModifiedDetails{IsReadModified: true, StartTime: t0, EndTime: t0.Add(time.Hour)}), count, nil); r.StatusCode != ua.StatusBadHistoryOperationUnsupported {
		t.Errorf("modified values: status %v, want BadHistoryOperationUnsupported", r.StatusCode)
	}
	if r := read(details, ua.NewStringNodeID(s.Namespace(), "plant1.L3.M09.count"), nil); r.StatusCode != ua.StatusBadNodeIDUnknown {
		t.Errorf("an unknown node: status %v, want BadNodeIdUnknown", r.StatusCode)
	}
}

// A node's history keeps at least the last maxHistory values, in order,
// and a place in it stays valid while its value is kept.
func TestHistoryKeepsTheLatest(t *testing.T) {
	var h history
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3*maxHistory + 7 {
		h.add(&ua.DataValue{SourceTimestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	if n := len(h.entries); n < maxHistory || n >= 2*maxHistory {
		t.Fatalf("%d values kept, want %d to %d", n, maxHistory, 2*maxHistory-1)
	}
	end := t0.Add(time.Duration(3*maxHistory+7) * time.Second)
	all, next := h.readRaw(t0, end, 0, 0)
	if next != 0 || len(all) != len(h.entries) || !all[len(all)-1].SourceTimestamp.Equal(end.Add(-time.Second)) {
		t.Fatalf("read %d of %d values, last %v, next %d", len(all), len(h.entries), all[len(all)-1].SourceTimestamp, next)
	}
	page, next := h.readRaw(t0, end, 0, 10)
	if len(page) != 10 || next != h.entries[10].seq {
		t.Fatalf("a page of %d values, next %d, want 10 and %d", len(page), next, h.entries[10].seq)
	}
	rest, _ := h.readRaw(t0, end, next, 0)
	if len(rest) != len(all)-10 || !rest[0].SourceTimestamp.Equal(all[10].SourceTimestamp) {
		t.Fatalf("continued with %d values from %v", len(rest), rest[0].SourceTimestamp)
	}
}
