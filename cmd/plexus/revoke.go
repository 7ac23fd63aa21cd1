package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/plexusnet/plexus/mesh"
)

// revokedFile is the revocation list's name in a CA's directory.
const revokedFile = "revoked.pem"

// certRevokeCommand is `plexus cert revoke`.
func certRevokeCommand() *command {
	cmd := &command{
		name:    "revoke",
		summary: "revoke nodes: add them to the CA's revocation list DIR/revoked.pem and sign it",
		help: `usage: plexus cert revoke --ca DIR [NODE.crt|ID]...

Adds the nodes named, by certificate file (PEM or DER) or by node id (16
hex digits), to the mesh's revocation list DIR/revoked.pem, and signs the
list again with the CA in DIR (ca.crt and ca.key) under a higher sequence
number: the current time in unix seconds, or one more than the list's if
that is higher. DIR/revoked.pem is made if it does not exist, and replaced
atomically. With no node named, the list is signed again as it is (by a
new CA, say, with the old CA's revoked.pem copied into its directory).

A list names node ids, that is keys: every certificate for a revoked key
is revoked, renewed ones included. Give the file to the nodes with
'plexus node --revoked FILE' (read again on SIGHUP); a node that holds it
floods it to the others, and a newer list replaces an older one.
`,
	}
	cmd.setup = func() (*flagSet, runFunc) {
		o := &revokeOptions{cmd: cmd}
		fs := newFlagSet("cert revoke")
		fs.stringFlag(&o.ca, "DIR", "directory of the CA's ca.crt and ca.key, where revoked.pem is kept (required)", "ca")
		fs.logging()
		return fs, o.run
	}
	return cmd
}

// revokeOptions are the flags of plexus cert revoke.
type revokeOptions struct {
	cmd *command
	ca  string
}

func (o *revokeOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	if o.ca == "" {
		return usagef(o.cmd, "--ca DIR is required")
	}
	// Every node named must be understood before anything is signed.
	type named struct {
		id  uint64
		arg string
	}
	var add []named
	for _, arg := range fs.args {
		id, err := revokedID(arg)
		if err != nil {
			return err
		}
		add = append(add, named{id, arg})
	}
	ca, err := loadCA(o.ca, c)
	if err != nil {
		return err
	}
	path := filepath.Join(o.ca, revokedFile)
	var ids []uint64
	var seq uint64
	switch b, err := os.ReadFile(path); {
	case err == nil:
		old, err := mesh.ParseRevocationList(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ids, seq = old.IDs, old.Seq
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if seq == math.MaxUint64 {
		return fmt.Errorf("%s: its sequence number is the largest there is: no list can replace it", path)
	}
	listed := make(map[uint64]bool, len(ids)+len(add))
	for _, id := range ids {
		listed[id] = true
	}
	for _, a := range add {
		if listed[a.id] {
			fmt.Fprintf(c.stdout, "already revoked %s (%s)\n", mesh.FormatID(a.id), a.arg)
			continue
		}
		listed[a.id] = true
		ids = append(ids, a.id)
		fmt.Fprintf(c.stdout, "revoked %s (%s)\n", mesh.FormatID(a.id), a.arg)
	}
	seq = max(seq+1, uint64(time.Now().Unix()))
	pem, err := mesh.SignRevocationList(&mesh.RevocationList{Seq: seq, IDs: ids}, ca.leaf, ca.key)
	if err != nil {
		return err
	}
	if err := writeFile(path, pem, certMode, true); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s: list %d, %s\n", path, seq, plural(len(ids), "node id"))
	return nil
}

// revokedID reads a node named on the command line: a certificate file,
// or a node id.
func revokedID(arg string) (uint64, error) {
	if _, err := os.Stat(arg); err != nil {
		id, idErr := mesh.ParseID(arg)
		if idErr == nil {
			return id, nil
		}
		return 0, fmt.Errorf("%q is neither a certificate file (%v) nor a node id (%v)", arg, err, idErr)
	}
	leaf, err := readCertificate(arg)
	if err != nil {
		return 0, err
	}
	return mesh.IDFromCert(leaf), nil
}

// revocationOption reads the --revoked file for mesh.New.
func revocationOption(path string) (mesh.Option, error) {
	b, err := readRevoked(path)
	if err != nil {
		return nil, err
	}
	return mesh.WithRevocationList(b), nil
}

// readRevoked reads a revocation list file and checks its form (the node
// checks its signature).
func readRevoked(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--revoked: %w", err)
	}
	if _, err := mesh.ParseRevocationList(b); err != nil {
		return nil, fmt.Errorf("--revoked %s: %w", path, err)
	}
	return b, nil
}

// revocationSetter is a node that can take a newer revocation list, as
// (*mesh.Node).SetRevocationList does (tests give a fake).
type revocationSetter interface {
	SetRevocationList(pem []byte) error
}

// reloadRevoked reads the --revoked file again (SIGHUP) and hands it to
// the node. A file that does not load, or that the node refuses, is
// logged; the node keeps the list it has.
func (o *nodeOptions) reloadRevoked(n revocationSetter, log *slog.Logger) {
	path := o.mesh.revoked
	if path == "" {
		return
	}
	b, err := readRevoked(path)
	if err != nil {
		log.Error("SIGHUP: revocation list not reloaded, the node keeps the one it has", "err", err)
		return
	}
	l, _ := mesh.ParseRevocationList(b)
	switch err := n.SetRevocationList(b); {
	case errors.Is(err, mesh.ErrStaleRecord):
		log.Info("SIGHUP: revocation list unchanged: the node holds it or a newer one", "file", path, "seq", l.Seq)
	case err != nil:
		log.Error("SIGHUP: the mesh refused the revocation list, the node keeps the one it has", "file", path, "err", err)
	default:
		log.Info("SIGHUP: revocation list loaded", "file", path, "seq", l.Seq, "ids", len(l.IDs))
	}
}
