package ical

import (
	"strings"
)

// cleanText makes s fit a TEXT value: valid UTF-8, LF line ends, no control characters other
// than tab and newline (a strict server refuses them, and go-ical refuses CR).
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}

// cleanParam makes s fit a parameter value: one line, no double quote (go-ical cannot quote
// one), no control characters.
func cleanParam(s string) string {
	s = cleanText(s)
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\n', '\t':
			return ' '
		case '"':
			return '\''
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
