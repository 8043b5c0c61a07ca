package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load/sieve"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	"github.com/bascule-migrate/bascule/sim/exchangecsv"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// target is one fresh set of target servers: Dovecot (mail, ACL, Sieve) and Cyrus (DAV).
type target struct {
	dovecot *testenv.DovecotServer
	dav     *testenv.DAVServer
	state   string
}

// TestEWSParity is issue 5's acceptance: the same generated tenant migrated once through
// Graph (sim/graph) and once through EWS (sim/ews, NTLM, impersonation) into two fresh sets of
// real targets gives identical results: the same messages byte for byte with their flags in
// the same folders, the same calendar/contact/task resources, the same ACLs, the same Sieve
// scripts.
func TestEWSParity(t *testing.T) {
	cfg := tenant.Small()
	cfg.Messages = 60
	ten := tenant.Generate(cfg)
	// Exchange on premises has no To Do steps (checklist items live in Exchange Online's
	// To Do service, which EWS does not show): the tenant both faces serve has none.
	for _, u := range ten.Users() {
		for _, l := range ten.TaskLists(u.ID) {
			for _, k := range ten.Tasks(u.ID, l.ID) {
				if len(k.Checklist) > 0 {
					if err := ten.UpdateTask(u.ID, k.ID, func(k *tenant.Task) { k.Checklist = nil }); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	secret := "e2e-parity"
	gsim, err := simgraph.Start(simgraph.Options{Tenant: ten, ClientID: "bascule-e2e", ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer gsim.Close()
	esim, err := simews.Start(simews.Options{Tenant: ten})
	if err != nil {
		t.Fatal(err)
	}
	defer esim.Close()
	g := gwFromParts(t, ten, gsim, secret, "cyrus") // mapping, logins, Graph client
	dir := t.TempDir()
	csvDir := filepath.Join(dir, "exchange")
	os.MkdirAll(csvDir, 0o755)
	if err := exchangecsv.Write(csvDir, ten); err != nil {
		t.Fatal(err)
	}
	ewsCA := filepath.Join(dir, "ews-ca.pem")
	if err := esim.WriteCAFile(ewsCA); err != nil {
		t.Fatal(err)
	}
	var logins []string
	for _, u := range ten.Users() {
		logins = append(logins, g.login[u.ID])
	}
	newTarget := func(name string) *target {
		return &target{dovecot: testenv.Dovecot(t, logins...), dav: testenv.Cyrus(t, logins...), state: filepath.Join(dir, name+".db")}
	}
	common := func(tg *target) []string {
		return []string{"migrate", "--mapping", g.mapping, "--state", tg.state,
			"--kinds", "mail,calendar,contacts,tasks,permissions,rules",
			"--imap-addr", tg.dovecot.Addr, "--imap-tls", "none", "--imap-auth", "master", "--imap-admin-user", tg.dovecot.MasterUser,
			"--sieve-addr", tg.dovecot.SieveAddr, "--sieve-tls", "none",
			"--dav-url", tg.dav.URL, "--dav-auth", "admin", "--dav-admin-user", tg.dav.AdminUser,
			"--dav-principal-template", tg.dav.PrincipalURL("{user}"),
			"--exchange-csv-dir", csvDir, "--no-progress", "--log-level", "warn", "--output", "json"}
	}
	run := func(tg *target, args []string, env ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := g.command(ctx, args...)
		cmd.Env = append(cmd.Env, "BASCULE_IMAP_ADMIN_PASSWORD="+tg.dovecot.MasterPass, "BASCULE_DAV_ADMIN_PASSWORD="+tg.dav.AdminPass)
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bascule %s: %v\n%s", args[len(args)-1], err, tail(string(out), 4000))
		}
	}

	viaGraph := newTarget("graph")
	run(viaGraph, append(common(viaGraph), "--graph-endpoint", gsim.GraphEndpoint(), "--authority-host", gsim.AuthorityHost(),
		"--tenant-id", gsim.TenantID(), "--client-id", "bascule-e2e", "--ca-file", g.caFile))

	svc, svcPass := esim.ServiceAccount()
	viaEWS := newTarget("ews")
	run(viaEWS, append(common(viaEWS), "--source", "ews", "--ews-url", esim.EWSURL(), "--ews-auth", "ntlm",
		"--ews-user", svc, "--ca-file", ewsCA), "BASCULE_EWS_PASSWORD="+svcPass)

	compared := map[string]int{}
	for _, u := range ten.Users() {
		login := g.login[u.ID]
		// Mail: folders, messages by SHA-256 with flags and dates.
		a, b := mailSignature(t, viaGraph.dovecot, login), mailSignature(t, viaEWS.dovecot, login)
		diff(t, login+" mail", a, b)
		compared["messages"] += len(a)
		// Calendars, address books (tasks live in calendars): every resource, byte for byte.
		// Collections are named after the source's folder ids, which differ between the two
		// protocols: a collection is known by its resources.
		for _, kind := range []string{testenv.KindCalendar, testenv.KindContacts} {
			a, b := davSignature(t, viaGraph.dav, login, kind), davSignature(t, viaEWS.dav, login, kind)
			diffObjects(t, login+" "+kind, a, b)
			compared[kind] += len(a.objects)
		}
		// ACLs on every folder, and the Sieve script.
		a, b = aclSignature(t, viaGraph.dovecot, login), aclSignature(t, viaEWS.dovecot, login)
		diff(t, login+" ACL", a, b)
		compared["acl entries"] += len(a)
		a, b = sieveSignature(t, viaGraph.dovecot, login), sieveSignature(t, viaEWS.dovecot, login)
		diff(t, login+" Sieve", a, b)
		compared["sieve lines"] += len(a)
	}
	for what, n := range compared {
		if n == 0 {
			t.Errorf("nothing compared for %s", what)
		}
	}
	t.Logf("Graph and EWS compared: %v", compared)
}

// diff reports the lines one side has and the other has not.
func diff(t *testing.T, what string, a, b []string) {
	t.Helper()
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	var onlyA, onlyB []string
	for s, n := range count {
		for ; n > 0; n-- {
			onlyA = append(onlyA, s)
		}
		for ; n < 0; n++ {
			onlyB = append(onlyB, s)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	if len(onlyA)+len(onlyB) > 0 {
		t.Errorf("%s differs: only via Graph (%d):\n  %s\nonly via EWS (%d):\n  %s", what, len(onlyA), strings.Join(head(onlyA, 15), "\n  "),
			len(onlyB), strings.Join(head(onlyB, 15), "\n  "))
	}
}

func mailSignature(t *testing.T, d *testenv.DovecotServer, login string) []string {
	var out []string
	acct := d.Read(t, login)
	for _, f := range acct.Folders {
		out = append(out, "folder "+f.Name)
		for _, m := range acct.Messages[f.Name] {
			var flags []string
			for _, fl := range m.Flags {
				flags = append(flags, string(fl))
			}
			sort.Strings(flags)
			out = append(out, fmt.Sprintf("%s %s %s %s", f.Name, m.SHA256, strings.Join(flags, ","), m.InternalDate.UTC().Format(time.RFC3339)))
		}
	}
	return out
}

// davObjects is one user's collections of one kind: object name → content, and one line
// per collection naming its objects.
type davObjects struct {
	objects     map[string][]byte
	collections []string
}

func davSignature(t *testing.T, s *testenv.DAVServer, login, kind string) davObjects {
	out := davObjects{objects: map[string][]byte{}}
	for _, objs := range s.Objects(t, login, kind) {
		var names []string
		for _, o := range objs {
			name := o.Href[strings.LastIndexByte(o.Href, '/')+1:]
			names = append(names, name)
			if _, dup := out.objects[name]; dup {
				name += " (again)"
			}
			out.objects[name] = o.Data
		}
		sort.Strings(names)
		out.collections = append(out.collections, fmt.Sprintf("collection of %d: %s", len(names), strings.Join(names, " ")))
	}
	return out
}

// diffObjects compares two users' collections and, for an object whose bytes differ, shows
// the lines that differ.
func diffObjects(t *testing.T, what string, a, b davObjects) {
	t.Helper()
	diff(t, what+" collections", a.collections, b.collections)
	var names []string
	for n := range a.objects {
		names = append(names, n)
	}
	sort.Strings(names)
	shown := 0
	for _, n := range names {
		bb, ok := b.objects[n]
		if !ok {
			t.Errorf("%s: %s only via Graph", what, n)
			continue
		}
		if string(a.objects[n]) == string(bb) {
			continue
		}
		t.Errorf("%s: %s differs", what, n)
		if shown++; shown <= 3 {
			la, lb := strings.Split(string(a.objects[n]), "\r\n"), strings.Split(string(bb), "\r\n")
			diff(t, what+" "+n, la, lb)
			for i := 0; i < len(la) && i < len(lb); i++ {
				if la[i] != lb[i] {
					t.Logf("first difference at line %d:\n  via Graph: %s\n  via EWS:   %s", i+1, la[i], lb[i])
					break
				}
			}
		}
	}
	for n := range b.objects {
		if _, ok := a.objects[n]; !ok {
			t.Errorf("%s: %s only via EWS", what, n)
		}
	}
}

func aclSignature(t *testing.T, d *testenv.DovecotServer, login string) []string {
	c, err := imapclient.DialInsecure(d.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(login+"*"+d.MasterUser, d.MasterPass).Wait(); err != nil {
		t.Fatal(err)
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range boxes {
		if strings.HasPrefix(b.Mailbox, "shared/") || b.Mailbox == "shared" {
			continue
		}
		data, err := c.GetACL(b.Mailbox).Wait()
		if err != nil {
			t.Fatalf("GETACL %s: %v", b.Mailbox, err)
		}
		for id, r := range data.Rights {
			out = append(out, fmt.Sprintf("%s %s %s", b.Mailbox, id, r))
		}
	}
	return out
}

func sieveSignature(t *testing.T, d *testenv.DovecotServer, login string) []string {
	cl, err := sieve.New(sieve.Config{Addr: d.SieveAddr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	s, err := cl.Open(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	scripts, err := s.Scripts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sc := range scripts {
		body, err := s.Get(context.Background(), sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(body), "\n") {
			out = append(out, fmt.Sprintf("%s %v: %s", sc.Name, sc.Active, l))
		}
	}
	return out
}
