package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/load/sieve"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
	"github.com/bascule-migrate/bascule/transform/acl"
	sievex "github.com/bascule-migrate/bascule/transform/sieve"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/sim/exchangecsv"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// setEnv is a tenant behind the emulator, its Exchange permission exports, a real Dovecot
// (mail, ACLs, ManageSieve, LMTP) and a real Cyrus (calendars and their sharing).
type setEnv struct {
	*gwEnv
	dovecot *testenv.DovecotServer
	csvDir  string
}

func newSetEnv(t testing.TB, mutate func(*tenant.Tenant)) *setEnv {
	t.Helper()
	cfg := tenant.Small()
	cfg.Messages = 40
	ten := tenant.Generate(cfg)
	if mutate != nil {
		mutate(ten)
	}
	secret := "e2e-set"
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-e2e", ClientSecret: secret})
	if err != nil {
		t.Fatalf("simgraph.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	g := gwFromParts(t, ten, sim, secret, "cyrus")
	e := &setEnv{gwEnv: g, csvDir: filepath.Join(g.dir, "exchange")}
	var logins []string
	for _, u := range ten.Users() {
		logins = append(logins, e.login[u.ID])
	}
	e.dovecot = testenv.Dovecot(t, logins...)
	if err := os.MkdirAll(e.csvDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := exchangecsv.Write(e.csvDir, ten); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *setEnv) setArgs(extra ...string) []string {
	a := e.args("--kinds", "mail,calendar,permissions,rules",
		"--imap-addr", e.dovecot.Addr, "--imap-tls", "none", "--imap-auth", "master",
		"--imap-admin-user", e.dovecot.MasterUser,
		"--sieve-addr", e.dovecot.SieveAddr, "--sieve-tls", "none",
		"--exchange-csv-dir", e.csvDir)
	return append(a, extra...)
}

func (e *setEnv) runSet(extra ...string) runResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := e.command(ctx, e.setArgs(extra...)...)
	cmd.Env = append(cmd.Env, "BASCULE_IMAP_ADMIN_PASSWORD="+e.dovecot.MasterPass)
	out, err := cmd.Output()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return runResult{code: code, stdout: string(out)}
}

// loginOf maps a source address to a target login ("" when it is not a tenant mailbox).
func (e *setEnv) loginOf(addr string) string {
	for _, u := range e.tenant.Users() {
		if strings.EqualFold(u.UPN, addr) || strings.EqualFold(u.Mail, addr) {
			return e.login[u.ID]
		}
	}
	return ""
}

// stateFolders reads the folders the run recorded for a mailbox.
func (e *setEnv) stateFolders(userID string) []state.Folder {
	e.t.Helper()
	st, err := sqlite.Open(context.Background(), e.state)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	fs, err := st.Folders(context.Background(), userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return fs
}

// TestSettings is issue 4's acceptance: one migration of mail, calendars, permissions,
// inbox rules and out-of-office from the emulator (and the tenant's Exchange CSV exports)
// into real Dovecot (mail, ACL, ManageSieve, LMTP) and Cyrus (calendars), then behaviour:
// delegates log in with their own passwords; messages are delivered through LMTP.
func TestSettings(t *testing.T) {
	now := time.Now().UTC()
	var aliceID, bobID string
	e := newSetEnv(t, func(ten *tenant.Tenant) {
		us := ten.Users()
		aliceID, bobID = us[0].ID, us[1].ID
		// Alice is away now (everyone gets an answer); Bob's absence ended last week.
		if err := ten.SetAutoReply(aliceID, model.AutoReply{Status: "scheduled", ExternalAudience: "all",
			Start: now.Add(-24 * time.Hour), End: now.Add(24 * time.Hour),
			InternalReply: "<p>Absente, de retour demain.</p>", ExternalReply: "<p>Out of office until tomorrow.</p>"}); err != nil {
			t.Fatal(err)
		}
		if err := ten.SetAutoReply(bobID, model.AutoReply{Status: "scheduled", ExternalAudience: "all",
			Start: now.Add(-10 * 24 * time.Hour), End: now.Add(-5 * 24 * time.Hour),
			InternalReply: "<p>Absent.</p>", ExternalReply: "<p>Away.</p>"}); err != nil {
			t.Fatal(err)
		}
	})
	// The shared mailbox already has a Sieve script of its own on the target: it must stay.
	sharedLogin := e.login[e.tenant.Users()[2].ID]
	admin, err := sieve.New(sieve.Config{Addr: e.dovecot.SieveAddr, TLS: "none", Auth: "master", AdminUser: e.dovecot.MasterUser, AdminPassword: e.dovecot.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	activeScript := func(login string) string {
		s, err := admin.Open(context.Background(), login)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		scripts, err := s.Scripts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range scripts {
			if sc.Active {
				return sc.Name
			}
		}
		return ""
	}
	{
		s, err := admin.Open(context.Background(), sharedLogin)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), "mine", []byte("require \"fileinto\";\nif header :contains \"subject\" \"x\" { fileinto \"INBOX\"; }\n")); err != nil {
			t.Fatal(err)
		}
		if err := s.SetActive(context.Background(), "mine"); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}

	// A dry-run first: it plans, checks the Sieve scripts, and writes nothing.
	dr := e.runSet("--dry-run", "--output", "json")
	if dr.code != 0 {
		t.Fatalf("dry-run exit %d\n%s", dr.code, tail(dr.stdout, 5000))
	}
	if !strings.Contains(dr.stdout, `"manual_actions": [`) || !strings.Contains(dr.stdout, `"sieve_rules": 8`) {
		t.Errorf("dry-run plans no Sieve rules or no manual actions:\n%s", tail(dr.stdout, 3000))
	}
	cl, err := sieve.New(sieve.Config{Addr: e.dovecot.SieveAddr, TLS: "none", Auth: "master", AdminUser: e.dovecot.MasterUser, AdminPassword: e.dovecot.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	for _, login := range e.login {
		s, err := cl.Open(context.Background(), login)
		if err != nil {
			t.Fatal(err)
		}
		if scripts, _ := s.Scripts(context.Background()); len(scripts) != 0 && login != sharedLogin {
			t.Errorf("dry-run wrote Sieve scripts for %s: %v", login, scripts)
		}
		s.Close()
	}
	r := e.runSet("--output", "json")
	if r.code != 0 {
		t.Fatalf("migrate exit %d\n%s", r.code, tail(r.stdout, 5000))
	}
	var res struct {
		Verdict       string               `json:"verdict"`
		ManualActions []model.ManualAction `json:"manual_actions"`
		Mailboxes     []struct {
			Address  string         `json:"address"`
			Settings map[string]any `json:"settings"`
		} `json:"mailboxes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	t.Run("Delegation", func(t *testing.T) { e.checkDelegation(t) })
	t.Run("CalendarDelegation", func(t *testing.T) { e.checkCalendarDelegation(t) })
	t.Run("ManualActions", func(t *testing.T) { e.checkManualActions(t, res.ManualActions) })
	t.Run("Sieve", func(t *testing.T) { e.checkSieve(t, aliceID, bobID) })

	// A second run changes nothing and reports the same manual actions.
	r2 := e.runSet("--output", "json")
	if r2.code != 0 {
		t.Fatalf("second run exit %d", r2.code)
	}
	var res2 struct {
		ManualActions []model.ManualAction `json:"manual_actions"`
	}
	json.Unmarshal([]byte(r2.stdout), &res2)
	if len(res2.ManualActions) != len(res.ManualActions) {
		t.Errorf("second run reports %d manual actions, first %d", len(res2.ManualActions), len(res.ManualActions))
	}

	// The user's own script was kept, and said so; --sieve replace activates Bascule's.
	if got := activeScript(sharedLogin); got != "mine" {
		t.Errorf("%s: active script %q after the run, want the user's own \"mine\" kept", sharedLogin, got)
	}
	found := false
	for _, a := range res.ManualActions {
		found = found || (strings.Contains(a.Why, "own active Sieve script") && strings.Contains(a.Instruction, "--sieve replace"))
	}
	if !found {
		t.Error("no manual action says that the shared mailbox's own Sieve script was kept")
	}
	if r3 := e.runSet("--sieve", "replace"); r3.code != 0 {
		t.Fatalf("--sieve replace: exit %d", r3.code)
	}
	if got := activeScript(sharedLogin); got != "bascule" {
		t.Errorf("%s: active script %q after --sieve replace, want \"bascule\"", sharedLogin, got)
	}
}

// expectedRights is, per delegate login and owner's target folder, the union of the IMAP
// rights the role table gives the delegate's grants (and the Default grants).
func (e *setEnv) expectedRights(t *testing.T, owner tenant.User, folders []state.Folder) map[string]map[string]string {
	exp := map[string]map[string]string{}
	add := func(who, folder, rights string) {
		if exp[who] == nil {
			exp[who] = map[string]string{}
		}
		exp[who][folder] = acl.Normalize(exp[who][folder] + rights)
	}
	var delegates []string
	for _, u := range e.tenant.Users() {
		if u.ID != owner.ID {
			delegates = append(delegates, e.login[u.ID])
		}
	}
	for _, g := range e.tenant.Grants(owner.ID) {
		if g.Deny || (g.Scope != model.ScopeMailbox && g.Scope != model.ScopeFolder) {
			continue
		}
		rights, _, _ := acl.IMAP(g)
		if rights == "" {
			continue
		}
		var whos []string
		switch {
		case g.Grantee == model.GranteeDefault:
			whos = delegates
		case e.loginOf(g.Grantee) != "":
			whos = []string{e.loginOf(g.Grantee)}
		default:
			continue
		}
		for _, f := range folders {
			if f.Kind != "" {
				continue
			}
			match := g.Scope == model.ScopeMailbox || (g.FolderID != "" && g.FolderID == f.ID) ||
				(g.FolderID == "" && strings.EqualFold(strings.Trim(g.FolderPath, "/"), f.Path))
			if match {
				for _, w := range whos {
					add(w, f.Target, rights)
				}
			}
		}
	}
	return exp
}

// checkDelegation logs in as every other user and checks, on every folder of every owner
// (the shared mailbox included): MYRIGHTS equals the role table's rights, SELECT and FETCH
// work where reading is granted, APPEND works exactly where inserting is, and folders with
// no grant cannot be selected.
func (e *setEnv) checkDelegation(t *testing.T) {
	checked, granted := 0, 0
	for _, owner := range e.tenant.Users() {
		folders := e.stateFolders(owner.ID)
		exp := e.expectedRights(t, owner, folders)
		ownerLogin := e.login[owner.ID]
		for _, d := range e.tenant.Users() {
			if d.ID == owner.ID {
				continue
			}
			who := e.login[d.ID]
			c, err := imapclient.DialInsecure(e.dovecot.Addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login(who, e.dovecot.Users[who]).Wait(); err != nil {
				t.Fatalf("login %s: %v", who, err)
			}
			for _, f := range folders {
				if f.Kind != "" {
					continue
				}
				name := "shared/" + ownerLogin + "/" + f.Target
				want := exp[who][f.Target]
				checked++
				mr, err := c.MyRights(name).Wait()
				got := ""
				if err == nil {
					got = acl.Normalize(string(mr.Rights))
				}
				if got != want {
					t.Errorf("%s on %s's %q: MYRIGHTS %q (err %v), role table says %q", who, ownerLogin, f.Target, got, err, want)
				}
				_, serr := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
				if canRead := strings.Contains(want, "r"); canRead != (serr == nil) {
					t.Errorf("%s SELECT %s's %q: err %v, rights %q", who, ownerLogin, f.Target, serr, want)
				}
				if serr == nil {
					granted++
					if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err != nil && !strings.Contains(err.Error(), "Invalid messageset") && !strings.Contains(err.Error(), "No matching messages") {
						t.Errorf("%s FETCH in %s's %q: %v", who, ownerLogin, f.Target, err)
					}
					c.Unselect().Wait()
				}
				msg := []byte("From: " + who + "@contoso.example\r\nSubject: delegate test\r\n\r\nhello\r\n")
				ac := c.Append(name, int64(len(msg)), nil)
				ac.Write(msg)
				ac.Close()
				_, aerr := ac.Wait()
				if canInsert := strings.Contains(want, "i"); canInsert != (aerr == nil) {
					t.Errorf("%s APPEND to %s's %q: err %v, rights %q", who, ownerLogin, f.Target, aerr, want)
				}
			}
			c.Logout().Wait()
			c.Close()
		}
	}
	if granted < 5 {
		t.Fatalf("only %d (delegate, folder) pairs were readable: the tenant grants too little for this test to mean anything", granted)
	}
	t.Logf("delegation: %d (delegate, folder) pairs checked, %d readable", checked, granted)
}

// checkCalendarDelegation: on Cyrus, each delegate of a calendar reads it over CalDAV with
// its own password, and writes exactly when the role allows.
func (e *setEnv) checkCalendarDelegation(t *testing.T) {
	checked := 0
	for _, owner := range e.tenant.Users() {
		folders := e.stateFolders(owner.ID)
		for _, g := range e.tenant.Grants(owner.ID) {
			if g.Scope != model.ScopeCalendar || g.Deny {
				continue
			}
			who := e.loginOf(g.Grantee)
			_, level, _, _ := acl.DAV(g)
			if who == "" || (level != "read" && level != "write") {
				continue
			}
			var href string
			for _, f := range folders {
				if f.Kind == model.KindCalendar && (f.ID == g.FolderID || strings.EqualFold(strings.TrimPrefix(f.Path, "calendar: "), g.FolderPath)) {
					href = f.Target
				}
			}
			if href == "" {
				continue // a CSV row naming a calendar by a path the Graph listing does not use
			}
			hc := e.dav.HTTPClient(who)
			req, _ := http.NewRequest("PROPFIND", e.dav.URL+href, strings.NewReader(`<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`))
			req.Header.Set("Depth", "1")
			req.Header.Set("Content-Type", "application/xml")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 207 {
				t.Errorf("%s (%s) PROPFIND %s's calendar %s: %s", who, g.Role, owner.UPN, href, resp.Status)
			}
			ev := fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\nUID:deleg-%s-%d\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270101T100000Z\r\nDTEND:20270101T110000Z\r\nSUMMARY:by %s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", who, checked, who)
			req, _ = http.NewRequest("PUT", e.dav.URL+href+fmt.Sprintf("deleg-%s-%d.ics", who, checked), strings.NewReader(ev))
			req.Header.Set("Content-Type", "text/calendar")
			resp, err = hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ok := resp.StatusCode == 201 || resp.StatusCode == 204
			if ok != (level == "write") {
				t.Errorf("%s (%s → %s) PUT into %s's calendar %s: %s", who, g.Role, level, owner.UPN, href, resp.Status)
			}
			checked++
		}
	}
	if checked < 3 {
		t.Fatalf("only %d calendar grants checked", checked)
	}
	t.Logf("calendar delegation: %d grants checked over CalDAV with the delegates' own passwords", checked)
}

// checkManualActions: every right and rule the tenant holds that has no faithful form on
// the target is in the report's manual actions.
func (e *setEnv) checkManualActions(t *testing.T, actions []model.ManualAction) {
	has := func(mbx string, parts ...string) bool {
		for _, a := range actions {
			if mbx != "" && !strings.EqualFold(a.Mailbox, mbx) {
				continue
			}
			text := a.What + " " + a.Why + " " + a.Instruction
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(text, p)
			}
			if ok {
				return true
			}
		}
		return false
	}
	n := 0
	for _, u := range e.tenant.Users() {
		for _, g := range e.tenant.Grants(u.ID) {
			switch {
			case g.Scope == model.ScopeSendAs || g.Scope == model.ScopeSendOnBehalf:
				n++
				if !has(u.Mail, g.Role, g.Grantee) {
					t.Errorf("%s: %s for %s is not in the manual actions", u.Mail, g.Role, g.Grantee)
				}
			case g.Deny:
				n++
				if !has(u.Mail, "deny", g.Grantee) {
					t.Errorf("%s: the deny of %s for %s is not in the manual actions", u.Mail, g.Role, g.Grantee)
				}
			case g.Grantee != model.GranteeDefault && g.Grantee != model.GranteeAnonymous && !strings.Contains(g.Grantee, "@"):
				n++
				if !has("", g.Grantee) {
					t.Errorf("%s: %s for the unresolvable %q is not in the manual actions", u.Mail, g.Role, g.Grantee)
				}
			}
		}
		res, err := sievex.Script(e.tenant.Rules(u.ID), nil, sievex.Options{Addresses: []string{u.Mail}, Folders: e.folderTargets(u.ID)})
		if err != nil {
			t.Fatal(err)
		}
		for _, um := range res.Unmapped {
			n++
			if !has(u.Mail, um.Rule) {
				t.Errorf("%s: unmappable rule %q (%s) is not in the manual actions", u.Mail, um.Rule, um.Reason)
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d unmappable rights and rules in the tenant: too few for this test", n)
	}
	t.Logf("manual actions: %d unmappable rights and rules, each reported (%d actions in all)", n, len(actions))
}

func (e *setEnv) folderTargets(userID string) map[string]string {
	m := map[string]string{}
	for _, f := range e.stateFolders(userID) {
		if f.Kind == "" {
			m[f.ID] = f.Target
		}
	}
	return m
}

type ruleJSON struct {
	Name       string                     `json:"displayName"`
	Sequence   int                        `json:"sequence"`
	Enabled    bool                       `json:"isEnabled"`
	Conditions map[string]json.RawMessage `json:"conditions"`
	Exceptions map[string]json.RawMessage `json:"exceptions"`
	Actions    map[string]json.RawMessage `json:"actions"`
}

// checkSieve: the script is active and passes CHECKSCRIPT; messages delivered through
// Dovecot's LMTP land where the Exchange rule would have filed them; the out-of-office
// answers once per sender inside its dates, and not outside them.
func (e *setEnv) checkSieve(t *testing.T, aliceID, bobID string) {
	cl, err := sieve.New(sieve.Config{Addr: e.dovecot.SieveAddr, TLS: "none", Auth: "master", AdminUser: e.dovecot.MasterUser, AdminPassword: e.dovecot.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := e.login[aliceID], e.login[bobID]
	for _, login := range []string{alice, bob} {
		s, err := cl.Open(context.Background(), login)
		if err != nil {
			t.Fatal(err)
		}
		scripts, err := s.Scripts(context.Background())
		if err != nil || !slices.Contains(scripts, sieve.Script{Name: "bascule", Active: true}) {
			t.Fatalf("%s: scripts %v (%v), want \"bascule\" active", login, scripts, err)
		}
		body, err := s.Get(context.Background(), "bascule")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(context.Background(), body); err != nil {
			t.Errorf("%s: CHECKSCRIPT of the migrated script: %v", login, err)
		}
		s.Close()
	}

	// Rules: Alice's Exchange rules (sim/tenant/rulegen.go), message by message, with where
	// Exchange would have put each one.
	targets := e.folderTargets(aliceID)
	ruleFolder := map[string]string{} // rule name → target of its move/copy folder
	for _, rl := range e.tenant.Rules(aliceID) {
		var r ruleJSON
		if err := json.Unmarshal(rl.Payload, &r); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"moveToFolder", "copyToFolder"} {
			if v, ok := r.Actions[k]; ok {
				var id string
				json.Unmarshal(v, &id)
				ruleFolder[r.Name] = targets[id]
			}
		}
	}
	trash := ""
	for _, f := range e.tenant.Folders(aliceID) {
		if f.WellKnown == model.WellKnownDeletedItems {
			trash = targets[f.ID]
		}
	}
	aliceMail := ""
	for _, u := range e.tenant.Users() {
		if u.ID == aliceID {
			aliceMail = u.Mail
		}
	}
	type delivery struct {
		rule, from, to, cc, subject, extra, body string
		want                                     map[string]bool // folder → present (absent folders: nowhere)
		seen                                     bool
	}
	in := "INBOX"
	cases := []delivery{
		{rule: "Clients → Clients & Partenaires", from: "camille.bernard@exemple.fr", subject: "Devis 2027",
			want: map[string]bool{ruleFolder["Clients → Clients & Partenaires"]: true}},
		{rule: "Newsletters (delete, mark read)", from: "newsletter@shop.example", subject: "Promo de la semaine",
			want: map[string]bool{trash: true}, seen: true},
		{rule: "Summer 2024 project (copy)", from: "paul@contoso.example", subject: "[Été 2024] point d'étape",
			want: map[string]bool{in: true, ruleFolder["Summer 2024 project"]: true}},
		{rule: "Summer 2024 project: the sender exception, Newsletters deletes", from: "newsletter@shop.example", subject: "[Été 2024] offres",
			want: map[string]bool{trash: true}, seen: true},
		{rule: "Cc'd", from: "paul@contoso.example", to: "paul@contoso.example", cc: aliceMail, subject: "Pour info, en copie",
			want: map[string]bool{ruleFolder["Cc'd"]: true}},
		{rule: "Projects list → colleague (redirect, a copy stays)", from: "paul@contoso.example", to: "projets@contoso.example", subject: "Liste projets : réunion",
			want: map[string]bool{in: true}},
		{rule: "Bulk mail (permanent delete)", from: "promo@bulk.example", subject: "Soldes", extra: "Precedence: bulk\r\n", body: "Pour vous désabonner : unsubscribe",
			want: map[string]bool{}},
		{rule: "Meetings (disabled in Exchange)", from: "paul@contoso.example", subject: "Meeting tomorrow",
			want: map[string]bool{in: true}},
		{rule: "Old folder (its folder is gone: not carried)", from: "paul@contoso.example", subject: "Archive 2019 documents",
			want: map[string]bool{in: true}},
	}
	for _, c := range cases {
		for f := range c.want {
			if f == "" {
				t.Fatalf("case %q: a folder of the rule was not migrated", c.rule)
			}
		}
	}
	for i, c := range cases {
		to := c.to
		if to == "" {
			to = aliceMail
		}
		hdr := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\n", c.from, to)
		if c.cc != "" {
			hdr += fmt.Sprintf("Cc: <%s>\r\n", c.cc)
		}
		body := c.body
		if body == "" {
			body = "Bonjour"
		}
		msg := hdr + fmt.Sprintf("Subject: %s\r\nMessage-ID: <rule-%d@e2e>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n%s\r\n%s\r\n",
			mimeWord(c.subject), i, time.Now().Format(time.RFC1123Z), c.extra, body)
		if err := e.dovecot.Deliver(t, alice, c.from, []byte(msg)); err != nil {
			t.Fatalf("LMTP: %v", err)
		}
	}
	c, err := imapclient.DialInsecure(e.dovecot.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(alice, e.dovecot.Users[alice]).Wait(); err != nil {
		t.Fatal(err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for i, cs := range cases {
		got := map[string]bool{}
		seen := true
		for _, b := range boxes {
			if _, err := c.Select(b.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
				continue
			}
			data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: fmt.Sprintf("<rule-%d@e2e>", i)}}}, nil).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if uids := data.AllUIDs(); len(uids) > 0 {
				got[b.Mailbox] = true
				msgs, _ := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Flags: true}).Collect()
				for _, m := range msgs {
					seen = seen && slices.Contains(m.Flags, imap.FlagSeen)
				}
			}
		}
		if !maps.Equal(got, cs.want) {
			t.Errorf("rule %q: the message is in %v; Exchange would have it in %v", cs.rule, keys(got), keys(cs.want))
		}
		if cs.seen && len(got) > 0 && !seen {
			t.Errorf("rule %q: the message is not marked read", cs.rule)
		}
	}
	redirected := false
	for _, m := range e.dovecot.Sent(t) {
		for i, cs := range cases {
			if strings.HasPrefix(cs.rule, "Projects list") && slices.Contains(m.To, "bob@contoso.example") &&
				strings.Contains(string(m.Data), fmt.Sprintf("<rule-%d@e2e>", i)) {
				redirected = true
			}
		}
	}
	if !redirected {
		t.Errorf("rule \"Projects list → colleague\": no redirect to bob@contoso.example was sent")
	}
	t.Logf("sieve: %d deliveries checked against Exchange's rules", len(cases))

	// Out-of-office: two messages from one outside sender and one from another to Alice
	// (away now) → one reply each; one to Bob (away last week) → none.
	before := len(e.dovecot.Sent(t))
	for i, from := range []string{"ext1@partner.example", "ext1@partner.example", "ext2@partner.example"} {
		msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: question %d\r\nMessage-ID: <oof-%d@e2e>\r\nDate: %s\r\n\r\nbonjour\r\n", from, aliceMail, i, i, time.Now().Format(time.RFC1123Z))
		if err := e.dovecot.Deliver(t, alice, from, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	bobMail := ""
	for _, u := range e.tenant.Users() {
		if u.ID == bobID {
			bobMail = u.Mail
		}
	}
	msg := fmt.Sprintf("From: <ext3@partner.example>\r\nTo: <%s>\r\nSubject: hello\r\nMessage-ID: <oof-bob@e2e>\r\nDate: %s\r\n\r\nhi\r\n", bobMail, time.Now().Format(time.RFC1123Z))
	if err := e.dovecot.Deliver(t, bob, "ext3@partner.example", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	replies := map[string]int{}
	for _, s := range e.dovecot.Sent(t)[before:] {
		for _, to := range s.To {
			replies[strings.ToLower(to)]++
		}
	}
	if replies["ext1@partner.example"] != 1 || replies["ext2@partner.example"] != 1 || replies["ext3@partner.example"] != 0 {
		t.Errorf("out-of-office replies per recipient = %v; want one each to ext1 and ext2 (Alice away now), none to ext3 (Bob's absence is over)", replies)
	}
}

func keys(m map[string]bool) []string {
	out := slices.Collect(maps.Keys(m))
	slices.Sort(out)
	return out
}

func mimeWord(s string) string { return mime.QEncoding.Encode("utf-8", s) }
