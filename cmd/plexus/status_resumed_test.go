package main

import (
	"strings"
	"testing"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// TestStatusResumedColumn: the relayed pairs table has a RESUMED column
// (the new paths a resumable circuit took, "-" for one that is not) when
// a pair's circuit is resumable; without one, the table is as it was.
func TestStatusResumedColumn(t *testing.T) {
	now := time.Date(2026, 12, 8, 5, 0, 0, 0, time.UTC)
	pairs := func() []status.RelayedPair {
		return []status.RelayedPair{
			{Host: "5f0e2b7c9d1a3e48", Via: []status.Hop{{ID: "c3d4e5f60718293a"}}, Dialed: true, Streams: 1, Since: now.Add(-time.Minute), Resumable: true, Resumes: 2},
			{Host: "0a1b2c3d4e5f6071", Via: []status.Hop{{ID: "c3d4e5f60718293a"}}, Since: now.Add(-time.Hour)},
		}
	}
	for _, tc := range []struct {
		name  string
		pairs func() []status.RelayedPair
		want  string
	}{
		{"resumable", pairs, `HOST              VIA               DIALED  STREAMS  BYTES  UP      RESUMED
5f0e2b7c9d1a3e48  c3d4e5f60718293a  yes     1        0 B    1m0s    2
0a1b2c3d4e5f6071  c3d4e5f60718293a  no      0        0 B    1h0m0s  -
`},
		{"none resumable", func() []status.RelayedPair {
			ps := pairs()
			ps[0].Resumable, ps[0].Resumes = false, 0
			return ps
		}, `HOST              VIA               DIALED  STREAMS  BYTES  UP
5f0e2b7c9d1a3e48  c3d4e5f60718293a  yes     1        0 B    1m0s
0a1b2c3d4e5f6071  c3d4e5f60718293a  no      0        0 B    1h0m0s
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &status.Status{Time: now, Relayed: tc.pairs()}
			var b strings.Builder
			relayedTable(&b, st, newNodeLabels(st))
			if b.String() != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
}
