//go:build !linux

package fastio

// NewReader returns nil: scatter reads are made on Linux only.
func NewReader(any) *Reader { return nil }

type rawReader struct{}

func (rawReader) read([][]byte) (int, error) { return 0, nil }
