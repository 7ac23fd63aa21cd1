package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo moves a few hundred MiB")
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &out, &errOut); code != 0 {
		t.Fatalf("demo exited %d: %s\n%s", code, errOut.String(), out.String())
	}
	for _, want := range []string{"streams opened at once", "byte stream:", "message streams:",
		"req/rep:", "pub/sub:", "switch:", "every reply reached the client that asked",
		"echo through the relay", "GET http://billing/2024-42: 200 OK", "req/rep over mesh://rpc: \"re: ping\"", "demo finished"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage") {
		t.Fatalf("no args: exit %d, %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"bogus"}, &out, &errOut); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	out.Reset()
	if code := run(context.Background(), []string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "demo") {
		t.Fatalf("help: exit %d, %q", code, out.String())
	}
}
