package sieve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The ManageSieve wire format (RFC 5804 §4): a response is a line of atoms, quoted strings,
// literals ("{n}" CRLF n octets, the line going on after them) and parenthesised response
// codes. Limits keep a hostile or broken server from making the client allocate without
// bound; every malformed input is an error, never a panic.

const (
	maxLine    = 64 << 10 // one line outside literals
	maxLiteral = 16 << 20 // one literal (a script: Dovecot's default max is 1 MiB)
	maxTokens  = 4096     // tokens on one logical line
)

type tokenKind int

const (
	tokAtom   tokenKind = iota // OK, NO, BYE, ACTIVE, NONEXISTENT, …
	tokString                  // quoted string or literal
	tokOpen                    // (
	tokClose                   // )
)

type token struct {
	kind tokenKind
	s    string
}

// errProtocol marks a response the client cannot understand.
var errProtocol = errors.New("ManageSieve protocol error")

// readLine reads one logical response line: tokens up to the CRLF that ends it, literals
// included.
func readLine(r *bufio.Reader) ([]token, error) {
	var toks []token
	line, err := readRawLine(r)
	if err != nil {
		return nil, err
	}
	for {
		lit, n, err := tokenize(line, &toks)
		if err != nil {
			return nil, err
		}
		if len(toks) > maxTokens {
			return nil, fmt.Errorf("%w: more than %d tokens on one line", errProtocol, maxTokens)
		}
		if !lit {
			return toks, nil
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		toks = append(toks, token{tokString, string(buf)})
		// The line goes on after the literal (possibly empty: the CRLF ends it).
		line, err = readRawLine(r)
		if err != nil {
			return nil, err
		}
	}
}

// readRawLine reads up to CRLF (or LF), without it, bounded by maxLine.
func readRawLine(r *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, err := r.ReadSlice('\n')
		if sb.Len()+len(chunk) > maxLine {
			return "", fmt.Errorf("%w: line longer than %d bytes", errProtocol, maxLine)
		}
		sb.Write(chunk)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && sb.Len() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		s := strings.TrimSuffix(sb.String(), "\n")
		return strings.TrimSuffix(s, "\r"), nil
	}
}

// tokenize appends line's tokens to toks. When the line ends with a literal header "{n}"
// (or "{n+}"), it returns lit = true and n: the caller reads n octets, then the rest of the
// logical line.
func tokenize(line string, toks *[]token) (lit bool, n int, err error) {
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ':
			i++
		case c == '(':
			*toks = append(*toks, token{tokOpen, "("})
			i++
		case c == ')':
			*toks = append(*toks, token{tokClose, ")"})
			i++
		case c == '"':
			var sb strings.Builder
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '\\' && i+1 < len(line) {
					sb.WriteByte(line[i+1])
					i += 2
					continue
				}
				if c == '"' {
					closed = true
					i++
					break
				}
				sb.WriteByte(c)
				i++
			}
			if !closed {
				return false, 0, fmt.Errorf("%w: unterminated quoted string", errProtocol)
			}
			*toks = append(*toks, token{tokString, sb.String()})
		case c == '{':
			end := strings.IndexByte(line[i:], '}')
			if end < 0 || i+end != len(line)-1 {
				return false, 0, fmt.Errorf("%w: malformed literal header %q", errProtocol, clip(line[i:]))
			}
			num := strings.TrimSuffix(line[i+1:i+end], "+")
			v, err := strconv.Atoi(num)
			if err != nil || v < 0 {
				return false, 0, fmt.Errorf("%w: malformed literal length %q", errProtocol, clip(num))
			}
			if v > maxLiteral {
				return false, 0, fmt.Errorf("%w: literal of %d bytes (limit %d)", errProtocol, v, maxLiteral)
			}
			return true, v, nil
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '(' && line[j] != ')' && line[j] != '"' && line[j] != '{' {
				j++
			}
			*toks = append(*toks, token{tokAtom, line[i:j]})
			i = j
		}
	}
	return false, 0, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// response is a final OK / NO / BYE line.
type response struct {
	status string   // "OK", "NO" or "BYE"
	code   string   // response code atom, upper case ("" when none): NONEXISTENT, TRYLATER, …
	args   []string // the code's string arguments (SASL data, referral URL, …)
	text   string   // human-readable text
}

// parseResponse interprets a line as a final response; ok is false for any other line
// (a capability, a script listing, a literal's data).
func parseResponse(toks []token) (response, bool) {
	if len(toks) == 0 || toks[0].kind != tokAtom {
		return response{}, false
	}
	st := strings.ToUpper(toks[0].s)
	if st != "OK" && st != "NO" && st != "BYE" {
		return response{}, false
	}
	r := response{status: st}
	rest := toks[1:]
	if len(rest) > 0 && rest[0].kind == tokOpen {
		i := 1
		for ; i < len(rest) && rest[i].kind != tokClose; i++ {
			switch rest[i].kind {
			case tokAtom:
				if r.code == "" {
					r.code = strings.ToUpper(rest[i].s)
				} else {
					r.args = append(r.args, rest[i].s)
				}
			case tokString:
				r.args = append(r.args, rest[i].s)
			}
		}
		if i < len(rest) {
			i++ // the ")"
		}
		rest = rest[i:]
	}
	var texts []string
	for _, t := range rest {
		texts = append(texts, t.s)
	}
	r.text = strings.Join(texts, " ")
	return r, true
}

// quote returns s as a ManageSieve string: quoted when it can be, else a literal.
func quote(s string) string {
	if len(s) < 1024 && !strings.ContainsAny(s, "\r\n\x00") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return literal(s)
}

// literal returns s as a client-to-server (non-synchronising) literal.
func literal(s string) string {
	return "{" + strconv.Itoa(len(s)) + "+}\r\n" + s
}
