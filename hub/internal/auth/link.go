package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LinkParam is the query parameter that carries an acknowledge link's token.
const LinkParam = "link"

// maxLinkToken bounds a link token (a longer one is refused unread).
const maxLinkToken = 2048

// linkPurpose starts what an acknowledge link signs, so a signature made
// for anything else never passes as one.
const linkPurpose = "floorpulse-ack-v1"

// Errors of Verify.
var (
	ErrLinkInvalid = errors.New("the acknowledge link is not valid (altered or not from this hub)")
	ErrLinkExpired = errors.New("the acknowledge link has expired")
)

// Link is what a verified acknowledge link allows: Person acknowledges Event.
type Link struct {
	Event, Person string
	Expires       time.Time
}

// Links signs and verifies acknowledge links with an HMAC-SHA256 key.
type Links struct {
	key []byte
	ttl time.Duration
}

// NewLinks returns the signer of links valid for ttl, keyed by secret.
func NewLinks(secret []byte, ttl time.Duration) *Links {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("acknowledge links"))
	return &Links{key: m.Sum(nil), ttl: ttl}
}

func (l *Links) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write(payload)
	return m.Sum(nil)
}

// Sign returns the token of a link for person to acknowledge event, valid
// from now for the links' ttl; "" when a name cannot be carried (a line break).
func (l *Links) Sign(event, person string, now time.Time) string {
	if event == "" || person == "" || strings.ContainsAny(event+person, "\n") {
		return ""
	}
	exp := now.Add(l.ttl).Unix()
	payload := []byte(linkPurpose + "\n" + event + "\n" + person + "\n" + strconv.FormatInt(exp, 10))
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(l.mac(payload))
}

// Verify checks a link token's signature, then its expiry, and returns
// what it allows. It reads nothing of the payload before the signature
// is found good.
func (l *Links) Verify(token string, now time.Time) (Link, error) {
	if len(token) > maxLinkToken {
		return Link{}, ErrLinkInvalid
	}
	p64, s64, ok := strings.Cut(token, ".")
	if !ok {
		return Link{}, ErrLinkInvalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(s64)
	if err1 != nil || err2 != nil || !hmac.Equal(sig, l.mac(payload)) {
		return Link{}, ErrLinkInvalid
	}
	parts := strings.Split(string(payload), "\n")
	if len(parts) != 4 || parts[0] != linkPurpose || parts[1] == "" || parts[2] == "" {
		return Link{}, ErrLinkInvalid
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return Link{}, ErrLinkInvalid
	}
	lk := Link{Event: parts[1], Person: parts[2], Expires: time.Unix(exp, 0)}
	if !now.Before(lk.Expires) {
		return lk, ErrLinkExpired
	}
	return lk, nil
}

// SecretFile is the name of the hub's secret in data_dir.
const SecretFile = "hub.secret"

// LoadSecret returns the hub's secret, data_dir/hub.secret (32 random
// bytes, mode 0600), making it the first time. A secret readable by
// others is refused: whoever reads it can forge acknowledge links.
func LoadSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, SecretFile)
	for range 2 {
		b, err := readSecret(path)
		if !errors.Is(err, fs.ErrNotExist) {
			return b, err
		}
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue // made by another process just now
		}
		if err != nil {
			return nil, err
		}
		b = make([]byte, 32)
		_, _ = rand.Read(b)
		_, err = f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		return b, nil
	}
	return readSecret(path)
}

func readSecret(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the secret; want 0600 (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("%s: shorter than 32 bytes", path)
	}
	return b, nil
}
