package mesh_test

import (
	"testing"

	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
