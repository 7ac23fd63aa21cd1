package main

import (
	"bufio"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The files of deploy/, as a user installs them.
const (
	deployUnit       = "../../deploy/plexus.service"
	deployDockerfile = "../../deploy/Dockerfile"
	dockerignore     = "../../.dockerignore"
)

// TestSystemdUnit checks deploy/plexus.service with systemd-analyze
// verify, its ExecStart pointed at a plexus built from this tree: no
// error and no warning. It also wants the sandbox's exposure at most 2.0
// (systemd-analyze security --offline=yes, systemd 250 and later).
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(deployUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"ExecStart=/usr/local/bin/plexus node --config /etc/plexus/plexus.toml",
		"ExecReload=/bin/kill -HUP $MAINPID",
		"Restart=on-failure",
		"DynamicUser=yes",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
	} {
		if !strings.Contains(unit, want+"\n") && !strings.Contains(unit, want+" ") {
			t.Errorf("%s lacks %q", deployUnit, want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd): the unit is not verified")
	}
	path := filepath.Join(t.TempDir(), "plexus.service")
	unit = strings.ReplaceAll(unit, "/usr/local/bin/plexus", plexusBin(t))
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "plexus.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", path).CombinedOutput()
	switch {
	case err != nil && (strings.Contains(string(out), "unrecognized option") || strings.Contains(string(out), "Unknown verb")):
		t.Logf("this systemd-analyze has no offline security check: %s", out)
	case err != nil:
		t.Errorf("systemd-analyze security: exposure above 2.0, or failed: %v\n%s", err, out)
	}
}

// dockerfileRun returns the RUN command of the Dockerfile's build stage
// that builds plexus.
func dockerfileRun(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%s: no RUN CGO_ENABLED=0 go build", deployDockerfile)
	}
	return m[1]
}

// TestDockerfile checks deploy/Dockerfile without a container engine:
// its stages and the build command (static, -trimpath, ./cmd/plexus),
// and that .dockerignore keeps what the build needs. With
// PLEXUS_TEST_DOCKER_BUILD=1 it runs the build stage's command in a
// temporary directory and checks that the binary is static (a build of
// its own: minutes on a small machine).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(deployDockerfile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, re := range []string{
		`(?m)^FROM golang:\S+ AS build$`,
		`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^COPY --from=build /out/plexus /usr/local/bin/plexus$`,
		`(?m)^USER nonroot`,
		`(?m)^EXPOSE \d+`,
		`(?m)^VOLUME \["/etc/plexus"\]$`,
		`(?m)^ENTRYPOINT \["/usr/local/bin/plexus"\]$`,
		`(?m)^CMD \["node", "--config", "/etc/plexus/plexus.toml"\]$`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("%s does not match %s", deployDockerfile, re)
		}
	}
	run := dockerfileRun(t, text)
	for _, want := range []string{"-trimpath", "-o /out/plexus", "./cmd/plexus"} {
		if !strings.Contains(run, want) {
			t.Errorf("the build stage's command %q lacks %q", run, want)
		}
	}

	// .dockerignore must leave the module's sources in the context.
	f, err := os.Open(dockerignore)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		for _, keep := range []string{"go.mod", "go.sum", "cmd", "cmd/plexus", "mesh", "mux", "internal", "metrics", "protocol", "socket", "transport"} {
			if ok, _ := filepath.Match(strings.TrimSuffix(p, "/"), keep); ok {
				t.Errorf("%s: %q leaves %s out of the build context", dockerignore, p, keep)
			}
		}
	}

	if os.Getenv("PLEXUS_TEST_DOCKER_BUILD") != "1" {
		t.Skip("the build stage's command is not run: set PLEXUS_TEST_DOCKER_BUILD=1 to run it (minutes)")
	}
	out := filepath.Join(t.TempDir(), "plexus")
	run = strings.Replace(strings.TrimPrefix(run, "CGO_ENABLED=0 "), "/out/plexus", out, 1)
	args := strings.Fields(run)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", run, err, b)
	}
	ef, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: the binary has an ELF interpreter: not static", run)
		}
	}
	if libs, _ := ef.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: the binary needs %v: not static", run, libs)
	}
}
