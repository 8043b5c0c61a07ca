package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// lmtpInstalled reports whether Dovecot's LMTP server (dovecot-lmtpd) is there.
func lmtpInstalled() bool {
	_, err := os.Stat("/usr/lib/dovecot/lmtp")
	return err == nil
}

// Deliver hands msg to Dovecot over LMTP (RFC 2033) for rcpt, with envelope sender from ("" =
// the null sender <>), as an MTA would: the recipient's active Sieve script runs (fileinto,
// vacation, redirect…). Bare LF line ends are sent as CRLF. It returns the server's refusal,
// if any, as an error; the test is skipped (or fails in CI) when dovecot-lmtpd is missing.
func (d *DovecotServer) Deliver(t testing.TB, rcpt, from string, msg []byte) error {
	t.Helper()
	if d.LMTPAddr == "" {
		missing(t, "dovecot-lmtpd (apt-get install dovecot-lmtpd)")
	}
	return lmtpDeliver(d.LMTPAddr, rcpt, from, msg)
}

// lmtpDeliver is a minimal LMTP client: LHLO, MAIL, RCPT, DATA, QUIT.
func lmtpDeliver(addr, rcpt, from string, msg []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(conn)
	// reply reads one (possibly multi-line) reply and checks its class.
	reply := func(step string, want byte) error {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("LMTP %s: %w", step, err)
			}
			line = strings.TrimRight(line, "\r\n")
			if len(line) < 4 || line[3] == '-' {
				continue
			}
			if line[0] != want {
				return fmt.Errorf("LMTP %s: %s", step, line)
			}
			return nil
		}
	}
	send := func(step, line string, want byte) error {
		if _, err := fmt.Fprintf(conn, "%s\r\n", line); err != nil {
			return fmt.Errorf("LMTP %s: %w", step, err)
		}
		return reply(step, want)
	}
	if err := reply("greeting", '2'); err != nil {
		return err
	}
	if err := send("LHLO", "LHLO localhost", '2'); err != nil {
		return err
	}
	if err := send("MAIL", "MAIL FROM:<"+from+">", '2'); err != nil {
		return err
	}
	if err := send("RCPT", "RCPT TO:<"+rcpt+">", '2'); err != nil {
		return err
	}
	if err := send("DATA", "DATA", '3'); err != nil {
		return err
	}
	var body bytes.Buffer
	for _, line := range strings.SplitAfter(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, ".") {
			body.WriteByte('.') // dot-stuffing
		}
		body.WriteString(line)
		body.WriteString("\r\n")
	}
	body.WriteString(".\r\n")
	if _, err := conn.Write(body.Bytes()); err != nil {
		return fmt.Errorf("LMTP DATA: %w", err)
	}
	// One reply per accepted recipient (RFC 2033 §4.2): one here.
	if err := reply("end of DATA", '2'); err != nil {
		return err
	}
	send("QUIT", "QUIT", '2')
	return nil
}

// SentMail is one message Dovecot handed to its sendmail (a Sieve vacation reply, a
// redirect), as scripts/dovecot.sh's DIR/bin/sendmail recorded it.
type SentMail struct {
	Args []string // sendmail's arguments: "-f" sender, "--", recipients (as Dovecot passes them)
	From string   // envelope sender (after -f, without <>; "" for the null sender <> or none)
	To   []string // envelope recipients (after "--")
	Data []byte   // the message
}

// Header returns the first header field called name in the message ("" when absent),
// unfolded.
func (m SentMail) Header(name string) string {
	head, _, _ := bytes.Cut(bytes.ReplaceAll(m.Data, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	var val string
	found := false
	for _, line := range strings.Split(string(head), "\n") {
		if found {
			if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
				val += " " + strings.TrimSpace(line)
				continue
			}
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			val, found = strings.TrimSpace(v), true
		}
	}
	return val
}

// Sent returns every message Dovecot sent so far, oldest first.
func (d *DovecotServer) Sent(t testing.TB) []SentMail {
	t.Helper()
	dir := filepath.Join(d.Dir, "sent")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{e.Name(), fi.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mod.Equal(files[j].mod) {
			return files[i].mod.Before(files[j].mod)
		}
		return files[i].name < files[j].name
	})
	var out []SentMail
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		first, data, _ := bytes.Cut(raw, []byte("\n"))
		args := strings.Fields(strings.TrimPrefix(string(first), "X-Bascule-Sendmail:"))
		m := SentMail{Args: args, Data: data}
		for i := 0; i < len(args); i++ {
			switch {
			case args[i] == "-f" && i+1 < len(args):
				m.From = strings.TrimSuffix(strings.TrimPrefix(args[i+1], "<"), ">")
				i++
			case args[i] == "--":
				m.To = append(m.To, args[i+1:]...)
				i = len(args)
			}
		}
		out = append(out, m)
	}
	return out
}
