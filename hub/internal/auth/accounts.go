package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"

	"github.com/floorpulse/floorpulse/pkg/atomicfile"
)

// User is a person who logs in.
type User struct {
	Name string `yaml:"name"`
	Role string `yaml:"role"`
	// Bcrypt is the bcrypt hash of the password.
	Bcrypt  string    `yaml:"bcrypt"`
	Created time.Time `yaml:"created"`
}

// Token is an integration's API token, kept as the SHA-256 of the token.
type Token struct {
	Name    string    `yaml:"name"`
	Role    string    `yaml:"role"`
	SHA256  string    `yaml:"sha256"`
	Created time.Time `yaml:"created"`
}

type usersFile struct {
	Users []User `yaml:"users"`
}

type tokensFile struct {
	Tokens []Token `yaml:"tokens"`
}

// bcryptCost is the work factor of new password hashes (2^12 rounds,
// about a quarter second on a server core: slow for guessing, bearable at
// login).
var bcryptCost = 12

// Password lengths: bcrypt reads at most 72 bytes.
const (
	MinPassword = 8
	MaxPassword = 72
)

// tokenPrefix starts every API token, so a leaked one is recognisable.
const tokenPrefix = "fpt_"

// ValidName reports whether s may name a user or token: 1 to 64 letters,
// digits, '-', '_', '.' or '@'.
func ValidName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return false
		}
	}
	return true
}

// hashToken is the stored form of a token. A token carries 256 random
// bits, so a fast hash is enough: no one can search that space, whereas a
// slow hash (needed for passwords people choose) would slow every request.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AddToken makes a new token for name with role, stores its hash in the
// tokens file at path and returns the token: the only time it is seen.
func AddToken(path, name string, role Role, now time.Time) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("token name %q: want 1 to 64 letters, digits, '-', '_', '.' or '@'", name)
	}
	if role == Open {
		return "", errors.New("a token needs a role")
	}
	var f tokensFile
	if err := readYAML(path, &f); err != nil {
		return "", err
	}
	if slices.ContainsFunc(f.Tokens, func(t Token) bool { return t.Name == name }) {
		return "", fmt.Errorf("a token named %q exists; remove it first", name)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	f.Tokens = append(f.Tokens, Token{Name: name, Role: role.String(), SHA256: hashToken(token), Created: now.UTC().Truncate(time.Second)})
	return token, writeYAML(path, "API tokens of the hub, written by `hub token add`: SHA-256 hashes, never the tokens", f)
}

// AddUser adds a person with role and password to the users file at path
// (replacing the password and role of one with the same name).
func AddUser(path, name string, role Role, password []byte, now time.Time) error {
	if !ValidName(name) {
		return fmt.Errorf("user name %q: want 1 to 64 letters, digits, '-', '_', '.' or '@'", name)
	}
	if role == Open {
		return errors.New("a user needs a role")
	}
	if len(password) < MinPassword || len(password) > MaxPassword {
		return fmt.Errorf("the password must be %d to %d bytes long (got %d)", MinPassword, MaxPassword, len(password))
	}
	hash, err := bcrypt.GenerateFromPassword(password, bcryptCost)
	if err != nil {
		return err
	}
	var f usersFile
	if err := readYAML(path, &f); err != nil {
		return err
	}
	u := User{Name: name, Role: role.String(), Bcrypt: string(hash), Created: now.UTC().Truncate(time.Second)}
	if i := slices.IndexFunc(f.Users, func(u User) bool { return u.Name == name }); i >= 0 {
		f.Users[i] = u
	} else {
		f.Users = append(f.Users, u)
	}
	return writeYAML(path, "people who log in to the hub, written by `hub user add`: bcrypt hashes of their passwords", f)
}

// RemoveToken removes the token named name; false when there is none.
func RemoveToken(path, name string) (bool, error) {
	var f tokensFile
	if err := readYAML(path, &f); err != nil {
		return false, err
	}
	n := len(f.Tokens)
	f.Tokens = slices.DeleteFunc(f.Tokens, func(t Token) bool { return t.Name == name })
	if len(f.Tokens) == n {
		return false, nil
	}
	return true, writeYAML(path, "API tokens of the hub, written by `hub token add`: SHA-256 hashes, never the tokens", f)
}

// RemoveUser removes the user named name; false when there is none.
func RemoveUser(path, name string) (bool, error) {
	var f usersFile
	if err := readYAML(path, &f); err != nil {
		return false, err
	}
	n := len(f.Users)
	f.Users = slices.DeleteFunc(f.Users, func(u User) bool { return u.Name == name })
	if len(f.Users) == n {
		return false, nil
	}
	return true, writeYAML(path, "people who log in to the hub, written by `hub user add`: bcrypt hashes of their passwords", f)
}

// ListTokens returns the tokens of the file at path (hashes, names, roles).
func ListTokens(path string) ([]Token, error) {
	var f tokensFile
	err := readYAML(path, &f)
	return f.Tokens, err
}

// ListUsers returns the users of the file at path.
func ListUsers(path string) ([]User, error) {
	var f usersFile
	err := readYAML(path, &f)
	return f.Users, err
}

// readYAML reads the file at path into v strictly; a missing file is empty.
func readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && err.Error() != "EOF" {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeYAML replaces the file at path with v, mode 0600, atomically.
func writeYAML(path, comment string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	data = append([]byte("# "+comment+"\n"), data...)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// Accounts are the users and tokens the hub knows, read from their files
// and read again when a file changes (checked at most once a second), so
// `hub user add` and `hub token remove` take effect without a restart.
type Accounts struct {
	usersPath, tokensPath string
	clock                 func() time.Time

	mu                    sync.Mutex
	checked               time.Time
	usersStat, tokensStat stamp
	users                 map[string]account
	tokens                map[string]account // by SHA-256 hex
	err                   error              // of the last reading
}

type account struct {
	name   string
	role   Role
	bcrypt []byte
}

type stamp struct {
	mod  time.Time
	size int64
	ok   bool
}

func stampOf(path string) stamp {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}
	}
	return stamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// OpenAccounts reads the users and tokens files (a missing one is empty).
func OpenAccounts(usersPath, tokensPath string) (*Accounts, error) {
	a := &Accounts{usersPath: usersPath, tokensPath: tokensPath, clock: time.Now}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.reload(true); err != nil {
		return nil, err
	}
	return a, nil
}

// refresh reads the files again if they changed; it returns the problem
// of the last reading (the accounts before it stay in force).
func (a *Accounts) refresh() error {
	now := a.clock()
	if now.Sub(a.checked) < time.Second && now.After(a.checked) {
		return nil
	}
	a.checked = now
	if us, ts := stampOf(a.usersPath), stampOf(a.tokensPath); us == a.usersStat && ts == a.tokensStat {
		return nil
	}
	a.err = a.reload(false)
	return a.err
}

func (a *Accounts) reload(first bool) error {
	us, ts := stampOf(a.usersPath), stampOf(a.tokensPath)
	var uf usersFile
	var tf tokensFile
	if err := readYAML(a.usersPath, &uf); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if err := readYAML(a.tokensPath, &tf); err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	users, tokens := map[string]account{}, map[string]account{}
	var errs []error
	for i, u := range uf.Users {
		r, err := ParseRole(u.Role)
		if err != nil || !ValidName(u.Name) || !strings.HasPrefix(u.Bcrypt, "$2") {
			errs = append(errs, fmt.Errorf("%s: users[%d] (%q): want a valid name, role and bcrypt hash", a.usersPath, i, u.Name))
			continue
		}
		users[u.Name] = account{name: u.Name, role: r, bcrypt: []byte(u.Bcrypt)}
	}
	for i, t := range tf.Tokens {
		r, err := ParseRole(t.Role)
		if h, herr := hex.DecodeString(t.SHA256); err != nil || herr != nil || len(h) != sha256.Size || !ValidName(t.Name) {
			errs = append(errs, fmt.Errorf("%s: tokens[%d] (%q): want a valid name, role and sha256 hash", a.tokensPath, i, t.Name))
			continue
		}
		tokens[strings.ToLower(t.SHA256)] = account{name: t.Name, role: r}
	}
	if err := errors.Join(errs...); err != nil && first {
		return err
	}
	a.users, a.tokens, a.usersStat, a.tokensStat = users, tokens, us, ts
	return errors.Join(errs...)
}

// token returns the account of an API token.
func (a *Accounts) token(token string) (account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.refresh()
	acc, ok := a.tokens[hashToken(token)]
	return acc, ok
}

// user returns the account of a user name.
func (a *Accounts) user(name string) (account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.refresh()
	acc, ok := a.users[name]
	return acc, ok
}

// Empty reports whether there is neither a user nor a token (no one can
// get in but through acknowledge links).
func (a *Accounts) Empty() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.users) == 0 && len(a.tokens) == 0
}

// Err is the problem of the last reading of the files, nil when none.
func (a *Accounts) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.refresh()
	return a.err
}

// dummyHash is compared against when a user is unknown, so that a login
// takes as long whether the name exists or not.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password at all"), bcryptCost)
	return h
})

// Check returns the account of name if password is theirs.
func (a *Accounts) check(name, password string) (account, bool) {
	acc, ok := a.user(name)
	hash := acc.bcrypt
	if !ok {
		hash = dummyHash()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !ok {
		return account{}, false
	}
	return acc, true
}
