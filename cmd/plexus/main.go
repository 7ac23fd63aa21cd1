// Command plexus is the plexus command-line tool. `plexus help <command>`
// describes each command.
//
// Usage:
//
//	plexus node ...              run a mesh node: links, relaying, sidecars, status page, metrics
//	plexus status|links|routes|services [--node URL] [--json]
//	                             read a running node's JSON API and print tables
//	plexus ping|trace [--node URL] TARGET
//	                             round trips from a running node to another, and the path hop by hop
//	plexus cat ADDR | --listen NAME
//	                             standard input and output on a mesh stream, as netcat
//	plexus cert ca|node|id|revoke ...
//	                             make a mesh CA and node certificates, print node ids, revoke nodes
//	plexus sock --req0|... ...   a message socket on the command line (the nngcat of plexus)
//	plexus demo                  run the demo: streams, message sockets and the overlay, in one process
//	plexus version | --version   print the module version and VCS revision of this binary
//	plexus completion bash|zsh   print a shell completion script
//	plexus help [command]        print help
//
// What lives where: main.go dispatches the commands and help.go prints
// their help; one file per command (node.go with meshflags.go, sidecar.go
// and nodestatus.go, nodeping.go; status.go; ping.go; cat.go; cert.go and revoke.go; sock.go
// with sock_format.go; demo.go with demo_mux.go, demo_socket.go and
// demo_mesh.go; version.go; completion.go); flags.go, config.go and log.go are what they share. The node's JSON
// API and live page are package internal/status.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(c.run(ctx, os.Args[1:]))
}

// run executes the command line args and returns the exit status: 0 on
// success, 1 when the command failed, 2 on a usage error. Standard input
// is the process's.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr}
	return c.run(ctx, args)
}

// cli is one invocation of the tool: the files a command reads and
// writes. Commands get it instead of touching os.Stdin and friends, so
// that tests can run them in process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand of plexus.
type command struct {
	name    string
	summary string // one line, for the command list
	// help is the text of `plexus help <name>` above the flags: the
	// synopsis first, then what the command does.
	help string
	// setup makes the command's flags, bound to fresh variables, and the
	// function that runs the command once they are parsed. Nil for a
	// command with subcommands.
	setup func() (*flagSet, runFunc)
	// sub lists the subcommands of a command that has some.
	sub []*command
	// parent is the name of the command this one is a subcommand of.
	parent string
}

// commands returns the commands of plexus in the order help lists them.
func commands() []*command {
	cmds := []*command{nodeCommand()}
	cmds = append(cmds, statusCommands()...)
	cmds = append(cmds, pingCommand(), traceCommand())
	return append(cmds, catCommand(), certCommand(), sockCommand(), demoCommand(), versionCommand(), completionCommand(), helpCommand())
}

// runFunc runs a command whose flags fs holds, parsed.
type runFunc func(ctx context.Context, c *cli, fs *flagSet) error

// errUsage marks an error in the command line: the exit status is 2 and
// the message points at the command's help.
var errUsage = errors.New("usage")

// usageError is a command line error of the command named cmd.
type usageError struct {
	cmd string
	err error
}

func (e *usageError) Error() string   { return e.err.Error() }
func (e *usageError) Unwrap() []error { return []error{errUsage, e.err} }

// usagef returns a usage error of cmd.
func usagef(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd.path(), err: fmt.Errorf(format, args...)}
}

// run dispatches args to a command.
func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, mainUsage())
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(c.stdout, mainUsage())
		return 0
	case "-version", "--version":
		return c.exec(ctx, versionCommand(), args[1:])
	}
	cmd := findCommand(commands(), args[0])
	if cmd == nil {
		fmt.Fprintf(c.stderr, "plexus: unknown command %q\n\n%s", args[0], mainUsage())
		return 2
	}
	return c.exec(ctx, cmd, args[1:])
}

// exec runs cmd (or one of its subcommands) with args and turns its
// error into an exit status and a message.
func (c *cli) exec(ctx context.Context, cmd *command, args []string) int {
	if cmd.sub != nil {
		if len(args) == 0 {
			fmt.Fprintf(c.stderr, "plexus %s: a subcommand is needed\n\n", cmd.name)
			c.printHelp(c.stderr, cmd)
			return 2
		}
		if isHelpFlag(args[0]) {
			c.printHelp(c.stdout, cmd)
			return 0
		}
		sub := findCommand(cmd.sub, args[0])
		if sub == nil {
			fmt.Fprintf(c.stderr, "plexus %s: unknown subcommand %q (run 'plexus help %s')\n", cmd.name, args[0], cmd.name)
			return 2
		}
		return c.exec(ctx, sub, args[1:])
	}
	fs, runCmd := cmd.setup()
	if err := fs.parse(args); err != nil {
		if errors.Is(err, errHelp) {
			c.printHelp(c.stdout, cmd)
			return 0
		}
		fmt.Fprintf(c.stderr, "plexus %s: %v (run 'plexus help %s')\n", cmd.path(), err, cmd.path())
		return 2
	}
	logger, err := fs.newLogger(c.stderr)
	if err != nil {
		fmt.Fprintf(c.stderr, "plexus %s: %v (run 'plexus help %s')\n", cmd.path(), err, cmd.path())
		return 2
	}
	fs.logger = logger
	if err := runCmd(ctx, c, fs); err != nil {
		fmt.Fprintf(c.stderr, "plexus %s: %v\n", cmd.path(), err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(c.stderr, "run 'plexus help %s' for usage\n", ue.cmd)
			return 2
		}
		return 1
	}
	return 0
}

// path is the command's name as typed after plexus: "cert node".
func (cmd *command) path() string {
	if cmd.parent != "" {
		return cmd.parent + " " + cmd.name
	}
	return cmd.name
}

// findCommand returns the command of list named name, or nil.
func findCommand(list []*command, name string) *command {
	for _, cmd := range list {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

func isHelpFlag(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// mainUsage is the text of `plexus help`.
func mainUsage() string {
	var b strings.Builder
	b.WriteString("usage: plexus <command> [flags] [arguments]\n\ncommands:\n")
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, cmd := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", cmd.name, cmd.summary)
	}
	tw.Flush()
	b.WriteString("\nRun 'plexus help <command>' (or 'plexus <command> -h') for a command's flags;\n" +
		"'plexus --version' is 'plexus version'.\n" +
		"Every command takes --log-format text|json and --log-level debug|info|warn|error.\n" +
		"Completion: source <(plexus completion bash) in ~/.bashrc (zsh: see 'plexus help completion').\n")
	return b.String()
}

// printHelp writes the help of cmd: its text, then its subcommands or
// its flags.
func (c *cli) printHelp(w io.Writer, cmd *command) {
	fmt.Fprint(w, strings.TrimLeft(cmd.help, "\n"))
	if cmd.sub != nil {
		fmt.Fprint(w, "\nsubcommands:\n")
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		for _, sub := range cmd.sub {
			fmt.Fprintf(tw, "  %s\t%s\n", sub.name, sub.summary)
		}
		tw.Flush()
		fmt.Fprintf(w, "\nRun 'plexus help %s <subcommand>' for its flags.\n", cmd.name)
		return
	}
	fmt.Fprint(w, "\nflags:\n")
	fs, _ := cmd.setup()
	fs.printDefaults(w)
}
