package sockpeer

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseKind(t *testing.T) {
	for k := Push; k <= Sub; k++ {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, err, k)
		}
	}
	if _, err := ParseKind("bus"); err == nil {
		t.Error("ParseKind(bus) did not fail")
	}
}

func TestPeersDescribeThemselves(t *testing.T) {
	for _, p := range All() {
		t.Run(p.Name, func(t *testing.T) {
			switch {
			case p.Name == "":
				t.Fatal("peer without a name")
			case p.Unavailable == "" && p.New == nil:
				t.Fatal("available peer without a constructor")
			case p.Unavailable != "":
				t.Skip(p.Unavailable)
			}
			inst, err := p.New()
			if err != nil {
				t.Fatal(err)
			}
			s, err := inst.Open(Rep)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := inst.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
