package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/planner"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
	"github.com/bascule-migrate/bascule/transform/ical/expand"
	vcardx "github.com/bascule-migrate/bascule/transform/vcard"
)

// The round-trip window: every recurrence is expanded over ±2 years around this instant, on
// the target (from the iCalendar read back) and on the source (the emulator's instances).
var (
	windowRef   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	windowStart = windowRef.AddDate(-2, 0, 0)
	windowEnd   = windowRef.AddDate(2, 0, 0)
)

// gwEnv is one source tenant behind the emulator and one real CalDAV/CardDAV server.
type gwEnv struct {
	t      testing.TB
	tenant *tenant.Tenant
	sim    *simgraph.Server
	dav    *testenv.DAVServer
	dir    string
	caFile string
	state  string
	secret string
	// login on the target of each source user id, and the mapping file that says so.
	login   map[string]string
	mapping string
	http    *http.Client
	cred    azcore.TokenCredential
}

func newGWEnv(t testing.TB, server string, cfg tenant.Config) *gwEnv {
	t.Helper()
	ten := tenant.Generate(cfg)
	secret := "e2e-gw-" + fmt.Sprint(cfg.Seed)
	sim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-e2e", ClientSecret: secret})
	if err != nil {
		t.Fatalf("simgraph.Start() = %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return gwFromParts(t, ten, sim, secret, server)
}

// gwFromParts builds the environment around a running emulator: the mapping file (target
// logins are the UPNs' local parts), the DAV server, and a Graph client for the test itself.
func gwFromParts(t testing.TB, ten *tenant.Tenant, sim *simgraph.Server, secret, server string) *gwEnv {
	t.Helper()
	e := &gwEnv{t: t, tenant: ten, sim: sim, dir: t.TempDir(), secret: secret, login: map[string]string{}}
	e.caFile = filepath.Join(e.dir, "ca.pem")
	e.state = filepath.Join(e.dir, "state.db")
	if err := sim.WriteCAFile(e.caFile); err != nil {
		t.Fatal(err)
	}
	// Target logins are the local parts of the UPNs (Cyrus without virtual domains), given
	// by a mapping file as an integrator would.
	var logins []string
	var csv strings.Builder
	csv.WriteString("source,target\n")
	for _, u := range ten.Users() {
		l := strings.ToLower(strings.SplitN(u.UPN, "@", 2)[0])
		e.login[u.ID] = l
		logins = append(logins, l)
		fmt.Fprintf(&csv, "%s,%s\n", u.UPN, l)
	}
	e.mapping = filepath.Join(e.dir, "mapping.csv")
	if err := os.WriteFile(e.mapping, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	switch server {
	case "cyrus":
		e.dav = testenv.Cyrus(t, logins...)
	default:
		e.dav = testenv.Radicale(t, logins...)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(sim.CAPEM())
	e.http = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Minute}
	var err error
	e.cred, err = azidentity.NewClientSecretCredential(sim.TenantID(), "bascule-e2e", secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{
			Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: sim.AuthorityHost()}, Transport: e.http},
			DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *gwEnv) args(extra ...string) []string {
	tmpl := e.dav.PrincipalURL("{user}")
	a := []string{"migrate", "--mapping", e.mapping, "--state", e.state,
		"--graph-endpoint", e.sim.GraphEndpoint(), "--authority-host", e.sim.AuthorityHost(),
		"--tenant-id", e.sim.TenantID(), "--client-id", "bascule-e2e", "--ca-file", e.caFile,
		"--kinds", "calendar,contacts,tasks", "--dav-url", e.dav.URL, "--dav-auth", "admin",
		"--dav-admin-user", e.dav.AdminUser, "--dav-principal-template", tmpl,
		"--no-progress", "--log-level", "warn"}
	return append(a, extra...)
}

func (e *gwEnv) env() []string {
	return append(os.Environ(), "BASCULE_CLIENT_SECRET="+e.secret, "BASCULE_DAV_ADMIN_PASSWORD="+e.dav.AdminPass)
}

func (e *gwEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary(e.t), args...)
	cmd.Env = e.env()
	return cmd
}

func (e *gwEnv) run(args ...string) runResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := e.command(ctx, args...)
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

func (e *gwEnv) migrate(extra ...string) runResult {
	e.t.Helper()
	r := e.run(e.args(extra...)...)
	if r.code != 0 {
		e.t.Fatalf("bascule migrate exit %d\nstdout:\n%s\nstderr:\n%s", r.code, tail(r.stdout, 6000), tail(r.stderr, 4000))
	}
	return r
}

// graph GETs a Graph path from the emulator (the same data the migration read), nil on 404.
func (e *gwEnv) graph(path string, headers ...string) []byte {
	e.t.Helper()
	tok, err := e.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		e.t.Fatalf("token: %v", err)
	}
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = e.sim.GraphEndpoint() + path
	}
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := e.http.Do(req)
		if err != nil {
			e.t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 404:
			return nil
		case resp.StatusCode == 429 && attempt < 20:
			time.Sleep(time.Second)
			continue
		case resp.StatusCode != 200:
			e.t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
		}
		return b
	}
}

// graphList GETs every page of a Graph collection.
func (e *gwEnv) graphList(path string) []json.RawMessage {
	e.t.Helper()
	var out []json.RawMessage
	for next := path; next != ""; {
		var page struct {
			Value []json.RawMessage `json:"value"`
			Next  string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(e.graph(next), &page); err != nil {
			e.t.Fatalf("GET %s: %v", next, err)
		}
		out = append(out, page.Value...)
		next = page.Next
	}
	return out
}

// occurrence is one instant of one event, as both sides are compared.
type occurrence struct {
	Start     string // UTC RFC 3339, or the date for an all-day event
	Subject   string
	Attendees string // sorted lower-case addresses
}

func (o occurrence) String() string { return o.Start + " " + o.Subject + " [" + o.Attendees + "]" }

type graphEvent struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	IsAllDay    bool   `json:"isAllDay"`
	IsCancelled bool   `json:"isCancelled"`
	Start       struct {
		DateTime string `json:"dateTime"`
		TimeZone string `json:"timeZone"`
	} `json:"start"`
	Attendees []struct {
		EmailAddress struct {
			Address string `json:"address"`
		} `json:"emailAddress"`
	} `json:"attendees"`
}

func (g graphEvent) occurrence(t testing.TB) occurrence {
	var as []string
	for _, a := range g.Attendees {
		as = append(as, strings.ToLower(a.EmailAddress.Address))
	}
	sort.Strings(as)
	if g.Start.TimeZone != "UTC" {
		t.Fatalf("event %s: start in %q, want UTC (no Prefer header sent)", g.ID, g.Start.TimeZone)
	}
	st, err := time.Parse("2006-01-02T15:04:05.9999999", g.Start.DateTime)
	if err != nil {
		t.Fatalf("event %s: start %q: %v", g.ID, g.Start.DateTime, err)
	}
	s := st.UTC().Format(time.RFC3339)
	if g.IsAllDay {
		s = st.Format("2006-01-02")
	}
	return occurrence{Start: s, Subject: g.Subject, Attendees: strings.Join(as, ",")}
}

// sourceOccurrences lists, from the emulator, every occurrence of every event of a user's
// calendars within the window: single instances as they are, series through `instances`.
func (e *gwEnv) sourceOccurrences(u tenant.User) (occs []occurrence, events int) {
	e.t.Helper()
	window := fmt.Sprintf("startDateTime=%s&endDateTime=%s", windowStart.Format(time.RFC3339), windowEnd.Format(time.RFC3339))
	var cals []struct {
		ID string `json:"id"`
	}
	for _, raw := range e.graphList("/users/" + u.ID + "/calendars") {
		var c struct {
			ID    string `json:"id"`
			Owner struct {
				Address string `json:"address"`
			} `json:"owner"`
			IsDefault bool `json:"isDefaultCalendar"`
		}
		json.Unmarshal(raw, &c)
		if !c.IsDefault && c.Owner.Address != "" && !strings.EqualFold(c.Owner.Address, u.Mail) {
			continue // shared by its owner: migrated with the owner's mailbox
		}
		cals = append(cals, struct {
			ID string `json:"id"`
		}{c.ID})
	}
	for _, c := range cals {
		for _, raw := range e.graphList("/users/" + u.ID + "/calendars/" + c.ID + "/events?$top=100") {
			var ev graphEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				e.t.Fatal(err)
			}
			events++
			if ev.Type == "seriesMaster" {
				for _, ir := range e.graphList("/users/" + u.ID + "/events/" + ev.ID + "/instances?" + window) {
					var in graphEvent
					json.Unmarshal(ir, &in)
					if in.IsCancelled {
						continue
					}
					occs = append(occs, in.occurrence(e.t))
				}
				continue
			}
			o := ev.occurrence(e.t)
			if inWindow(o) {
				occs = append(occs, o)
			}
		}
	}
	return occs, events
}

func inWindow(o occurrence) bool {
	s := o.Start
	if len(s) == 10 {
		s += "T00:00:00Z"
	}
	t, err := time.Parse(time.RFC3339, s)
	return err == nil && !t.Before(windowStart) && t.Before(windowEnd)
}

// targetOccurrences reads every calendar object of a login back from the server, expands
// every recurrence with transform/ical/expand (RRULE and RDATE with teambition/rrule-go, the
// library go-ical uses, minus EXDATEs, overrides in place of the instances they replace), and
// lists the occurrences in the window. An override in the window must replace an instance
// its series generates.
func (e *gwEnv) targetOccurrences(login string) (occs []occurrence, objects int, todos []*ical.Component) {
	e.t.Helper()
	for href, objs := range e.dav.Objects(e.t, login, testenv.KindCalendar) {
		uids := map[string]string{}
		for _, o := range objs {
			cal, err := ical.NewDecoder(bytes.NewReader(o.Data)).Decode()
			if err != nil {
				e.t.Fatalf("%s: the server returned iCalendar that does not parse: %v\n%s", o.Href, err, o.Data)
			}
			var master *ical.Component
			var uid string
			bare := &ical.Calendar{Component: &ical.Component{Name: cal.Name, Props: cal.Props}} // without overrides
			for _, c := range cal.Children {
				switch c.Name {
				case ical.CompToDo:
					todos = append(todos, c)
				case ical.CompEvent:
					uid, _ = c.Props.Text(ical.PropUID)
					if c.Props.Get(ical.PropRecurrenceID) == nil {
						master = c
						bare.Children = append(bare.Children, c)
					}
				}
			}
			if uid == "" {
				continue // a VTODO object
			}
			objects++
			if prev, dup := uids[uid]; dup {
				e.t.Errorf("collection %s holds UID %s twice (%s and %s)", href, uid, prev, o.Href)
			}
			uids[uid] = o.Href
			if master == nil {
				e.t.Errorf("%s: overrides without a master", o.Href)
				continue
			}
			all, err := expand.Calendar(cal, windowStart, windowEnd)
			if err != nil {
				e.t.Fatalf("%s: %v", o.Href, err)
			}
			// The series' own instances, from two days before the window (an override may
			// move an instance into it).
			rule, err := expand.Calendar(bare, windowStart.Add(-48*time.Hour), windowEnd)
			if err != nil {
				e.t.Fatalf("%s: %v", o.Href, err)
			}
			generated := map[string]bool{}
			for _, r := range rule {
				generated[r.Key()] = true
			}
			for _, x := range all {
				oc := occurrence{Start: x.Start, Subject: x.Summary, Attendees: x.Attendees}
				if x.Override && !generated[x.Key()] {
					// An override whose RECURRENCE-ID the rule does not generate (outside the
					// window, or wrong): an error only when it lies in the window.
					if inWindow(oc) {
						e.t.Errorf("%s: override RECURRENCE-ID %s matches no occurrence of the rule", o.Href, x.RecurrenceID)
					}
					continue
				}
				if x.Override && x.Cancelled {
					continue
				}
				if inWindow(oc) {
					occs = append(occs, oc)
				}
			}
		}
	}
	return occs, objects, todos
}

// diffOccurrences returns what one multiset holds that the other does not.
func diffOccurrences(src, dst []occurrence) (missing, extra []string) {
	count := map[occurrence]int{}
	for _, o := range src {
		count[o]++
	}
	for _, o := range dst {
		count[o]--
	}
	for o, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, o.String())
		}
		for ; n < 0; n++ {
			extra = append(extra, o.String())
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

// verifyCalendars compares every user's occurrences on both sides: zero differences.
func (e *gwEnv) verifyCalendars() {
	e.t.Helper()
	total, onTarget := 0, 0
	for _, u := range e.tenant.Users() {
		src, events := e.sourceOccurrences(u)
		dst, objects, _ := e.targetOccurrences(e.login[u.ID])
		onTarget += len(dst)
		if objects != events {
			e.t.Errorf("%s: %d event resources on the target, %d events (singles and series) on the source", u.UPN, objects, events)
		}
		missing, extra := diffOccurrences(src, dst)
		if len(missing)+len(extra) > 0 {
			e.t.Errorf("%s: %d occurrences on the source, %d on the target; missing on the target (%d):\n  %s\nonly on the target (%d):\n  %s",
				u.UPN, len(src), len(dst), len(missing), strings.Join(head(missing, 30), "\n  "), len(extra), strings.Join(head(extra, 30), "\n  "))
		}
		total += len(src)
	}
	if total < 100 {
		e.t.Fatalf("only %d occurrences compared: the tenant has too few events for this test to mean anything", total)
	}
	e.t.Logf("calendars: %d occurrences compared (%d on the target), zero differences expected", total, onTarget)
}

func head(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}

// verifyContacts checks every field of every source contact in the vCard read back, photos
// byte for byte, and that no contact is there twice.
func (e *gwEnv) verifyContacts(deleted map[string]bool) {
	e.t.Helper()
	total := 0
	for _, u := range e.tenant.Users() {
		byName := map[string][]byte{}
		for _, objs := range e.dav.Objects(e.t, e.login[u.ID], testenv.KindContacts) {
			for _, o := range objs {
				name := o.Href[strings.LastIndexByte(o.Href, '/')+1:]
				if _, dup := byName[name]; dup {
					e.t.Errorf("%s: contact resource %s twice", u.UPN, name)
				}
				byName[name] = o.Data
				if _, err := vcard.NewDecoder(bytes.NewReader(o.Data)).Decode(); err != nil {
					e.t.Errorf("%s: vCard read back does not parse: %v", o.Href, err)
				}
			}
		}
		want := 0
		for _, f := range e.tenant.ContactFolders(u.ID) {
			for _, c := range e.tenant.Contacts(u.ID, f.ID) {
				want++
				card, ok := byName[planner.ResourceName(c.ID, ".vcf")]
				if !ok {
					e.t.Errorf("%s: contact %q is not on the target", u.UPN, c.DisplayName)
					continue
				}
				payload := e.graph("/users/" + u.ID + "/contacts/" + c.ID)
				photo := e.graph("/users/" + u.ID + "/contacts/" + c.ID + "/photo/$value")
				if miss := vcardx.Check(card, payload, photo); len(miss) > 0 {
					e.t.Errorf("%s: contact %q: fields not found in the vCard read back: %v\n%s", u.UPN, c.DisplayName, miss, card)
				}
				total++
			}
		}
		if got := len(byName); got != want {
			e.t.Errorf("%s: %d contacts on the target, %d on the source", u.UPN, got, want)
		}
	}
	if total == 0 {
		e.t.Fatal("no contact compared")
	}
	e.t.Logf("contacts: %d compared field by field", total)
}

// verifyTasks checks that every task is there once, with its title and completion.
func (e *gwEnv) verifyTasks() {
	e.t.Helper()
	total := 0
	for _, u := range e.tenant.Users() {
		_, _, todos := e.targetOccurrences(e.login[u.ID])
		got := map[string]int{}
		for _, td := range todos {
			s, _ := td.Props.Text(ical.PropSummary)
			st, _ := td.Props.Text(ical.PropStatus)
			got[s+"|"+st]++
		}
		want := map[string]int{}
		for _, l := range e.tenant.TaskLists(u.ID) {
			for _, k := range e.tenant.Tasks(u.ID, l.ID) {
				st := "NEEDS-ACTION"
				switch k.Status {
				case "completed":
					st = "COMPLETED"
				case "inProgress":
					st = "IN-PROCESS"
				}
				want[k.Title+"|"+st]++
				total++
			}
		}
		for k, n := range want {
			if got[k] != n {
				e.t.Errorf("%s: task %q: %d on the target, want %d", u.UPN, k, got[k], n)
			}
		}
		for k, n := range got {
			if want[k] == 0 {
				e.t.Errorf("%s: task %q on the target (%d×) is not on the source", u.UPN, k, n)
			}
		}
	}
	if total == 0 {
		e.t.Fatal("no task compared")
	}
}

func gwTenant() tenant.Config {
	c := tenant.Small()
	c.Messages = 10
	return c
}

// TestGroupware is the round-trip acceptance test on both servers: calendars, contacts and
// task lists arrive; Cyrus (strict) accepts every resource; recurrences expanded on the
// target equal the emulator's instances; contacts keep every field and their photos.
func TestGroupware(t *testing.T) {
	for _, server := range []string{"radicale", "cyrus"} {
		t.Run(server, func(t *testing.T) {
			e := newGWEnv(t, server, gwTenant())
			r := e.migrate("--output", "json")
			res := jsonResult(t, r.stdout)
			tot := res["totals"].(map[string]any)
			if tot["failed"].(float64) != 0 || tot["written"].(float64) == 0 {
				t.Fatalf("totals = %v, want everything written and nothing failed\n%s", tot, tail(r.stdout, 4000))
			}
			e.verifyCalendars()
			e.verifyContacts(nil)
			e.verifyTasks()

			// A second run with nothing new costs no write and changes nothing.
			r = e.migrate("--output", "json")
			tot = jsonResult(t, r.stdout)["totals"].(map[string]any)
			if tot["written"].(float64) != 0 || tot["updated"].(float64) != 0 {
				t.Errorf("second run wrote %v / updated %v, want nothing", tot["written"], tot["updated"])
			}
		})
	}
}

// TestTimeZones: the weekly 10:00 meeting in "Romance Standard Time" stays at 10:00 in Paris
// across both DST changes on the target; all-day events stay dates (VALUE=DATE).
func TestTimeZones(t *testing.T) {
	e := newGWEnv(t, "cyrus", gwTenant())
	e.migrate()
	paris, _ := time.LoadLocation("Europe/Paris")
	found := false
	for _, u := range e.tenant.Users() {
		for _, objs := range e.dav.Objects(t, e.login[u.ID], testenv.KindCalendar) {
			for _, o := range objs {
				cal, err := ical.NewDecoder(bytes.NewReader(o.Data)).Decode()
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range cal.Events() {
					dt := ev.Props.Get(ical.PropDateTimeStart)
					if ev.Props.Get(ical.PropRecurrenceID) == nil && dt.Params.Get(ical.ParamTimezoneID) == "Europe/Paris" &&
						ev.Props.Get(ical.PropRecurrenceRule) != nil && strings.Contains(dt.Value, "T100000") {
						set, err := ev.RecurrenceSet(time.UTC)
						if err != nil {
							t.Fatal(err)
						}
						occ := set.Between(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true)
						var summer, winter int
						for _, o := range occ {
							l := o.In(paris)
							if l.Hour() != 10 || l.Minute() != 0 {
								t.Errorf("%s: occurrence at %v Paris time, want 10:00", ev.Props.Get(ical.PropSummary).Value, l)
							}
							if _, off := l.Zone(); off == 7200 {
								summer++
							} else {
								winter++
							}
						}
						if summer > 0 && winter > 0 {
							found = true
						}
					}
					if ev.Props.Get(ical.PropDateTimeStart).ValueType() == ical.ValueDate {
						if end := ev.Props.Get(ical.PropDateTimeEnd); end != nil && end.ValueType() != ical.ValueDate {
							t.Errorf("all-day event with a DTEND that is not a date: %v", end.Value)
						}
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("no weekly 10:00 Europe/Paris series with occurrences on both sides of a DST change found on the target")
	}
}

// requests is the number of Graph requests the emulator has answered since its last reset.
func (e *gwEnv) requests() int64 {
	var n int64
	for _, c := range e.sim.Counts() {
		n += c
	}
	return n
}

// TestGroupwareKillResume kills the run (kill -9) at random points, reruns each time, then
// changes the source (5 events changed, 1 occurrence cancelled, 1 contact deleted, 1 task
// completed) and runs a delta pass with --deletes mirror: the target converges with no
// duplicate resource.
func TestGroupwareKillResume(t *testing.T) {
	e := newGWEnv(t, "cyrus", gwTenant())
	rng := rand.New(rand.NewPCG(7, 11))
	kills := 0
	for i := 0; i < 12; i++ {
		e.sim.ResetCounts()
		ctx, cancel := context.WithCancel(context.Background())
		cmd := e.command(ctx, e.args()...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		threshold := int64(5 + rng.IntN(60))
		tick := time.NewTicker(2 * time.Millisecond)
	wait:
		for {
			select {
			case <-tick.C:
				if e.requests() >= threshold {
					break wait
				}
			case <-done:
				tick.Stop()
				cancel()
				t.Logf("run %d finished before its kill point", i)
				goto next
			}
		}
		tick.Stop()
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cancel()
		kills++
	next:
	}
	if kills < 8 {
		t.Fatalf("only %d kills happened before the run completed; the test needs more", kills)
	}
	t.Logf("%d kill -9 points", kills)
	e.migrate()
	e.verifyCalendars()
	e.verifyContacts(nil)
	e.verifyTasks()

	// Delta: change 5 events, cancel 1 occurrence, delete 1 contact, complete 1 task.
	u := e.tenant.Users()[0]
	changed := 0
	var series *tenant.Event
	for _, c := range e.tenant.Calendars(u.ID) {
		for _, ev := range e.tenant.Events(u.ID, c.ID) {
			if ev.Type == "seriesMaster" && series == nil && ev.Recurrence != nil {
				ev := ev
				series = &ev
				continue
			}
			if changed < 5 && ev.Type == "singleInstance" {
				if err := e.tenant.SetEventSubject(u.ID, ev.ID, ev.Subject+" (modifié)"); err != nil {
					t.Fatal(err)
				}
				changed++
			}
		}
	}
	if changed < 5 || series == nil {
		t.Fatalf("tenant has %d single events and series %v: too few for the delta test", changed, series != nil)
	}
	// Cancel the series' occurrence nearest after the window's reference.
	var occ struct {
		Value []graphEvent `json:"value"`
	}
	json.Unmarshal(e.graph("/users/"+u.ID+"/events/"+series.ID+"/instances?startDateTime="+windowRef.Format(time.RFC3339)+
		"&endDateTime="+windowEnd.Format(time.RFC3339)), &occ)
	cancelled := false
	for _, in := range occ.Value {
		if in.Type != "occurrence" {
			continue // an exception has moved: its start is not the original one
		}
		st, err := time.Parse("2006-01-02T15:04:05.9999999", in.Start.DateTime)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.tenant.CancelOccurrence(u.ID, series.ID, st.UTC()); err != nil {
			t.Fatalf("CancelOccurrence(%v) = %v", st, err)
		}
		cancelled = true
		break
	}
	if !cancelled {
		t.Fatal("could not cancel an occurrence of the series")
	}
	cf := e.tenant.ContactFolders(u.ID)[0]
	victim := e.tenant.Contacts(u.ID, cf.ID)[0]
	if err := e.tenant.DeleteContact(u.ID, victim.ID); err != nil {
		t.Fatal(err)
	}
	for _, l := range e.tenant.TaskLists(u.ID) {
		for _, k := range e.tenant.Tasks(u.ID, l.ID) {
			if k.Status != "completed" {
				if err := e.tenant.CompleteTask(u.ID, k.ID); err != nil {
					t.Fatal(err)
				}
				goto completed
			}
		}
	}
completed:
	r := e.migrate("--deletes", "mirror", "--output", "json")
	tot := jsonResult(t, r.stdout)["totals"].(map[string]any)
	// 5 events + the series + 1 task updated, 1 contact deleted.
	if tot["updated"].(float64) != 7 || tot["deleted"].(float64) != 1 || tot["written"].(float64) != 0 {
		t.Errorf("delta totals = %v, want 7 updated, 1 deleted, 0 written", tot)
	}
	e.verifyCalendars()
	e.verifyContacts(nil)
	e.verifyTasks()
}

// TestGroupwareDryRun: a dry-run converts every record (so a record that cannot be converted
// is found before the cutover), plans per kind, and writes nothing to the server nor the state.
func TestGroupwareDryRun(t *testing.T) {
	e := newGWEnv(t, "radicale", gwTenant())
	r := e.run(e.args("--dry-run", "--output", "json")...)
	if r.code != 0 {
		t.Fatalf("dry-run exit %d\n%s\n%s", r.code, tail(r.stdout, 3000), tail(r.stderr, 3000))
	}
	res := jsonResult(t, r.stdout)
	kinds, _ := res["kinds"].(map[string]any)
	for _, k := range []string{"calendar", "contacts", "tasks"} {
		c, _ := kinds[k].(map[string]any)
		if c == nil || c["planned"].(float64) == 0 {
			t.Errorf("dry-run plans no %s: %v", k, kinds[k])
		}
	}
	for _, u := range e.tenant.Users() {
		for _, kind := range []string{testenv.KindCalendar, testenv.KindContacts} {
			for href, objs := range e.dav.Objects(t, e.login[u.ID], kind) {
				t.Errorf("dry-run wrote: %s holds %d objects", href, len(objs))
			}
		}
	}
	if _, err := os.Stat(e.state); err == nil {
		st := e.run("status", "--state", e.state, "--output", "json")
		if strings.Contains(st.stdout, `"done"`) {
			t.Errorf("dry-run recorded items as done:\n%s", st.stdout)
		}
	}
}

// TestGroupwareBadInput: an event the target refuses or that cannot be converted is recorded
// as failed with its reason, the exit code says so (2), and everything else arrives.
func TestGroupwareBadInput(t *testing.T) {
	e := newGWEnv(t, "cyrus", gwTenant())
	u := e.tenant.Users()[0]
	cal := e.tenant.Calendars(u.ID)[0]
	start := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	bad, err := e.tenant.AddEvent(u.ID, cal.ID, tenant.Event{Subject: "Fin avant le début", Start: start, End: start.Add(-2 * time.Hour),
		StartZone: "Romance Standard Time", EndZone: "Romance Standard Time", Type: "singleInstance"})
	if err != nil {
		t.Fatal(err)
	}
	for run := 1; run <= 2; run++ {
		r := e.run(e.args("--output", "json")...)
		if r.code != 2 {
			t.Fatalf("run %d: exit %d, want 2 (an item failed)\n%s", run, r.code, tail(r.stderr, 3000))
		}
		res := jsonResult(t, r.stdout)
		fails, _ := res["failures"].([]any)
		if len(fails) != 1 {
			t.Fatalf("run %d: failures = %v, want exactly the bad event", run, fails)
		}
		f := fails[0].(map[string]any)
		if f["item_id"] != bad.ID || !strings.Contains(f["reason"].(string), "DTEND must occur after DTSTART") {
			t.Errorf("run %d: failure = %v, want the bad event with Cyrus's reason", run, f)
		}
		if res["verdict"] != "failed" {
			t.Errorf("run %d: verdict %v, want failed", run, res["verdict"])
		}
	}
	// Everything else arrived, once.
	e.verifyContacts(nil)
	e.verifyTasks()
	_, events := e.sourceOccurrences(u)
	if _, objects, _ := e.targetOccurrences(e.login[u.ID]); objects != events-1 {
		t.Errorf("%d event resources on the target, want %d (all but the refused one)", objects, events-1)
	}
}
