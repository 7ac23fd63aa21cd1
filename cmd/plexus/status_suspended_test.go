package main

import (
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// TestStatusStateColumn: a STATE column shows which links are suspended
// and for how long, in plexus links and plexus status, when one is;
// without one, the table is as it was.
func TestStatusStateColumn(t *testing.T) {
	now := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	broke := now.Add(-12 * time.Second)
	links := func() []status.Link {
		return []status.Link{
			{Peer: "5f0e2b7c9d1a3e48", Addr: "10.0.0.2:7000", Dialer: true, UpSince: now.Add(-time.Hour), Suspended: true, SuspendedSince: &broke},
			{Peer: "c3d4e5f60718293a", Addr: "203.0.113.7:7000", Dialer: true, Direct: true, UpSince: now.Add(-time.Minute)},
		}
	}
	for _, tc := range []struct {
		name  string
		links func() []status.Link
		want  string
	}{
		{"suspended and direct", links, `PEER              ADDRESS           DIALED  DIRECT  STATE          RTT  IN   OUT  STREAMS  UP
5f0e2b7c9d1a3e48  10.0.0.2:7000     yes     no      suspended 12s  -    0 B  0 B  0        1h0m0s
c3d4e5f60718293a  203.0.113.7:7000  yes     yes     up             -    0 B  0 B  0        1m0s
`},
		{"suspended", func() []status.Link {
			ls := links()
			ls[1].Direct = false
			return ls
		}, `PEER              ADDRESS           DIALED  STATE          RTT  IN   OUT  STREAMS  UP
5f0e2b7c9d1a3e48  10.0.0.2:7000     yes     suspended 12s  -    0 B  0 B  0        1h0m0s
c3d4e5f60718293a  203.0.113.7:7000  yes     up             -    0 B  0 B  0        1m0s
`},
		{"suspended, no time", func() []status.Link {
			ls := links()[:1]
			ls[0].SuspendedSince = nil
			return ls
		}, `PEER              ADDRESS        DIALED  STATE      RTT  IN   OUT  STREAMS  UP
5f0e2b7c9d1a3e48  10.0.0.2:7000  yes     suspended  -    0 B  0 B  0        1h0m0s
`},
		{"none suspended", func() []status.Link {
			ls := links()
			ls[0].Suspended, ls[0].SuspendedSince = false, nil
			ls[1].Direct = false
			return ls
		}, `PEER              ADDRESS           DIALED  RTT  IN   OUT  STREAMS  UP
5f0e2b7c9d1a3e48  10.0.0.2:7000     yes     -    0 B  0 B  0        1h0m0s
c3d4e5f60718293a  203.0.113.7:7000  yes     -    0 B  0 B  0        1m0s
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &status.Status{Time: now, Links: tc.links()}
			var b strings.Builder
			printLinks(&b, st)
			if b.String() != tc.want {
				t.Errorf("plexus links: got\n%s\nwant\n%s", b.String(), tc.want)
			}
			b.Reset()
			printStatus(&b, st)
			if !strings.Contains(b.String(), "\nlinks:\n"+tc.want) {
				t.Errorf("plexus status: got\n%s\nwant its links:\n%s", b.String(), tc.want)
			}
		})
	}
}
