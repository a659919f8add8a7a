package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestMosquittoTLS(t *testing.T) {
	certs := GenerateCerts(t)
	m := StartMosquittoTLS(t, certs, true)
	pem, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	pair, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	connect := func(tc *tls.Config) error {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(m.URL).SetClientID("probe").SetTLSConfig(tc).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatal("connect timed out")
		}
		if tok.Error() == nil {
			c.Disconnect(100)
		}
		return tok.Error()
	}
	if err := connect(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	if err := connect(&tls.Config{RootCAs: pool}); err == nil {
		t.Fatal("connected without the required client certificate")
	}
	if err := connect(&tls.Config{Certificates: []tls.Certificate{pair}}); err == nil {
		t.Fatal("trusted the test CA without being told to")
	}
	m.Restart()
	if err := connect(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
}
