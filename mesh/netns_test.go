package mesh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The network-namespace test: three hosts A - B - C, each a network
// namespace with veth links, where A and C have no IP path to each other.
// Each host runs this test binary (re-executed with `ip netns exec`) as a
// mesh node; A reaches a service of C by name, through B.
//
// Addresses (inside the namespaces only): A 10.200.0.1/30 - B 10.200.0.2/30,
// B 10.200.0.5/30 - C 10.200.0.6/30. B does not forward IP.

// netnsRole is the environment variable that makes a re-executed test
// binary play one host.
const netnsRole = "PLEXUS_MESH_NETNS_ROLE"

func TestNetnsThreeHosts(t *testing.T) {
	if os.Getenv(netnsRole) != "" {
		t.Skip("running as a host of the netns test")
	}
	if os.Getuid() != 0 {
		t.Skip("skipped: the network-namespace test needs root (ip netns, veth)")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("skipped: the network-namespace test needs the ip command (iproute2)")
	}
	prefix := fmt.Sprintf("plxm%d", os.Getpid()%100000)
	ns := map[string]string{"a": prefix + "a", "b": prefix + "b", "c": prefix + "c"}
	ip := func(args ...string) error {
		out, err := exec.Command(ipPath, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, name := range ns {
		if err := ip("netns", "add", name); err != nil {
			t.Skipf("skipped: cannot make network namespaces here: %v", err)
		}
		t.Cleanup(func() { ip("netns", "del", name) })
	}
	setup := [][]string{
		{"link", "add", prefix + "ab", "netns", ns["a"], "type", "veth", "peer", "name", prefix + "ba", "netns", ns["b"]},
		{"link", "add", prefix + "bc", "netns", ns["b"], "type", "veth", "peer", "name", prefix + "cb", "netns", ns["c"]},
		{"-n", ns["a"], "addr", "add", "10.200.0.1/30", "dev", prefix + "ab"},
		{"-n", ns["b"], "addr", "add", "10.200.0.2/30", "dev", prefix + "ba"},
		{"-n", ns["b"], "addr", "add", "10.200.0.5/30", "dev", prefix + "bc"},
		{"-n", ns["c"], "addr", "add", "10.200.0.6/30", "dev", prefix + "cb"},
	}
	for _, host := range []string{"a", "b", "c"} {
		setup = append(setup, []string{"-n", ns[host], "link", "set", "lo", "up"})
	}
	setup = append(setup,
		[]string{"-n", ns["a"], "link", "set", prefix + "ab", "up"},
		[]string{"-n", ns["b"], "link", "set", prefix + "ba", "up"},
		[]string{"-n", ns["b"], "link", "set", prefix + "bc", "up"},
		[]string{"-n", ns["c"], "link", "set", prefix + "cb", "up"},
	)
	for _, args := range setup {
		if err := ip(args...); err != nil {
			t.Skipf("skipped: cannot set up the veth links: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	start := func(role string) (*exec.Cmd, *bytes.Buffer, io.WriteCloser) {
		cmd := exec.CommandContext(ctx, ipPath, "netns", "exec", ns[role], os.Args[0],
			"-test.run", "^TestNetnsHost$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), netnsRole+"="+role)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		stdin, _ := cmd.StdinPipe() // closing it tells the host to stop
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out, stdin
	}
	b, outB, inB := start("b")
	c, outC, inC := start("c")
	a, outA, inA := start("a")
	inA.Close()
	errA := a.Wait()
	inB.Close()
	inC.Close()
	errB, errC := b.Wait(), c.Wait()
	t.Logf("host A:\n%s", outA)
	if errA != nil || !strings.Contains(outA.String(), "netns: A reached echo on C through B") {
		t.Logf("host B:\n%s", outB)
		t.Logf("host C:\n%s", outC)
		t.Fatalf("host A failed: %v", errA)
	}
	if errB != nil || errC != nil {
		t.Fatalf("hosts B, C: %v, %v\nB:\n%s\nC:\n%s", errB, errC, outB, outC)
	}
}

// TestNetnsHost is one host of TestNetnsThreeHosts; it runs only in a
// re-executed test binary.
func TestNetnsHost(t *testing.T) {
	role := os.Getenv(netnsRole)
	if role == "" {
		t.Skip("a host of TestNetnsThreeHosts, run by it")
	}
	n := newNode(t, WithName("netns"))
	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	waitStop := func() {
		select {
		case <-stop:
		case <-time.After(2 * patience):
			t.Error("never told to stop")
		}
	}
	switch role {
	case "b":
		if err := n.ListenAndServe("tcp", ":7000"); err != nil {
			t.Fatal(err)
		}
		waitStop()
	case "c":
		if err := n.Join("tcp", "10.200.0.5:7000"); err != nil {
			t.Fatal(err)
		}
		ln, err := n.Listen("", "echo")
		if err != nil {
			t.Fatal(err)
		}
		echo(t, ln)
		waitStop()
	case "a":
		// No IP path to C.
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.Dial("tcp", "10.200.0.6:7000"); err == nil {
			c.Close()
			t.Fatal("A reaches C over IP: the test network is wrong")
		}
		if err := n.Join("tcp", "10.200.0.2:7000"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "echo to be seen two hops away", func() bool {
			s := n.Services()
			return len(s) == 1 && s[0].Name == "echo" && s[0].Hops == 2
		})
		c, err := n.Dial("", "echo")
		if err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c, "hello from A")
		c.Close()
		fmt.Printf("netns: A reached echo on C through B; routes %v\n", n.Routes())
	}
}
