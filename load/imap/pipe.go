package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"

	"github.com/bascule-migrate/bascule/model"
)

// pipe is a second connection per account that carries only APPENDs, fully pipelined: each
// command goes out with a non-synchronising literal (LITERAL+, RFC 7888) right after the
// previous one, and a reader goroutine matches the tagged answers. It exists because
// go-imap v2's client sends a synchronising literal (one round trip, with the connection's
// write lock held) for every literal over 4 KiB even when the server offers LITERAL+, which
// halves throughput against Dovecot; it also carries BINARY literal8 (RFC 3516), which
// go-imap v2 cannot send. Everything else (LIST, CREATE, SEARCH, STORE…) stays on go-imap.
type pipe struct {
	conn net.Conn
	br   *bufio.Reader

	wmu sync.Mutex // one command written at a time
	bw  *bufio.Writer

	mu      sync.Mutex
	next    int
	pending map[string]chan pipeResult
	err     error // sticky: the connection is dead

	binary bool // the server offers BINARY

	users atomic.Int32 // Appends using this connection now (writer.pipe balances on it)
}

type pipeResult struct {
	ok          bool
	text        string
	uidValidity uint32
	uid         uint32
}

// dialPipe connects, logs in like the main connection and checks the server offers LITERAL+.
func dialPipe(ctx context.Context, s *Sink, account string) (*pipe, error) {
	cfg := &s.cfg
	d := net.Dialer{Timeout: 30 * time.Second}
	var conn net.Conn
	var err error
	if cfg.TLS == "tls" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: s.tlsFor()}).DialContext(ctx, "tcp", cfg.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", cfg.Addr)
	}
	if err != nil {
		return nil, model.Retryable(fmt.Errorf("connecting to %s: %w", cfg.Addr, err))
	}
	p := &pipe{conn: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 256<<10), pending: map[string]chan pipeResult{}}
	fail := func(err error) (*pipe, error) {
		conn.Close()
		return nil, err
	}
	if _, err := p.br.ReadString('\n'); err != nil {
		return fail(model.Retryable(fmt.Errorf("IMAP greeting: %w", err)))
	}
	if cfg.TLS == "starttls" {
		if _, err := p.command("STARTTLS"); err != nil {
			return fail(err)
		}
		tc := tls.Client(conn, s.tlsFor())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(model.Retryable(fmt.Errorf("TLS: %w", err)))
		}
		p.conn, p.br, p.bw = tc, bufio.NewReaderSize(tc, 16<<10), bufio.NewWriterSize(tc, 256<<10)
	}
	switch cfg.Auth {
	case "master":
		_, err = p.command("LOGIN " + quote(account+cfg.MasterSeparator+cfg.AdminUser) + " " + quote(cfg.AdminPassword))
	case "authzid":
		ir := base64.StdEncoding.EncodeToString([]byte(account + "\x00" + cfg.AdminUser + "\x00" + cfg.AdminPassword))
		_, err = p.command("AUTHENTICATE PLAIN " + ir)
	default:
		_, err = p.command("LOGIN " + quote(account) + " " + quote(cfg.Passwords[account]))
	}
	if err != nil {
		return fail(err)
	}
	caps, err := p.command("CAPABILITY")
	if err != nil {
		return fail(err)
	}
	have := map[string]bool{}
	for _, line := range caps {
		if rest, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
			for _, c := range strings.Fields(rest) {
				have[strings.ToUpper(c)] = true
			}
		}
	}
	if !have["LITERAL+"] {
		return fail(errNoLiteralPlus)
	}
	p.binary = have["BINARY"]
	go p.read()
	return p, nil
}

var errNoLiteralPlus = errors.New("the server offers no LITERAL+")

// command runs one command synchronously before the reader starts (login phase) and returns
// the untagged lines. A NO/BAD wraps model.ErrPermanent with the server's text.
func (p *pipe) command(cmd string) ([]string, error) {
	if _, err := p.bw.WriteString("p0 " + cmd + "\r\n"); err != nil {
		return nil, model.Retryable(err)
	}
	if err := p.bw.Flush(); err != nil {
		return nil, model.Retryable(err)
	}
	var untagged []string
	for {
		line, err := p.br.ReadString('\n')
		if err != nil {
			return nil, model.Retryable(fmt.Errorf("IMAP: %w", err))
		}
		line = strings.TrimRight(line, "\r\n")
		if rest, ok := strings.CutPrefix(line, "p0 "); ok {
			if strings.HasPrefix(rest, "OK") {
				return untagged, nil
			}
			verb := strings.Fields(cmd)[0]
			return nil, model.Permanent(fmt.Errorf("%s refused: the server said: %s", verb, rest))
		}
		untagged = append(untagged, line)
	}
}

// append sends one APPEND and waits for its answer. Concurrent calls are pipelined.
func (p *pipe) append(ctx context.Context, mailbox string, flags []string, date time.Time, size int64, body io.Reader, binary bool) (pipeResult, error) {
	ch := make(chan pipeResult, 1)
	p.mu.Lock()
	if p.err != nil {
		p.mu.Unlock()
		return pipeResult{}, p.err
	}
	p.next++
	tag := "a" + strconv.Itoa(p.next)
	p.pending[tag] = ch
	p.mu.Unlock()

	var b strings.Builder
	b.WriteString(tag)
	b.WriteString(" APPEND ")
	b.WriteString(quote(encodeMUTF7(mailbox)))
	b.WriteString(" (")
	b.WriteString(strings.Join(flags, " "))
	b.WriteString(")")
	if !date.IsZero() {
		b.WriteString(` "` + date.Format("02-Jan-2006 15:04:05 -0700") + `"`)
	}
	if binary {
		b.WriteString(" ~")
	} else {
		b.WriteString(" ")
	}
	b.WriteString("{" + strconv.FormatInt(size, 10) + "+}\r\n")

	p.wmu.Lock()
	_, err := p.bw.WriteString(b.String())
	var n int64
	if err == nil {
		// Never more than the literal announced: extra bytes would be read as a command.
		n, err = io.CopyN(p.bw, body, size)
		if err == io.EOF {
			err = nil
		}
		if err == nil && n == size {
			if m, _ := body.Read(make([]byte, 1)); m > 0 {
				n++
			}
		}
		if err == nil && n != size {
			// The command stays unfinished and the connection is closed below: the server
			// drops the message.
			err = fmt.Errorf("body is not %d bytes as announced (got %d or more)", size, n)
		}
	}
	if err == nil {
		_, err = p.bw.WriteString("\r\n")
	}
	if err == nil {
		err = p.bw.Flush()
	}
	p.wmu.Unlock()
	if err != nil {
		// A half-written literal leaves the stream out of step: the connection is done.
		p.close(model.Retryable(fmt.Errorf("APPEND: %w", err)))
	}
	select {
	case r, ok := <-ch:
		if !ok {
			p.mu.Lock()
			defer p.mu.Unlock()
			return pipeResult{}, p.err
		}
		return r, nil
	case <-ctx.Done():
		return pipeResult{}, ctx.Err()
	}
}

// read matches tagged answers to their commands until the connection ends.
func (p *pipe) read() {
	for {
		line, err := p.br.ReadString('\n')
		if err != nil {
			p.close(model.Retryable(fmt.Errorf("IMAP connection lost: %w", err)))
			return
		}
		line = strings.TrimRight(line, "\r\n")
		// Untagged data with a literal: skip the literal's bytes.
		if strings.HasSuffix(line, "}") {
			if i := strings.LastIndexByte(line, '{'); i >= 0 {
				if n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64); err == nil {
					if _, err := io.CopyN(io.Discard, p.br, n); err != nil {
						p.close(model.Retryable(err))
						return
					}
					continue
				}
			}
		}
		if strings.HasPrefix(line, "*") || strings.HasPrefix(line, "+") {
			continue
		}
		tag, rest, _ := strings.Cut(line, " ")
		p.mu.Lock()
		ch := p.pending[tag]
		delete(p.pending, tag)
		p.mu.Unlock()
		if ch == nil {
			continue
		}
		r := pipeResult{ok: strings.HasPrefix(rest, "OK"), text: rest}
		if i := strings.Index(rest, "[APPENDUID "); i >= 0 {
			f := strings.Fields(strings.TrimSuffix(strings.SplitN(rest[i+11:], "]", 2)[0], "]"))
			if len(f) == 2 {
				uv, _ := strconv.ParseUint(f[0], 10, 32)
				uid, _ := strconv.ParseUint(f[1], 10, 32)
				r.uidValidity, r.uid = uint32(uv), uint32(uid)
			}
		}
		ch <- r
	}
}

// close fails every pending command with err and closes the connection (idempotent).
func (p *pipe) close(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	pend := p.pending
	p.pending = map[string]chan pipeResult{}
	p.mu.Unlock()
	for _, ch := range pend {
		close(ch)
	}
	p.conn.Close()
}

func (p *pipe) dead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err != nil
}

// quote makes an IMAP quoted string.
func quote(s string) string {
	return `"` + quoter.Replace(s) + `"`
}

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// encodeMUTF7 encodes a mailbox name in modified UTF-7 (RFC 3501 §5.1.3), as go-imap does
// for the commands it sends, so both connections name folders the same way.
func encodeMUTF7(s string) string {
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		buf := make([]byte, 0, 2*len(run))
		for _, u := range run {
			buf = append(buf, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(mutf7.EncodeToString(buf))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = append(run, utf16.Encode([]rune{r})...)
	}
	flush()
	return b.String()
}
