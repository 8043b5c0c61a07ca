package sieve_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load/sieve"
)

// TestDovecotDelivery: a script put over ManageSieve runs when Dovecot delivers over LMTP —
// mail from x@ is filed, the rest gets a vacation reply once per sender; a vacation outside
// its date range answers nobody.
func TestDovecotDelivery(t *testing.T) {
	d := testenv.Dovecot(t, "alice", "bob")
	if d.LMTPAddr == "" {
		d.Deliver(t, "alice", "", nil) // skips (or fails in CI): dovecot-lmtpd is missing
	}
	ctx := t.Context()
	c, err := sieve.New(sieve.Config{Addr: d.SieveAddr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"alice": `require ["fileinto", "vacation"];
if address :is "from" "x@example.org" {
    fileinto "Projets";
    stop;
}
vacation :days 1 :subject "Absente" :from "alice@example.org" "Je suis absente.";
`,
		// A scheduled reply whose range is over: nobody is answered.
		"bob": `require ["vacation", "date", "relational"];
if allof(currentdate :value "ge" "date" "2001-01-01", currentdate :value "le" "date" "2001-01-31") {
    vacation :days 1 :subject "Absent" "Absent en janvier 2001.";
}
`,
	}
	for user, script := range scripts {
		s, err := c.Open(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(ctx, []byte(script)); err != nil {
			t.Fatalf("Check(%s) = %v", user, err)
		}
		if err := s.Put(ctx, "bascule", []byte(script)); err != nil {
			t.Fatal(err)
		}
		if err := s.SetActive(ctx, "bascule"); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	// The folder the rule files into exists (the migration creates it before the script).
	ic, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ic.Login("alice*"+d.MasterUser, d.MasterPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := ic.Create("Projets", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	ic.Logout().Wait()
	ic.Close()

	msg := func(from, to, subject string) []byte {
		return fmt.Appendf(nil, "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nbody\r\n", from, to, subject, strings.ReplaceAll(subject, " ", "-"))
	}
	deliveries := []struct{ rcpt, from, subject string }{
		{"alice", "x@example.org", "projet 1"},
		{"alice", "y@example.org", "hello 1"},
		{"alice", "y@example.org", "hello 2"},
		{"alice", "z@example.org", "hello 3"},
		{"alice", "x@example.org", "projet 2"},
		{"bob", "y@example.org", "to bob"},
	}
	for _, m := range deliveries {
		if err := d.Deliver(t, m.rcpt, m.from, msg(m.from, m.rcpt, m.subject)); err != nil {
			t.Fatalf("Deliver(%s from %s) = %v", m.rcpt, m.from, err)
		}
	}

	alice := d.Dump(t, "alice")
	if n := len(alice["Projets"]); n != 2 {
		t.Errorf("alice's Projets holds %d messages, want the 2 from x@", n)
	}
	if n := len(alice["INBOX"]); n != 3 {
		t.Errorf("alice's INBOX holds %d messages, want the 3 from y@ and z@", n)
	}
	if n := len(d.Dump(t, "bob")["INBOX"]); n != 1 {
		t.Errorf("bob's INBOX holds %d messages, want 1", n)
	}

	// Vacation: one reply to y@ (twice a sender within :days 1), one to z@, none to x@ (filed,
	// stop) and none from bob (out of range).
	sent := d.Sent(t)
	replies := map[string]int{}
	for _, m := range sent {
		if m.From != "" {
			t.Errorf("a vacation reply was sent with envelope sender %q, want the null sender", m.From)
		}
		if len(m.To) != 1 {
			t.Errorf("a sent message has envelope recipients %q", m.To)
			continue
		}
		replies[m.To[0]]++
		if got := m.Header("Subject"); got != "Absente" {
			t.Errorf("reply to %s has Subject %q, want Absente", m.To[0], got)
		}
		if got := m.Header("Auto-Submitted"); !strings.HasPrefix(got, "auto-replied") {
			t.Errorf("reply to %s has Auto-Submitted %q, want auto-replied", m.To[0], got)
		}
		if got := m.Header("In-Reply-To"); !strings.Contains(got, "hello") {
			t.Errorf("reply to %s answers %q, want one of the hello messages", m.To[0], got)
		}
	}
	want := map[string]int{"y@example.org": 1, "z@example.org": 1}
	if fmt.Sprint(replies) != fmt.Sprint(want) {
		t.Errorf("vacation replies per sender = %v, want %v", replies, want)
	}
}
