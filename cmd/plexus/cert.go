package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// Errors of plexus cert, for errors.Is. A file that exists is fs.ErrExist.
var (
	errNoCertificate = errors.New("no certificate")
	errNotCA         = errors.New("not a CA certificate")
	errBadName       = errors.New("bad name")
	errKeyType       = errors.New("unknown key type")
)

// Validity defaults, in days.
const (
	defaultCADays   = 3650
	defaultNodeDays = 365
	// clockSkew backdates NotBefore, so that a certificate made now is
	// valid on a machine whose clock is a little behind.
	clockSkew = 5 * time.Minute
)

// File modes: keys are readable by their owner only; directories made
// for them too.
const (
	keyMode  fs.FileMode = 0o600
	certMode fs.FileMode = 0o644
	dirMode  fs.FileMode = 0o700
)

// certCommand is `plexus cert ca|node|id`.
func certCommand() *command {
	cmd := &command{
		name:    "cert",
		summary: "make a mesh CA and node certificates; print the node id of a certificate; revoke nodes",
		help: `usage: plexus cert ca --out DIR
       plexus cert node --ca DIR --name NAME --out DIR [--service NAME]... [--group NAME]...
       plexus cert id [--grants] FILE.crt...
       plexus cert revoke --ca DIR [NODE.crt|ID]...

Makes the certificates of a secured mesh (mesh.WithTLS, plexus node --cert):
a CA, then one certificate per node signed by it. A node's id is derived from
its certificate's public key (the first 8 bytes of the SHA-256 of its
SubjectPublicKeyInfo), so 'cert node' and 'cert id' print the id the mesh
will give that node.

Keys are ECDSA P-256 by default (--key-type ed25519 for Ed25519), written
as PKCS #8 PEM with mode 0600; certificates as PEM with mode 0644. An
existing file is never overwritten without --force.
`,
	}
	cmd.sub = []*command{certCACommand(), certNodeCommand(), certIDCommand(), certRevokeCommand()}
	for _, s := range cmd.sub {
		s.parent = cmd.name
	}
	return cmd
}

// certCACommand is `plexus cert ca`.
func certCACommand() *command {
	cmd := &command{
		name:    "ca",
		summary: "make a mesh CA: DIR/ca.crt and DIR/ca.key",
		help: `usage: plexus cert ca --out DIR [--name NAME] [--days N] [--key-type ecdsa|ed25519] [--force]

Makes a new mesh CA: a self-signed CA certificate DIR/ca.crt and its key
DIR/ca.key (mode 0600; keep it offline: whoever has it can make members of
the mesh). DIR is made (mode 0700) if it does not exist. The CA can sign
node certificates only (path length 0).
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &caOptions{cmd: cmd, name: "plexus mesh CA", keyType: "ecdsa", days: defaultCADays}
		fs := newFlagSet("cert ca")
		fs.stringFlag(&o.out, "DIR", "directory to write ca.crt and ca.key in (required)", "out")
		fs.stringFlag(&o.name, "NAME", "the CA's common name", "name")
		fs.varFlag(intValue{&o.days, 100 * 365}, "N", fmt.Sprint(defaultCADays), "days the certificate is valid", "days")
		fs.stringFlag(&o.keyType, "TYPE", "key type: ecdsa (P-256) or ed25519", "key-type")
		fs.boolFlag(&o.force, "overwrite existing files", "force")
		fs.logging()
		return fs, o.run
	}
	return cmd
}

// caOptions are the flags of plexus cert ca.
type caOptions struct {
	cmd                *command
	out, name, keyType string
	days               int
	force              bool
}

func (o *caOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	switch {
	case len(fs.args) > 0:
		return usagef(o.cmd, "unexpected argument %q", fs.args[0])
	case o.out == "":
		return usagef(o.cmd, "--out DIR is required")
	case o.days < 1:
		return usagef(o.cmd, "--days must be at least 1")
	}
	crtPath, keyPath := filepath.Join(o.out, "ca.crt"), filepath.Join(o.out, "ca.key")
	if err := checkFree(o.force, crtPath, keyPath); err != nil {
		return err
	}
	pub, key, err := newKey(o.keyType)
	if err != nil {
		return &usageError{cmd: o.cmd.path(), err: err}
	}
	der, err := signCA(o.name, o.days, pub, key)
	if err != nil {
		return err
	}
	if err := writePair(o.out, o.force, crtPath, der, keyPath, key); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s\nwrote %s (mode 0600: keep it offline)\n", crtPath, keyPath)
	return nil
}

// certNodeCommand is `plexus cert node`.
func certNodeCommand() *command {
	cmd := &command{
		name:    "node",
		summary: "make a node certificate signed by the CA: DIR/NAME.crt and DIR/NAME.key",
		help: `usage: plexus cert node --ca DIR --name NAME --out DIR [--days N] [--host H]... [--service S]... [--group G]...
                        [--key-type ecdsa|ed25519] [--force] [--renew]

Makes a node certificate signed by the CA in --ca (ca.crt and ca.key):
OUT/NAME.crt and OUT/NAME.key (mode 0600), and prints the node id the mesh
will derive from it. The certificate has the key usage digital signature
and the extended key usages server auth and client auth, which mutual TLS
between nodes needs. NAME is its common name and the files' name, and the
node's name in the mesh: shown beside its id ("name (id8)") and accepted
wherever a command asks for a node. It is 1 to 63 of a-z, 0-9, '-' and
'.', starting with a letter or digit, and not 16 hex digits. --host adds
DNS names or IP addresses, for using the certificate with tls+tcp://
sockets too.

--service and --group put the node's certificate policy in the certificate
(URI SANs, see docs/protocol.md): the services it may serve, which nodes
that enforce certificate policy (plexus node --cert-policy) require, and
the groups it belongs to, which listeners with allowed groups
(--allow-groups) require. --service takes NAME (a service of the default
env), ENV/NAME, or ENV/* (every service of env ENV); --group takes NAME.
Names are 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'.
A malformed one is refused: nothing is written.

--renew keeps the existing OUT/NAME.key, so the node id stays, and
replaces OUT/NAME.crt with a new certificate for it: renew a node's
certificate this way, then send the running node SIGHUP. The new
certificate names the services and groups given now: a note says which
ones of the old certificate it no longer names.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &nodeCertOptions{cmd: cmd, keyType: "ecdsa", days: defaultNodeDays}
		fs := newFlagSet("cert node")
		fs.stringFlag(&o.ca, "DIR", "directory of the CA's ca.crt and ca.key (required)", "ca")
		fs.stringFlag(&o.name, "NAME", "the node's name (a-z, 0-9, '-', '.'): common name, file names, and its name in the mesh (required)", "name")
		fs.stringFlag(&o.out, "DIR", "directory to write NAME.crt and NAME.key in (required)", "out")
		fs.varFlag(intValue{&o.days, 100 * 365}, "N", fmt.Sprint(defaultNodeDays), "days the certificate is valid (at most until the CA expires)", "days")
		fs.varFlag(listValue{&o.hosts, true}, "HOST", "", "a DNS name or IP address to add (repeatable, or comma-separated)", "host")
		fs.varFlag(listValue{&o.services, true}, "NAME|ENV/NAME|ENV/*", "", "a service the node may serve under certificate policy (repeatable, or comma-separated)", "service")
		fs.varFlag(listValue{&o.groups, true}, "NAME", "", "a group the node belongs to (repeatable, or comma-separated)", "group")
		fs.stringFlag(&o.keyType, "TYPE", "key type: ecdsa (P-256) or ed25519", "key-type")
		fs.boolFlag(&o.force, "overwrite existing files", "force")
		fs.boolFlag(&o.renew, "keep the existing NAME.key (the node id stays) and replace NAME.crt", "renew")
		fs.logging()
		return fs, o.run
	}
	return cmd
}

// nodeCertOptions are the flags of plexus cert node.
type nodeCertOptions struct {
	cmd                    *command
	ca, name, out, keyType string
	hosts                  []string
	services, groups       []string
	days                   int
	force                  bool
	renew                  bool
}

func (o *nodeCertOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	switch {
	case len(fs.args) > 0:
		return usagef(o.cmd, "unexpected argument %q", fs.args[0])
	case o.ca == "":
		return usagef(o.cmd, "--ca DIR is required")
	case o.name == "":
		return usagef(o.cmd, "--name NAME is required")
	case o.out == "":
		return usagef(o.cmd, "--out DIR is required")
	case o.days < 1:
		return usagef(o.cmd, "--days must be at least 1")
	}
	if err := checkNodeName("--name", o.name); err != nil {
		return &usageError{cmd: o.cmd.path(), err: fmt.Errorf("%w: %v", errBadName, err)}
	}
	grants, uris, err := o.grants()
	if err != nil {
		return &usageError{cmd: o.cmd.path(), err: err}
	}
	ca, err := loadCA(o.ca, c)
	if err != nil {
		return err
	}
	crtPath, keyPath := filepath.Join(o.out, o.name+".crt"), filepath.Join(o.out, o.name+".key")
	var pub crypto.PublicKey
	var key crypto.Signer
	if o.renew {
		if fs.set("key-type") {
			return usagef(o.cmd, "--renew keeps the key: no --key-type")
		}
		if key, err = readKey(keyPath); err != nil {
			return fmt.Errorf("--renew: %w", err)
		}
		pub = key.Public()
	} else {
		if err := checkFree(o.force, crtPath, keyPath); err != nil {
			return err
		}
		if pub, key, err = newKey(o.keyType); err != nil {
			return &usageError{cmd: o.cmd.path(), err: err}
		}
	}
	der, leaf, err := signNode(ca, o.name, o.days, pub, uris, o.hosts)
	if err != nil {
		return err
	}
	if leaf.NotAfter.Equal(ca.leaf.NotAfter) {
		fmt.Fprintf(c.stderr, "note: the CA expires on %s: so does this certificate\n", ca.leaf.NotAfter.Format(time.DateOnly))
	}
	if got := mesh.CertGrants(leaf); len(got.Invalid) > 0 || !slices.Equal(got.Services, grants.Services) || !slices.Equal(got.Groups, grants.Groups) {
		return fmt.Errorf("the signed certificate does not read back the services and groups given: %+v", got) // never: Grants.URIs checked them
	}
	if o.renew {
		if old, err := readCertificate(crtPath); err == nil {
			noteDropped(c, mesh.CertGrants(old), grants)
		}
		if err := writeFile(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), certMode, true); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "wrote %s\nkept %s\nnode id %s\n", crtPath, keyPath, mesh.FormatID(mesh.IDFromCert(leaf)))
		printGrants(c, grants)
		return nil
	}
	if err := writePair(o.out, o.force, crtPath, der, keyPath, key); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s\nwrote %s (mode 0600)\nnode id %s\n", crtPath, keyPath, mesh.FormatID(mesh.IDFromCert(leaf)))
	printGrants(c, grants)
	return nil
}

// grants reads --service and --group: the certificate policy to write,
// and its URI SANs. A malformed one is an errBadName.
func (o *nodeCertOptions) grants() (mesh.Grants, []*url.URL, error) {
	var g mesh.Grants
	for _, s := range o.services {
		sg, err := mesh.ParseServiceGrant(s)
		if err != nil {
			return g, nil, fmt.Errorf("%w: --service %q: %v (want NAME, ENV/NAME or ENV/*)", errBadName, s, err)
		}
		if !slices.Contains(g.Services, sg) {
			g.Services = append(g.Services, sg)
		}
	}
	for _, name := range o.groups {
		if _, err := (mesh.Grants{Groups: []string{name}}).URIs(); err != nil {
			return g, nil, fmt.Errorf("%w: --group %q: %v", errBadName, name, err)
		}
		if !slices.Contains(g.Groups, name) {
			g.Groups = append(g.Groups, name)
		}
	}
	uris, err := g.URIs()
	if err != nil {
		return g, nil, fmt.Errorf("%w: %v", errBadName, err)
	}
	return g, uris, nil
}

// printGrants prints the services and groups a new certificate grants;
// nothing for those it has none of.
func printGrants(c *cli, g mesh.Grants) {
	if len(g.Services) > 0 {
		fmt.Fprintf(c.stdout, "services %s\n", joinGrants(g.Services))
	}
	if len(g.Groups) > 0 {
		fmt.Fprintf(c.stdout, "groups %s\n", strings.Join(g.Groups, ","))
	}
}

// joinGrants writes service grants as --service takes them, comma-separated.
func joinGrants(ss []mesh.ServiceGrant) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(out, ",")
}

// noteDropped notes, on a renewal, the services and groups of the old
// certificate that the new one no longer names.
func noteDropped(c *cli, old, cur mesh.Grants) {
	var svc []mesh.ServiceGrant
	for _, s := range old.Services {
		if !slices.Contains(cur.Services, s) {
			svc = append(svc, s)
		}
	}
	var groups []string
	for _, g := range old.Groups {
		if !slices.Contains(cur.Groups, g) {
			groups = append(groups, g)
		}
	}
	if len(svc) > 0 {
		fmt.Fprintf(c.stderr, "note: the old certificate named the services %s, which this one does not (give --service again to keep them)\n", joinGrants(svc))
	}
	if len(groups) > 0 {
		fmt.Fprintf(c.stderr, "note: the old certificate named the groups %s, which this one does not (give --group again to keep them)\n", strings.Join(groups, ","))
	}
}

// readKey reads a private key from a PEM file: PKCS #8, SEC 1 or
// PKCS #1, as plexus cert and openssl write them.
func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM private key in it", path)
		}
		var k any
		switch block.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: the key cannot sign", path)
		}
		return signer, nil
	}
}

// certIDCommand is `plexus cert id`.
func certIDCommand() *command {
	cmd := &command{
		name:    "id",
		summary: "print the node id the mesh derives from a certificate",
		help: `usage: plexus cert id [--grants] FILE.crt...

Prints the node id (16 hex digits) the mesh derives from each certificate
(PEM or DER): the id alone for one file, the id and the file name for
several.

--grants also prints, below each id, the certificate policy it carries:
the services it may serve (NAME, ENV/NAME or ENV/*), the groups it belongs
to, and any plexus: URI SAN that is malformed and grants nothing; "none"
for a certificate without service names, which may serve none under
certificate policy.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		var showGrants bool
		fs := newFlagSet("cert id")
		fs.boolFlag(&showGrants, "print the services and groups each certificate grants", "grants")
		fs.logging()
		return fs, func(ctx context.Context, c *cli, fs *flagSet) error {
			if len(fs.args) == 0 {
				return usagef(cmd, "a certificate file is needed")
			}
			for _, path := range fs.args {
				leaf, err := readCertificate(path)
				if err != nil {
					return err
				}
				id := mesh.FormatID(mesh.IDFromCert(leaf))
				if len(fs.args) == 1 {
					fmt.Fprintln(c.stdout, id)
				} else {
					fmt.Fprintf(c.stdout, "%s  %s\n", id, path)
				}
				if showGrants {
					g := mesh.CertGrants(leaf)
					svc, groups := "none (may serve none under certificate policy)", "none"
					if len(g.Services) > 0 {
						svc = joinGrants(g.Services)
					}
					if len(g.Groups) > 0 {
						groups = strings.Join(g.Groups, ",")
					}
					fmt.Fprintf(c.stdout, "  services %s\n  groups %s\n", svc, groups)
					for _, bad := range g.Invalid {
						fmt.Fprintf(c.stdout, "  invalid %s (grants nothing)\n", bad)
					}
				}
			}
			return nil
		}
	}
	return cmd
}

// caFiles is a loaded mesh CA.
type caFiles struct {
	leaf *x509.Certificate
	key  crypto.Signer
}

// loadCA reads dir/ca.crt and dir/ca.key and checks that they make a CA.
func loadCA(dir string, c *cli) (*caFiles, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("--ca %s: not a directory (it wants the directory of ca.crt and ca.key)", dir)
	}
	crtPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	crtPEM, err := os.ReadFile(crtPath)
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("reading the CA key: %w", err)
	}
	if st, err := os.Stat(keyPath); err == nil && st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(c.stderr, "warning: %s is readable by others (mode %04o): chmod 600 it\n", keyPath, st.Mode().Perm())
	}
	pair, err := tls.X509KeyPair(crtPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", crtPath, keyPath, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", crtPath, err)
		}
	}
	if err := mesh.CheckCA(leaf); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", crtPath, errNotCA, err)
	}
	if time.Now().After(leaf.NotAfter) {
		return nil, fmt.Errorf("%s: the CA expired on %s", crtPath, leaf.NotAfter.Format(time.DateOnly))
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: the key cannot sign", keyPath)
	}
	return &caFiles{leaf: leaf, key: key}, nil
}

// signCA makes the self-signed certificate of a mesh CA named name, valid
// for days, for the key pair pub and key.
func signCA(name string, days int, pub crypto.PublicKey, key crypto.Signer) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.AddDate(0, 0, days),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, fmt.Errorf("making the CA certificate: %w", err)
	}
	return der, nil
}

// signNode makes a node certificate signed by ca for the public key pub:
// common name name, valid for days but not after the CA, with the URI
// SANs uris (its certificate policy) and the DNS names or IP addresses
// hosts. It returns the certificate, DER and parsed.
func signNode(ca *caFiles, name string, days int, pub crypto.PublicKey, uris []*url.URL, hosts []string) ([]byte, *x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.AddDate(0, 0, days),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         uris,
	}
	if tmpl.NotAfter.After(ca.leaf.NotAfter) {
		tmpl.NotAfter = ca.leaf.NotAfter
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.leaf, pub, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return der, leaf, nil
}

// readCertificate reads the first certificate of a PEM or DER file.
func readCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return c, nil
		}
		if len(block.Type) >= 11 && block.Type[len(block.Type)-11:] == "PRIVATE KEY" {
			return nil, fmt.Errorf("%s: %w: it holds a private key (give the .crt file)", path, errNoCertificate)
		}
	}
	if c, err := x509.ParseCertificate(b); err == nil {
		return c, nil
	}
	return nil, fmt.Errorf("%s: %w (neither a PEM CERTIFICATE block nor DER)", path, errNoCertificate)
}

// newKey makes a key of type t: "ecdsa" (P-256) or "ed25519".
func newKey(t string) (crypto.PublicKey, crypto.Signer, error) {
	switch t {
	case "ecdsa", "p256", "P-256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		return k.Public(), k, nil
	case "ed25519":
		pub, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		return pub, k, nil
	}
	return nil, nil, fmt.Errorf("%w: --key-type %q: want ecdsa or ed25519", errKeyType, t)
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// checkFree fails with fs.ErrExist when one of paths exists and force
// is not set, before anything is made.
func checkFree(force bool, paths ...string) error {
	if force {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w (use --force to overwrite it)", p, fs.ErrExist)
		}
	}
	return nil
}

// writePair writes a certificate (DER) and its key as PEM files in dir,
// making dir if needed. Without force an existing file is an error and
// nothing is left behind.
func writePair(dir string, force bool, crtPath string, der []byte, keyPath string, key crypto.Signer) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := writeFile(keyPath, keyPEM, keyMode, force); err != nil {
		return err
	}
	if err := writeFile(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), certMode, force); err != nil {
		if !force {
			os.Remove(keyPath)
		}
		return err
	}
	return nil
}

// writeFile writes b to path with mode perm (whatever the umask). Without
// force it fails with fs.ErrExist if path exists; with force it replaces
// the file atomically, so a replaced key never has another mode.
func writeFile(path string, b []byte, perm fs.FileMode, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w (use --force to overwrite it)", path, fs.ErrExist)
			}
			return err
		}
		if err := fillFile(f, b, perm); err != nil {
			os.Remove(path)
			return err
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if err := fillFile(f, b, perm); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// fillFile sets f's mode, writes b, syncs and closes f.
func fillFile(f *os.File, b []byte, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
