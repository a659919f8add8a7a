package auth

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Route is a route pattern (http.ServeMux syntax) and the least role it needs.
type Route struct {
	Pattern string
	Role    Role
	// Link: an acknowledge link for the event {id} lets its person in too.
	Link bool
}

// Routes are the hub's routes and who may use them. A GET never changes
// anything, so reads not listed need a viewer; every other request not
// listed changes something and needs an admin.
var Routes = []Route{
	// Probes and Prometheus on the plant network; no secrets in them.
	{Pattern: "GET /healthz", Role: Open},
	{Pattern: "GET /readyz", Role: Open},
	{Pattern: "GET /metrics", Role: Open},
	{Pattern: "GET /login", Role: Open},
	{Pattern: "POST /login", Role: Open},
	{Pattern: "POST /logout", Role: Open},
	{Pattern: "GET /api/v1/events/{id}/ack", Role: Viewer, Link: true},
	{Pattern: "POST /api/v1/events/{id}/ack", Role: ShiftLeader, Link: true},
	{Pattern: "POST /api/v1/events/{id}/resolve", Role: ShiftLeader},
	{Pattern: "GET /api/v1/events/deadletters", Role: Admin},
	{Pattern: "POST /api/v1/events/deadletters/{seq}/retry", Role: Admin},
	{Pattern: "POST /api/v1/recompute", Role: Admin},
	// Master data holds people's names: read and changed by admins only.
	{Pattern: "GET /api/v1/masterdata/", Role: Admin},
	{Pattern: "GET /masterdata", Role: Admin},
	// Actions: shift leaders and admins open and change them.
	{Pattern: "POST /api/v1/actions", Role: ShiftLeader},
	{Pattern: "PATCH /api/v1/actions/{id}", Role: ShiftLeader},
	// The monthly report (HTML, PDF, CSV): the dashboard's download button.
	{Pattern: "GET /api/v1/months/{month}/report", Role: Viewer},
	// The pages (package web) and the JSON they read; their assets are
	// the same for everyone and hold nothing secret.
	{Pattern: "GET /static/", Role: Open},
	{Pattern: "GET /{$}", Role: Viewer},
	{Pattern: "GET /lines/{line}", Role: Viewer},
	{Pattern: "GET /lines/{line}/live", Role: Viewer},
	{Pattern: "GET /machines/{line}/{equipment}", Role: Viewer},
	{Pattern: "GET /operators", Role: Viewer},
	{Pattern: "GET /events", Role: Viewer},
	{Pattern: "GET /actions", Role: Viewer},
	{Pattern: "GET /wall", Role: Viewer},
	{Pattern: "GET /api/v1/lines/{line}/stream", Role: Viewer},
	{Pattern: "GET /api/v1/trend", Role: Viewer},
	{Pattern: "GET /api/v1/equipment/{line}/{equipment}/history", Role: Viewer},
	{Pattern: "GET /", Role: Viewer},
	{Pattern: "/", Role: Admin},
}

// Options configure a Guard.
type Options struct {
	Accounts *Accounts
	// Links verifies acknowledge links (nil: none are accepted).
	Links *Links
	// SessionTTL is how long a login lasts (default 12h).
	SessionTTL time.Duration
	// TLS: the server speaks HTTPS, so cookies are Secure and HSTS is sent.
	TLS   bool
	Clock func() time.Time
	Log   *slog.Logger
}

// Guard authenticates requests and lets through those whose role allows
// the route.
type Guard struct {
	opts     Options
	sessions *sessions
	bcrypt   chan struct{} // bounds concurrent password checks
	failures *failures     // recent failed logins, for throttling

	mu   sync.Mutex
	used map[[32]byte]time.Time // acknowledge links used, until they expire
}

// New returns a guard.
func New(opts Options) *Guard {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Guard{opts: opts, sessions: newSessions(opts.SessionTTL), bcrypt: make(chan struct{}, 2), failures: newFailures(), used: map[[32]byte]time.Time{}}
}

// Wrap returns next behind the guard: the security headers on every
// response, cross-origin protection on every request that is not GET,
// HEAD or OPTIONS, the login pages, and the role of each route.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	for _, rt := range Routes {
		switch rt.Pattern {
		case "GET /login":
			mux.HandleFunc(rt.Pattern, g.loginPage)
		case "POST /login":
			mux.HandleFunc(rt.Pattern, g.login)
		case "POST /logout":
			mux.HandleFunc(rt.Pattern, g.logout)
		default:
			mux.Handle(rt.Pattern, g.guard(rt, next))
		}
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.deny(w, r, http.StatusForbidden, "cross-origin request refused: changes are accepted from this hub's own pages and from clients that are not browsers")
	}))
	return g.headers(cop.Handler(mux))
}

// errCredentials: credentials were sent and are not valid.
var errCredentials = errors.New("invalid credentials")

func (g *Guard) guard(rt Route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Role == Open {
			next.ServeHTTP(w, r)
			return
		}
		if rt.Link && r.URL.Query().Has(LinkParam) {
			g.viaLink(w, r, next)
			return
		}
		id, ok, err := g.identify(w, r)
		switch {
		case err != nil:
			g.deny(w, r, http.StatusUnauthorized, "invalid API token")
			return
		case !ok && wantsPage(r):
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case !ok:
			g.deny(w, r, http.StatusUnauthorized, "authentication required: log in, or send Authorization: Bearer TOKEN")
			return
		case id.Role < rt.Role:
			g.deny(w, r, http.StatusForbidden, id.Name+" ("+id.Role.String()+") may not do this: it needs "+rt.Role.String())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// identify returns who sent r: an API token's owner (Authorization:
// Bearer) or a session's user (the cookie). ok is false when r carries
// neither; err is set when an Authorization header is not a valid token.
func (g *Guard) identify(w http.ResponseWriter, r *http.Request) (Identity, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := BearerToken(h)
		if !ok {
			return Identity{}, false, errCredentials
		}
		acc, ok := g.opts.Accounts.token(token)
		if !ok {
			return Identity{}, false, errCredentials
		}
		return Identity{Name: acc.name, Role: acc.role, Via: "token"}, true, nil
	}
	c, err := r.Cookie(g.cookieName())
	if err != nil {
		return Identity{}, false, nil
	}
	name, ok := g.sessions.user(c.Value, g.opts.Clock())
	if ok {
		if acc, ok := g.opts.Accounts.user(name); ok {
			return Identity{Name: acc.name, Role: acc.role, Via: "session"}, true, nil
		}
		g.sessions.end(c.Value) // the user was removed
	}
	g.clearCookie(w)
	return Identity{}, false, nil
}

// BearerToken reads the token of an Authorization header value
// ("Bearer TOKEN", the scheme in any case); false when it is not one.
func BearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > 256 || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// viaLink lets in the person of a valid acknowledge link for this event:
// to see the event (GET) and to acknowledge it once (POST).
func (g *Guard) viaLink(w http.ResponseWriter, r *http.Request, next http.Handler) {
	token := r.URL.Query().Get(LinkParam)
	now := g.opts.Clock()
	var lk Link
	err := ErrLinkInvalid
	if g.opts.Links != nil {
		lk, err = g.opts.Links.Verify(token, now)
	}
	if err == nil && lk.Event != r.PathValue("id") {
		err = ErrLinkInvalid
	}
	if err != nil {
		g.linkRefused(w, r, http.StatusUnauthorized, err.Error())
		return
	}
	key := sha256.Sum256([]byte(token))
	if g.usedLink(key, now) {
		g.linkRefused(w, r, http.StatusGone, "this acknowledge link was used already")
		return
	}
	id := Identity{Name: lk.Person, Role: ShiftLeader, Via: "link"}
	r = r.WithContext(WithIdentity(r.Context(), id))
	if r.Method != http.MethodPost {
		next.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	next.ServeHTTP(sw, r)
	if sw.code >= 200 && sw.code < 300 {
		g.mu.Lock()
		g.used[key] = lk.Expires
		g.mu.Unlock()
		g.opts.Log.Info("event acknowledged through its link", "event", lk.Event, "by", lk.Person)
	}
}

// usedLink reports whether the link of key was used, and forgets the
// expired ones (they are refused as expired).
func (g *Guard) usedLink(key [32]byte, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, exp := range g.used {
		if !now.Before(exp) {
			delete(g.used, k)
		}
	}
	_, used := g.used[key]
	return used
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// wantsPage reports whether r is a browser asking for a page (to be sent
// to the login page rather than answered 401).
func wantsPage(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// deny answers a refused request: JSON under /api/, text elsewhere.
func (g *Guard) deny(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="floorpulse"`)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, code)
}
