package imap_test

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/load/sinktest"
)

// The ACL suite against real Dovecot (writer through the master user, acl_user = %u) and
// real Cyrus (writer through the admin's SASL PLAIN authorization identity); the delegate
// and the bystander log in with their own passwords.

func aclOpener(sink *imapsink.Sink) func(t *testing.T, account string) load.MailboxWriter {
	return func(t *testing.T, account string) load.MailboxWriter {
		w, err := sink.Open(t.Context(), account)
		if err != nil {
			t.Fatalf("Open(%s) = %v", account, err)
		}
		return w
	}
}

func loginWith(addr string, passwords map[string]string) func(t *testing.T, account string) *imapclient.Client {
	return func(t *testing.T, account string) *imapclient.Client {
		c, err := imapcheck.Dial(addr, account, passwords[account])
		if err != nil {
			t.Fatalf("login as %s: %v", account, err)
		}
		return c
	}
}

func myRights(ctx context.Context, w load.MailboxWriter, folder string) (string, error) {
	return w.(interface {
		MyRights(context.Context, string) (string, error)
	}).MyRights(ctx, folder)
}

func TestACLDovecot(t *testing.T) {
	d := testenv.Dovecot(t, "alice", "bob", "carol@example.org")
	sink, err := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.RunACL(t, sinktest.ACLHarness{
		Open:  aclOpener(sink),
		Login: loginWith(d.Addr, d.Users),
		Owner: "alice", Delegate: "bob", Bystander: "carol@example.org",
		// namespace shared: prefix = shared/%%u/
		SharedName: func(owner, folder string) string { return "shared/" + owner + "/" + folder },
		MyRights:   myRights,
	})
}

func TestACLCyrus(t *testing.T) {
	s := testenv.Cyrus(t, "alice", "bob", "carol")
	sink, err := imapsink.New(imapsink.Config{Addr: s.IMAPAddr, TLS: "none", Auth: "authzid", AdminUser: s.AdminUser, AdminPassword: s.AdminPass})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.RunACL(t, sinktest.ACLHarness{
		Open:  aclOpener(sink),
		Login: loginWith(s.IMAPAddr, s.Users),
		Owner: "alice", Delegate: "bob", Bystander: "carol",
		// altnamespace: other users' folders under "Other Users/<owner>/", their INBOX is
		// "Other Users/<owner>".
		SharedName: func(owner, folder string) string {
			if folder == "INBOX" {
				return "Other Users/" + owner
			}
			return "Other Users/" + owner + "/" + folder
		},
		MyRights: myRights,
	})
}
