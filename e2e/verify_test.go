package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/planner/verify"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
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
