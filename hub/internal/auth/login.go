package auth

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const cookieName = "floorpulse_session"

// cookieName is the session cookie's name: with TLS the __Host- prefix
// makes browsers keep it to this host, over HTTPS, for every path.
func (g *Guard) cookieName() string {
	if g.opts.TLS {
		return "__Host-" + cookieName
	}
	return cookieName
}

func (g *Guard) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: g.cookieName(), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: g.opts.TLS, SameSite: http.SameSiteLaxMode})
}

func (g *Guard) clearCookie(w http.ResponseWriter) { g.setCookie(w, "", -1) }

// pageStyle is the style of the login and refusal pages.
const pageStyle = `body{font-family:sans-serif;margin:2em;max-width:30em}input{display:block;margin:.5em 0 1em;width:20em}.err{color:#a00}`

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>floorpulse: log in</title>
<meta name="viewport" content="width=device-width"><style>` + pageStyle + `</style></head><body>
<h1>floorpulse</h1>
{{if .User}}<p>Logged in as <b>{{.User}}</b> ({{.Role}}).</p>
<form method="post" action="/logout"><button type="submit">Log out</button></form> <p><a href="/">Dashboard</a></p>
{{else}}{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="next" value="{{.Next}}">
<label>Name<input name="name" required maxlength="64" autocomplete="username" autofocus></label>
<label>Password<input name="password" type="password" required maxlength="72" autocomplete="current-password"></label>
<button type="submit">Log in</button></form>{{end}}
</body></html>`))

var refusedTmpl = template.Must(template.New("refused").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>floorpulse</title>
<meta name="viewport" content="width=device-width"><style>` + pageStyle + `</style></head><body>
<h1>floorpulse</h1><p class="err">{{.Error}}</p><p><a href="/login?next={{.Next}}">Log in</a> to see the event.</p></body></html>`))

type loginView struct {
	User, Role, Error, Next string
}

// next is where to go after logging in: a path on this hub, else "/".
func next(v string) string {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/\\") || len(v) > 2048 {
		return "/"
	}
	return v
}

func (g *Guard) page(w http.ResponseWriter, t *template.Template, code int, v loginView) {
	w.Header().Set("Content-Security-Policy", PagePolicy(pageStyle))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_ = t.Execute(w, v)
}

func (g *Guard) loginPage(w http.ResponseWriter, r *http.Request) {
	v := loginView{Next: next(r.URL.Query().Get("next"))}
	if id, ok, _ := g.identify(w, r); ok && id.Via == "session" {
		v.User, v.Role = id.Name, id.Role.String()
	}
	g.page(w, loginTmpl, http.StatusOK, v)
}

// login checks a name and password and starts a session. Password checks
// run two at a time, so guessing cannot take every core.
func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		g.page(w, loginTmpl, http.StatusBadRequest, loginView{Error: "bad form"})
		return
	}
	name, password, to := r.PostForm.Get("name"), r.PostForm.Get("password"), next(r.PostForm.Get("next"))
	now := g.opts.Clock()
	userKey, addrKey := "user:"+name, "addr:"+clientAddr(r.RemoteAddr)
	if wait, blocked := g.failures.blocked(now, userKey, addrKey); blocked {
		g.opts.Log.Warn("login throttled", "user", name, "remote", r.RemoteAddr, "retry_in", wait.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		g.page(w, loginTmpl, http.StatusTooManyRequests, loginView{Error: "Too many failed logins: try again in a few minutes.", Next: to})
		return
	}
	ok := false
	var acc account
	if ValidName(name) && len(password) <= MaxPassword {
		g.bcrypt <- struct{}{}
		acc, ok = g.opts.Accounts.check(name, password)
		<-g.bcrypt
	}
	if !ok {
		g.failures.failed(now, userKey, addrKey)
		g.opts.Log.Warn("login refused", "user", name, "remote", r.RemoteAddr)
		g.page(w, loginTmpl, http.StatusUnauthorized, loginView{Error: "Wrong name or password.", Next: to})
		return
	}
	g.failures.cleared(userKey)
	if c, err := r.Cookie(g.cookieName()); err == nil {
		g.sessions.end(c.Value) // a new session id at every login
	}
	g.setCookie(w, g.sessions.create(acc.name, now), int(g.opts.SessionTTL.Seconds()))
	g.opts.Log.Info("logged in", "user", acc.name, "role", acc.role.String())
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (g *Guard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(g.cookieName()); err == nil {
		g.sessions.end(c.Value)
	}
	g.clearCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// linkRefused answers a bad acknowledge link: a page for browsers.
func (g *Guard) linkRefused(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if !wantsPage(r) && r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		g.deny(w, r, code, msg)
		return
	}
	g.page(w, refusedTmpl, code, loginView{Error: msg, Next: r.URL.Path})
}
