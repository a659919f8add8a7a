package opcua

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/atomicfile"
)

// Errors a session attempt can end with.
var (
	// ErrUntrusted: the server's certificate is neither in trust_dir nor pinned.
	ErrUntrusted = errors.New("server certificate not trusted")
	// ErrNoEndpoint: the server offers no endpoint with the configured policy,
	// mode and login.
	ErrNoEndpoint = errors.New("no matching endpoint")
)

// Folder of data_dir holding the generated client certificate and the
// certificates of refused servers.
const pkiDir = "opcua"

// ClientIdentity is the client's application instance certificate.
type ClientIdentity struct {
	Cert []byte // DER
	Key  *rsa.PrivateKey
}

var identityMu sync.Mutex // one generation at a time when several sources start together

// LoadIdentity returns the configured client certificate and key, or the
// pair kept in data_dir/opcua/, made (self-signed, with the application URI
// in its SubjectAltName) the first time it is needed.
func LoadIdentity(cfg config.OPCUA) (*ClientIdentity, error) { return loadIdentity(cfg, time.Now) }

// loadIdentity is LoadIdentity, a certificate made valid from now on.
func loadIdentity(cfg config.OPCUA, now func() time.Time) (*ClientIdentity, error) {
	if cfg.Certificate != "" {
		cert, err := readCert(cfg.Certificate)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		key, err := readKey(cfg.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("private_key: %w", err)
		}
		return &ClientIdentity{Cert: cert, Key: key}, nil
	}
	if cfg.DataDir == "" {
		return nil, errors.New("no client certificate configured and no data_dir to keep a generated one")
	}
	identityMu.Lock()
	defer identityMu.Unlock()
	dir := filepath.Join(cfg.DataDir, pkiDir)
	certPath, keyPath := filepath.Join(dir, "client.der"), filepath.Join(dir, "client.key")
	if _, err := os.Stat(certPath); err == nil {
		cert, err := readCert(certPath)
		if err != nil {
			return nil, fmt.Errorf("generated client certificate: %w", err)
		}
		key, err := readKey(keyPath)
		if err != nil {
			return nil, fmt.Errorf("generated client key: %w", err)
		}
		return &ClientIdentity{Cert: cert, Key: key}, nil
	}
	id, err := newIdentity(cfg.ApplicationURI, now())
	if err != nil {
		return nil, fmt.Errorf("making a client certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(id.Key)})
	// The key first: a certificate without its key is never left behind.
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(certPath, id.Cert, 0o644); err != nil {
		return nil, err
	}
	return id, nil
}

// newIdentity makes a self-signed client certificate and its key, valid
// from now (and an hour before, for clocks a little behind) for ten years.
func newIdentity(appURI string, now time.Time) (*ClientIdentity, error) {
	if appURI == "" {
		appURI = "urn:floorpulse:agent"
	}
	uri, err := url.Parse(appURI)
	if err != nil {
		return nil, fmt.Errorf("application URI %q: %w", appURI, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	tmpl := x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "floorpulse agent", Organization: []string{"floorpulse"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment |
			x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              []string{host},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &ClientIdentity{Cert: der, Key: key}, nil
}

// readCert reads a certificate file in DER or PEM form and returns its DER.
func readCert(path string) ([]byte, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return certs[0].Raw, nil
}

// readCerts reads every certificate of a DER or PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(b), "-----BEGIN") {
		certs, err := x509.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// readKey reads an RSA private key in PEM or DER form, PKCS #1 or PKCS #8.
func readKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	if k, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not an RSA private key in PKCS #1 or PKCS #8", path)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return rk, nil
}

// Thumbprint is the SHA-1 thumbprint of a DER certificate, lowercase hex.
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return hex.EncodeToString(sum[:])
}

// leafOf returns the first certificate of a DER chain as servers send it.
func leafOf(der []byte) (*x509.Certificate, error) {
	certs, err := x509.ParseCertificates(der)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("empty certificate")
	}
	return certs[0], nil
}

// checkTrust returns nil when the server certificate is pinned by
// server_thumbprint, is in trust_dir, or is issued by a CA certificate in
// trust_dir. An untrusted certificate is copied to data_dir/opcua/rejected/
// so that it can be moved to trust_dir after checking it.
func checkTrust(cfg config.OPCUA, serverCert []byte) error {
	if len(serverCert) == 0 {
		return fmt.Errorf("%w: the endpoint has no server certificate", ErrUntrusted)
	}
	leaf, err := leafOf(serverCert)
	if err != nil {
		return fmt.Errorf("%w: parsing the server certificate: %v", ErrUntrusted, err)
	}
	thumb := Thumbprint(leaf.Raw)
	if cfg.ServerThumbprint != "" && config.NormalThumbprint(cfg.ServerThumbprint) == thumb {
		return nil
	}
	if cfg.TrustDir != "" {
		ok, err := inTrustDir(cfg.TrustDir, leaf)
		if err != nil {
			return fmt.Errorf("%w: reading trust_dir: %v", ErrUntrusted, err)
		}
		if ok {
			return nil
		}
	}
	hint := ""
	if cfg.DataDir != "" {
		dir := filepath.Join(cfg.DataDir, pkiDir, "rejected")
		p := filepath.Join(dir, thumb+".der")
		if os.MkdirAll(dir, 0o700) == nil && atomicfile.Write(p, leaf.Raw, 0o644) == nil {
			hint = " (saved as " + p + ")"
		}
	}
	return fmt.Errorf("%w: server certificate %q with SHA-1 thumbprint %s%s is neither pinned nor in trust_dir: "+
		"check it and set server_thumbprint: %s, or copy it into trust_dir", ErrUntrusted, leaf.Subject.String(), thumb, hint, thumb)
}

func inTrustDir(dir string, leaf *x509.Certificate) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	haveCA := false
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		certs, err := readCerts(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // not a certificate file
		}
		for _, c := range certs {
			if c.Equal(leaf) {
				return true, nil
			}
			if c.IsCA {
				haveCA = true
				if c.CheckSignatureFrom(c) == nil {
					roots.AddCert(c)
				} else {
					inter.AddCert(c)
				}
			}
		}
	}
	if !haveCA {
		return false, nil
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil, nil
}

// Names the agent gives itself in sessions.
const (
	applicationName = "floorpulse agent"
	productURI      = "urn:floorpulse"
)

// ClientOptions returns the gopcua options of a connection as cfg says:
// the endpoint with exactly the configured policy and mode, the client
// certificate, the trusted server certificate and the login (for a
// session of gopcua's client: agent opcua browse). It never settles for
// less security than configured.
func ClientOptions(ctx context.Context, cfg config.OPCUA) ([]opcua.Option, error) {
	opts, _, err := clientSetup(ctx, cfg, time.Now)
	return opts, err
}

// clientSetup returns the options of ClientOptions, and the login of a
// session the source creates itself (the options' login is then unused);
// now is the clock of a client certificate made for it.
func clientSetup(ctx context.Context, cfg config.OPCUA, now func() time.Time) ([]opcua.Option, identity, error) {
	opts := []opcua.Option{
		opcua.ApplicationName(applicationName),
		opcua.ApplicationURI(cfg.ApplicationURI),
		opcua.ProductURI(productURI),
		opcua.SessionName(applicationName),
		opcua.AutoReconnect(false), // Source.Run reconnects and recreates the subscription itself
		opcua.DialTimeout(10 * time.Second),
		opcua.RequestTimeout(10 * time.Second),
		opcua.SessionTimeout(cfg.SessionTimeout),
	}
	if cfg.Secured() {
		id, err := loadIdentity(cfg, now)
		if err != nil {
			return nil, identity{}, err
		}
		opts = append(opts, opcua.PrivateKey(id.Key), opcua.Certificate(id.Cert))
	}
	if !cfg.Secured() && cfg.Username == "" {
		// No identity token: CreateSession then takes the anonymous policy id
		// the server announces.
		return append(opts, opcua.SecurityPolicy("None"), opcua.SecurityMode(ua.MessageSecurityModeNone)), identity{}, nil
	}
	token := ua.UserTokenTypeAnonymous
	if cfg.Username != "" {
		token = ua.UserTokenTypeUserName
	}
	ep, tp, err := findEndpoint(ctx, cfg, token)
	if err != nil {
		return nil, identity{}, err
	}
	if err := checkTrust(cfg, ep.ServerCertificate); err != nil {
		return nil, identity{}, err
	}
	ident, err := login(cfg, ep, tp)
	if err != nil {
		return nil, identity{}, err
	}
	if ident.userName {
		// The user token first, so that SecurityFromEndpoint fills in its
		// policy id instead of choosing anonymous.
		opts = append(opts, opcua.AuthUsername(cfg.Username, cfg.Password.Value()))
	} else {
		opts = append(opts, opcua.AuthAnonymous())
	}
	return append(opts, opcua.SecurityFromEndpoint(ep, token)), ident, nil
}

// findEndpoint asks the server for its endpoints and returns the one with
// the configured policy and mode that takes a login of type token, and its
// user token policy.
func findEndpoint(ctx context.Context, cfg config.OPCUA, token ua.UserTokenType) (*ua.EndpointDescription, *ua.UserTokenPolicy, error) {
	eps, err := opcua.GetEndpoints(ctx, cfg.Endpoint, opcua.DialTimeout(10*time.Second), opcua.RequestTimeout(10*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("getting endpoints: %w", err)
	}
	policyURI := ua.FormatSecurityPolicyURI(cfg.SecurityPolicy)
	mode := ua.MessageSecurityModeFromString(cfg.SecurityMode)
	var offered []string
	for _, e := range eps {
		offered = append(offered, strings.TrimPrefix(e.SecurityPolicyURI, ua.SecurityPolicyURIPrefix)+"/"+e.SecurityMode.String())
		if e.SecurityPolicyURI != policyURI || e.SecurityMode != mode {
			continue
		}
		for _, t := range e.UserIdentityTokens {
			if t.TokenType == token {
				return e, t, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("%w: the server offers no endpoint with policy %s, mode %s and %s login (it offers %s)",
		ErrNoEndpoint, cfg.SecurityPolicy, cfg.SecurityMode, loginName(token), strings.Join(offered, ", "))
}

// login is the login of a session on endpoint ep with user token policy
// tp: never a password in clear text.
func login(cfg config.OPCUA, ep *ua.EndpointDescription, tp *ua.UserTokenPolicy) (identity, error) {
	ident := identity{policyID: tp.PolicyID, policyURI: tp.SecurityPolicyURI}
	if ident.policyURI == "" {
		ident.policyURI = ep.SecurityPolicyURI
	}
	if tp.TokenType != ua.UserTokenTypeUserName {
		return ident, nil
	}
	if ident.policyURI == ua.SecurityPolicyURINone && ep.SecurityMode != ua.MessageSecurityModeSignAndEncrypt {
		return identity{}, fmt.Errorf("%w: the server would take the password in clear text (user token policy None on a channel that is not encrypted): use security_mode SignAndEncrypt", ErrNoEndpoint)
	}
	ident.userName, ident.user, ident.password = true, cfg.Username, cfg.Password.Value()
	return ident, nil
}

func loginName(t ua.UserTokenType) string {
	if t == ua.UserTokenTypeUserName {
		return "user name"
	}
	return "anonymous"
}
