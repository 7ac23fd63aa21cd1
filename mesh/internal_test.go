package mesh

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/mesh/internal/linkstate"
)

// t0 is the start of the tests' virtual clock.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const testLifetime = 10 * time.Minute

// testRouter returns a router of id self that starts at t0.
func testRouter(self uint64, relay bool) *linkstate.Router {
	return linkstate.NewRouter(linkstate.Config{
		Self: self, Relay: relay, HoldDown: 100 * time.Millisecond, Lifetime: testLifetime, MaxRecords: 100,
		Encode: func(r *linkstate.Record) ([]byte, error) { return linkstate.EncodeRecord(r, nil) },
	}, t0)
}

// TestInternalPackagesArePure: mesh's internal packages import only pure
// parts of the standard library and each other as allowed (base is the
// leaf), and nothing that does I/O: no net, no crypto/tls, no mux, no mesh.
// The compiler then keeps them pure: a change that needs more fails here.
func TestInternalPackagesArePure(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	const prefix = "github.com/plexusnet/plexus/mesh/internal/"
	// What each package may import directly.
	packages := []struct {
		name  string
		allow []string
	}{
		{"base", []string{"encoding/binary", "errors", "fmt"}},
		{"linkstate", []string{"cmp", "encoding/binary", "fmt", "math", "slices", "sort", "time", prefix + "base"}},
		{"wire", []string{"bytes", "encoding/binary", "fmt", "io", prefix + "base"}},
	}
	// What none may depend on, even indirectly.
	forbidden := []string{"net", "crypto/tls", "crypto/x509", "os/exec", "syscall/js", "github.com/plexusnet/plexus/mux", "github.com/plexusnet/plexus/mesh"}
	for _, p := range packages {
		pkg, allow := p.name, p.allow
		out, err := exec.Command(goTool, "list", "-f", "{{join .Imports \" \"}}", prefix+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, imp := range strings.Fields(string(out)) {
			if !slices.Contains(allow, imp) {
				t.Errorf("mesh/internal/%s imports %s; it may import only %v", pkg, imp, allow)
			}
		}
		out, err = exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", prefix+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			dep, std, _ := strings.Cut(line, " ")
			switch {
			case slices.Contains(forbidden, dep):
				t.Errorf("mesh/internal/%s depends on %s", pkg, dep)
			case std != "true" && !strings.HasPrefix(dep, prefix):
				t.Errorf("mesh/internal/%s depends on %s, outside the standard library", pkg, dep)
			}
		}
	}
}
