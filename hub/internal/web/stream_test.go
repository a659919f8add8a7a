package web

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A line's stream sends the line when it opens and each change after, also
// past the server's write timeout (which would cut a stream). L4 works every
// shift of every day, so its states do not depend on when the test runs.
func TestStreamPushesChangesPastWriteTimeout(t *testing.T) {
	f := data(t)
	srv := httptest.NewUnstartedServer(f.srv.Config.Handler)
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	c := f.client(t, viewerUser) // logged in at the first server (bcrypt outlasts the short timeout); cookies do not depend on the port
	resp, err := c.Get(srv.URL + "/api/v1/lines/L4/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("stream: %s %s", resp.Status, ct)
	}
	events := make(chan api.LineNowJSON, 10)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		name := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && name == "line":
				var l api.LineNowJSON
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &l) == nil {
					events <- l
				}
			}
		}
	}()
	next := func(what string) api.LineNowJSON {
		t.Helper()
		select {
		case l, ok := <-events:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			return l
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: nothing within 3 s", what)
		}
		return api.LineNowJSON{}
	}
	stateOf := func(l api.LineNowJSON, eq string) string {
		for _, m := range l.Machines {
			if m.Equipment == eq {
				return m.State
			}
		}
		return "(missing)"
	}
	first := next("first push")
	if first.Line != "L4" || stateOf(first, "M02") != "running" {
		t.Fatalf("first push: %+v", first)
	}
	time.Sleep(time.Second) // past the write timeout
	f.apply(t, []signal.Signal{{Site: f.cfg.Site, Line: "L4", Equipment: "M02", Name: signal.State,
		Value: signal.String("setup"), Time: time.Now(), Quality: signal.Good}})
	if got := stateOf(next("the change"), "M02"); got != "setup" {
		t.Fatalf("after the change M02 is %s", got)
	}
	f.apply(t, []signal.Signal{{Site: f.cfg.Site, Line: "L4", Equipment: "M02", Name: signal.State,
		Value: signal.String("running"), Time: time.Now(), Quality: signal.Good}})
	if got := stateOf(next("running again"), "M02"); got != "running" {
		t.Fatalf("after running again M02 is %s", got)
	}
}
