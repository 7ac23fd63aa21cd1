package main

import (
	"fmt"
	"strings"
)

// msgFormat is how plexus sock prints a received message: nngcat's
// output formats, byte for byte.
type msgFormat uint8

// The output formats.
const (
	formatNone    msgFormat = iota // print nothing (nngcat's default, --format no)
	formatRaw                      // the bytes as they are, nothing between messages
	formatASCII                    // printable ASCII as is, every other byte as '.', nothing between messages
	formatQuoted                   // a C string in double quotes, then a newline
	formatHex                      // every byte as \xNN in double quotes, then a newline
	formatMsgpack                  // a msgpack bin header, then the bytes
)

// formatNames maps the names --format takes to formats.
var formatNames = map[string]msgFormat{
	"no": formatNone, "raw": formatRaw, "ascii": formatASCII,
	"quoted": formatQuoted, "hex": formatHex, "msgpack": formatMsgpack,
}

// formatNameList is the names of the formats, for messages.
const formatNameList = "no, raw, ascii, quoted, hex or msgpack"

// parseFormat returns the format named s.
func parseFormat(s string) (msgFormat, error) {
	f, ok := formatNames[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("unknown format: want %s", formatNameList)
	}
	return f, nil
}

// isPrint is C's isprint in the C locale.
func isPrint(c byte) bool { return c >= 0x20 && c < 0x7f }

const hexDigits = "0123456789abcdef"

// appendHexEscape appends \xNN.
func appendHexEscape(b []byte, c byte) []byte {
	return append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendMessage appends msg to b as f prints it.
func appendMessage(b []byte, f msgFormat, msg []byte) []byte {
	switch f {
	case formatRaw:
		b = append(b, msg...)
	case formatASCII:
		for _, c := range msg {
			if !isPrint(c) {
				c = '.'
			}
			b = append(b, c)
		}
	case formatQuoted:
		b = append(b, '"')
		for _, c := range msg {
			switch {
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case isPrint(c):
				b = append(b, c)
			default:
				b = appendHexEscape(b, c)
			}
		}
		b = append(b, '"', '\n')
	case formatHex:
		b = append(b, '"')
		for _, c := range msg {
			b = appendHexEscape(b, c)
		}
		b = append(b, '"', '\n')
	case formatMsgpack:
		n := len(msg)
		switch {
		case n < 1<<8:
			b = append(b, 0xc4, byte(n))
		case n < 1<<16:
			b = append(b, 0xc5, byte(n>>8), byte(n))
		default:
			b = append(b, 0xc6, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
		b = append(b, msg...)
	}
	return b
}
