package ipc

import (
	"path/filepath"
	"testing"

	"github.com/plexusnet/plexus/internal/testsupport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Setup{
		Transport: Transport{},
		ListenURL: func(t testing.TB) string { return "ipc://" + filepath.Join(t.TempDir(), "s.sock") },
		BadURLs:   []string{"ipc://", "ipc:///a?x=1"},
		AddrInUse: true,
	})
}
