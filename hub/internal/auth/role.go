// Package auth decides who may do what over the hub's HTTP server, in one
// place: people log in with a name and password (bcrypt hashes in the users
// file) and get a server-side session behind an HttpOnly cookie;
// integrations send an API token (`Authorization: Bearer`, SHA-256 hashes in
// the tokens file); a shift leader who got a downtime alert may acknowledge
// that one event through the signed link in it. Every route needs a role
// (Routes); every state change passes http.CrossOriginProtection; every
// response carries the security headers.
//
// What always holds: a request reaches a handler only with an Identity in
// its context whose role the route allows (or on an open route); nothing
// stores a token or password in clear; an acknowledge link acts for the one
// event and the one person it names, once, until it expires.
package auth

import (
	"context"
	"fmt"
)

// Role is what a person or integration may do; each role may do what the
// roles below it may.
type Role int

// Roles, from least to most.
const (
	// Open routes need no identity.
	Open Role = iota
	// Viewer reads figures, boards and events.
	Viewer
	// ShiftLeader also acknowledges and resolves events.
	ShiftLeader
	// Admin also recomputes, retries dead letters and changes anything else.
	Admin
)

var roleNames = map[Role]string{Open: "open", Viewer: "viewer", ShiftLeader: "shift_leader", Admin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole reads viewer, shift_leader or admin.
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s && r != Open {
			return r, nil
		}
	}
	return Open, fmt.Errorf("unknown role %q (want viewer, shift_leader or admin)", s)
}

// Identity is who a request comes from.
type Identity struct {
	// Name is the user's or token's name, or the person an acknowledge
	// link was sent to: what an acknowledgement records.
	Name string
	Role Role
	// Via is how they proved it: "session", "token" or "link".
	Via string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// From returns the identity of a request's context; false when there is none.
func From(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
