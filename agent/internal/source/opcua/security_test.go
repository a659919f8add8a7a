package opcua

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/config"
)

func TestGeneratedIdentityCarriesTheApplicationURI(t *testing.T) {
	cfg := config.OPCUA{DataDir: t.TempDir(), ApplicationURI: "urn:floorpulse:agent:gw9"}
	id, err := LoadIdentity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "urn:floorpulse:agent:gw9" {
		t.Errorf("SAN URIs %v", c.URIs)
	}
	if c.KeyUsage&x509.KeyUsageDigitalSignature == 0 || c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 || c.KeyUsage&x509.KeyUsageDataEncipherment == 0 {
		t.Errorf("key usage %b", c.KeyUsage)
	}
	if !c.PublicKey.(*rsa.PublicKey).Equal(&id.Key.PublicKey) {
		t.Error("certificate and key do not match")
	}
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "opcua", "client.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	// Configured files (PEM) win over the generated pair.
	dir := t.TempDir()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: id.Cert})
	keyDER, _ := x509.MarshalPKCS8PrivateKey(id.Key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "c.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIdentity(config.OPCUA{Certificate: filepath.Join(dir, "c.pem"), PrivateKey: filepath.Join(dir, "k.pem")})
	if err != nil || string(got.Cert) != string(id.Cert) || !got.Key.Equal(id.Key) {
		t.Fatalf("configured identity: %v", err)
	}
}

// testCert makes a certificate for subject signed by parent (self-signed
// when parent is nil).
func testCert(t *testing.T, subject string, ca bool, parent *x509.Certificate, parentKey *rsa.PrivateKey) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: subject},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestCheckTrust(t *testing.T) {
	ca, caKey := testCert(t, "plant CA", true, nil, nil)
	other, _ := testCert(t, "other CA", true, nil, nil)
	issued, _ := testCert(t, "plc1", false, ca, caKey)
	self, _ := testCert(t, "plc2", false, nil, nil)

	dirWith := func(certs ...*x509.Certificate) string {
		d := t.TempDir()
		for i, c := range certs {
			b := c.Raw
			name := filepath.Join(d, "c"+string(rune('0'+i))+".der")
			if i%2 == 1 {
				b, name = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), strings.TrimSuffix(name, ".der")+".pem"
			}
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, "README"), []byte("not a certificate"), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	upperColons := func(hex string) string {
		var parts []string
		for i := 0; i < len(hex); i += 2 {
			parts = append(parts, strings.ToUpper(hex[i:i+2]))
		}
		return strings.Join(parts, ":")
	}
	for name, tc := range map[string]struct {
		cfg     config.OPCUA
		cert    *x509.Certificate
		trusted bool
	}{
		"pinned":                        {config.OPCUA{ServerThumbprint: upperColons(Thumbprint(self.Raw))}, self, true},
		"pinned other":                  {config.OPCUA{ServerThumbprint: Thumbprint(issued.Raw)}, self, false},
		"in trust_dir":                  {config.OPCUA{TrustDir: dirWith(other, self)}, self, true},
		"issued by a CA in trust_dir":   {config.OPCUA{TrustDir: dirWith(other, ca)}, issued, true},
		"issued by a CA not trusted":    {config.OPCUA{TrustDir: dirWith(other)}, issued, false},
		"self-signed, not in trust_dir": {config.OPCUA{TrustDir: dirWith(ca)}, self, false},
		"nothing trusted":               {config.OPCUA{}, self, false},
	} {
		t.Run(name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			err := checkTrust(tc.cfg, tc.cert.Raw)
			if tc.trusted {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			thumb := Thumbprint(tc.cert.Raw)
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "server_thumbprint: "+thumb) {
				t.Fatalf("got %v, want ErrUntrusted naming %s", err, thumb)
			}
			if b, err := os.ReadFile(filepath.Join(tc.cfg.DataDir, "opcua", "rejected", thumb+".der")); err != nil || string(b) != string(tc.cert.Raw) {
				t.Errorf("refused certificate not kept: %v", err)
			}
		})
	}
	if err := checkTrust(config.OPCUA{ServerThumbprint: Thumbprint(self.Raw)}, nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("no certificate: %v", err)
	}
}
