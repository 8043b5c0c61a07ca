package testenv_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/bascule-migrate/bascule/internal/testenv"
)

// TestDovecot checks the test server the other packages rely on: logins holding '@', the
// master user both as "LOGIN user*master" and as SASL PLAIN authzid, refused logins,
// special-use folders, ManageSieve, and Dump reading back what was appended.
func TestDovecot(t *testing.T) {
	d := testenv.Dovecot(t, "alice@contoso.example:s3cret", "bob")
	if d.Users["alice@contoso.example"] != "s3cret" || d.Users["bob"] != "pw-bob" {
		t.Fatalf("Users = %v", d.Users)
	}

	login := func(user, pass string) error {
		c, err := imapclient.DialInsecure(d.Addr, nil)
		if err != nil {
			t.Fatalf("DialInsecure(%s) = %v", d.Addr, err)
		}
		defer c.Close()
		return c.Login(user, pass).Wait()
	}
	if err := login("alice@contoso.example", "s3cret"); err != nil {
		t.Errorf("Login(alice@contoso.example) = %v", err)
	}
	if err := login("alice@contoso.example*"+d.MasterUser, d.MasterPass); err != nil {
		t.Errorf("Login(alice*master) = %v", err)
	}
	var ie *imap.Error
	if err := login("alice@contoso.example", "wrong"); !errors.As(err, &ie) {
		t.Errorf("Login(wrong password) = %v, want a NO", err)
	}
	if err := login("bob*"+d.MasterUser, "wrong"); !errors.As(err, &ie) {
		t.Errorf("Login(bob*master, wrong) = %v, want a NO", err)
	}

	// SASL PLAIN with authorization identity = the account, authentication = the master user.
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(sasl.NewPlainClient("bob", d.MasterUser, d.MasterPass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN authzid=bob = %v", err)
	}
	for _, want := range []imap.Cap{imap.CapUIDPlus, imap.CapLiteralPlus, imap.CapSpecialUse, imap.CapACL, imap.CapQuota} {
		if !c.Caps().Has(want) {
			t.Errorf("capability %s missing", want)
		}
	}
	body := "From: a@example.org\r\nSubject: dump\r\n\r\nhello\r\n"
	when := time.Date(2023, 4, 5, 6, 7, 8, 0, time.UTC)
	app := c.Append("INBOX", int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: when})
	if _, err := app.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Wait(); err != nil {
		t.Fatalf("APPEND as bob = %v", err)
	}

	dump := d.Dump(t, "bob")
	inbox := dump["INBOX"]
	if len(inbox) != 1 {
		t.Fatalf("Dump(bob)[INBOX] = %+v, want 1 message", inbox)
	}
	m := inbox[0]
	if sum := sha256.Sum256([]byte(body)); m.SHA256 != hex.EncodeToString(sum[:]) || m.Size != int64(len(body)) {
		t.Errorf("stored %d bytes with SHA-256 %s, want the %d bytes appended", m.Size, m.SHA256, len(body))
	}
	if !m.Has(imap.FlagSeen) || !m.InternalDate.Equal(when) || m.UID == 0 {
		t.Errorf("stored message = %+v", m)
	}
	if len(d.Dump(t, "alice@contoso.example")["INBOX"]) != 0 {
		t.Error("alice's INBOX is not empty: the message went to the wrong account")
	}
	uses := map[imap.MailboxAttr]string{}
	for _, f := range d.Folders(t, "bob") {
		for _, a := range f.Attrs {
			uses[a] = f.Name
		}
	}
	for _, a := range []imap.MailboxAttr{imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash, imap.MailboxAttrJunk} {
		if uses[a] == "" {
			t.Errorf("no folder with special use %s (folders: %v)", a, d.Folders(t, "bob"))
		}
	}

	// ManageSieve answers with its capability list.
	conn, err := net.DialTimeout("tcp", d.SieveAddr, 5*time.Second)
	if err != nil {
		t.Fatalf("ManageSieve on %s: %v", d.SieveAddr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, `"IMPLEMENTATION"`) {
		t.Errorf("ManageSieve greeting = %q, %v", line, err)
	}
}

// TestDovecotDeliver: LMTP delivery without a Sieve script lands in INBOX byte for byte
// (dot-stuffed lines included), for a login holding '@'; an unknown recipient is refused;
// nothing is sent.
func TestDovecotDeliver(t *testing.T) {
	d := testenv.Dovecot(t, "alice@contoso.example", "bob")
	msg := "From: x@example.org\r\nTo: alice@contoso.example\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"
	if err := d.Deliver(t, "alice@contoso.example", "x@example.org", []byte(msg)); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	inbox := d.Dump(t, "alice@contoso.example")["INBOX"]
	if len(inbox) != 1 {
		t.Fatalf("INBOX holds %d messages, want 1", len(inbox))
	}
	// LMTP adds Return-Path and Received on top: the message is the tail of what is stored.
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@contoso.example*"+d.MasterUser, d.MasterPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil || len(msgs) != 1 || len(msgs[0].BodySection) != 1 {
		t.Fatalf("FETCH BODY[] = %v, %v", msgs, err)
	}
	if got := string(msgs[0].BodySection[0].Bytes); !strings.HasSuffix(got, msg) {
		t.Errorf("stored message %q does not end with the delivered one %q", got, msg)
	}
	if err := d.Deliver(t, "nobody", "x@example.org", []byte(msg)); err == nil {
		t.Error("Deliver to an unknown recipient = nil, want a refusal")
	}
	if sent := d.Sent(t); len(sent) != 0 {
		t.Errorf("Sent() = %d messages, want none", len(sent))
	}
}
