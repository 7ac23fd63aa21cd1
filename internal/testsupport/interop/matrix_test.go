package interop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plexusnet/plexus/internal/testsupport/testutil"
	"github.com/plexusnet/plexus/protocol/bus"
	"github.com/plexusnet/plexus/protocol/pair"
	"github.com/plexusnet/plexus/protocol/pub"
	"github.com/plexusnet/plexus/protocol/pull"
	"github.com/plexusnet/plexus/protocol/push"
	"github.com/plexusnet/plexus/protocol/rep"
	"github.com/plexusnet/plexus/protocol/req"
	"github.com/plexusnet/plexus/protocol/respondent"
	"github.com/plexusnet/plexus/protocol/sub"
	"github.com/plexusnet/plexus/protocol/surveyor"
	"github.com/plexusnet/plexus/socket"
	_ "github.com/plexusnet/plexus/transport/all" // every scheme that registers itself
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tool is a reference peer program.
type tool struct {
	name string
	// flags maps an SP protocol name to the tool's option for it.
	flags map[string]string
	// every is the shortest --interval the tool takes: nngcat wants whole
	// seconds, nanocat takes fractions.
	every string
	// skip lists the plexus protocols whose cells are tested elsewhere.
	skip map[string]string
}

var tools = []tool{
	{
		name: "nngcat",
		flags: map[string]string{
			"pair": "--pair0", "bus": "--bus0", "pub": "--pub0", "sub": "--sub0",
			"push": "--push0", "pull": "--pull0", "req": "--req0", "rep": "--rep0",
			"surveyor": "--surveyor0", "respondent": "--respondent0",
		},
		every: "1",
		skip: map[string]string{
			"req": "protocol/req TestNNGRep",
			"rep": "protocol/rep TestNNGReq",
		},
	},
	{
		name: "nanocat",
		flags: map[string]string{
			"pair": "--pair", "bus": "--bus", "pub": "--pub", "sub": "--sub",
			"push": "--push", "pull": "--pull", "req": "--req", "rep": "--rep",
			"surveyor": "--surveyor", "respondent": "--respondent",
		},
		every: "0.1",
	},
}

// peer is a running tool: the lines it prints (one per message, quoted).
type peer struct {
	lines <-chan string
}

// next returns the next line the tool prints.
func (p *peer) next(t *testing.T) string {
	t.Helper()
	return testutil.Line(t, p.lines)
}

// start runs tl as protocol proto on addr (listening or dialing) with
// extra arguments; it is killed when the test ends.
func start(t *testing.T, tl tool, proto, addr string, listen bool, extra ...string) *peer {
	t.Helper()
	mode := "--connect"
	if listen {
		mode = "--bind"
	}
	args := []string{tl.flags[proto], mode, addr}
	if proto != "pub" && proto != "push" {
		args = append(args, "-Q") // print what arrives, quoted (send-only roles refuse it)
	}
	return &peer{lines: testutil.Command(t, tl.name, append(args, extra...)...)}
}

// listenURL is what plexus listens on.
func listenURL(t *testing.T, scheme string) string {
	if scheme == "ipc" {
		return testutil.FreeURL(t, scheme)
	}
	return "tcp://127.0.0.1:0"
}

// listenTool runs tl listening as proto on a free address of scheme and
// calls try until it returns nil (a dial from plexus that succeeds, or
// fails as it should); it returns the tool and its address. A port free
// when FreeURL looked may be taken when the tool binds it (by a
// connection of another test process): a tool that exits before try
// succeeded is run again on another address.
func listenTool(t *testing.T, tl tool, proto, scheme string, args []string, try func(addr string) error) (*peer, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := testutil.FreeURL(t, scheme)
		p := start(t, tl, proto, addr, true, args...)
		exited := false
		testutil.WaitFor(t, "the tool to listen on "+addr, func() error {
			select {
			case _, ok := <-p.lines: // a listening tool prints nothing before plexus connects
				if ok {
					t.Fatalf("%s printed a line before plexus connected", tl.name)
				}
				exited = true
				return nil
			default:
			}
			return try(addr)
		})
		if !exited {
			return p, addr
		}
		if attempt == 3 {
			t.Fatalf("%s exited before listening, 3 times", tl.name)
		}
		t.Logf("%s exited before listening on %s (taken meanwhile?): again on another address", tl.name, addr)
	}
}

// dialer returns a try of listenTool: s dials addr.
func dialer(t *testing.T, s socket.Socket) func(addr string) error {
	return func(addr string) error {
		err := s.Dial(addr)
		if errors.Is(err, socket.ErrProtocolMismatch) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		return err
	}
}

// waitPeer waits until s has a pipe.
func waitPeer(t *testing.T, s socket.Socket) {
	t.Helper()
	testutil.Eventually(t, "the tool to connect", func() bool { return s.Stats().Pipes > 0 })
}

// recv receives one message, within testutil.Patience.
func recv(t *testing.T, s socket.Socket) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	b, err := s.RecvContext(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return string(b)
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }

// scenario is what one plexus protocol does with its peer tool.
type scenario struct {
	proto string // plexus protocol
	peer  string // the tool's protocol
	open  func() (socket.Socket, error)
	// args are the tool's arguments beyond protocol, address and format.
	args func(tl tool) []string
	// run exchanges messages once the two are set to connect.
	run func(t *testing.T, s socket.Socket, p *peer)
}

var scenarios = []scenario{
	{
		proto: "pair", peer: "pair", open: func() (socket.Socket, error) { return pair.New() },
		args: func(tl tool) []string { return []string{"--data", "tool pair", "--interval", tl.every} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			if got := recv(t, s); got != "tool pair" {
				t.Fatalf("plexus got %q", got)
			}
			if err := s.Send([]byte("plexus pair")); err != nil {
				t.Fatal(err)
			}
			if l := p.next(t); l != quoted("plexus pair") {
				t.Fatalf("tool printed %s", l)
			}
		},
	},
	{
		proto: "bus", peer: "bus", open: func() (socket.Socket, error) { return bus.New() },
		args: func(tl tool) []string { return []string{"--data", "tool bus", "--interval", tl.every} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			if got := recv(t, s); got != "tool bus" {
				t.Fatalf("plexus got %q", got)
			}
			// Sent to the peers connected now: the tool is one of them.
			if err := s.Send([]byte("plexus bus")); err != nil {
				t.Fatal(err)
			}
			if l := p.next(t); l != quoted("plexus bus") {
				t.Fatalf("tool printed %s", l)
			}
		},
	},
	{
		proto: "pub", peer: "sub", open: func() (socket.Socket, error) { return pub.New() },
		args: func(tool) []string { return []string{"--subscribe", "plexus"} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			waitPeer(t, s)
			// Publish until the subscriber, connected at our end, shows
			// the first message: its end may still be setting up.
			var line string
			for i := 0; line == ""; i++ {
				s.Send([]byte("not for you"))
				if err := s.Send([]byte(fmt.Sprint("plexus pub ", i))); err != nil {
					t.Fatal(err)
				}
				select {
				case l := <-p.lines:
					line = l
				case <-time.After(20 * time.Millisecond):
					if i > int(testutil.Patience/(20*time.Millisecond)) {
						t.Fatal("the subscriber printed nothing")
					}
				}
			}
			if !strings.HasPrefix(line, `"plexus pub `) {
				t.Fatalf("tool printed %s", line)
			}
		},
	},
	{
		proto: "sub", peer: "pub",
		open: func() (socket.Socket, error) {
			s, err := sub.New()
			if err == nil {
				err = sub.Subscribe(s, []byte("tool"))
			}
			return s, err
		},
		args: func(tl tool) []string { return []string{"--data", "tool pub", "--interval", tl.every} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			if got := recv(t, s); got != "tool pub" {
				t.Fatalf("plexus got %q", got)
			}
		},
	},
	{
		proto: "push", peer: "pull", open: func() (socket.Socket, error) { return push.New() },
		args: func(tool) []string { return nil },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			// Queued until the puller connects.
			for i := 0; i < 3; i++ {
				if err := s.Send([]byte(fmt.Sprint("plexus push ", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				if l := p.next(t); l != quoted(fmt.Sprint("plexus push ", i)) {
					t.Fatalf("tool printed %s", l)
				}
			}
		},
	},
	{
		proto: "pull", peer: "push", open: func() (socket.Socket, error) { return pull.New() },
		args: func(tl tool) []string { return []string{"--data", "tool push", "--interval", tl.every} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			if got := recv(t, s); got != "tool push" {
				t.Fatalf("plexus got %q", got)
			}
		},
	},
	{
		proto: "req", peer: "rep",
		open: func() (socket.Socket, error) { return req.New(req.WithResendInterval(time.Second)) },
		args: func(tool) []string { return []string{"--data", "tool rep"} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			for i := 0; i < 3; i++ {
				if err := s.Send([]byte(fmt.Sprint("plexus req ", i))); err != nil {
					t.Fatal(err)
				}
				if got := recv(t, s); got != "tool rep" {
					t.Fatalf("plexus got %q", got)
				}
				if l := p.next(t); l != quoted(fmt.Sprint("plexus req ", i)) {
					t.Fatalf("tool printed %s", l)
				}
			}
		},
	},
	{
		proto: "rep", peer: "req", open: func() (socket.Socket, error) { return rep.New() },
		args: func(tl tool) []string { return []string{"--data", "tool req", "--interval", tl.every} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			if got := recv(t, s); got != "tool req" {
				t.Fatalf("plexus got %q", got)
			}
			// The tool sends a new request every interval and drops the
			// replies to the older ones (nanocat waits for a reply only
			// until its next send): answer each request until the tool
			// prints a reply.
			ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
			defer cancel()
			reqs := make(chan error, 1)
			for {
				if err := s.Send([]byte("plexus rep")); err != nil {
					t.Fatal(err)
				}
				go func() {
					_, err := s.RecvContext(ctx)
					reqs <- err
				}()
				select {
				case l, ok := <-p.lines:
					cancel()
					<-reqs
					if !ok {
						t.Fatal("the tool exited")
					}
					if l != quoted("plexus rep") {
						t.Fatalf("tool printed %s", l)
					}
					return
				case err := <-reqs:
					if err != nil {
						t.Fatalf("waiting for the tool's reply or its next request: %v", err)
					}
				}
			}
		},
	},
	{
		proto: "surveyor", peer: "respondent",
		open: func() (socket.Socket, error) { return surveyor.New(surveyor.WithSurveyTime(time.Second)) },
		args: func(tool) []string { return []string{"--data", "tool respondent"} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			waitPeer(t, s)
			// A survey reaches the respondents connected now; ask again
			// if the tool's end was not ready for the first.
			deadline := time.Now().Add(testutil.Patience)
			for {
				if err := s.Send([]byte("plexus survey")); err != nil {
					t.Fatal(err)
				}
				b, err := s.Recv()
				if err == nil {
					if string(b) != "tool respondent" {
						t.Fatalf("plexus got %q", b)
					}
					break
				}
				if !errors.Is(err, os.ErrDeadlineExceeded) || time.Now().After(deadline) {
					t.Fatal(err)
				}
			}
			if l := p.next(t); l != quoted("plexus survey") {
				t.Fatalf("tool printed %s", l)
			}
		},
	},
	{
		proto: "respondent", peer: "surveyor", open: func() (socket.Socket, error) { return respondent.New() },
		args: func(tl tool) []string { return []string{"--data", "tool survey", "--interval", tl.every} },
		run: func(t *testing.T, s socket.Socket, p *peer) {
			// Answer every survey: an answer that misses its survey's
			// deadline is dropped by the tool, and the next survey
			// gets another.
			go func() {
				for {
					b, err := s.Recv()
					if err != nil {
						return
					}
					if string(b) != "tool survey" {
						t.Errorf("plexus got %q", b)
					}
					s.Send([]byte("plexus answer"))
				}
			}()
			if l := p.next(t); l != quoted("plexus answer") {
				t.Fatalf("tool printed %s", l)
			}
		},
	},
}

// TestMatrix runs every scenario against every tool, over tcp and ipc,
// with plexus dialing and listening. The cells run concurrently: most of
// their time is spent waiting for the tools.
func TestMatrix(t *testing.T) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 24)
	for _, tl := range tools {
		for _, sc := range scenarios {
			for _, scheme := range []string{"tcp", "ipc"} {
				for _, plexusListens := range []bool{false, true} {
					role := "plexus-dials"
					if plexusListens {
						role = "plexus-listens"
					}
					name := strings.Join([]string{tl.name, sc.proto, scheme, role}, "/")
					wg.Add(1)
					go func() {
						defer wg.Done()
						sem <- struct{}{}
						defer func() { <-sem }()
						t.Run(name, func(t *testing.T) {
							if where, ok := tl.skip[sc.proto]; ok {
								t.Skipf("tested in %s", where)
							}
							runCell(t, tl, sc, scheme, plexusListens)
						})
					}()
				}
			}
		}
	}
	wg.Wait()
}

func runCell(t *testing.T, tl tool, sc scenario, scheme string, plexusListens bool) {
	s, err := sc.open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var p *peer
	if plexusListens {
		addr, err := s.ListenAddr(listenURL(t, scheme))
		if err != nil {
			t.Fatal(err)
		}
		p = start(t, tl, sc.peer, addr, false, sc.args(tl)...)
	} else {
		p, _ = listenTool(t, tl, sc.peer, scheme, sc.args(tl), dialer(t, s))
	}
	sc.run(t, s, p)
}

// TestMismatch: a plexus socket refuses a tool of a protocol it does not
// pair with. (A listening plexus socket closes such a connection inside
// the transport, where nothing is observable from here: that side is
// tested in transport/spstream and in each protocol's TestMismatch.)
func TestMismatch(t *testing.T) {
	cases := []struct {
		plexus string
		open   func() (socket.Socket, error)
		tool   string
		args   []string
	}{
		{"sub", func() (socket.Socket, error) { return sub.New() }, "push", []string{"--data", "x"}},
		{"pair", func() (socket.Socket, error) { return pair.New() }, "bus", nil},
		{"surveyor", func() (socket.Socket, error) { return surveyor.New() }, "rep", nil},
	}
	for _, tl := range tools {
		for _, c := range cases {
			t.Run(tl.name+"/"+c.plexus+"-to-"+c.tool, func(t *testing.T) {
				s, err := c.open()
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				listenTool(t, tl, c.tool, "tcp", c.args, func(addr string) error {
					err := s.Dial(addr)
					if errors.Is(err, socket.ErrProtocolMismatch) {
						return nil
					}
					if err == nil {
						t.Fatalf("%s dialing %s %s: no error, want ErrProtocolMismatch", c.plexus, tl.name, tl.flags[c.tool])
					}
					return err
				})
				if st := s.Stats(); st.PipesOpened != 0 {
					t.Fatalf("pipes opened: %+v", st)
				}
			})
		}
	}
}
