package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
	"github.com/emersion/go-webdav/carddav"
)

// DAVServer is a running CalDAV/CardDAV server (Radicale or Cyrus) on loopback.
type DAVServer struct {
	Kind string // "radicale" or "cyrus"
	// URL is the server's base URL, e.g. "http://127.0.0.1:PORT": a client starts discovery
	// there (/.well-known/caldav and /.well-known/carddav redirect to the DAV root).
	URL   string
	Users map[string]string // login → password
	// AdminUser may read and write every user's collections (Radicale: through its rights
	// file; Cyrus: listed in "admins:").
	AdminUser string
	AdminPass string
	IMAPAddr  string // Cyrus only: host:port of its IMAP service (plaintext, loopback)
	SieveAddr string // Cyrus only: host:port of timsieved, its ManageSieve service (plaintext)
	Dir       string // where the server keeps its configuration, data and logs
}

// DAVObject is one calendar object or vCard as the server stores it.
type DAVObject struct {
	Href string // URL path, as the server lists it
	ETag string // as the server sends it in the ETag header of a GET (quoted)
	Data []byte // the body of a GET, byte for byte
}

// Kinds of collection for Objects and DisplayNames.
const (
	KindCalendar = "calendar" // calendar collections, whatever components they hold (VEVENT, VTODO)
	KindContacts = "contacts" // address books
)

// PrincipalURL returns the URL path of user's principal on this server: "/alice/" on
// Radicale, "/dav/principals/user/alice/" on Cyrus.
func (s *DAVServer) PrincipalURL(user string) string {
	if s.Kind == "cyrus" {
		return "/dav/principals/user/" + user + "/"
	}
	return "/" + user + "/"
}

// Password returns login's password (a user or the admin), or "" when it is neither.
func (s *DAVServer) Password(login string) string {
	if login == s.AdminUser {
		return s.AdminPass
	}
	return s.Users[login]
}

// HTTPClient returns a client that authenticates as login (a user or the admin) with HTTP
// Basic. Redirects are not followed: Go would turn a redirected PROPFIND into a GET.
func (s *DAVServer) HTTPClient(login string) webdav.HTTPClient {
	c := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return webdav.HTTPClientWithBasicAuth(c, login, s.Password(login))
}

// reader returns the login Objects and DisplayNames authenticate as: the user when their
// password is known, otherwise the admin.
func (s *DAVServer) reader(user string) string {
	if _, ok := s.Users[user]; ok || user == s.AdminUser {
		return user
	}
	return s.AdminUser
}

type davCollection struct{ href, name string }

// collections lists user's calendars or address books, found from the principal's home set.
func (s *DAVServer) collections(ctx context.Context, user, kind string) ([]davCollection, error) {
	hc := s.HTTPClient(s.reader(user))
	var out []davCollection
	switch kind {
	case KindCalendar:
		c, err := caldav.NewClient(hc, s.URL)
		if err != nil {
			return nil, err
		}
		home, err := c.FindCalendarHomeSet(ctx, s.PrincipalURL(user))
		if err != nil {
			return nil, fmt.Errorf("calendar-home-set of %s: %w", user, err)
		}
		cals, err := c.FindCalendars(ctx, home)
		if err != nil {
			return nil, fmt.Errorf("calendars in %s: %w", home, err)
		}
		for _, cal := range cals {
			out = append(out, davCollection{cal.Path, cal.Name})
		}
	case KindContacts:
		c, err := carddav.NewClient(hc, s.URL)
		if err != nil {
			return nil, err
		}
		home, err := c.FindAddressBookHomeSet(ctx, s.PrincipalURL(user))
		if err != nil {
			return nil, fmt.Errorf("addressbook-home-set of %s: %w", user, err)
		}
		abs, err := c.FindAddressBooks(ctx, home)
		if err != nil {
			return nil, fmt.Errorf("address books in %s: %w", home, err)
		}
		for _, ab := range abs {
			out = append(out, davCollection{ab.Path, ab.Name})
		}
	default:
		return nil, fmt.Errorf("unknown collection kind %q (want %q or %q)", kind, KindCalendar, KindContacts)
	}
	return out, nil
}

// Objects reads back every calendar (kind "calendar": every calendar collection, VTODO lists
// included) or address book (kind "contacts") under user's home set, and returns per
// collection href its objects sorted by href (an empty collection maps to an empty slice).
// It reads as user when their password is known, otherwise as the admin. Collections are
// found with go-webdav's CalDAV/CardDAV clients, members with a Depth 1 PROPFIND; each object
// is then fetched with a GET, so Data and ETag are exactly what the server serves.
func (s *DAVServer) Objects(t testing.TB, user, kind string) map[string][]DAVObject {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cols, err := s.collections(ctx, user, kind)
	if err != nil {
		t.Fatalf("%s: listing %s collections of %s: %v", s.Kind, kind, user, err)
	}
	hc := s.HTTPClient(s.reader(user))
	wc, err := webdav.NewClient(hc, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]DAVObject, len(cols))
	for _, col := range cols {
		members, err := wc.ReadDir(ctx, col.href, false)
		if err != nil {
			t.Fatalf("%s: PROPFIND %s as %s: %v", s.Kind, col.href, s.reader(user), err)
		}
		objs := []DAVObject{}
		for _, m := range members {
			if m.IsDir || strings.TrimSuffix(m.Path, "/") == strings.TrimSuffix(col.href, "/") {
				continue
			}
			obj, err := s.get(ctx, hc, m.Path)
			if err != nil {
				t.Fatalf("%s: %v", s.Kind, err)
			}
			objs = append(objs, obj)
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Href < objs[j].Href })
		out[col.href] = objs
	}
	return out
}

// get fetches one resource. Hand-written because go-webdav's Open drops the response headers
// (the ETag) and its CalDAV/CardDAV getters re-encode the body.
func (s *DAVServer) get(ctx context.Context, hc webdav.HTTPClient, href string) (DAVObject, error) {
	base, err := url.Parse(s.URL)
	if err != nil {
		return DAVObject{}, err
	}
	ref, err := url.Parse(href)
	if err != nil {
		return DAVObject{}, fmt.Errorf("href %q: %w", href, err)
	}
	u := base.ResolveReference(ref).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return DAVObject{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return DAVObject{}, fmt.Errorf("GET %s: %w", href, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return DAVObject{}, fmt.Errorf("GET %s: %w", href, err)
	}
	if resp.StatusCode != http.StatusOK {
		return DAVObject{}, fmt.Errorf("GET %s: %s: %s", href, resp.Status, bytes.TrimSpace(data))
	}
	return DAVObject{Href: href, ETag: resp.Header.Get("ETag"), Data: data}, nil
}

// DisplayNames returns, for each of user's calendars (kind "calendar") or address books (kind
// "contacts"), its href → DAV:displayname ("" when it has none). Read as for Objects.
func (s *DAVServer) DisplayNames(t testing.TB, user, kind string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cols, err := s.collections(ctx, user, kind)
	if err != nil {
		t.Fatalf("%s: listing %s collections of %s: %v", s.Kind, kind, user, err)
	}
	out := make(map[string]string, len(cols))
	for _, c := range cols {
		out[c.href] = c.name
	}
	return out
}

// parseLogins turns "name" / "name:password" into a login → password map (password
// "pw-name" when none is given), alice and bob when logins is empty, and the
// "login:password …" list the scripts read.
func parseLogins(logins []string) (map[string]string, string) {
	if len(logins) == 0 {
		logins = []string{"alice", "bob"}
	}
	users := map[string]string{}
	var list []string
	for _, l := range logins {
		login, pw, ok := strings.Cut(l, ":")
		if !ok {
			pw = "pw-" + login
		}
		users[login] = pw
		list = append(list, login+":"+pw)
	}
	return users, strings.Join(list, " ")
}

// startScript runs scripts/NAME.sh start DIR ARGS… with env added, checks its READY line and
// registers the stop (and, when the test failed, a log tail) for the end of the test.
func startScript(t testing.TB, name, dir string, env []string, logFile string, args ...string) time.Duration {
	t.Helper()
	script := filepath.Join(repoRoot(), "scripts", name+".sh")
	cmd := exec.Command(script, append([]string{"start", dir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	begin := time.Now()
	out, err := cmd.Output()
	took := time.Since(begin)
	stop := func() {
		if out, err := exec.Command(script, "stop", dir).CombinedOutput(); err != nil {
			t.Logf("scripts/%s.sh stop: %v\n%s", name, err, out)
		}
	}
	if err != nil {
		stop()
		os.RemoveAll(dir)
		t.Fatalf("scripts/%s.sh start: %v\n%s%s", name, err, out, stderr.String())
	}
	if !strings.HasPrefix(string(out), "READY "+name) {
		stop()
		os.RemoveAll(dir)
		t.Fatalf("scripts/%s.sh start printed %q\n%s", name, out, stderr.String())
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() && logFile != "" {
			if log, err := os.ReadFile(filepath.Join(dir, logFile)); err == nil {
				t.Logf("%s log (tail):\n%s", name, tailLines(string(log), 40))
			}
		}
		os.RemoveAll(dir)
	})
	return took
}

// Radicale starts a private Radicale with the given logins, stopped when the test ends. A
// login is "name" (password "pw-name") or "name:password"; with no logins the accounts are
// alice and bob. Each user reads and writes only their own /<login>/…; AdminUser "admin"
// reads and writes everything. Radicale has no calendar or address book until one is created
// (MKCALENDAR, extended MKCOL). Every call starts its own server (about 0.2 s). When Radicale
// is not installed the test is skipped loudly, or fails when BASCULE_REQUIRE_SERVERS=1 (CI).
func Radicale(t testing.TB, logins ...string) *DAVServer {
	t.Helper()
	// Debian's python3-radicale; a pyenv python3 on PATH cannot see it, so the script runs
	// /usr/bin/python3.
	if _, err := os.Stat("/usr/lib/python3/dist-packages/radicale/__init__.py"); err != nil {
		missing(t, "radicale (apt-get install radicale)")
	}
	users, list := parseLogins(logins)
	dir, err := os.MkdirTemp(fastTempDir(), "rd")
	if err != nil {
		t.Fatal(err)
	}
	s := &DAVServer{Kind: "radicale", Users: users, AdminUser: "admin", AdminPass: "admin-" + filepath.Base(dir), Dir: dir}
	if _, clash := users[s.AdminUser]; clash {
		t.Fatalf("testenv.Radicale: login %q is the admin account", s.AdminUser)
	}
	port := freePort(t)
	took := startScript(t, "radicale", dir, []string{"RADICALE_USERS=" + list,
		"RADICALE_ADMIN_USER=" + s.AdminUser, "RADICALE_ADMIN_PASS=" + s.AdminPass},
		filepath.Join("log", "radicale.log"), fmt.Sprint(port))
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	t.Logf("radicale started in %v: %s dir=%s", took.Round(time.Millisecond), s.URL, dir)
	return s
}

// cyrusIMAPD finds Cyrus' imapd the way scripts/cyrus.sh does: Debian's cyrus-imapd package
// conflicts with dovecot-imapd, so .ci/run only unpacks it under /opt/cyrus-imapd.
func cyrusIMAPD() string {
	for _, p := range []string{os.Getenv("CYRUS_IMAPD"), "/usr/lib/cyrus/bin/imapd",
		filepath.Join(cmpOr(os.Getenv("CYRUS_IMAPD_ROOT"), "/opt/cyrus-imapd"), "usr/lib/cyrus/bin/imapd")} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Cyrus starts a private Cyrus IMAP with CalDAV/CardDAV, stopped when the test ends. Logins
// are given as for Radicale. Every user has logged in once over IMAP and once over DAV, so
// each has an INBOX and a calendar home and address book home holding a "Default" collection.
// AdminUser "cyrusadmin" is a Cyrus admin and holds every right on each user's homes and
// Default collections (and on collections created there later), at the owner's URLs; it cannot
// list a user's home (a Depth 1 PROPFIND by a non-owner lists nothing). Every call starts its
// own server (about 0.25 s). When Cyrus is not installed the test is skipped loudly, or fails
// when BASCULE_REQUIRE_SERVERS=1 (CI).
func Cyrus(t testing.TB, logins ...string) *DAVServer {
	t.Helper()
	if _, err := os.Stat("/usr/lib/cyrus/bin/httpd"); err != nil {
		missing(t, "cyrus (apt-get install cyrus-common cyrus-caldav cyrus-admin sasl2-bin)")
	}
	if cyrusIMAPD() == "" {
		missing(t, "cyrus imapd (unpack the cyrus-imapd package under /opt/cyrus-imapd, see .ci/run)")
	}
	users, list := parseLogins(logins)
	// Short base paths: Cyrus uses unix sockets (108-byte limit).
	dir, err := os.MkdirTemp(fastTempDir(), "cy")
	if err != nil {
		t.Fatal(err)
	}
	s := &DAVServer{Kind: "cyrus", Users: users, AdminUser: "cyrusadmin", AdminPass: "admin-" + filepath.Base(dir), Dir: dir}
	if _, clash := users[s.AdminUser]; clash {
		t.Fatalf("testenv.Cyrus: login %q is the admin account", s.AdminUser)
	}
	imapPort, httpPort, sievePort := freePort(t), freePort(t), freePort(t)
	took := startScript(t, "cyrus", dir, []string{"CYRUS_USERS=" + list,
		"CYRUS_ADMIN_USER=" + s.AdminUser, "CYRUS_ADMIN_PASS=" + s.AdminPass},
		filepath.Join("log", "master.log"), fmt.Sprint(imapPort), fmt.Sprint(httpPort), fmt.Sprint(sievePort))
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	s.IMAPAddr = fmt.Sprintf("127.0.0.1:%d", imapPort)
	s.SieveAddr = fmt.Sprintf("127.0.0.1:%d", sievePort)
	t.Logf("cyrus started in %v: %s imap=%s sieve=%s dir=%s", took.Round(time.Millisecond), s.URL, s.IMAPAddr, s.SieveAddr, dir)
	return s
}
