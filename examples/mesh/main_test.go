package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the program's whole story and checks what it prints.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `relay: accepting links, mutual TLS 1.3 against the mesh CA
billing: joining the relay, offers services billing and billing-web
app: sees service billing 2 hops away
app: sees service billing-web 2 hops away
app: dialed billing by name, it answered "re: hello billing\n"
relay: forwards 1 circuit, and cannot read it (end-to-end TLS)
app: GET http://billing-web/invoices: 200 OK: invoice list for /invoices
`
	if got := out.String(); got != want {
		t.Errorf("run printed\n%s\nwant\n%s", got, want)
	}
}
