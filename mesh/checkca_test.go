package mesh

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestCheckCA: CheckCA accepts what crypto/x509 lets sign a node's
// certificate, a CA with no key usage extension included, and refuses,
// saying why, what it does not.
func TestCheckCA(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		tmpl x509.Certificate
		want string // in the error; "" accepted
	}{
		{"CA with certSign", x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, ""},
		{"CA with no key usage", x509.Certificate{IsCA: true, BasicConstraintsValid: true}, ""},
		{"CA:FALSE", x509.Certificate{BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, "basic constraints CA:FALSE"},
		{"no basic constraints", x509.Certificate{KeyUsage: x509.KeyUsageCertSign}, "no basic constraints extension"},
		{"key usage without certSign", x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature}, "without certificate signing (keyCertSign)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := tc.tmpl
			tmpl.SerialNumber, tmpl.Subject = big.NewInt(1), pkix.Name{CommonName: "ca"}
			tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
			der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &caKey.PublicKey, caKey)
			if err != nil {
				t.Fatal(err)
			}
			ca, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			cerr := CheckCA(ca)
			if tc.want == "" && cerr != nil || tc.want != "" && (cerr == nil || !strings.Contains(cerr.Error(), tc.want)) {
				t.Fatalf("CheckCA: %v, want %q", cerr, tc.want)
			}
			// The same verdict as crypto/x509 on a node certificate it signs.
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature,
			}, ca, &key.PublicKey, caKey)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := x509.ParseCertificate(leafDER)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, verr := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if (cerr == nil) != (verr == nil) {
				t.Errorf("CheckCA: %v; crypto/x509 verifying a certificate it signed: %v", cerr, verr)
			}
		})
	}
}
