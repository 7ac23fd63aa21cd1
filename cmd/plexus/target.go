package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
	"github.com/plexusnet/plexus/mesh"
)

// resolveTarget returns the node id (16 hex digits) that target means to
// the node whose snapshot st is, by the rules of mesh.Node.Resolve: 16 hex
// digits are a node id (returned as it is, known or not, in lower case);
// else target is the name of a node of st's graph (its own included);
// else the name of a service of st, offered by one node. A name that
// matches several nodes fails with mesh.ErrAmbiguousName and lists them
// as "name (id8)"; one that matches nothing, with mesh.ErrNoSuchNode; a
// target that can be neither a name nor an id, with mesh.ErrBadAddress.
//
// It is for the commands that talk to a node's JSON API (plexus status
// and friends); a command that runs a node asks the node (Resolve).
func resolveTarget(st *status.Status, target string) (string, error) {
	if isNodeID(target) {
		id, err := mesh.ParseID(target)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", mesh.ErrBadAddress, target, err)
		}
		return mesh.FormatID(id), nil
	}
	if mesh.CheckNodeName(target) != nil && !validServiceName(target) {
		return "", fmt.Errorf("%w: %q is neither a node id (16 hex digits), a node name nor a service name", mesh.ErrBadAddress, target)
	}
	names := map[string]string{} // id -> node name, for the listing
	var ids []string
	add := func(id, name string) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		if name != "" {
			names[id] = name
		}
	}
	for _, n := range st.Graph.Nodes {
		names[n.ID] = n.Name
		if n.Name == target {
			add(n.ID, n.Name)
		}
	}
	if st.Node.NodeName == target && st.Node.ID != "" {
		add(st.Node.ID, st.Node.NodeName)
	}
	what := "node"
	if len(ids) == 0 {
		what = "service"
		for _, s := range st.Services {
			if s.Name == target {
				add(s.Host, s.HostName)
			}
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: no node or service is named %q", mesh.ErrNoSuchNode, target)
	case 1:
		return ids[0], nil
	}
	slices.Sort(ids)
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = nodeLabel(id, names[id])
	}
	return "", fmt.Errorf("%w: %d nodes have the %s name %q: %s", mesh.ErrAmbiguousName, len(ids), what, target, strings.Join(list, ", "))
}

// isNodeID reports whether s is shaped like a node id: 16 hex digits.
func isNodeID(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isShortID reports whether s looks like the start of a node id, as the
// tables show it ("name (id8)"): 1 to 15 hex digits, at least one a
// digit (so that a name such as "cafe" is not taken for one).
func isShortID(s string) bool {
	if s == "" || len(s) >= 16 || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
		return false
	}
	return strings.ContainsAny(s, "0123456789")
}

// validServiceName reports whether s may be a service name: 1 to 64
// letters, digits, '-', '_' or '.', not starting with '.'.
func validServiceName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// nodeLabel is how a table shows a node of the status API: "name (id8)",
// or the id alone when it has no name (mesh.FormatNode, for an id that
// is a string).
func nodeLabel(id, name string) string {
	if name == "" {
		return id
	}
	return name + " (" + id[:min(8, len(id))] + ")"
}
