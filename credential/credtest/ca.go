package credtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// CA is a throwaway certificate authority and the one server certificate it
// issued, valid for 127.0.0.1, ::1, localhost and login.microsoftonline.com
// (the last so that a [DialGuard] route can send MSAL's instance discovery
// to an [Entra] stand-in). Only clients built to trust it, such as
// [CA.Client], accept the stand-ins' certificates.
type CA struct {
	pool *x509.CertPool
	pem  []byte
	leaf tls.Certificate
}

// NewCA creates a [CA]. It panics if the system cannot generate keys, as
// httptest does when it cannot listen.
func NewCA() *CA {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("credtest: generating a CA key: " + err.Error())
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "credtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		panic("credtest: creating the CA certificate: " + err.Error())
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		panic("credtest: parsing the CA certificate: " + err.Error())
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("credtest: generating a server key: " + err.Error())
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "credtest server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost", discoveryHost},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		panic("credtest: creating the server certificate: " + err.Error())
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &CA{
		pool: pool,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf: tls.Certificate{
			Certificate: [][]byte{leafDER, caDER},
			PrivateKey:  leafKey,
		},
	}
}

// CertPool returns a pool holding only the CA's certificate.
func (c *CA) CertPool() *x509.CertPool { return c.pool.Clone() }

// PEM returns the CA's certificate, PEM-encoded.
func (c *CA) PEM() []byte { return append([]byte(nil), c.pem...) }

// WriteFile writes the CA's certificate, PEM-encoded, to path, for
// SSL_CERT_FILE in a subprocess.
func (c *CA) WriteFile(path string) error { return os.WriteFile(path, c.pem, 0o600) }

// Client returns an HTTP client that trusts only the CA and dials through
// g (see [DialGuard.DialContext]); a nil g dials loopback and anything else
// alike. The client ignores proxy variables.
//
// An *http.Client is an azcore policy.Transporter, so it can be given to
// azidentity as its ClientOptions.Transport.
func (c *CA) Client(g *DialGuard) *http.Client {
	t := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{RootCAs: c.pool.Clone(), MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	if g != nil {
		t.DialContext = g.DialContext
	} else {
		t.DialContext = (&net.Dialer{}).DialContext
	}
	return &http.Client{Transport: t}
}

// serverTLS returns the TLS configuration of a stand-in.
func (c *CA) serverTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.leaf}, MinVersion: tls.VersionTLS12}
}
