package bench

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
)

// Login names how the raw client logs in: as User with Password (for Dovecot's master user,
// User is "login*master").
type Login struct {
	User, Password string
}

// RawOptions tune the raw client.
type RawOptions struct {
	// InFlight bounds the APPENDs sent and not yet answered per connection (default 64).
	InFlight int
	// Conns is the number of connections per account; folders are dealt out among them
	// (default 1).
	Conns int
	// Multi > 1 sends runs of up to Multi messages of one folder as one MULTIAPPEND
	// (RFC 3502) instead of one APPEND each.
	Multi int
}

// RawAppend writes every message of every account of the corpus to addr: the minimal
// fast client, one connection per account (all accounts at once), every APPEND sent with
// a non-synchronising literal (LITERAL+) while earlier ones are still unanswered, no other
// work. It is what the target can take at best (the "raw APPEND ceiling"), and it loads the
// source server. login gives the credentials of an account.
func RawAppend(ctx context.Context, addr string, c *Corpus, login func(user string) Login, o RawOptions) error {
	if o.InFlight <= 0 {
		o.InFlight = 64
	}
	if o.Conns <= 0 {
		o.Conns = 1
	}
	if o.Multi <= 0 {
		o.Multi = 1
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(c.Users)*o.Conns)
	for _, u := range c.Users {
		// Folders first, on one connection.
		rc, err := dialRaw(ctx, addr, login(u.Login))
		if err != nil {
			return err
		}
		for _, f := range u.Folders {
			if f == "INBOX" {
				continue
			}
			// Dovecot creates missing parents itself; an existing folder is refused: fine.
			if _, err := rc.command("CREATE " + quoteIMAP(EncodeMUTF7(f))); err != nil && !strings.Contains(err.Error(), "ALREADYEXISTS") {
				rc.close()
				return fmt.Errorf("%s: CREATE %s: %w", u.Login, f, err)
			}
		}
		rc.close()
		// Deal folders out to connections (messages of one folder stay on one connection).
		parts := make([][]CorpusMessage, o.Conns)
		idx := map[string]int{}
		for _, m := range u.Messages {
			i, ok := idx[m.Folder]
			if !ok {
				i = len(idx) % o.Conns
				idx[m.Folder] = i
			}
			parts[i] = append(parts[i], m)
		}
		for _, msgs := range parts {
			if len(msgs) == 0 {
				continue
			}
			wg.Go(func() {
				rc, err := dialRaw(ctx, addr, login(u.Login))
				if err == nil {
					err = rc.appendAll(ctx, msgs, o.InFlight, o.Multi)
					rc.close()
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", u.Login, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	return <-errs
}

type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
}

func dialRaw(ctx context.Context, addr string, l Login) (*rawConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := &rawConn{conn: conn, br: bufio.NewReaderSize(conn, 64<<10), bw: bufio.NewWriterSize(conn, 256<<10)}
	if _, err := rc.br.ReadString('\n'); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := rc.command("LOGIN " + quoteIMAP(l.User) + " " + quoteIMAP(l.Password)); err != nil {
		conn.Close()
		return nil, err
	}
	caps, err := rc.command("CAPABILITY")
	if err != nil {
		conn.Close()
		return nil, err
	}
	if !strings.Contains(strings.ToUpper(strings.Join(caps, " ")), "LITERAL+") {
		conn.Close()
		return nil, errors.New("the server offers no LITERAL+")
	}
	return rc, nil
}

func (rc *rawConn) close() {
	rc.bw.WriteString("z LOGOUT\r\n")
	rc.bw.Flush()
	rc.conn.Close()
}

// command runs one command and returns its untagged lines.
func (rc *rawConn) command(cmd string) ([]string, error) {
	if _, err := rc.bw.WriteString("c " + cmd + "\r\n"); err != nil {
		return nil, err
	}
	if err := rc.bw.Flush(); err != nil {
		return nil, err
	}
	var lines []string
	for {
		line, err := rc.br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if rest, ok := strings.CutPrefix(line, "c "); ok {
			if strings.HasPrefix(rest, "OK") {
				return lines, nil
			}
			return nil, errors.New(rest)
		}
		lines = append(lines, line)
	}
}

// appendAll pipelines one APPEND per message (or, with multi > 1, one MULTIAPPEND per run of
// up to multi messages of the same folder), at most inFlight commands unanswered.
func (rc *rawConn) appendAll(ctx context.Context, msgs []CorpusMessage, inFlight, multi int) error {
	var cmds [][]CorpusMessage
	for _, m := range msgs {
		if k := len(cmds); k > 0 && len(cmds[k-1]) < multi && cmds[k-1][0].Folder == m.Folder {
			cmds[k-1] = append(cmds[k-1], m)
			continue
		}
		cmds = append(cmds, []CorpusMessage{m})
	}
	slots := make(chan struct{}, inFlight)
	readErr := make(chan error, 1)
	go func() {
		n := 0
		for n < len(cmds) {
			line, err := rc.br.ReadString('\n')
			if err != nil {
				readErr <- err
				return
			}
			if line[0] == '*' || line[0] == '+' {
				continue
			}
			if _, rest, _ := strings.Cut(line, " "); !strings.HasPrefix(rest, "OK") {
				readErr <- fmt.Errorf("APPEND refused: %s", strings.TrimSpace(line))
				return
			}
			n++
			<-slots
		}
		readErr <- nil
	}()
	buf := make([]byte, 256<<10)
	for i, cmd := range cmds {
		select {
		case slots <- struct{}{}:
		case err := <-readErr:
			if err == nil {
				err = errors.New("connection answered more than asked")
			}
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
		fmt.Fprintf(rc.bw, "a%d APPEND %s", i, quoteIMAP(EncodeMUTF7(cmd[0].Folder)))
		for _, m := range cmd {
			fmt.Fprintf(rc.bw, " (%s) \"%s\" {%d+}\r\n", strings.Join(m.Flags, " "), m.Date.Format("02-Jan-2006 15:04:05 -0700"), m.Size)
			f, err := os.Open(m.File)
			if err != nil {
				return err
			}
			n, err := io.CopyBuffer(rc.bw, io.LimitReader(f, m.Size), buf)
			f.Close()
			if err != nil {
				return err
			}
			if n != m.Size {
				return fmt.Errorf("%s: %d bytes, expected %d", m.File, n, m.Size)
			}
		}
		rc.bw.WriteString("\r\n")
		if len(slots) == cap(slots) || i == len(cmds)-1 {
			if err := rc.bw.Flush(); err != nil {
				return err
			}
		}
	}
	if err := rc.bw.Flush(); err != nil {
		return err
	}
	select {
	case err := <-readErr:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Minute):
		return errors.New("no answer to the last APPENDs in 10 minutes")
	}
}

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// quoteIMAP makes an IMAP quoted string.
func quoteIMAP(s string) string {
	return `"` + quoter.Replace(s) + `"`
}

var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// EncodeMUTF7 encodes a mailbox name in modified UTF-7 (RFC 3501 §5.1.3).
func EncodeMUTF7(s string) string {
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
		b.WriteString("&" + mutf7.EncodeToString(buf) + "-")
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
