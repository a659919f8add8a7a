package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// basePolicy is the Content-Security-Policy of every response: nothing
// may load, no script runs, forms post only here, no one frames the pages.
const basePolicy = "default-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// PagePolicy is the Content-Security-Policy of a page whose only
// resources are the inline <style> elements given (by their exact text,
// allowed by hash): still no script.
func PagePolicy(styles ...string) string {
	var b strings.Builder
	b.WriteString(basePolicy)
	if len(styles) > 0 {
		b.WriteString("; style-src")
		for _, s := range styles {
			sum := sha256.Sum256([]byte(s))
			b.WriteString(" 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'")
		}
	}
	return b.String()
}

// headers sets the security headers of every response; a page with inline
// styles replaces the Content-Security-Policy with its PagePolicy.
func (g *Guard) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", basePolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer a browser sends
		// "Origin: null" on form posts, which cross-origin protection refuses.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		if g.opts.TLS {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
