package sextant_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key as PEM files and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sextantd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

func TestTLS(t *testing.T) {
	if os.Getenv("SEXTANTD") == "" {
		t.Skip("SEXTANTD is not set")
	}
	certPath, keyPath, pool := selfSigned(t)
	srv := sextantdtest.Start(t, "--tls-cert", certPath, "--tls-key", keyPath, "--api-key", "k")
	ctx := sextantdtest.Context(t)

	c := srv.Dial(t, sextant.WithTLS(&tls.Config{RootCAs: pool}), sextant.WithAPIKey("k"))
	if _, err := c.ServerInfo(ctx); err != nil {
		t.Fatalf("ServerInfo over TLS: %v", err)
	}
	col, err := c.CreateCollection(ctx, "tls", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := col.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(1), Vector: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}

	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		t.Cleanup(cancel)
		return c
	}
	// Plain text to a TLS server, and TLS without trusting its certificate, both fail.
	_, err = sextant.Dial(short(), srv.Addr)
	wantCode(t, "plain-text Dial to a TLS server", err, sextant.ErrUnavailable, codes.Unavailable)
	_, err = sextant.Dial(short(), srv.Addr, sextant.WithTLS(&tls.Config{}))
	wantCode(t, "TLS Dial without trusting the certificate", err, sextant.ErrUnavailable, codes.Unavailable)
	t.Logf("untrusted certificate: %v", err)
}
