package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Whatever arrives as a bearer token is either refused or a token of
// bounded length without blanks.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer fpt_abc", "bearer x", "Bearer  x", "Bearer", "Bearer ", "Basic YQ==", "Bearer a b", "BEARER " + strings.Repeat("z", 300), "Bearer\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := BearerToken(h)
		if ok && (tok == "" || len(tok) > 256 || strings.ContainsAny(tok, " \t") || !strings.HasSuffix(h, tok)) {
			t.Fatalf("%q gave token %q", h, tok)
		}
	})
}

// A link token that verifies was signed by this key: fuzzed input never
// passes, and nothing panics.
func FuzzVerifyLink(f *testing.F) {
	now := time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)
	l := NewLinks([]byte(strings.Repeat("k", 32)), time.Hour)
	good := l.Sign("ev-1", "alice", now)
	for _, s := range []string{good, good + "A", strings.Replace(good, ".", "..", 1), ".", "", "x.y", strings.Repeat("A", 3000) + ".A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		lk, err := l.Verify(tok, now)
		if err == nil && tok != good {
			// Only a different encoding of the same signed payload could
			// pass; base64url without padding has none, so nothing may.
			t.Fatalf("%q verified as %+v", tok, lk)
		}
	})
}

// Whatever a request carries as credentials (Authorization, cookie, link),
// a protected route is reached only with a real token or session, and a
// link only reaches its own event's acknowledge route.
func FuzzGuard(f *testing.F) {
	dir := f.TempDir()
	now := time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)
	tok, err := AddToken(filepath.Join(dir, "tokens.yaml"), "ops", Viewer, now)
	if err != nil {
		f.Fatal(err)
	}
	acc, err := OpenAccounts(filepath.Join(dir, "users.yaml"), filepath.Join(dir, "tokens.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	links := NewLinks([]byte(strings.Repeat("k", 32)), time.Hour)
	g := New(Options{Accounts: acc, Links: links, Clock: func() time.Time { return now }})
	reached := false
	h := g.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	link := links.Sign("ev-1", "alice", now)
	for _, s := range [][3]string{
		{"Bearer " + tok, "", ""}, {"Bearer " + tok + "x", "", ""}, {"", "floorpulse_session=" + strings.Repeat("A", 43), ""},
		{"", "", link}, {"", "", link + "x"}, {"Bearer", "floorpulse_session=", "."}, {"Basic Zm9vOmJhcg==", "a=b; floorpulse_session=x", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, authz, cookie, lnk string) {
		for _, target := range []string{"/api/v1/events", "/api/v1/events/ev-1/ack", "/api/v1/events/ev-2/ack"} {
			reached = false
			req := httptest.NewRequest("GET", target, nil)
			if lnk != "" {
				req.URL.RawQuery = url.Values{LinkParam: {lnk}}.Encode()
			}
			if authz != "" {
				req.Header["Authorization"] = []string{authz}
			}
			if cookie != "" {
				req.Header["Cookie"] = []string{cookie}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			bt, ok := BearerToken(authz)
			goodToken := ok && bt == tok
			linkOK := lnk == link && target == "/api/v1/events/ev-1/ack"
			if !reached {
				continue
			}
			if lnk != "" && strings.HasSuffix(target, "/ack") {
				if !linkOK {
					t.Fatalf("link %q reached %s", lnk, target)
				}
				continue
			}
			if !goodToken {
				t.Fatalf("%s reached with Authorization %q, Cookie %q", target, authz, cookie)
			}
		}
	})
}
