package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// errHelp is what parse returns for -h, -help and --help.
var errHelp = flag.ErrHelp

// flagSet is a flag.FlagSet whose flags may have several names (nngcat's
// short forms: -D for --data) and whose help lists them in the order
// they were defined, under headings, with the long names as --name.
// Flags and arguments may come in any order; "--" ends the flags.
type flagSet struct {
	fs      *flag.FlagSet
	entries []flagEntry
	args    []string // the arguments that are not flags, in order
	// log is set by logging: the shared logging flags.
	log *logFlags
	// logger is what the logging flags ask for, once parsed.
	logger *slog.Logger
	// config is set by configFlag: the --config file, read by parse.
	config *string
	// argv is the command line parse was given, to parse it again when
	// the config file is reloaded.
	argv []string
}

// flagEntry is one flag for the help: its names, or a heading.
type flagEntry struct {
	names   []string // primary first; empty for a heading
	arg     string   // the value's name in the help ("" for a bool flag)
	usage   string
	def     string // the default shown in the help, "" for none
	heading string
}

// newFlagSet returns an empty flag set for the command named name.
func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs: fs}
}

// heading starts a group of flags in the help.
func (f *flagSet) heading(h string) { f.entries = append(f.entries, flagEntry{heading: h}) }

// varFlag defines a flag of value v under names (the first is the
// primary name). arg names the value in the help ("" for a bool flag);
// def is the default shown there.
func (f *flagSet) varFlag(v flag.Value, arg, def, usage string, names ...string) {
	for _, n := range names {
		f.fs.Var(v, n, usage)
	}
	f.entries = append(f.entries, flagEntry{names: names, arg: arg, usage: usage, def: def})
}

// boolFlag defines a bool flag.
func (f *flagSet) boolFlag(p *bool, usage string, names ...string) {
	f.varFlag((*boolValue)(p), "", "", usage, names...)
}

// stringFlag defines a string flag whose default is *p.
func (f *flagSet) stringFlag(p *string, arg, usage string, names ...string) {
	f.varFlag((*stringValue)(p), arg, *p, usage, names...)
}

// parse parses args: flags anywhere, the rest in f.args. Then, with
// --config FILE, it sets from the file the flags args did not set.
func (f *flagSet) parse(args []string) error {
	f.argv = args
	if err := f.parseArgs(args); err != nil {
		return err
	}
	if file := f.configFile(); file != "" {
		return f.loadConfig(file)
	}
	return nil
}

// parseArgs parses the command line args.
func (f *flagSet) parseArgs(args []string) error {
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errHelp
			}
			return cleanFlagError(err)
		}
		rest := f.fs.Args()
		if len(rest) == 0 {
			return nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			f.args = append(f.args, rest...)
			return nil
		}
		f.args = append(f.args, rest[0])
		args = rest[1:]
	}
}

// cleanFlagError rewrites the flag package's messages with the flag
// names as they are written in the help (--name).
func cleanFlagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag %s", dashes(name))
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean flag "); ok {
		if name, reason, ok := strings.Cut(rest, ": "); ok {
			return fmt.Errorf("%s: %s", dashes(name), reason)
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if value, rest, ok := strings.Cut(rest, " for flag -"); ok {
			if name, reason, ok := strings.Cut(rest, ": "); ok {
				return fmt.Errorf("%s %s: %s", dashes(name), value, reason)
			}
		}
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Errorf("%s needs a value", dashes(name))
	}
	return err
}

// dashes writes a flag name as the help does: -x or --name.
func dashes(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// set reports whether the flag was given under one of its names.
func (f *flagSet) set(names ...string) bool {
	found := false
	f.fs.Visit(func(fl *flag.Flag) {
		for _, n := range names {
			if fl.Name == n {
				found = true
			}
		}
	})
	return found
}

// printDefaults writes the help of the flags.
func (f *flagSet) printDefaults(w io.Writer) {
	for i, e := range f.entries {
		if e.heading != "" {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "  %s\n", e.heading)
			continue
		}
		var names []string
		for _, n := range e.names {
			if len(n) == 1 {
				names = append(names, "-"+n)
			} else {
				names = append(names, "--"+n)
			}
		}
		line := "  " + strings.Join(names, ", ")
		if e.arg != "" {
			line += " " + e.arg
		}
		usage := e.usage
		if e.def != "" {
			usage += fmt.Sprintf(" (default %s)", e.def)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, strings.ReplaceAll(usage, "\n", "\n      "))
	}
}

// boolValue is a bool flag.
type boolValue bool

func (b *boolValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not a boolean")
	}
	*b = boolValue(v)
	return nil
}
func (b *boolValue) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) IsBoolFlag() bool { return true }

// stringValue is a string flag.
type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

// listValue is a repeatable string flag; a value may also hold several
// items separated by commas when split is set.
type listValue struct {
	p     *[]string
	split bool
}

func (l listValue) Set(v string) error {
	if !l.split {
		*l.p = append(*l.p, v)
		return nil
	}
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l.p = append(*l.p, s)
		}
	}
	return nil
}
func (l listValue) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

// intValue is a non-negative int flag, at most max.
type intValue struct {
	p   *int
	max int
}

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return errors.New("not a whole number ≥ 0")
	}
	if n > v.max {
		return fmt.Errorf("more than %d", v.max)
	}
	*v.p = n
	return nil
}
func (v intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

// maxDuration bounds the duration flags, as nngcat does (one day).
const maxDuration = 24 * time.Hour

// durationValue is a duration flag: a whole number of seconds, as
// nngcat takes, or a Go duration such as 250ms or 1m30s. set records
// that it was given.
type durationValue struct {
	p   *time.Duration
	set *bool
}

func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.p = d
	if v.set != nil {
		*v.set = true
	}
	return nil
}
func (v durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

// parseDuration reads a whole number of seconds or a Go duration,
// between 0 and maxDuration.
func parseDuration(s string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > int(maxDuration/time.Second) {
			return 0, fmt.Errorf("seconds out of range (0 to %d)", int(maxDuration/time.Second))
		}
		d = time.Duration(n) * time.Second
	} else {
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("neither whole seconds nor a duration such as 500ms")
		}
	}
	if d < 0 || d > maxDuration {
		return 0, fmt.Errorf("out of range (0 to %v)", maxDuration)
	}
	return d, nil
}
