package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// maxSessions bounds the sessions kept; the oldest go first.
const maxSessions = 10000

// sessions are the logins of people, kept in memory: a restart logs
// everyone out, which is the price of keeping no session secrets on disk.
// A session names its user only; the role is looked up at every request,
// so removing a user or changing their role takes effect at once.
type sessions struct {
	ttl time.Duration
	mu  sync.Mutex
	by  map[[32]byte]session // by SHA-256 of the cookie value
}

type session struct {
	user    string
	expires time.Time
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{ttl: ttl, by: map[[32]byte]session{}}
}

// create starts a session for user and returns the cookie value.
func (s *sessions) create(user string, now time.Time) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	s.by[sha256.Sum256([]byte(id))] = session{user: user, expires: now.Add(s.ttl)}
	return id
}

// user returns the user of a live session.
func (s *sessions) user(id string, now time.Time) (string, bool) {
	if len(id) != 43 { // 32 bytes, base64url
		return "", false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.by[k]
	if !ok || !now.Before(se.expires) {
		delete(s.by, k)
		return "", false
	}
	return se.user, true
}

// end ends a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.by, sha256.Sum256([]byte(id)))
}

// prune drops expired sessions and, over maxSessions, the oldest.
func (s *sessions) prune(now time.Time) {
	var oldest [32]byte
	var oldestAt time.Time
	for k, se := range s.by {
		if !now.Before(se.expires) {
			delete(s.by, k)
			continue
		}
		if oldestAt.IsZero() || se.expires.Before(oldestAt) {
			oldest, oldestAt = k, se.expires
		}
	}
	if len(s.by) >= maxSessions {
		delete(s.by, oldest)
	}
}
