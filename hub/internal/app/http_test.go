package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A request that lasts until its context ends (a live page's stream) does
// not keep the hub from stopping: the server's shutdown ends it, and
// serveHTTP returns no error.
func TestHTTPStopsWithOpenStreams(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		http.NewResponseController(w).Flush()
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	serveHTTP(gctx, g, config.HTTP{Listen: addr, ReadHeaderTimeout: time.Second}, h, slog.New(slog.DiscardHandler))
	testenv.WaitPort(t, addr, 5*time.Second)
	resp, err := http.Get("http://" + addr + "/stream") // read no further: the stream stays open
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-started
	cancel()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serveHTTP: %v", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("the server did not stop")
	}
}
