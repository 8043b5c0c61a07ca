package sieve

import (
	"bufio"
	"strings"
	"testing"
)

func TestParseResponse(t *testing.T) {
	cases := []struct {
		in                 string
		status, code, text string
		args               []string
	}{
		{"OK\r\n", "OK", "", "", nil},
		{`NO (QUOTA/MAXSIZE) "Script too big"` + "\r\n", "NO", "QUOTA/MAXSIZE", "Script too big", nil},
		{`no (nonexistent) "There is no script by that name"` + "\r\n", "NO", "NONEXISTENT", "There is no script by that name", nil},
		{"NO {20}\r\nline 2: error: \"x\"\r\n\r\n", "NO", "", "line 2: error: \"x\"\r\n", nil},
		{`OK (WARNINGS) "line 1: warning"` + "\r\n", "OK", "WARNINGS", "line 1: warning", nil},
		{`BYE (REFERRAL "sieve://other.example.org") "Try there"` + "\r\n", "BYE", "REFERRAL", "Try there", []string{"sieve://other.example.org"}},
		{`NO (SASL "dGVzdA==") "Authentication failed."` + "\r\n", "NO", "SASL", "Authentication failed.", []string{"dGVzdA=="}},
		{`OK "quoted \"inner\" \\ text"` + "\n", "OK", "", `quoted "inner" \ text`, nil},
	}
	for _, c := range cases {
		toks, err := readLine(bufio.NewReader(strings.NewReader(c.in)))
		if err != nil {
			t.Errorf("readLine(%q) = %v", c.in, err)
			continue
		}
		r, ok := parseResponse(toks)
		if !ok || r.status != c.status || r.code != c.code || r.text != c.text || strings.Join(r.args, "|") != strings.Join(c.args, "|") {
			t.Errorf("parseResponse(%q) = %+v, %v; want %s %s %q %q", c.in, r, ok, c.status, c.code, c.text, c.args)
		}
	}
	// Data lines are not final responses.
	for _, in := range []string{"\"IMPLEMENTATION\" \"Dovecot\"\r\n", "\"script\" ACTIVE\r\n", "{5}\r\nhello\r\n"} {
		toks, err := readLine(bufio.NewReader(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("readLine(%q) = %v", in, err)
		}
		if _, ok := parseResponse(toks); ok {
			t.Errorf("%q taken for a final response", in)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, in := range []string{
		"\"unterminated\r\n",
		"{abc}\r\n",
		"{-1}\r\n",
		"{99999999999}\r\n",
		"{5} trailing\r\n",
		"{10}\r\nshort",
		strings.Repeat("x", maxLine+10) + "\r\n",
	} {
		if toks, err := readLine(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("readLine(%.40q) = %v, want an error", in, toks)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        `"plain"`,
		`a "b" \c`:     `"a \"b\" \\c"`,
		"line\r\nnext": "{10+}\r\nline\r\nnext",
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
		// What the client sends, a server-side reader reads back the same.
		line := strings.Replace(quote(in), "+}", "}", 1) + "\r\n"
		toks, err := readLine(bufio.NewReader(strings.NewReader(line)))
		if err != nil || len(toks) != 1 || toks[0].s != in {
			t.Errorf("reading back quote(%q): %v, %v", in, toks, err)
		}
	}
}

// FuzzReadLine: no input makes the reader panic or return tokens past its limits.
func FuzzReadLine(f *testing.F) {
	for _, s := range []string{
		"OK\r\n", `NO (QUOTA/MAXSIZE) "x"` + "\r\n", "{3}\r\nabc\r\n", "\"a\\\"b\" ACTIVE\r\n",
		"OK (TAG {3}\r\nabc) \"t\"\r\n", "((((\r\n", "{0}\r\n\r\n", "\"\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := bufio.NewReader(strings.NewReader(in))
		for i := 0; i < 100; i++ {
			toks, err := readLine(r)
			if err != nil {
				return
			}
			if len(toks) > maxTokens+1 {
				t.Fatalf("%d tokens", len(toks))
			}
			parseResponse(toks)
		}
	})
}
