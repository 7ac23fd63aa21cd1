package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/BurntSushi/toml"
)

// The config file of a command (plexus node --config FILE) is TOML whose
// keys are the command's flags, by the same names: nothing keeps a second
// list of them. A flag given on the command line overrides its key; a
// repeatable flag takes an array of strings (or one string).

// errConfig marks an error in a config file: an unknown key, a value of
// the wrong type or a bad value. It is a usage error (exit status 2).
var errConfig = errors.New("bad config file")

// configError is an error in the config file file, at key, on line
// (0 when the file does not say).
type configError struct {
	file string
	line int
	key  string
	err  error
}

func (e *configError) Error() string {
	where := e.file
	if e.line > 0 {
		where += ":" + strconv.Itoa(e.line)
	}
	if e.key == "" {
		return fmt.Sprintf("config %s: %v", where, e.err)
	}
	return fmt.Sprintf("config %s: key %q: %v", where, e.key, e.err)
}

func (e *configError) Unwrap() []error { return []error{errConfig, e.err} }

// configFlag adds --config FILE to f, bound to p: parse then reads the
// file, if one is given, for the flags the command line did not set.
func (f *flagSet) configFlag(p *string) {
	f.config = p
	f.stringFlag(p, "FILE", "read the flags from this TOML file: a key per flag, same name (listen = \"tcp://...\", join = [\"...\"]); the command line overrides it", "config")
}

// configFile is the config file the command line names, "" for none.
func (f *flagSet) configFile() string {
	if f.config == nil {
		return ""
	}
	return *f.config
}

// loadConfig sets, from the TOML file path, the flags of f that the
// command line did not set.
func (f *flagSet) loadConfig(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &configError{file: path, err: err}
	}
	onCommandLine := make(map[string]bool)
	f.fs.Visit(func(fl *flag.Flag) {
		// A flag of several names is set under all of them.
		for _, e := range f.entries {
			for _, n := range e.names {
				if n == fl.Name {
					for _, m := range e.names {
						onCommandLine[m] = true
					}
				}
			}
		}
		onCommandLine[fl.Name] = true
	})
	var keys map[string]toml.Primitive
	md, err := toml.Decode(string(b), &keys)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &configError{file: path, line: pe.Position.Line, err: errors.New(pe.Message)}
		}
		return &configError{file: path, err: err}
	}
	// In the file's order, so that the first error is the first in the file.
	for _, k := range md.Keys() {
		if len(k) != 1 {
			continue // inside a table: the table's key is refused first
		}
		name := k[0]
		v := &configValue{f: f, name: name, skip: onCommandLine[name]}
		if err := md.PrimitiveDecode(keys[name], v); err != nil {
			ce := &configError{file: path, key: name, err: err}
			var pe toml.ParseError
			if errors.As(err, &pe) {
				ce.line, ce.err = pe.Position.Line, errors.New(pe.Message)
			}
			return ce
		}
	}
	return nil
}

// configValue sets the flag name of f from its TOML value: the decoder
// calls UnmarshalTOML with the value, and reports the key's line with
// the error it returns.
type configValue struct {
	f    *flagSet
	name string
	skip bool // set on the command line, which wins
}

// UnmarshalTOML checks the value's type against the flag's and sets it.
func (c *configValue) UnmarshalTOML(data any) error {
	fl := c.f.fs.Lookup(c.name)
	if fl == nil || fl.Name == "config" {
		return errors.New("unknown key: not a flag of this command (see its help)")
	}
	var values []string
	switch fl.Value.(type) {
	case *boolValue:
		b, ok := data.(bool)
		if !ok {
			return wrongType("a boolean (true or false)", data)
		}
		values = []string{strconv.FormatBool(b)}
	case listValue:
		switch d := data.(type) {
		case string:
			values = []string{d}
		case []any:
			for _, e := range d {
				s, ok := e.(string)
				if !ok {
					return wrongType("an array of strings", e)
				}
				values = append(values, s)
			}
		default:
			return wrongType("an array of strings (or one string)", data)
		}
	case durationValue:
		switch d := data.(type) {
		case string:
			values = []string{d}
		case int64:
			values = []string{strconv.FormatInt(d, 10)}
		default:
			return wrongType(`a duration such as "5s" (or whole seconds)`, data)
		}
	case intValue:
		n, ok := data.(int64)
		if !ok {
			return wrongType("a whole number", data)
		}
		values = []string{strconv.FormatInt(n, 10)}
	default:
		s, ok := data.(string)
		if !ok {
			return wrongType("a string", data)
		}
		values = []string{s}
	}
	if c.skip {
		return nil
	}
	for _, v := range values {
		if err := c.f.fs.Set(c.name, v); err != nil {
			return fmt.Errorf("%q: %v", v, err)
		}
	}
	return nil
}

// wrongType is the error of a value that is not of the type wanted.
func wrongType(want string, data any) error {
	return fmt.Errorf("want %s, not %s", want, tomlType(data))
}

// tomlType names the TOML type of a decoded value.
func tomlType(data any) string {
	switch data.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

// configChanges compares the flag values of two parses of one command,
// f running and next just read, and returns the names (primary ones) of
// the flags whose values differ.
func (f *flagSet) configChanges(next *flagSet) []string {
	var changed []string
	for _, e := range f.entries {
		if len(e.names) == 0 {
			continue
		}
		a, b := f.fs.Lookup(e.names[0]), next.fs.Lookup(e.names[0])
		if a == nil || b == nil || a.Value.String() != b.Value.String() {
			changed = append(changed, e.names[0])
		}
	}
	return changed
}

// reloadConfig reads the config file of plexus node again (SIGHUP), with
// the same command line, and applies the keys whose files the node reads
// again (cert, key, ca, revoked); a change of any other key is logged as
// needing a restart. On an error in the file nothing changes.
func (o *nodeOptions) reloadConfig(fs *flagSet, log *slog.Logger) {
	file := fs.configFile()
	if file == "" {
		return
	}
	next, _ := o.cmd.setup()
	if err := next.parse(fs.argv); err != nil {
		log.Error("SIGHUP: config file not reloaded, the node keeps its settings", "err", err)
		return
	}
	for _, name := range fs.configChanges(next) {
		switch name {
		case "cert", "key", "ca", "revoked": // string flags
			v := next.fs.Lookup(name).Value.String()
			if err := fs.fs.Set(name, v); err != nil {
				log.Error("SIGHUP: config key not applied", "file", file, "key", name, "err", err)
				continue
			}
			log.Info("SIGHUP: config key applied", "file", file, "key", name, "value", v)
		default:
			log.Warn("SIGHUP: config key changed, not applied: it needs a restart", "file", file, "key", name)
		}
	}
}
