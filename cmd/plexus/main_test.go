package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// binary is the plexus command built once for the tests that run it as
// a user would.
type binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// bin is the test binary's one build of plexus, removed by TestMain.
var bin binary

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if bin.dir != "" {
			os.RemoveAll(bin.dir)
		}
	}))
}

// plexusBin returns the path of the plexus command, built from this
// package on first use (with -race when the tests run with it).
func plexusBin(t testing.TB) string {
	t.Helper()
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "plexus-bin-")
		if bin.err != nil {
			return
		}
		bin.path = filepath.Join(bin.dir, "plexus")
		args := []string{"build", "-o", bin.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			bin.err = &buildError{err: err, out: string(out)}
		}
	})
	if bin.err != nil {
		t.Fatalf("building plexus: %v", bin.err)
	}
	return bin.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// result is what a run of the plexus command did.
type result struct {
	code           int
	stdout, stderr string
}

// plexus runs the plexus command with args and stdin, waiting at most a
// minute, and returns what it did.
func plexus(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, plexusBin(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("plexus %s: %v", strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// runIn runs the command line in this process, as main does.
func runIn(args ...string) result {
	var out, errOut bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	code := c.run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo moves a few hundred MiB")
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &out, &errOut); code != 0 {
		t.Fatalf("demo exited %d: %s\n%s", code, errOut.String(), out.String())
	}
	checkDemo(t, out.String())
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
