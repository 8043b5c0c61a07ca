package graph

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
	simgraph "github.com/bascule-migrate/bascule/sim/graph"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestSettings reads every mailbox's settings from the emulator and compares them with
// the tenant: purpose, zone, language, the calendar grants Graph shows, the rules byte for
// byte, the automatic replies.
func TestSettings(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	var grants, rules, scheduled int
	for _, u := range e.ten.Users() {
		mbx := model.Mailbox{ID: u.ID, Address: addressOf(u), DisplayName: u.DisplayName}
		got, err := src.Settings(context.Background(), mbx)
		if err != nil {
			t.Fatalf("Settings(%s) = %v", mbx.Address, err)
		}
		if got.Purpose != u.Purpose || got.TimeZone != tenant.TimeZone(u) || got.Language != u.Language {
			t.Errorf("Settings(%s) = purpose %q zone %q language %q, want %q %q %q", mbx.Address,
				got.Purpose, got.TimeZone, got.Language, u.Purpose, tenant.TimeZone(u), u.Language)
		}

		var want []model.Grant
		for _, g := range e.ten.Grants(u.ID) {
			if g.Origin == tenant.OriginGraph {
				want = append(want, g)
			}
		}
		if !reflect.DeepEqual(got.Grants, want) {
			t.Errorf("Settings(%s).Grants:\n got %+v\nwant %+v", mbx.Address, got.Grants, want)
		}
		grants += len(want)

		wantRules := e.ten.Rules(u.ID)
		if len(got.Rules) != len(wantRules) {
			t.Errorf("Settings(%s): %d rules, want %d", mbx.Address, len(got.Rules), len(wantRules))
		}
		for i := range min(len(got.Rules), len(wantRules)) {
			g, w := got.Rules[i], wantRules[i]
			if g.ID != w.ID || g.Name != w.Name || g.Sequence != w.Sequence || g.Enabled != w.Enabled {
				t.Errorf("rule %d of %s = %s %q seq %d enabled %v, want %s %q seq %d enabled %v", i, mbx.Address,
					g.ID, g.Name, g.Sequence, g.Enabled, w.ID, w.Name, w.Sequence, w.Enabled)
			}
			if !jsonEqual(g.Payload, w.Payload) {
				t.Errorf("rule %s of %s: payload\n %s\nwant\n %s", g.ID, mbx.Address, g.Payload, w.Payload)
			}
		}
		rules += len(wantRules)

		wr, err := e.ten.AutoReply(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkAutoReply(t, mbx.Address, got.AutoReply, wr)
		if wr.Status == "scheduled" {
			scheduled++
		}
	}
	if grants == 0 || rules == 0 || scheduled == 0 {
		t.Errorf("the tenant has %d calendar grants, %d rules and %d scheduled replies: not everything was tested", grants, rules, scheduled)
	}
}

func checkAutoReply(t *testing.T, who string, got *model.AutoReply, want model.AutoReply) {
	t.Helper()
	if got == nil {
		t.Errorf("Settings(%s).AutoReply = nil, want %+v", who, want)
		return
	}
	if got.Status != want.Status || got.ExternalAudience != want.ExternalAudience ||
		got.InternalReply != want.InternalReply || got.ExternalReply != want.ExternalReply {
		t.Errorf("Settings(%s).AutoReply = %+v, want %+v", who, *got, want)
	}
	if want.Status == "scheduled" {
		if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
			t.Errorf("Settings(%s).AutoReply bounds = %v – %v, want %v – %v", who, got.Start, got.End, want.Start, want.End)
		}
	} else if !got.Start.IsZero() || !got.End.IsZero() {
		t.Errorf("Settings(%s).AutoReply: status %s with bounds %v – %v", who, got.Status, got.Start, got.End)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// A scheduled reply set in the tenant comes back with the same instants.
func TestSettingsScheduledReply(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	u := e.ten.Users()[0]
	paris, _ := time.LoadLocation("Europe/Paris")
	want := model.AutoReply{Status: "scheduled", ExternalAudience: "contactsOnly",
		Start: time.Date(2025, 7, 14, 8, 30, 0, 0, paris), End: time.Date(2025, 8, 1, 18, 0, 0, 0, paris),
		InternalReply: "<p>En congés — retour le 1<sup>er</sup> août.</p>", ExternalReply: "<p>Absent.</p>"}
	if err := e.ten.SetAutoReply(u.ID, want); err != nil {
		t.Fatal(err)
	}
	got, err := src.Settings(context.Background(), model.Mailbox{ID: u.ID, Address: addressOf(u)})
	if err != nil {
		t.Fatalf("Settings() = %v", err)
	}
	checkAutoReply(t, addressOf(u), got.AutoReply, want)
}

func TestParseDateTimeTZ(t *testing.T) {
	for _, c := range []struct {
		dt, zone, mailbox string
		want              string // RFC 3339, "" for an error
	}{
		{"2025-07-14T08:30:00.0000000", "Romance Standard Time", "", "2025-07-14T06:30:00Z"},
		{"2025-01-14T08:30:00.0000000", "Romance Standard Time", "", "2025-01-14T07:30:00Z"},
		{"2025-07-14T08:30:00", "Europe/Paris", "", "2025-07-14T06:30:00Z"},
		{"2025-07-14T08:30:00.0000000", "UTC", "", "2025-07-14T08:30:00Z"},
		{"2025-07-14T08:30:00.0000000", "Eastern Standard Time", "", "2025-07-14T12:30:00Z"},
		// A zone defined only inside the item: the mailbox's zone, then UTC.
		{"2025-07-14T08:30:00.0000000", "tzone://Microsoft/Custom", "Romance Standard Time", "2025-07-14T06:30:00Z"},
		{"2025-07-14T08:30:00.0000000", "tzone://Microsoft/Custom", "", "2025-07-14T08:30:00Z"},
		{"2025-07-14T08:30:00+02:00", "UTC", "", "2025-07-14T06:30:00Z"},
		{"14/07/2025", "UTC", "", ""},
		{"", "UTC", "", ""},
	} {
		got, err := parseDateTimeTZ(&dateTimeTimeZone{DateTime: c.dt, TimeZone: c.zone}, c.mailbox)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("parseDateTimeTZ(%q, %q) = %v, want an error", c.dt, c.zone, got)
		case c.want != "" && (err != nil || got.UTC().Format(time.RFC3339) != c.want):
			t.Errorf("parseDateTimeTZ(%q, %q, %q) = %v, %v; want %s", c.dt, c.zone, c.mailbox, got.UTC(), err, c.want)
		}
	}
	if _, err := parseDateTimeTZ(nil, ""); err == nil {
		t.Error("parseDateTimeTZ(nil) succeeded")
	}
}

// proxied starts a TLS proxy in front of the emulator; answer may answer a request itself
// (returning true), else it goes to the emulator. It returns a Config that uses the proxy.
func (e *env) proxied(t *testing.T, answer func(w http.ResponseWriter, r *http.Request) bool) Config {
	t.Helper()
	target, err := url.Parse(e.sim.GraphEndpoint())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test proxy to the emulator
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answer(w, r) {
			return
		}
		r.Host = target.Host
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	ca := filepath.Join(t.TempDir(), "both.pem")
	pemBytes := append(e.sim.CAPEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})...)
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config()
	cfg.Endpoint, cfg.CAFile = proxy.URL+"/v1.0", ca
	return cfg
}

func graphErrorReply(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"error":{"code":"`+code+`","message":"`+msg+`"}}`)
}

// Refused permissions name the application permission each call needs; an inbox without
// rules folder (404) has no rules.
func TestSettingsErrors(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	u := e.ten.Users()[0]
	mbx := model.Mailbox{ID: u.ID, Address: addressOf(u)}
	for _, c := range []struct {
		path   string // a request path containing it is refused
		status int
		perm   string // "" = no error expected
	}{
		{"/mailboxSettings", http.StatusForbidden, "MailboxSettings.Read"},
		{"/calendars?", http.StatusForbidden, "Calendars.Read"},
		{"/calendarPermissions", http.StatusForbidden, "Calendars.Read"},
		{"/messageRules", http.StatusForbidden, "MailboxSettings.Read"},
		{"/messageRules", http.StatusNotFound, ""},
		{"/calendarPermissions", http.StatusNotFound, ""},
	} {
		cfg := e.proxied(t, func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.RequestURI(), c.path) {
				code := "ErrorAccessDenied"
				if c.status == http.StatusNotFound {
					code = "ErrorItemNotFound"
				}
				graphErrorReply(w, c.status, code, "refused by the test")
				return true
			}
			return false
		})
		src := e.source(t, cfg)
		got, err := src.Settings(context.Background(), mbx)
		switch {
		case c.perm == "" && err != nil:
			t.Errorf("%d on %s: Settings() = %v, want no error", c.status, c.path, err)
		case c.perm == "" && c.path == "/messageRules" && len(got.Rules) != 0:
			t.Errorf("%d on %s: %d rules, want none", c.status, c.path, len(got.Rules))
		case c.perm == "" && c.path == "/calendarPermissions" && len(got.Grants) != 0:
			t.Errorf("%d on %s: %d grants, want none", c.status, c.path, len(got.Grants))
		case c.perm != "" && (!errors.Is(err, model.ErrFatal) || !strings.Contains(err.Error(), c.perm)):
			t.Errorf("%d on %s: Settings() = %v, want a fatal error naming %s", c.status, c.path, err, c.perm)
		}
	}
}

// The shapes Microsoft documents (calendar-list-calendarpermissions, mailboxsettings):
// the owner's own entry is left out, "My Organization" is Default, an outside address is
// kept, a scheduled reply in a Windows zone is read in that zone.
func TestSettingsDocumentedShapes(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	u := e.ten.Users()[0]
	mbx := model.Mailbox{ID: u.ID, Address: addressOf(u)}
	cals := e.ten.Calendars(u.ID)
	var def tenant.Calendar
	for _, c := range cals {
		if c.IsDefault {
			def = c
		}
	}
	if def.ID == "" {
		t.Fatal("no default calendar")
	}
	perms := `{"value":[
	 {"id":"T3duZXI=","isRemovable":false,"isInsideOrganization":true,"role":"write","allowedRoles":["write"],"emailAddress":{"name":"Me","address":"` + strings.ToUpper(mbx.Address) + `"}},
	 {"id":"RXhjaGFuZ2U=","isRemovable":true,"isInsideOrganization":false,"role":"read","allowedRoles":["freeBusyRead","limitedRead","read"],"emailAddress":{"name":"admin@M365B877719.onmicrosoft.com","address":"admin@M365B877719.onmicrosoft.com"}},
	 {"id":"RGVmYXVsdA==","isRemovable":false,"isInsideOrganization":true,"role":"freeBusyRead","allowedRoles":["none","freeBusyRead","limitedRead","read","write"],"emailAddress":{"name":"My Organization"}}]}`
	settings := `{"userPurpose":"shared","timeZone":"Romance Standard Time","language":{"locale":"fr-FR","displayName":"français (France)"},
	 "automaticRepliesSetting":{"status":"scheduled","externalAudience":"none",
	  "scheduledStartDateTime":{"dateTime":"2025-12-22T09:00:00.0000000","timeZone":"Romance Standard Time"},
	  "scheduledEndDateTime":{"dateTime":"2026-01-05T00:00:00.0000000","timeZone":"Pacific Standard Time"},
	  "internalReplyMessage":"<html><body>Fermé</body></html>","externalReplyMessage":""}}`
	cfg := e.proxied(t, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/calendars/"+def.ID+"/calendarPermissions"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, perms)
			return true
		case strings.HasSuffix(r.URL.Path, "/calendarPermissions"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"value":[]}`)
			return true
		case strings.HasSuffix(r.URL.Path, "/mailboxSettings"):
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, settings)
			return true
		}
		return false
	})
	got, err := e.source(t, cfg).Settings(context.Background(), mbx)
	if err != nil {
		t.Fatalf("Settings() = %v", err)
	}
	want := []model.Grant{
		{Owner: mbx.Address, Grantee: "admin@M365B877719.onmicrosoft.com", Scope: model.ScopeCalendar, Role: "read",
			FolderID: def.ID, FolderPath: def.Name, Origin: OriginCalendarPermissions},
		{Owner: mbx.Address, Grantee: model.GranteeDefault, Scope: model.ScopeCalendar, Role: "freeBusyRead",
			FolderID: def.ID, FolderPath: def.Name, Origin: OriginCalendarPermissions},
	}
	if !reflect.DeepEqual(got.Grants, want) {
		t.Errorf("Grants:\n got %+v\nwant %+v", got.Grants, want)
	}
	if got.Purpose != "shared" || got.TimeZone != "Romance Standard Time" || got.Language != "fr-FR" {
		t.Errorf("Settings() = %+v", got)
	}
	ar := got.AutoReply
	if ar == nil || ar.Status != "scheduled" || ar.ExternalAudience != "none" || ar.InternalReply != "<html><body>Fermé</body></html>" ||
		!ar.Start.Equal(time.Date(2025, 12, 22, 8, 0, 0, 0, time.UTC)) || !ar.End.Equal(time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("AutoReply = %+v", ar)
	}
}

// Faults: truncated bodies and 503s on every settings call are absorbed.
func TestSettingsFaults(t *testing.T) {
	e := startSim(t, tenant.Small(), simgraph.Options{})
	src := e.source(t, e.config())
	u := e.ten.Users()[0]
	mbx := model.Mailbox{ID: u.ID, Address: addressOf(u)}
	clean, err := src.Settings(context.Background(), mbx)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(simgraph.Faults{Seed: 7, Rate503: 0.2, RateTruncate: 0.2})
	defer e.sim.SetFaults(simgraph.Faults{})
	for range 5 {
		got, err := src.Settings(context.Background(), mbx)
		if err != nil {
			t.Fatalf("Settings() under faults = %v", err)
		}
		if !reflect.DeepEqual(got.Grants, clean.Grants) || len(got.Rules) != len(clean.Rules) {
			t.Fatalf("Settings() under faults differs: %d grants %d rules, want %d %d", len(got.Grants), len(got.Rules), len(clean.Grants), len(clean.Rules))
		}
		for i := range got.Rules {
			if !bytes.Equal(got.Rules[i].Payload, clean.Rules[i].Payload) {
				t.Fatalf("rule %d payload differs under faults", i)
			}
		}
	}
}
