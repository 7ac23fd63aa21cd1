package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeGoCA writes dir/ca.crt and dir/ca.key: a self-signed ECDSA
// certificate made from tmpl (its serial, subject, validity and key
// filled in), as a CA made by other tools than plexus cert.
func writeGoCA(t *testing.T, dir string, tmpl *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.Subject = pkix.Name{CommonName: "prod mesh CA"}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCertForeignCA: plexus cert node signs with a CA made elsewhere
// that RFC 5280 allows, one with CA:TRUE and no key usage extension
// (docs/mesh.md's openssl recipe makes one), and plexus node runs with
// the certificate it makes; the CA check is the one the mesh applies.
func TestCertForeignCA(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir string)
	}{
		{"openssl recipe of docs/mesh.md", func(t *testing.T, dir string) {
			openssl, err := exec.LookPath("openssl")
			if err != nil {
				t.Skip("openssl is not on PATH: skipping the CA made by docs/mesh.md's openssl recipe")
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			// Exactly the recipe of docs/mesh.md, "Making a CA and node
			// certificates with openssl".
			cmd := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
				"-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=prod mesh CA")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("openssl req: %v\n%s", err, out)
			}
			if err := os.Chmod(filepath.Join(dir, "ca.key"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"Go x509 with no key usage", func(t *testing.T, dir string) {
			writeGoCA(t, dir, &x509.Certificate{IsCA: true, BasicConstraintsValid: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			caDir, nodeDir := filepath.Join(dir, "ca"), filepath.Join(dir, "nodes")
			tc.make(t, caDir)
			ca, err := readCertificate(filepath.Join(caDir, "ca.crt"))
			if err != nil {
				t.Fatal(err)
			}
			if !ca.IsCA || ca.KeyUsage != 0 {
				t.Fatalf("the CA made has CA %v and key usage %#x: want CA:TRUE and no key usage extension", ca.IsCA, ca.KeyUsage)
			}
			id := printedID(t, mustPlexus(t, "cert", "node", "--ca", caDir, "--name", "n", "--out", nodeDir))
			n := startNode(t, "--cert", filepath.Join(nodeDir, "n.crt"), "--key", filepath.Join(nodeDir, "n.key"), "--ca", filepath.Join(caDir, "ca.crt"))
			if n.id != id {
				t.Errorf("the node runs as %s, plexus cert node printed %s", n.id, id)
			}
			n.stop(t)
		})
	}
}

// TestCertNotCA: plexus cert node refuses, with a clear error, a
// certificate that may not sign certificates.
func TestCertNotCA(t *testing.T) {
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	for _, tc := range []struct {
		name string
		tmpl *x509.Certificate
		want string
	}{
		{"CA:FALSE", &x509.Certificate{BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, "basic constraints CA:FALSE"},
		{"no basic constraints", &x509.Certificate{KeyUsage: x509.KeyUsageCertSign}, "no basic constraints extension with CA:TRUE"},
		{"key usage without certSign", &x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign}, "a key usage extension without certificate signing (keyCertSign)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			caDir := filepath.Join(dir, "ca")
			writeGoCA(t, caDir, tc.tmpl)
			r := plexus(t, "", "cert", "node", "--ca", caDir, "--name", "n", "--out", dir)
			if r.code != 1 || !strings.Contains(r.stderr, "not a CA certificate: "+tc.want) {
				t.Errorf("exit %d, %q; want 1 and %q", r.code, r.stderr, "not a CA certificate: "+tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "n.crt")); err == nil {
				t.Error("a refused CA signed n.crt")
			}
			if _, err := loadCA(caDir, c); !errors.Is(err, errNotCA) {
				t.Errorf("loadCA: %v, want errNotCA", err)
			}
		})
	}
}
