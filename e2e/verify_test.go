package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load/sieve"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/planner/verify"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	simexchangecsv "github.com/bascule-migrate/bascule/sim/exchangecsv"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
	"github.com/bascule-migrate/bascule/transform/ical/expand"
)

// verifyEnv is the groupware environment (sim/graph, Radicale, mapping to local parts) plus a
// Dovecot with the same logins, so that one migrate moves mail, calendars, contacts and tasks.
type verifyEnv struct {
	*gwEnv
	dc *testenv.DovecotServer
	// source flags and environment when the source is sim/ews (nil: sim/graph).
	srcArgs, srcEnv []string
}

func newVerifyEnv(t *testing.T, server, source string) *verifyEnv {
	cfg := gwTenant()
	cfg.Messages = 40
	e := &verifyEnv{gwEnv: newGWEnv(t, server, cfg)}
	var logins []string
	for _, l := range e.login {
		logins = append(logins, l)
	}
	sort.Strings(logins)
	e.dc = testenv.Dovecot(t, logins...)
	if source == "ews" {
		esim, err := simews.Start(simews.Options{Tenant: e.tenant})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { esim.Close() })
		ca := filepath.Join(e.dir, "ews-ca.pem")
		if err := esim.WriteCAFile(ca); err != nil {
			t.Fatal(err)
		}
		svc, pw := esim.ServiceAccount()
		e.srcArgs = []string{"--source", "ews", "--ews-url", esim.EWSURL(), "--ews-auth", "ntlm", "--ews-user", svc, "--ca-file", ca}
		e.srcEnv = []string{"BASCULE_EWS_PASSWORD=" + pw}
	}
	return e
}

// args are the flags shared by migrate and verify: both targets, every kind.
func (e *verifyEnv) args(command string, extra ...string) []string {
	a := e.gwEnv.args("--kinds", "mail", "--imap-addr", e.dc.Addr, "--imap-tls", "none", "--imap-auth", "master",
		"--imap-admin-user", e.dc.MasterUser)
	a[0] = command
	a = append(a, e.srcArgs...)
	return append(a, extra...)
}

func (e *verifyEnv) exec(args ...string) runResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(e.t), args...)
	cmd.Env = append(append(e.env(), "BASCULE_IMAP_ADMIN_PASSWORD="+e.dc.MasterPass), e.srcEnv...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("running bascule: %v", err)
	}
	return runResult{code: code, stdout: so.String(), stderr: se.String()}
}

// verifyJSON runs verify --output json and decodes its report.
func (e *verifyEnv) verifyJSON(extra ...string) (verify.Report, int) {
	e.t.Helper()
	a := e.args("verify", append([]string{"--output", "json", "--window-start", windowStart.Format("2006-01-02"),
		"--window-end", windowEnd.Format("2006-01-02")}, extra...)...)
	r := e.exec(a...)
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		e.t.Fatalf("verify exit %d: output is not a report: %v\nstdout:\n%s\nstderr:\n%s", r.code, err, tail(r.stdout, 3000), tail(r.stderr, 3000))
	}
	return rep, r.code
}

type injected struct {
	kind verify.DiffKind
	item string
	what string
}

// TestVerify is the acceptance test of bascule verify: zero differences after a clean
// migrate; then four differences made by hand on the real targets — a message expunged, a
// flag changed, an occurrence removed (EXDATE added to a stored series), a contact's name
// changed — and verify reports each of them, with its kind and item, and nothing else. On
// Radicale (which re-serialises what it stores) and Cyrus from sim/graph, and on Radicale
// from sim/ews.
func TestVerify(t *testing.T) {
	for _, c := range []struct{ server, source string }{{"radicale", "graph"}, {"cyrus", "graph"}, {"radicale", "ews"}} {
		t.Run(c.server+"-"+c.source, func(t *testing.T) { testVerify(t, c.server, c.source) })
	}
}

func testVerify(t *testing.T, server, source string) {
	e := newVerifyEnv(t, server, source)
	r := e.exec(e.args("migrate", "--output", "json")...)
	if r.code != 0 {
		t.Fatalf("migrate exit %d\n%s\n%s", r.code, tail(r.stdout, 4000), tail(r.stderr, 4000))
	}

	rep, code := e.verifyJSON("--all")
	if code != 0 || rep.Verdict != verify.VerdictOK || len(rep.Differences) != 0 || len(rep.Errors) != 0 {
		t.Fatalf("verify after a clean migrate: exit %d, verdict %s, %d differences, errors %v; want 0, ok, none\n%s",
			code, rep.Verdict, len(rep.Differences), rep.Errors, diffList(rep.Differences))
	}
	if rep.Schema != verify.SchemaVersion {
		t.Errorf("schema = %q, want %q", rep.Schema, verify.SchemaVersion)
	}
	kinds := map[string]int64{}
	for _, m := range rep.Mailboxes {
		for _, f := range m.Folders {
			kinds[f.Kind] += f.Checked
			if f.Source.Items != f.Target.Items && f.Kind == "mail" {
				t.Errorf("%s %s: %d items on the source, %d on the target, and no difference reported", m.Address, f.Path, f.Source.Items, f.Target.Items)
			}
		}
	}
	for _, k := range []string{"mail", "calendar", "contacts", "tasks"} {
		if kinds[k] == 0 {
			t.Errorf("no %s item compared (checked by kind: %v)", k, kinds)
		}
	}
	if rep.Totals.Occurrences == 0 || rep.Totals.Checked != kinds["mail"]+kinds["calendar"]+kinds["contacts"]+kinds["tasks"] {
		t.Errorf("totals = %+v, want occurrences compared and checked = the folders' sum", rep.Totals)
	}
	t.Logf("clean verify: %d mailboxes, %d folders, %d items checked, %d occurrences in %s", rep.Totals.Mailboxes, rep.Totals.Folders,
		rep.Totals.Checked, rep.Totals.Occurrences, rep.Finished.Sub(rep.Started).Round(time.Millisecond))

	// The differences, made directly on the real servers.
	store, err := sqlite.Open(context.Background(), e.state)
	if err != nil {
		t.Fatal(err)
	}
	var want []injected
	want = append(want, e.injectMail(t, store)...)
	want = append(want, e.injectOccurrence(t, store), e.injectContact(t, store))
	store.Close()

	rep, code = e.verifyJSON("--all")
	if code != 2 || rep.Verdict != verify.VerdictDifferences {
		t.Errorf("verify after the injections: exit %d, verdict %s; want 2, differences", code, rep.Verdict)
	}
	found := map[injected]bool{}
	for _, d := range rep.Differences {
		ok := false
		for _, w := range want {
			if d.Kind == w.kind && d.ItemID == w.item {
				found[w], ok = true, true
			}
		}
		if !ok {
			t.Errorf("unexpected difference: %s", diffLine(d))
		}
	}
	for _, w := range want {
		if !found[w] {
			t.Errorf("verify did not report %s (%s of item %s)\nreported:\n%s", w.what, w.kind, w.item, diffList(rep.Differences))
		}
	}
	if t.Failed() {
		return
	}
	for _, d := range rep.Differences {
		t.Logf("found: %s", diffLine(d))
	}
	if len(rep.Errors) != 0 {
		t.Errorf("errors = %v, want none", rep.Errors)
	}

	// A sample finds the differences that need no content (the expunge, the flag) too, and
	// the same seed compares the same number of items again.
	rep1, code := e.verifyJSON("--sample", "1", "--seed", "9")
	rep2, _ := e.verifyJSON("--sample", "1", "--seed", "9")
	if code != 2 || rep1.Totals.Checked != rep2.Totals.Checked || rep1.Totals.Checked >= rep.Totals.Checked {
		t.Errorf("sampled verify: exit %d, checked %d then %d (all: %d); want 2 and the same, smaller count", code, rep1.Totals.Checked, rep2.Totals.Checked, rep.Totals.Checked)
	}
	for _, k := range []verify.DiffKind{verify.MissingOnTarget, verify.FlagsDiffer} {
		if rep1.Totals.Differences[k] != 1 {
			t.Errorf("sampled verify: %d %s, want 1", rep1.Totals.Differences[k], k)
		}
	}

	if source == "graph" && server == "radicale" {
		e.interrupt(t)
	}

	// Text output: the same verdict and exit code for humans.
	r = e.exec(e.args("verify", "--all", "--window-start", windowStart.Format("2006-01-02"), "--window-end", windowEnd.Format("2006-01-02"))...)
	if r.code != 2 || !strings.Contains(r.stdout, "Verdict: differences") || !strings.Contains(r.stdout, string(verify.OccurrenceMissing)) {
		t.Errorf("text verify: exit %d\n%s", r.code, tail(r.stdout, 3000))
	}
}

// injectMail expunges one message and toggles \Flagged on another, on Dovecot.
func (e *verifyEnv) injectMail(t *testing.T, store state.Store) []injected {
	t.Helper()
	var del, flag *state.Item
	var login string
	mbs, err := store.Mailboxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range mbs {
		items, err := store.Items(context.Background(), mb.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		var mail []state.Item
		for _, it := range items {
			if it.Kind == "" && it.Status == state.StatusDone && it.UID != 0 {
				mail = append(mail, it)
			}
		}
		for i := range mail {
			for j := range mail {
				if i != j && mail[i].TargetFolder == mail[j].TargetFolder {
					del, flag, login = &mail[i], &mail[j], mb.Target
				}
			}
		}
		if del != nil {
			break
		}
	}
	if del == nil {
		t.Fatal("no folder with two migrated messages")
	}
	c, err := imapcheck.Dial(e.dc.Addr, login+"*"+e.dc.MasterUser, e.dc.MasterPass)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Select(del.TargetFolder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	op := imap.StoreFlagsAdd
	if flag.Flags.Flagged {
		op = imap.StoreFlagsDel
	}
	if err := c.Store(imap.UIDSetNum(imap.UID(flag.UID)), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(imap.UID(del.UID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(imap.UID(del.UID))).Close(); err != nil {
		t.Fatal(err)
	}
	return []injected{
		{verify.MissingOnTarget, del.ID, fmt.Sprintf("message UID %d expunged from %s", del.UID, del.TargetFolder)},
		{verify.FlagsDiffer, flag.ID, fmt.Sprintf("\\Flagged toggled on UID %d in %s", flag.UID, flag.TargetFolder)},
	}
}

// davDo sends one request as the DAV admin.
func (e *verifyEnv) davDo(t *testing.T, method, href string, body []byte) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, e.dav.URL+href, bytes.NewReader(body))
	req.SetBasicAuth(e.dav.AdminUser, e.dav.AdminPass)
	if method == http.MethodPut {
		ct := "text/calendar; charset=utf-8"
		if strings.HasSuffix(href, ".vcf") {
			ct = "text/vcard; charset=utf-8"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s\n%s", method, href, resp.Status, b)
	}
	return b
}

// doneItems lists the done items of one kind, over every mailbox.
func (e *verifyEnv) doneItems(t *testing.T, store state.Store, kind string) []state.Item {
	var out []state.Item
	mbs, err := store.Mailboxes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range mbs {
		items, err := store.Items(context.Background(), mb.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if string(it.Kind) == kind && it.Status == state.StatusDone && it.Href != "" {
				out = append(out, it)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// injectOccurrence adds an EXDATE for one plain occurrence (not an exception) of a stored
// recurring series, inside the window.
func (e *verifyEnv) injectOccurrence(t *testing.T, store state.Store) injected {
	t.Helper()
	for _, it := range e.doneItems(t, store, "calendar") {
		body := e.davDo(t, http.MethodGet, it.Href, nil)
		if !bytes.Contains(body, []byte("\nRRULE:")) {
			continue
		}
		occs, err := expand.Parse(body, windowStart, windowEnd)
		if err != nil {
			t.Fatalf("%s: %v", it.Href, err)
		}
		for _, o := range occs {
			if o.Override || o.RecurrenceID == "" || o.Cancelled {
				continue
			}
			var exdate string
			if o.AllDay {
				exdate = "EXDATE;VALUE=DATE:" + strings.ReplaceAll(o.RecurrenceID, "-", "")
			} else {
				ts, _ := time.Parse(time.RFC3339, o.RecurrenceID)
				exdate = "EXDATE:" + ts.UTC().Format("20060102T150405Z")
			}
			i := bytes.Index(body, []byte("\nRRULE:"))
			j := bytes.IndexByte(body[i+1:], '\n') + i + 1
			mod := append(append(append([]byte{}, body[:j+1]...), []byte(exdate+"\r\n")...), body[j+1:]...)
			e.davDo(t, http.MethodPut, it.Href, mod)
			return injected{verify.OccurrenceMissing, it.ID, fmt.Sprintf("occurrence %s of %s removed by %s", o.RecurrenceID, it.Href, exdate)}
		}
	}
	t.Fatal("no recurring event with a plain occurrence in the window")
	return injected{}
}

// injectContact changes a stored contact's formatted name (FN).
func (e *verifyEnv) injectContact(t *testing.T, store state.Store) injected {
	t.Helper()
	for _, it := range e.doneItems(t, store, "contacts") {
		body := e.davDo(t, http.MethodGet, it.Href, nil)
		lines := strings.Split(string(body), "\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.ToUpper(l), "FN:") || strings.HasPrefix(strings.ToUpper(l), "FN;") {
				k := strings.Index(l, ":")
				lines[i] = l[:k+1] + "Someone Else Entirely\r"
				// Drop continuation lines of a folded FN.
				for i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
					lines = append(lines[:i+1], lines[i+2:]...)
				}
				e.davDo(t, http.MethodPut, it.Href, []byte(strings.Join(lines, "\n")))
				return injected{verify.FieldChanged, it.ID, "FN of " + it.Href + " changed"}
			}
		}
	}
	t.Fatal("no contact with an FN")
	return injected{}
}

func diffLine(d verify.Difference) string {
	return fmt.Sprintf("[%s] %s / %s item %s %q %s field %s occ %s: %s", d.Kind, d.Mailbox, d.Folder, d.ItemID, d.Subject, d.TargetRef, d.Field, d.Occurrence, d.Detail)
}

func diffList(ds []verify.Difference) string {
	var b strings.Builder
	for i, d := range ds {
		if i == 40 {
			fmt.Fprintf(&b, "… %d more\n", len(ds)-40)
			break
		}
		b.WriteString(diffLine(d) + "\n")
	}
	return b.String()
}

// interrupt: SIGINT in the middle of a verify (every Graph request made slow) gives exit 4
// and a report whose verdict says so.
func (e *verifyEnv) interrupt(t *testing.T) {
	t.Helper()
	e.sim.SetFaults(simgraph.Faults{Seed: 1, RateSlow: 1, Slow: 300 * time.Millisecond})
	defer e.sim.SetFaults(simgraph.Faults{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := e.args("verify", "--all", "--output", "json")
	cmd := exec.CommandContext(ctx, binary(e.t), args...)
	cmd.Env = append(append(e.env(), "BASCULE_IMAP_ADMIN_PASSWORD="+e.dc.MasterPass), e.srcEnv...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	before := e.requests()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once it talks to Graph, its signal handler is in place; then let it get going.
	for deadline := time.Now().Add(time.Minute); e.requests() == before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	var rep verify.Report
	if jerr := json.Unmarshal(so.Bytes(), &rep); jerr != nil || code != 4 || rep.Verdict != verify.VerdictInterrupted {
		t.Errorf("verify interrupted: exit %d (%v), verdict %q (%v); want 4, interrupted\nstderr:\n%s", code, err, rep.Verdict, jerr, tail(se.String(), 2000))
	}
}

// TestVerifySettings is the acceptance of verify's permissions and rules: the tenant and its
// Exchange permission exports migrated through Graph into Dovecot (mail, ACLs, ManageSieve)
// and Cyrus (calendars and their sharing), one mailbox keeping a Sieve script of its own
// (--sieve keep). Verify then reports zero differences, lists that kept script as a manual
// action, and compares every ACL, share and script. Then one ACL right is removed (SETACL on
// Dovecot) and one Sieve script edited (PUTSCRIPT), and verify reports exactly those two: a
// right_missing on that folder and identifier, a sieve_differs on that script. With Radicale
// for calendars, whose sharing cannot be read over DAV, the shares are listed as not
// verifiable (and as manual actions), never silently skipped.
func TestVerifySettings(t *testing.T) {
	for _, server := range []string{"cyrus", "radicale"} {
		t.Run(server, func(t *testing.T) { testVerifySettings(t, server) })
	}
}

// newSetEnvOn is newSetEnv with calendars on server (cyrus or radicale).
func newSetEnvOn(t *testing.T, server string) *setEnv {
	t.Helper()
	cfg := tenant.Small()
	cfg.Messages = 40
	ten := tenant.Generate(cfg)
	secret := "e2e-verify-set"
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-e2e", ClientSecret: secret})
	if err != nil {
		t.Fatalf("simgraph.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	g := gwFromParts(t, ten, sim, secret, server)
	e := &setEnv{gwEnv: g, csvDir: filepath.Join(g.dir, "exchange")}
	var logins []string
	for _, u := range ten.Users() {
		logins = append(logins, e.login[u.ID])
	}
	e.dovecot = testenv.Dovecot(t, logins...)
	if err := os.MkdirAll(e.csvDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := simexchangecsv.Write(e.csvDir, ten); err != nil {
		t.Fatal(err)
	}
	return e
}

func testVerifySettings(t *testing.T, server string) {
	e := newSetEnvOn(t, server)
	users := e.tenant.Users()
	ownLogin := e.login[users[2].ID]
	sv, err := sieve.New(sieve.Config{Addr: e.dovecot.SieveAddr, TLS: "none", Auth: "master", AdminUser: e.dovecot.MasterUser, AdminPassword: e.dovecot.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	session := func(login string) *sieve.Session {
		s, err := sv.Open(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	own := session(ownLogin)
	if err := own.Put(ctx, "mine", []byte("require \"fileinto\";\nif header :contains \"subject\" \"x\" { fileinto \"INBOX\"; }\n")); err != nil {
		t.Fatal(err)
	}
	if err := own.SetActive(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	r := e.runSet("--output", "json")
	if r.code != 0 {
		t.Fatalf("migrate exit %d\n%s", r.code, tail(r.stdout, 4000))
	}
	var migrated struct {
		ManualActions []model.ManualAction `json:"manual_actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &migrated); err != nil {
		t.Fatal(err)
	}
	verifyRun := func() (verify.Report, int) {
		t.Helper()
		a := e.setArgs("--output", "json", "--all", "--window-start", windowStart.Format("2006-01-02"), "--window-end", windowEnd.Format("2006-01-02"))
		a[0] = "verify"
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := e.command(ctx, a...)
		cmd.Env = append(cmd.Env, "BASCULE_IMAP_ADMIN_PASSWORD="+e.dovecot.MasterPass)
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var rep verify.Report
		if err := json.Unmarshal(so.Bytes(), &rep); err != nil {
			t.Fatalf("verify exit %d: not a report: %v\n%s\n%s", code, err, tail(so.String(), 3000), tail(se.String(), 3000))
		}
		return rep, code
	}

	rep, code := verifyRun()
	unverifiable := 0
	for _, p := range rep.NotVerifiable {
		if strings.Contains(p.Message, "sharing cannot be read back") {
			unverifiable++
		}
	}
	if server == "radicale" {
		// Every mailbox with a planned share says so; the rest is compared as on Cyrus.
		if unverifiable == 0 || unverifiable != len(rep.NotVerifiable) {
			t.Errorf("Radicale: not verifiable = %v, want the sharing of the mailboxes with shares", rep.NotVerifiable)
		}
		cannot := 0
		for _, a := range rep.ManualActions {
			if strings.Contains(a.Why, "neither WebDAV ACL") {
				cannot++
			}
		}
		if cannot == 0 {
			t.Errorf("Radicale: no share listed as a manual action: %+v", rep.ManualActions)
		}
		rep.NotVerifiable = nil
	}
	if code != 0 || rep.Verdict != verify.VerdictOK || len(rep.Differences) != 0 || len(rep.Errors) != 0 || len(rep.NotVerifiable) != 0 {
		t.Fatalf("verify after a clean migrate: exit %d, verdict %s, errors %v, not verifiable %v, differences:\n%s",
			code, rep.Verdict, rep.Errors, rep.NotVerifiable, diffList(rep.Differences))
	}
	if !slices.Contains(rep.Options.Kinds, "permissions") || !slices.Contains(rep.Options.Kinds, "rules") {
		t.Errorf("kinds verified = %v, want permissions and rules among them", rep.Options.Kinds)
	}
	var entries, shares, scripts int
	kept := false
	for _, m := range rep.Mailboxes {
		if m.Settings == nil {
			t.Fatalf("%s: no settings report", m.Address)
		}
		entries += m.Settings.ACLEntries
		shares += m.Settings.Shares
		if m.Settings.Sieve == "same" {
			scripts++
		}
		kept = kept || (m.Target == ownLogin && m.Settings.Sieve == "user_script_kept")
	}
	if entries == 0 || (shares == 0 && server == "cyrus") || scripts == 0 { // Radicale's shares: checked above
		t.Errorf("compared %d ACL entries, %d shares, %d Sieve scripts; want some of each", entries, shares, scripts)
	}
	if !kept {
		t.Errorf("%s keeps its own Sieve script: verify does not say so (settings %+v)", ownLogin, rep.Mailboxes)
	}
	found := false
	for _, a := range rep.ManualActions {
		found = found || strings.Contains(a.Why, "own active Sieve script")
	}
	if !found || len(rep.ManualActions) < 2 {
		t.Errorf("manual actions = %+v; want the kept script among others (send-as, groups…)", rep.ManualActions)
	}
	// The manual actions are migrate's, one for one.
	manualKey := func(as []model.ManualAction) []string {
		var out []string
		for _, a := range as {
			out = append(out, strings.ToLower(a.Mailbox)+" | "+a.What+" | "+a.Why)
		}
		sort.Strings(out)
		return out
	}
	if got, want := manualKey(rep.ManualActions), manualKey(migrated.ManualActions); !slices.Equal(got, want) {
		t.Errorf("verify's manual actions are not migrate's:\nverify:\n  %s\nmigrate:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	t.Logf("clean verify: %d ACL entries, %d shares, %d Sieve scripts compared; %d manual actions", entries, shares, scripts, len(rep.ManualActions))

	// A right removed on Dovecot: the first ACL entry of a delegate, its "r" taken away
	// (SETACL -r as the owner).
	var aclOwner, aclFolder, aclWho string
	for _, u := range users {
		login := e.login[u.ID]
		c, err := imapclient.DialInsecure(e.dovecot.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(login+"*"+e.dovecot.MasterUser, e.dovecot.MasterPass).Wait(); err != nil {
			t.Fatal(err)
		}
		for _, f := range e.stateFolders(u.ID) {
			if f.Kind != "" || aclWho != "" {
				continue
			}
			data, err := c.GetACL(f.Target).Wait()
			if err != nil {
				t.Fatalf("GETACL %s: %v", f.Target, err)
			}
			ids := slices.Sorted(maps.Keys(data.Rights))
			for _, id := range ids {
				if string(id) != login && strings.ContainsRune(string(data.Rights[id]), 'r') && aclWho == "" {
					aclOwner, aclFolder, aclWho = u.Mail, f.Target, string(id)
					if err := c.SetACL(f.Target, id, imap.RightModificationRemove, imap.RightSet("r")).Wait(); err != nil {
						t.Fatalf("SETACL %s %s -r: %v", f.Target, id, err)
					}
				}
			}
		}
		c.Logout().Wait()
	}
	if aclWho == "" {
		t.Fatal("no delegate's ACL entry on Dovecot to change")
	}
	// A script edited by hand: a line added after the first of an active Bascule script.
	var sieveOwner string
	for _, u := range users {
		login := e.login[u.ID]
		if login == ownLogin {
			continue
		}
		s := session(login)
		scripts, err := s.Scripts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(scripts, sieve.Script{Name: "bascule", Active: true}) {
			continue
		}
		b, err := s.Get(ctx, "bascule")
		if err != nil {
			t.Fatal(err)
		}
		first, rest, _ := strings.Cut(string(b), "\n")
		if err := s.Put(ctx, "bascule", []byte(first+"\n# changed by hand\n"+rest)); err != nil {
			t.Fatal(err)
		}
		sieveOwner = u.Mail
		break
	}
	if sieveOwner == "" {
		t.Fatal("no active Bascule script to edit")
	}

	rep, code = verifyRun()
	if code != 2 || rep.Verdict != verify.VerdictDifferences || len(rep.Differences) != 2 {
		t.Fatalf("verify after the injections: exit %d, verdict %s; want 2, differences, and exactly two:\n%s", code, rep.Verdict, diffList(rep.Differences))
	}
	var gotACL, gotSieve bool
	for _, d := range rep.Differences {
		switch {
		case d.Kind == verify.RightMissing && d.ItemKind == "permissions" && strings.EqualFold(d.Mailbox, aclOwner) &&
			d.TargetRef == aclFolder && d.Field == aclWho && strings.Contains(d.Expected, "r") && !strings.Contains(d.Actual, "r"):
			gotACL = true
		case d.Kind == verify.SieveDiffers && d.ItemKind == "rules" && strings.EqualFold(d.Mailbox, sieveOwner) &&
			d.TargetRef == "bascule" && d.Field == "line 2" && d.Actual == "# changed by hand":
			gotSieve = true
		}
		t.Logf("found: %s", diffLine(d))
	}
	if !gotACL {
		t.Errorf("no right_missing for %s on %s's %s", aclWho, aclOwner, aclFolder)
	}
	if !gotSieve {
		t.Errorf("no sieve_differs at line 2 of %s's script", sieveOwner)
	}

	// The text output says the same, with what was compared.
	a := e.setArgs("--all", "--window-start", windowStart.Format("2006-01-02"), "--window-end", windowEnd.Format("2006-01-02"))
	a[0] = "verify"
	tr := e.runSetCommand(a)
	for _, want := range []string{"Verdict: differences", "[right_missing]", "[sieve_differs]", "Permissions: ", "Manual actions ("} {
		if !strings.Contains(tr.stdout, want) {
			t.Errorf("text verify (exit %d) lacks %q:\n%s", tr.code, want, tail(tr.stdout, 3000))
		}
	}
	if tr.code != 2 {
		t.Errorf("text verify: exit %d, want 2", tr.code)
	}
}

// runSetCommand runs the binary with args (the Dovecot admin password in its environment).
func (e *setEnv) runSetCommand(args []string) runResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
	cmd.Env = append(cmd.Env, "BASCULE_IMAP_ADMIN_PASSWORD="+e.dovecot.MasterPass)
	out, err := cmd.Output()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
	}
	return runResult{code: code, stdout: string(out)}
}
