package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// errLogFlag marks a bad --log-format or --log-level.
var errLogFlag = errors.New("bad logging flag")

// logFlags are the logging flags every command takes.
type logFlags struct {
	format string // text or json
	level  string // debug, info, warn or error
}

// logging adds the shared logging flags to f, logging at info level by
// default.
func (f *flagSet) logging() { f.loggingAt("info") }

// loggingAt adds the shared logging flags to f, logging at level by
// default: a short-lived command that should say nothing unless
// something goes wrong takes "warn".
func (f *flagSet) loggingAt(level string) {
	f.log = &logFlags{format: "text", level: level}
	f.heading("logging (to standard error)")
	f.stringFlag(&f.log.format, "FORMAT", "log format: text or json", "log-format")
	f.stringFlag(&f.log.level, "LEVEL", "least level logged: debug, info, warn or error", "log-level")
}

// newLogger returns the logger the flags of f ask for, writing to w; a
// flag set without the logging flags logs at info level as text.
func (f *flagSet) newLogger(w io.Writer) (*slog.Logger, error) {
	lf := f.log
	if lf == nil {
		lf = &logFlags{format: "text", level: "info"}
	}
	var level slog.Level
	switch strings.ToLower(lf.level) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errLogFlag, lf.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(lf.format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", errLogFlag, lf.format)
}
