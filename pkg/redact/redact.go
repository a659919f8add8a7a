// Package redact takes secrets out of what is shown: URLs lose their user
// information and query (robot webhooks of DingTalk or WeCom carry their
// access token in the query; brokers and servers take user:password@), and
// errors that quote a URL quote the redacted one. Whatever a URL or an error
// is shown in (a log line, a metric label, a stored error, an API answer)
// goes through here first.
package redact

import (
	"errors"
	"net/url"
	"strings"
)

// URL returns s without user information, query and fragment. A value that
// does not parse as a URL is cut at its first '?' and anything up to an '@'
// after the scheme is removed, so that it is never shown whole by mistake.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" && u.Host == "" {
		return rough(s)
	}
	redacted := u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery
	u.User, u.RawQuery, u.Fragment, u.ForceQuery, u.RawFragment = nil, "", "", false, ""
	out := u.String()
	if redacted && u.Opaque == "" {
		return out + "?…"
	}
	return out
}

// rough redacts what does not parse.
func rough(s string) string {
	q := strings.IndexAny(s, "?#")
	if q >= 0 {
		s = s[:q] + "?…"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
			s = s[:i+3] + rest[at+1:]
		}
	}
	return s
}

// Error returns err with every URL it quotes (as a *url.Error does)
// redacted; other errors are returned as they are.
func Error(err error) error {
	var ue *url.Error
	if err == nil || !errors.As(err, &ue) {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), ue.URL, URL(ue.URL))
	return &redacted{msg: msg, err: ue.Err}
}

// redacted is an error whose text was redacted; it unwraps to the cause
// under the URL error (a timeout stays a timeout for errors.Is).
type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
