package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// roundTripper answers every request with status (or err), recording it;
// with block set it waits for the request's context instead.
type roundTripper struct {
	status int
	err    error
	block  bool

	mu   sync.Mutex
	reqs []*http.Request
	body []byte
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	rt.mu.Lock()
	rt.reqs, rt.body = append(rt.reqs, req), body
	rt.mu.Unlock()
	if rt.block {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	if rt.err != nil {
		return nil, rt.err
	}
	return &http.Response{StatusCode: rt.status, Status: http.StatusText(rt.status),
		Body: io.NopCloser(strings.NewReader("  receiver says no  ")), Request: req}, nil
}

var (
	key    = []byte("0123456789abcdef0123456789abcdef")
	secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
	sentAt = time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)
)

func hook(rt *roundTripper, e Endpoint) *Webhook {
	if e.Timeout == 0 {
		e.Timeout = time.Second
	}
	return &Webhook{Endpoint: e, Client: &http.Client{Transport: rt}, Clock: func() time.Time { return sentAt }}
}

func item() ledger.Item {
	return ledger.Item{Dest: "cmms", ID: "ev1-3", ContentType: "application/cloudevents+json", Body: []byte(`{"id":"ev1-3"}`)}
}

// The request carries the Standard Webhooks headers; the signature is the
// HMAC-SHA256 of "<id>.<timestamp>.<body>" under the decoded secret,
// computed here without Sign.
func TestWebhookSigns(t *testing.T) {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("ev1-3.1780290000." + `{"id":"ev1-3"}`))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	tests := []struct {
		name    string
		secret  string
		wantSig string
	}{
		{"signed", secret, want},
		{"unsigned without a secret", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := &roundTripper{status: http.StatusNoContent}
			w := hook(rt, Endpoint{Name: "cmms", URL: "https://cmms.example/hook", Secret: tc.secret,
				Headers: map[string]string{"Authorization": "Bearer t0ken"}})
			if err := w.Send(context.Background(), item()); err != nil {
				t.Fatal(err)
			}
			req := rt.reqs[0]
			h := req.Header
			checks := map[string]string{"webhook-id": "ev1-3", "webhook-timestamp": "1780290000", "webhook-signature": tc.wantSig,
				"Content-Type": "application/cloudevents+json", "Authorization": "Bearer t0ken"}
			for k, v := range checks {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if req.Method != http.MethodPost || req.URL.String() != "https://cmms.example/hook" || string(rt.body) != `{"id":"ev1-3"}` {
				t.Errorf("request %s %s %s", req.Method, req.URL, rt.body)
			}
		})
	}
	if got := Sign(key, "ev1-3", 1780290000, []byte(`{"id":"ev1-3"}`)); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

// 2xx is delivered; 408, 429, 5xx, transport errors and timeouts are
// retried; other answers are permanent (the worker moves them to the dead
// letters at once).
func TestWebhookStatus(t *testing.T) {
	tests := []struct {
		name      string
		rt        *roundTripper
		ok        bool
		permanent bool
	}{
		{"200", &roundTripper{status: 200}, true, false},
		{"202", &roundTripper{status: 202}, true, false},
		{"204", &roundTripper{status: 204}, true, false},
		{"301 not followed", &roundTripper{status: 301}, false, true},
		{"400", &roundTripper{status: 400}, false, true},
		{"401", &roundTripper{status: 401}, false, true},
		{"404", &roundTripper{status: 404}, false, true},
		{"410 gone", &roundTripper{status: 410}, false, true},
		{"413", &roundTripper{status: 413}, false, true},
		{"408 timeout", &roundTripper{status: 408}, false, false},
		{"429 too many", &roundTripper{status: 429}, false, false},
		{"500", &roundTripper{status: 500}, false, false},
		{"503", &roundTripper{status: 503}, false, false},
		{"transport error", &roundTripper{err: errors.New("connection refused")}, false, false},
		{"no answer in time", &roundTripper{block: true}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := hook(tc.rt, Endpoint{Name: "cmms", URL: "https://cmms.example/hook", Timeout: 20 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := w.Send(ctx, item())
			if tc.ok != (err == nil) || errors.Is(err, errPermanent) != tc.permanent {
				t.Fatalf("Send: %v, want ok %v permanent %v", err, tc.ok, tc.permanent)
			}
			if ctx.Err() != nil {
				t.Fatal("the endpoint timeout was not applied")
			}
			if err != nil && tc.rt.status != 0 && !strings.HasSuffix(err.Error(), ": receiver says no") {
				t.Fatalf("error %q does not quote the answer", err)
			}
		})
	}
}

func TestSecretKey(t *testing.T) {
	tests := []struct {
		secret string
		want   []byte
		ok     bool
	}{
		{"", nil, true},
		{secret, key, true},
		{base64.StdEncoding.EncodeToString(key), nil, false},
		{"whsec_not base64!", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.secret, func(t *testing.T) {
			got, err := secretKey(tc.secret)
			if tc.ok != (err == nil) || string(got) != string(tc.want) {
				t.Fatalf("secretKey = %q, %v; want %q ok %v", got, err, tc.want, tc.ok)
			}
		})
	}
}

// A robot webhook's token in the URL's query never reaches the error that
// is logged and kept with a failed delivery (and shown by the dead-letter
// API).
func TestWebhookErrorHidesTheURLsSecrets(t *testing.T) {
	for _, rt := range []*roundTripper{{err: errors.New("connection refused")}, {block: true}} {
		w := hook(rt, Endpoint{Name: "robot", URL: "https://oapi.dingtalk.com/robot/send?access_token=SECRET", Timeout: 20 * time.Millisecond})
		err := w.Send(context.Background(), item())
		if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "oapi.dingtalk.com/robot/send") {
			t.Errorf("error %v", err)
		}
	}
}
