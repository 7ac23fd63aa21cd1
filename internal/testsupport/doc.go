// Package testsupport holds what the tests of plexus share and nothing
// the library uses: testutil (waiting for a condition, TLS set-ups, free
// addresses, running a reference peer program), prototest (the helpers
// that need sockets), interop (the matrix against nngcat and nanocat) and
// transporttest (the conformance suite every transport runs). What the
// library itself uses lives beside this folder: internal/bufpool,
// internal/fastio, internal/mempipe, internal/pending and
// internal/timerref.
//
// Go cannot stop a package from importing a folder, so the tests of this
// package check the rules of the tree instead: no non-test package of the
// library depends on a test-support package, no struct of the library has
// more than 30 fields, and the tests wait on state, not time.
package testsupport
