package auth_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/auth"
)

// fixture is a guard in front of a handler that answers 200 with the
// identity it was given, with a user and token of every role.
type fixture struct {
	h                     http.Handler
	dir                   string
	links                 *auth.Links
	now                   time.Time
	viewer, leader, admin string // tokens
	cookies               map[string]*http.Cookie
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), now: time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC), cookies: map[string]*http.Cookie{}}
	users, tokens := filepath.Join(f.dir, "users.yaml"), filepath.Join(f.dir, "tokens.yaml")
	var err error
	for _, tk := range []struct {
		name string
		role auth.Role
		to   *string
	}{{"dash", auth.Viewer, &f.viewer}, {"andon", auth.ShiftLeader, &f.leader}, {"ops", auth.Admin, &f.admin}} {
		if *tk.to, err = auth.AddToken(tokens, tk.name, tk.role, f.now); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"vera", auth.Viewer}, {"alice", auth.ShiftLeader}, {"root", auth.Admin}} {
		if err := auth.AddUser(users, u.name, u.role, []byte("secret-"+u.name), f.now); err != nil {
			t.Fatal(err)
		}
	}
	acc, err := auth.OpenAccounts(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(strings.Repeat("k", 32))
	f.links = auth.NewLinks(secret, time.Hour)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.From(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(id)
	})
	f.h = auth.New(auth.Options{Accounts: acc, Links: f.links, Clock: func() time.Time { return f.now }}).Wrap(inner)
	for _, u := range []string{"vera", "alice", "root"} {
		f.cookies[u] = f.login(t, u, "secret-"+u)
	}
	return f
}

// login logs in and returns the session cookie.
func (f *fixture) login(t *testing.T, name, password string) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"name": {name}, "password": {password}, "next": {"/lines/L1"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/lines/L1" {
		t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
	}
	c := w.Result().Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode || c[0].Secure {
		t.Fatalf("session cookie %+v", c)
	}
	return c[0]
}

type cred func(*http.Request)

func bearer(tok string) cred {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}
func cookie(c *http.Cookie) cred {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value}) }
}

func (f *fixture) do(method, target string, c cred, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c != nil {
		c(req)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// Every route of the hub, each credential: who may do what.
func TestRolesPerRoute(t *testing.T) {
	f := newFixture(t)
	const (
		open = iota
		viewer
		leader
		admin
	)
	routes := []struct {
		method, path string
		need         int
	}{
		{"GET", "/healthz", open},
		{"GET", "/readyz", open},
		{"GET", "/metrics", open},
		{"GET", "/", viewer},
		{"GET", "/lines/L1", viewer},
		{"GET", "/api/v1/months", viewer},
		{"GET", "/api/v1/months/2026-05", viewer},
		{"GET", "/api/v1/months/2026-05/operators", viewer},
		{"GET", "/api/v1/months/2026-05/days?line=L1", viewer},
		{"GET", "/api/v1/months/2026-05/shifts?line=L1&equipment=M1", viewer},
		{"GET", "/api/v1/days/2026-05-04/hours", viewer},
		{"GET", "/api/v1/days/2026-05-04/shifts", viewer},
		{"GET", "/api/v1/months/2026-05/report?format=pdf", viewer},
		{"GET", "/api/v1/lines/L1/now", viewer},
		{"GET", "/api/v1/recompute", viewer},
		{"GET", "/api/v1/events", viewer},
		{"GET", "/api/v1/events/e1", viewer},
		{"GET", "/api/v1/events/e1/ack", viewer},
		{"HEAD", "/api/v1/events", viewer},
		{"POST", "/api/v1/events/e1/ack", leader},
		{"POST", "/api/v1/events/e1/resolve", leader},
		{"POST", "/api/v1/recompute?from=2026-05&to=2026-05", admin},
		{"GET", "/api/v1/actions", viewer},
		{"GET", "/api/v1/months/2026-05/segments", viewer},
		{"POST", "/api/v1/actions", leader},
		{"PATCH", "/api/v1/actions/A000001", leader},
		{"DELETE", "/api/v1/actions/A000001", admin},
		{"GET", "/api/v1/events/deadletters", admin},
		{"POST", "/api/v1/events/deadletters/3/retry", admin},
		{"PUT", "/api/v1/months/2026-05", admin},
		{"DELETE", "/api/v1/events/e1", admin},
	}
	creds := []struct {
		name string
		c    cred
		role int
	}{
		{"nothing", nil, -1},
		{"bad token", bearer("fpt_not-a-token"), -2},
		{"basic auth", func(r *http.Request) { r.SetBasicAuth("root", "secret-root") }, -2},
		{"stale cookie", cookie(&http.Cookie{Name: "floorpulse_session", Value: strings.Repeat("A", 43)}), -1},
		{"viewer token", bearer(f.viewer), viewer},
		{"viewer session", cookie(f.cookies["vera"]), viewer},
		{"shift leader token", bearer(f.leader), leader},
		{"shift leader session", cookie(f.cookies["alice"]), leader},
		{"admin token", bearer(f.admin), admin},
		{"admin session", cookie(f.cookies["root"]), admin},
	}
	for _, rt := range routes {
		for _, c := range creds {
			t.Run(rt.method+" "+rt.path+" with "+c.name, func(t *testing.T) {
				w := f.do(rt.method, rt.path, c.c)
				want := http.StatusOK
				switch {
				case rt.need == open:
				case c.role < 0:
					want = http.StatusUnauthorized
				case c.role < rt.need:
					want = http.StatusForbidden
				}
				if w.Code != want {
					t.Fatalf("%d %s, want %d", w.Code, w.Body, want)
				}
				if want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if want == http.StatusOK && rt.need != open && rt.method != "HEAD" {
					var id auth.Identity
					if err := json.Unmarshal(w.Body.Bytes(), &id); err != nil || id.Name == "" || int(id.Role) != c.role {
						t.Fatalf("handler got identity %s", w.Body)
					}
				}
			})
		}
	}
}

// A browser asking for a page without a session goes to the login page,
// and back after it.
func TestLoginFlow(t *testing.T) {
	f := newFixture(t)
	w := f.do("GET", "/lines/L1?x=1", nil, "Accept", "text/html")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next="+url.QueryEscape("/lines/L1?x=1") {
		t.Fatalf("page without a session: %d %v", w.Code, w.Header())
	}
	w = f.do("GET", "/login?next=/lines/L1", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `name="password"`) || !strings.Contains(w.Body.String(), `value="/lines/L1"`) {
		t.Fatalf("login page: %d %s", w.Code, w.Body)
	}
	// Wrong password, unknown user, and a next that leaves the hub.
	for _, form := range []url.Values{
		{"name": {"alice"}, "password": {"secret-root"}},
		{"name": {"nobody"}, "password": {"secret-alice"}},
	} {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rw := httptest.NewRecorder()
		f.h.ServeHTTP(rw, req)
		if rw.Code != http.StatusUnauthorized || len(rw.Result().Cookies()) != 0 || !strings.Contains(rw.Body.String(), "Wrong name or password") {
			t.Fatalf("bad login %v: %d %s", form, rw.Code, rw.Body)
		}
	}
	req := httptest.NewRequest("POST", "/login", strings.NewReader("name=alice&password=secret-alice&next=//evil.example/"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rw := httptest.NewRecorder()
	f.h.ServeHTTP(rw, req)
	if rw.Code != http.StatusSeeOther || rw.Header().Get("Location") != "/" {
		t.Fatalf("next off the hub: %d %v", rw.Code, rw.Header())
	}
	// Logged in: the page; logged out: the session is gone.
	c := f.cookies["alice"]
	if w := f.do("GET", "/lines/L1", cookie(c), "Accept", "text/html"); w.Code != 200 {
		t.Fatalf("with a session: %d", w.Code)
	}
	if w := f.do("GET", "/login", cookie(c)); !strings.Contains(w.Body.String(), "Logged in as <b>alice</b>") {
		t.Fatalf("login page with a session: %s", w.Body)
	}
	if w := f.do("POST", "/logout", cookie(c), "Sec-Fetch-Site", "same-origin"); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if w := f.do("GET", "/api/v1/events", cookie(c)); w.Code != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", w.Code)
	}
	// Sessions expire.
	c = f.login(t, "vera", "secret-vera")
	f.now = f.now.Add(12*time.Hour + time.Second)
	if w := f.do("GET", "/api/v1/events", cookie(c)); w.Code != http.StatusUnauthorized {
		t.Fatalf("expired session: %d", w.Code)
	}
}

// A change sent by a browser from another origin is refused, whatever
// credentials ride along; from the hub's own pages and from clients that
// are not browsers it passes.
func TestCrossOriginRefused(t *testing.T) {
	f := newFixture(t)
	c := cookie(f.cookies["root"])
	for _, tc := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"same-site other origin", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"old browser, other origin", []string{"Origin", "http://evil.example"}, http.StatusForbidden},
		{"text/plain form from elsewhere", []string{"Content-Type", "text/plain", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"own page", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusOK},
		{"own origin, old browser", []string{"Origin", "http://example.com"}, http.StatusOK},
		{"not a browser", nil, http.StatusOK},
	} {
		for _, path := range []string{"/api/v1/recompute?from=2026-05&to=2026-05", "/api/v1/events/e1/ack", "/api/v1/events/deadletters/1/retry"} {
			if w := f.do("POST", path, c, tc.hdr...); w.Code != tc.want {
				t.Errorf("%s POST %s: %d %s, want %d", tc.name, path, w.Code, w.Body, tc.want)
			}
		}
	}
	// Login from another origin (login CSRF) is refused too.
	req := httptest.NewRequest("POST", "/login", strings.NewReader("name=root&password=secret-root"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
		t.Fatalf("cross-site login: %d", w.Code)
	}
}

// Every response carries the security headers, refusals and open routes too.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, w := range []*httptest.ResponseRecorder{
		f.do("GET", "/healthz", nil), f.do("GET", "/api/v1/events", nil), f.do("GET", "/api/v1/events", bearer(f.viewer)),
		f.do("POST", "/api/v1/recompute", bearer(f.viewer)), f.do("GET", "/login", nil),
		f.do("POST", "/api/v1/recompute", bearer(f.admin), "Sec-Fetch-Site", "cross-site"),
	} {
		h := w.Header()
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") ||
			strings.Contains(csp, "unsafe-inline") || h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "same-origin" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%d response headers %v", w.Code, h)
		}
	}
	// The login page's style is allowed by its hash.
	if csp := f.do("GET", "/login", nil).Header().Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'sha256-") {
		t.Errorf("login page CSP %q", csp)
	}
}

// The tokens file holds hashes only; a token removed no longer gets in;
// a token added while running does.
func TestTokensStoredHashed(t *testing.T) {
	f := newFixture(t)
	data, err := os.ReadFile(filepath.Join(f.dir, "tokens.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{f.viewer, f.leader, f.admin} {
		if !strings.HasPrefix(tok, "fpt_") || len(tok) < 40 || strings.Contains(string(data), tok) || strings.Contains(string(data), strings.TrimPrefix(tok, "fpt_")) {
			t.Fatalf("token %q in the file:\n%s", tok, data)
		}
	}
	if !strings.Contains(string(data), "sha256:") {
		t.Fatalf("no hashes:\n%s", data)
	}
	users, _ := os.ReadFile(filepath.Join(f.dir, "users.yaml"))
	if strings.Contains(string(users), "secret-") || !strings.Contains(string(users), "$2a$") {
		t.Fatalf("users file:\n%s", users)
	}
	for _, name := range []string{"tokens.yaml", "users.yaml"} {
		if fi, _ := os.Stat(filepath.Join(f.dir, name)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", name, fi.Mode())
		}
	}
	if _, err := auth.AddToken(filepath.Join(f.dir, "tokens.yaml"), "dash", auth.Viewer, f.now); err == nil {
		t.Error("a second token named dash")
	}
	// Changes to the files are read while running (at most once a second).
	if ok, err := auth.RemoveToken(filepath.Join(f.dir, "tokens.yaml"), "ops"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	tok, err := auth.AddToken(filepath.Join(f.dir, "tokens.yaml"), "late", auth.Admin, f.now)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.do("GET", "/api/v1/events", bearer(f.admin)).Code != http.StatusUnauthorized || f.do("GET", "/api/v1/events", bearer(tok)).Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("token changes not read")
		}
		f.now = f.now.Add(2 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLinkSigning(t *testing.T) {
	now := time.Date(2026, 6, 1, 7, 0, 0, 0, time.UTC)
	l := auth.NewLinks([]byte(strings.Repeat("s", 32)), time.Hour)
	tok := l.Sign("ev-1", "alice", now)
	lk, err := l.Verify(tok, now.Add(59*time.Minute))
	if err != nil || lk.Event != "ev-1" || lk.Person != "alice" {
		t.Fatalf("%+v %v", lk, err)
	}
	if _, err := l.Verify(tok, now.Add(time.Hour)); err != auth.ErrLinkExpired {
		t.Fatalf("expired: %v", err)
	}
	other := auth.NewLinks([]byte(strings.Repeat("t", 32)), time.Hour)
	p, s, _ := strings.Cut(tok, ".")
	forged := strings.Replace(p, p[:4], "AAAA", 1) + "." + s
	for _, bad := range []string{"", ".", tok + "x", forged, other.Sign("ev-1", "alice", now), p, "." + s, tok[:len(tok)-2]} {
		if _, err := l.Verify(bad, now); err != auth.ErrLinkInvalid {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if l.Sign("ev\n1", "alice", now) != "" {
		t.Error("signed a name with a line break")
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	a, err := auth.LoadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.LoadSecret(dir)
	if err != nil || string(a) != string(b) || len(a) != 32 {
		t.Fatalf("second load: %v", err)
	}
	fi, _ := os.Stat(filepath.Join(dir, auth.SecretFile))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	os.Chmod(filepath.Join(dir, auth.SecretFile), 0o644)
	if _, err := auth.LoadSecret(dir); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("readable secret: %v", err)
	}
}

func ExampleBearerToken() {
	tok, ok := auth.BearerToken("Bearer fpt_abc")
	fmt.Println(tok, ok)
	_, ok = auth.BearerToken("Basic YWxpY2U6cHc=")
	fmt.Println(ok)
	// Output:
	// fpt_abc true
	// false
}

// Five wrong passwords for a name within five minutes lock its logins
// (the right password too) with 429 and Retry-After until the window has
// passed; other names go on; a success clears the count.
func TestFailedLoginsThrottled(t *testing.T) {
	f := newFixture(t)
	post := func(name, password, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(url.Values{"name": {name}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		return w
	}
	for i := range 4 {
		if w := post("alice", "guess", "192.0.2.1:1234"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i+1, w.Code)
		}
	}
	if w := post("alice", "secret-alice", "192.0.2.1:1234"); w.Code != http.StatusSeeOther {
		t.Fatalf("right password after 4 failures: %d", w.Code)
	}
	for i := range 5 {
		if w := post("alice", "guess", "192.0.2.1:1234"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password %d after a success: %d", i+1, w.Code)
		}
	}
	w := post("alice", "secret-alice", "198.51.100.7:999")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || len(w.Result().Cookies()) != 0 {
		t.Fatalf("right password after 5 failures: %d, Retry-After %q, cookies %v", w.Code, w.Header().Get("Retry-After"), w.Result().Cookies())
	}
	if w := post("root", "secret-root", "192.0.2.1:1234"); w.Code != http.StatusSeeOther {
		t.Fatalf("another name from the same address: %d", w.Code)
	}
	f.now = f.now.Add(5 * time.Minute)
	if w := post("alice", "secret-alice", "198.51.100.7:999"); w.Code != http.StatusSeeOther {
		t.Fatalf("right password once the window passed: %d", w.Code)
	}
	// One address guessing many names is stopped at 20 failures.
	for i := range 20 {
		if w := post(fmt.Sprintf("user%d", i), "guess", "203.0.113.9:1"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, w.Code)
		}
	}
	if w := post("vera", "secret-vera", "203.0.113.9:1"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("a login from an address with 20 failures: %d", w.Code)
	}
}
