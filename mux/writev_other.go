//go:build !linux

package mux

// rawWriter makes inline writes on Linux; elsewhere every write goes
// through the writer goroutine.
type rawWriter struct{}

func newRawWriter(any) *rawWriter { return nil }

func (*rawWriter) try([][]byte) (int, error) { return 0, nil }
