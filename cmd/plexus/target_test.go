package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/mesh"
)

// TestResolveTarget: a target is a node id, else a node name, else a
// service name; a name of several nodes is an error that lists them.
func TestResolveTarget(t *testing.T) {
	st := &status.Status{
		Node: status.Node{ID: "ac9cf68e5aeab6da", NodeName: "gw"},
		Graph: status.Graph{Nodes: []status.GraphNode{
			{ID: "ac9cf68e5aeab6da", Name: "gw"},
			{ID: "5f0e2b7c9d1a3e48", Name: "web"},
			{ID: "c3d4e5f60718293a", Name: "db"},
			{ID: "0a1b2c3d4e5f6071", Name: "db"},
			{ID: "1122334455667788"}, // no name
			{ID: "99aa99aa99aa99aa", Name: "echo"},
		}},
		Services: []status.Service{
			{Name: "printer", Host: "1122334455667788"},
			{Name: "cache", Host: "5f0e2b7c9d1a3e48", HostName: "web"},
			{Name: "cache", Host: "c3d4e5f60718293a", HostName: "db"},
			{Name: "cache", Host: "c3d4e5f60718293a", HostName: "db"}, // two ports, one node
			{Name: "kv", Host: "c3d4e5f60718293a", HostName: "db"},
			{Name: "kv", Host: "c3d4e5f60718293a", HostName: "db"},
			{Name: "echo", Host: "5f0e2b7c9d1a3e48", HostName: "web"}, // a node's name wins
		},
	}
	for _, tc := range []struct {
		target string
		want   string
		err    error
		says   []string
	}{
		{target: "5f0e2b7c9d1a3e48", want: "5f0e2b7c9d1a3e48"},
		{target: "5F0E2B7C9D1A3E48", want: "5f0e2b7c9d1a3e48"},
		{target: "00000000000000ff", want: "00000000000000ff"}, // an id, known or not
		{target: "web", want: "5f0e2b7c9d1a3e48"},
		{target: "gw", want: "ac9cf68e5aeab6da"}, // the node itself
		{target: "printer", want: "1122334455667788"},
		{target: "kv", want: "c3d4e5f60718293a"},
		{target: "echo", want: "99aa99aa99aa99aa"},
		{target: "db", err: mesh.ErrAmbiguousName, says: []string{`2 nodes have the node name "db": db (0a1b2c3d), db (c3d4e5f6)`}},
		{target: "cache", err: mesh.ErrAmbiguousName, says: []string{`the service name "cache": web (5f0e2b7c), db (c3d4e5f6)`}},
		{target: "nowhere", err: mesh.ErrNoSuchNode, says: []string{`"nowhere"`}},
		{target: "", err: mesh.ErrBadAddress},
		{target: "web:80", err: mesh.ErrBadAddress},
		{target: "a b", err: mesh.ErrBadAddress},
	} {
		got, err := resolveTarget(st, tc.target)
		if tc.err == nil {
			if err != nil || got != tc.want {
				t.Errorf("resolveTarget(%q) = %q, %v; want %q", tc.target, got, err, tc.want)
			}
			continue
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("resolveTarget(%q) = %q, %v; want %v", tc.target, got, err, tc.err)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("resolveTarget(%q): %v does not say %q", tc.target, err, s)
			}
		}
	}
}
