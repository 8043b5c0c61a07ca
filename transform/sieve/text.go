package sieve

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/bascule-migrate/bascule/transform"
)

// quote writes s as a Sieve quoted string (RFC 5228 §2.4.2): backslash and double quote
// escaped; control characters other than tab and line feed removed, line ends as LF.
func quote(s string) string {
	s = clean(s)
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// clean makes s valid UTF-8 without NUL and other control characters (tab and LF kept; CR
// dropped, so CRLF becomes LF).
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' {
			return r
		}
		if unicode.IsControl(r) || r == '\uFFFE' || r == '\uFFFF' {
			return -1
		}
		return r
	}, s)
}

// stringList writes a Sieve string list.
func stringList(ss []string) string {
	if len(ss) == 1 {
		return quote(ss[0])
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// keyList writes the usable strings of values as a key list; ok is false when none is
// usable (an empty key would match every message with :contains).
func keyList(values []string) (string, bool) {
	var keys []string
	for _, v := range values {
		v = strings.TrimSpace(clean(v))
		if v == "" || strings.ContainsRune(v, '\n') {
			continue
		}
		keys = append(keys, v)
	}
	if len(keys) == 0 {
		return "", false
	}
	return stringList(keys), true
}

// usableString: a non-empty, single-line key.
func usableString(s string) bool {
	s = strings.TrimSpace(clean(s))
	return s != "" && !strings.ContainsRune(s, '\n')
}

// oneLine makes s safe inside a comment line.
func oneLine(s string) string { return strings.Join(strings.Fields(clean(s)), " ") }

// comment makes s safe on one comment line, quoted.
func comment(s string) string {
	s = oneLine(s)
	if len(s) > 200 {
		s = s[:200]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return `"` + s + `"`
}

var (
	localRe  = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*$`)
	labelRe  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	headerRe = regexp.MustCompile(`^[!-9;-~]+$`) // RFC 5322 ftext
)

// validAddress accepts a plain addr-spec (dot-atom local part, DNS domain): what every
// Sieve implementation parses, so redirect and vacation never fail to compile on one.
func validAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || len(a) > 254 || at > 64 {
		return false
	}
	return localRe.MatchString(a[:at]) && validDomain(a[at+1:])
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	return true
}

func validHeaderName(n string) bool { return len(n) <= 76 && headerRe.MatchString(n) }

// validMailbox: a non-empty UTF-8 name without control characters.
func validMailbox(n string) bool {
	return n != "" && utf8.ValidString(n) && clean(n) == n && !strings.ContainsRune(n, '\n') && !strings.ContainsRune(n, '\t')
}

// htmlText renders an out-of-office message (HTML as Exchange stores it) as plain text
// (transform.HTMLText); text without a tag is returned as it is, entities decoded.
func htmlText(s string) string {
	if !strings.Contains(s, "<") {
		return strings.TrimSpace(html.UnescapeString(s))
	}
	return transform.HTMLText(s)
}
