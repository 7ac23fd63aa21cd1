package tcp

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/transporttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Setup{
		Transport: Transport{},
		ListenURL: func(testing.TB) string { return "tcp://127.0.0.1:0" },
		BadURLs:   []string{"tcp://nohost", "tcp://h:1/path", "tcp://"},
		// A second Listen fails, but not with ErrAddrInUse: tcp returns
		// the bind error as it is.
	})
}
