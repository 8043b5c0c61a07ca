package ews

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/extract/sourcetest"
	"github.com/bascule-migrate/bascule/model"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

type simEnv struct {
	ten *tenant.Tenant
	sim *simews.Server
	ca  string
}

func startEWS(t *testing.T, cfg tenant.Config, o simews.Options) *simEnv {
	t.Helper()
	ten := tenant.Generate(cfg)
	o.Tenant = ten
	sim, err := simews.Start(o)
	if err != nil {
		t.Fatalf("simews.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := sim.WriteCAFile(ca); err != nil {
		t.Fatal(err)
	}
	return &simEnv{ten: ten, sim: sim, ca: ca}
}

func addressOf(u tenant.User) string {
	if u.Mail != "" {
		return u.Mail
	}
	return u.UPN
}

// config is the service account with impersonation, over NTLM.
func (e *simEnv) config() Config {
	var boxes []string
	for _, u := range e.ten.Users() {
		boxes = append(boxes, addressOf(u))
	}
	return Config{ClientConfig: ClientConfig{URL: e.sim.EWSURL(), Auth: AuthNTLM, Username: `CONTOSO\svc-bascule`,
		Password: "Service-Pa55!", Impersonate: true, CAFile: e.ca, BaseBackoff: 10 * time.Millisecond}, Mailboxes: boxes}
}

func (e *simEnv) source(t *testing.T, cfg Config) *Source {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return s
}

// truth reads the generated tenant the emulator serves; mailbox ids are the lower-case
// addresses.
func (e *simEnv) truth(t testing.TB) sourcetest.Truth {
	var tr sourcetest.Truth
	for _, u := range e.ten.Users() {
		addr := strings.ToLower(addressOf(u))
		mt := sourcetest.MailboxTruth{Mailbox: model.Mailbox{ID: addr, Address: addr}}
		root := e.ten.RootFolderID(u.ID)
		paths := map[string][]string{}
		for _, f := range e.ten.Folders(u.ID) {
			parent := f.ParentID
			if parent == root {
				parent = ""
			}
			p := append(append([]string(nil), paths[parent]...), f.DisplayName)
			paths[f.ID] = p
			mt.Folders = append(mt.Folders, model.Folder{ID: f.ID, ParentID: parent, Path: p, WellKnown: f.WellKnown})
		}
		for _, m := range e.ten.Messages(u.ID) {
			mt.Messages = append(mt.Messages, sourcetest.MessageTruth{ID: m.ID, FolderID: m.FolderID, SHA256: m.SHA256, Size: m.Size,
				Flags: model.Flags{Seen: m.IsRead, Flagged: m.Flag == "flagged", Draft: m.IsDraft,
					Answered: m.LastVerb == 102 || m.LastVerb == 103 || m.LastVerb == 104}})
		}
		tr.Mailboxes = append(tr.Mailboxes, mt)
	}
	return tr
}

func (e *simEnv) userID(t testing.TB, mbx model.Mailbox) string {
	for _, u := range e.ten.Users() {
		if strings.EqualFold(addressOf(u), mbx.Address) {
			return u.ID
		}
	}
	t.Fatalf("no tenant user %s", mbx.Address)
	return ""
}

func (e *simEnv) harness(src *Source) sourcetest.Harness {
	return sourcetest.Harness{
		Source: src,
		Truth:  e.truth,
		SetRead: func(t testing.TB, mbx model.Mailbox, id string, read bool) {
			if err := e.ten.SetRead(e.userID(t, mbx), id, read); err != nil {
				t.Fatalf("SetRead = %v", err)
			}
		},
		Add: func(t testing.TB, mbx model.Mailbox, folderID string) string {
			m, err := e.ten.AddMessage(e.userID(t, mbx), folderID)
			if err != nil {
				t.Fatalf("AddMessage = %v", err)
			}
			return m.ID
		},
		Delete: func(t testing.TB, mbx model.Mailbox, id string) {
			if err := e.ten.DeleteMessage(e.userID(t, mbx), id); err != nil {
				t.Fatalf("DeleteMessage = %v", err)
			}
		},
		ExpireCursors: func(testing.TB) { e.sim.ExpireSyncStates() },
	}
}

// TestConformance runs the source suite against sim/ews: a service account with
// ApplicationImpersonation, over NTLM, TLS verified with the emulator's CA.
func TestConformance(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	src := e.source(t, e.config())
	sourcetest.Run(t, e.harness(src))
	if st := src.Stats(); st.Requests == 0 {
		t.Errorf("Stats() = %+v: no request counted", st)
	}
}

// TestMailboxesNeedAddresses: EWS lists no directory.
func TestMailboxesNeedAddresses(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	cfg := e.config()
	cfg.Mailboxes = nil
	_, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{})
	if !errors.Is(err, model.ErrFatal) || !strings.Contains(err.Error(), "EWS cannot list mailboxes: give --mapping or --mailbox") {
		t.Errorf("Mailboxes(none) = %v", err)
	}
}

// TestBytesEqualTenant: every message of every mailbox, opened through EWS, has the
// tenant's exact bytes.
func TestBytesEqualTenant(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	src := e.source(t, e.config())
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mbx := range boxes {
		for _, m := range e.ten.Messages(e.userID(t, mbx)) {
			rc, err := src.Open(ctx, mbx, model.Message{ID: m.ID})
			if err != nil {
				t.Fatalf("Open(%s) = %v", m.ID, err)
			}
			h := sha256.New()
			size, err := io.Copy(h, rc)
			rc.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != m.SHA256 || size != m.Size {
				t.Errorf("Open(%s): %d bytes, %v; want %d bytes with the tenant's SHA-256", m.ID, size, err, m.Size)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no message")
	}
}

func TestWrongPassword(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	for _, auth := range []string{AuthNTLM, AuthBasic} {
		cfg := e.config()
		cfg.Auth, cfg.Password = auth, "not-the-password"
		_, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{})
		if !errors.Is(err, model.ErrFatal) || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "password") {
			t.Errorf("%s with a wrong password: %v, want a fatal 401 saying what to check", auth, err)
		}
		if err != nil && strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestImpersonationDenied(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	cfg := e.config()
	cfg.Username, cfg.Password = `CONTOSO\svc-noimp`, "Plain-Pa55!"
	_, err := e.source(t, cfg).Mailboxes(context.Background(), extract.Selection{})
	if !errors.Is(err, model.ErrFatal) || ErrorCode(err) != "ErrorImpersonateUserDenied" ||
		!strings.Contains(err.Error(), "New-ManagementRoleAssignment -Role ApplicationImpersonation") {
		t.Errorf("Mailboxes without the impersonation right = %v", err)
	}
}

// TestExpiredSyncState: ErrCursorExpired, then a full resync from "" yields each message
// of the folder once.
func TestExpiredSyncState(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{})
	src := e.source(t, e.config())
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	mbx := boxes[0]
	folders, err := src.Folders(ctx, mbx)
	if err != nil {
		t.Fatal(err)
	}
	var inbox model.Folder
	for _, f := range folders {
		if f.WellKnown == model.WellKnownInbox {
			inbox = f
		}
	}
	pass := func(cursor string) (map[string]int, string, error) {
		seen := map[string]int{}
		var final string
		for c, err := range src.Changes(ctx, mbx, inbox, cursor) {
			if err != nil {
				return seen, "", err
			}
			if c.Kind == extract.Upsert {
				seen[c.Message.ID]++
			}
			if c.Final {
				final = c.Cursor
			}
		}
		return seen, final, nil
	}
	first, cursor, err := pass("")
	if err != nil || cursor == "" {
		t.Fatalf("first pass: %v, cursor %q", err, cursor)
	}
	e.sim.ExpireSyncStates()
	if _, _, err := pass(cursor); !errors.Is(err, model.ErrCursorExpired) {
		t.Fatalf("pass with an expired sync state = %v, want model.ErrCursorExpired", err)
	}
	again, _, err := pass("")
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(first) || len(first) == 0 {
		t.Errorf("resync: %d messages, first pass %d", len(again), len(first))
	}
	for id, n := range again {
		if n != 1 || first[id] != 1 {
			t.Errorf("message %s: %d times in the resync, %d in the first pass", id, n, first[id])
		}
	}
}

// TestServerBusyHonoured: with a tight budget the emulator answers ErrorServerBusy; the
// source waits every back-off out (the emulator counts a request sent before the end of
// its back-off as a violation) and finishes.
func TestServerBusyHonoured(t *testing.T) {
	for _, inResponse := range []bool{false, true} {
		e := startEWS(t, tenant.Small(), simews.Options{Throttle: simews.Throttle{Requests: 15, Window: time.Second, BusyInResponse: inResponse}})
		cfg := e.config()
		cfg.MaxAttempts = 50
		src := e.source(t, cfg)
		ctx := context.Background()
		boxes, err := src.Mailboxes(ctx, extract.Selection{})
		if err != nil {
			t.Fatal(err)
		}
		mbx := boxes[0]
		folders, err := src.Folders(ctx, mbx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range folders {
			for _, err := range src.Changes(ctx, mbx, f, "") {
				if err != nil {
					t.Fatalf("Changes(%s) = %v", strings.Join(f.Path, "/"), err)
				}
			}
		}
		if e.sim.Throttled() == 0 || src.Stats().ServerBusy == 0 {
			t.Errorf("busy in response %v: the emulator throttled %d times, the source saw %d: the test proves nothing", inResponse, e.sim.Throttled(), src.Stats().ServerBusy)
		}
		if v := e.sim.BackOffViolations(); v != 0 {
			t.Errorf("busy in response %v: %d requests sent before the back-off ended", inResponse, v)
		}
	}
}
