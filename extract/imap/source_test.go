package imap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// fullPass lists every folder of mbx from scratch and returns the upserts by id.
func fullPass(t *testing.T, src *Source, mbx model.Mailbox) (map[string]model.Message, map[string]string) {
	t.Helper()
	ctx := context.Background()
	folders, err := src.Folders(ctx, mbx)
	if err != nil {
		t.Fatalf("Folders = %v", err)
	}
	msgs := map[string]model.Message{}
	cursors := map[string]string{}
	for _, f := range folders {
		for c, err := range src.Changes(ctx, mbx, f, "") {
			if err != nil {
				t.Fatalf("Changes(%s) = %v", f.ID, err)
			}
			switch c.Kind {
			case extract.Upsert:
				msgs[c.Message.ID] = c.Message
			case extract.Checkpoint:
				cursors[f.ID] = c.Cursor
			}
		}
	}
	return msgs, cursors
}

// TestWrongPassword: a wrong admin password stops the run with a fatal error that says what
// to check, and never shows the password.
func TestWrongPassword(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	cfg := dovecotConfig(d)
	cfg.AdminPassword = "Wrong-Secret-42"
	src := d.source(t, cfg)
	_, err := src.Mailboxes(context.Background(), extract.Selection{})
	if !errors.Is(err, model.ErrFatal) {
		t.Fatalf("Mailboxes(wrong password) = %v, want an error wrapping model.ErrFatal", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "Wrong-Secret-42") {
		t.Errorf("the error shows the password: %s", msg)
	}
	for _, want := range []string{"alice", "bob", "password", "refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error %q does not mention %q", msg, want)
		}
	}
}

// TestAuthModes: SASL PLAIN with an authorization identity and each user's own password
// reach the same mailbox as the master user login.
func TestAuthModes(t *testing.T) {
	d := startDovecot(t, "alice", "bob:b0b-Secret")
	d.seed(t, 6)
	l, pw := d.loginAs("x")
	admin := strings.TrimPrefix(l, "x*")
	for _, cfg := range []Config{
		{Auth: AuthPlainAuthzid, AdminUser: admin, AdminPassword: pw},
		{Auth: AuthUser, Passwords: map[string]string{"alice": "pw-alice", "bob": "b0b-Secret"}},
	} {
		t.Run(cfg.Auth, func(t *testing.T) {
			src := d.source(t, cfg)
			boxes, err := src.Mailboxes(context.Background(), extract.Selection{Addresses: []string{"bob"}})
			if err != nil || len(boxes) != 1 {
				t.Fatalf("Mailboxes(bob) = %v, %v", boxes, err)
			}
			msgs, _ := fullPass(t, src, boxes[0])
			if len(msgs) != len(d.msgs["bob"]) {
				t.Errorf("%d messages listed, want %d", len(msgs), len(d.msgs["bob"]))
			}
		})
	}
	// A user without a password in the file is named.
	src := d.source(t, Config{Auth: AuthUser, Passwords: map[string]string{"alice": "pw-alice"}})
	if _, err := src.Mailboxes(context.Background(), extract.Selection{Addresses: []string{"bob"}}); err == nil || !strings.Contains(err.Error(), "bob") {
		t.Errorf("Mailboxes(bob without password) = %v, want an error naming bob", err)
	}
}

// TestExpungedBeforeOpen: a message listed, then expunged by another session before its
// body is fetched, is model.ErrNotFound (the runner then records it deleted), and the next
// delta reports its deletion.
func TestExpungedBeforeOpen(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 10)
	src := d.source(t, dovecotConfig(d))
	mbx := model.Mailbox{ID: "alice", Address: "alice"}
	msgs, cursors := fullPass(t, src, mbx)
	var victim, other model.Message
	for _, m := range msgs {
		if victim.ID == "" && strings.HasSuffix(m.ID, ":INBOX") {
			victim = m
		} else if other.ID == "" && strings.HasSuffix(m.ID, ":INBOX") {
			other = m
		}
	}
	// Open the other one first, so the pool's connection has INBOX selected already.
	rc, err := src.Open(context.Background(), mbx, other)
	if err != nil {
		t.Fatalf("Open(%s) = %v", other.ID, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if got := hex.EncodeToString(h.Sum(nil)); got != d.msgs["alice"][other.ID].SHA256 {
		t.Errorf("Open(%s) bytes hash to %s, want %s", other.ID, got, d.msgs["alice"][other.ID].SHA256)
	}

	c := d.client(t, "alice")
	expunge(t, c, victim.ID)
	c.Close()
	if _, err := src.Open(context.Background(), mbx, victim); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Open(expunged %s) = %v, want an error wrapping model.ErrNotFound", victim.ID, err)
	}
	var dels []string
	for ch, err := range src.Changes(context.Background(), mbx, model.Folder{ID: "INBOX", Path: []string{"INBOX"}}, cursors["INBOX"]) {
		if err != nil {
			t.Fatalf("Changes = %v", err)
		}
		if ch.Kind == extract.Delete {
			dels = append(dels, ch.Message.ID)
		}
		if ch.Kind == extract.Upsert {
			t.Errorf("unexpected Upsert of %s", ch.Message.ID)
		}
	}
	if len(dels) != 1 || dels[0] != victim.ID {
		t.Errorf("the delta deleted %v, want [%s]", dels, victim.ID)
	}
}

// TestNoChangeCostsOneStatus: with CONDSTORE a pass over an unchanged folder sends one
// STATUS and nothing else (no EXAMINE, SEARCH or FETCH).
func TestNoChangeCostsOneStatus(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 12)
	src := d.source(t, dovecotConfig(d))
	mbx := model.Mailbox{ID: "alice", Address: "alice"}
	ctx := context.Background()
	folders, err := src.Folders(ctx, mbx)
	if err != nil {
		t.Fatal(err)
	}
	_, cursors := fullPass(t, src, mbx)
	before := src.Stats()
	for _, f := range folders {
		for c, err := range src.Changes(ctx, mbx, f, cursors[f.ID]) {
			if err != nil {
				t.Fatalf("Changes(%s) = %v", f.ID, err)
			}
			if c.Kind != extract.Checkpoint {
				t.Errorf("Changes(%s): unexpected %+v", f.ID, c)
			}
		}
	}
	after := src.Stats()
	selectable := 0
	for _, f := range folders {
		if !src.pool(mbx).noselect[f.ID] {
			selectable++
		}
	}
	if d := after.Statuses - before.Statuses; d != int64(selectable) {
		t.Errorf("%d STATUS for %d selectable folders", d, selectable)
	}
	if after.Searches != before.Searches || after.MetaFetches != before.MetaFetches || after.BodyFetches != before.BodyFetches {
		t.Errorf("an unchanged pass searched or fetched: before %+v, after %+v", before, after)
	}
}

// TestTLSNoneRefusedBeyondLoopback: plaintext is for loopback test servers only.
func TestTLSNoneRefusedBeyondLoopback(t *testing.T) {
	_, err := New(Config{Addr: "imap.example.org:143", TLS: "none", Auth: AuthUser})
	if !errors.Is(err, model.ErrFatal) {
		t.Errorf("New(TLS none to a remote host) = %v, want a fatal error", err)
	}
	if _, err := New(Config{Addr: "127.0.0.1:143", TLS: "none", Auth: AuthUser}); err != nil {
		t.Errorf("New(TLS none on loopback) = %v", err)
	}
}

func openHash(ctx context.Context, src *Source, mbx model.Mailbox, id string) (string, int64, error) {
	rc, err := src.Open(ctx, mbx, model.Message{ID: id})
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// TestOpenLeavesUnread: reading every body leaves every message's flags as they were
// (BODY.PEEK[] on a folder opened with EXAMINE never sets \Seen).
func TestOpenLeavesUnread(t *testing.T) {
	d := startDovecot(t, "alice", "bob")
	d.seed(t, 16)
	src := d.source(t, dovecotConfig(d))
	mbx := model.Mailbox{ID: "bob", Address: "bob"}
	unread := 0
	for id, m := range d.msgs["bob"] {
		if !hasFlag(m.Flags, "\\Seen") {
			unread++
		}
		if _, _, err := openHash(context.Background(), src, mbx, id); err != nil {
			t.Fatalf("Open(%s) = %v", id, err)
		}
	}
	if unread == 0 {
		t.Fatal("the corpus has no unread message: the test proves nothing")
	}
	src2 := d.source(t, dovecotConfig(d))
	msgs, _ := fullPass(t, src2, mbx)
	for id, m := range d.msgs["bob"] {
		if got := msgs[id].Flags; got != flagsOf(m.Flags) {
			t.Errorf("%s: flags %+v after Open, want %+v", id, got, flagsOf(m.Flags))
		}
	}
}
