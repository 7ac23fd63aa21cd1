package main

import (
	"strings"
)

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

// nodeLabel is how a table shows a node of the status API: "name (id8)",
// or the id alone when it has no name (mesh.FormatNode, for an id that
// is a string).
func nodeLabel(id, name string) string {
	if name == "" {
		return id
	}
	return name + " (" + id[:min(8, len(id))] + ")"
}
