package tenant

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

func TestSettingsDeterministic(t *testing.T) {
	cfg := Small()
	cfg.Users = 5
	a, b := Generate(cfg), Generate(cfg)
	for _, u := range a.Users() {
		if !reflect.DeepEqual(a.Grants(u.ID), b.Grants(u.ID)) || !reflect.DeepEqual(a.ExchangeGrants(u.ID), b.ExchangeGrants(u.ID)) ||
			!reflect.DeepEqual(a.Rules(u.ID), b.Rules(u.ID)) {
			t.Fatalf("%s: settings differ between two generations", u.UPN)
		}
		ra, _ := a.AutoReply(u.ID)
		rb, _ := b.AutoReply(u.ID)
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("%s: automatic replies differ", u.UPN)
		}
	}
	other := cfg
	other.Seed = 2
	c := Generate(other)
	if reflect.DeepEqual(a.Rules(a.Users()[0].ID), c.Rules(c.Users()[0].ID)) {
		t.Error("rules do not depend on the seed (their ids and folder ids should)")
	}
}

// TestGrantsCoverage: the tenant holds every Exchange role, every Graph role, the special
// grantees, and the Graph-visible and CSV-only grants do not repeat each other.
func TestGrantsCoverage(t *testing.T) {
	ten := Generate(Small())
	roles := map[string]bool{}
	grantees := map[string]bool{}
	scopes := map[model.GrantScope]bool{}
	var deny, flags bool
	for _, u := range ten.Users() {
		seen := map[string]bool{}
		for _, g := range ten.Grants(u.ID) {
			if g.Owner != u.Mail || g.Origin == "" || g.Grantee == "" {
				t.Errorf("grant %+v", g)
			}
			k := g.Grantee + "|" + string(g.Scope) + "|" + g.FolderPath + "|" + g.Origin + "|" + g.Role
			if seen[k] {
				t.Errorf("grant repeated: %+v", g)
			}
			seen[k] = true
			if g.Origin == OriginGraph {
				if c, err := ten.Calendar(u.ID, g.FolderID); err != nil || c.Name != g.FolderPath {
					t.Errorf("graph grant on calendar %s: %v", g.FolderID, err)
				}
			} else if g.Scope == model.ScopeCalendar {
				t.Errorf("Grants repeats a calendar folder row: %+v", g)
			}
			roles[g.Role] = true
			scopes[g.Scope] = true
			grantees[g.Grantee] = true
			deny = deny || g.Deny
		}
		for _, g := range ten.ExchangeGrants(u.ID) {
			roles[g.Role] = true
			flags = flags || slices.Equal(g.Flags, []string{"Delegate", "CanViewPrivateItems"})
			grantees[g.Grantee] = true
		}
	}
	for _, r := range []string{"Owner", "PublishingEditor", "Editor", "PublishingAuthor", "Author", "NonEditingAuthor", "Reviewer",
		"Contributor", "AvailabilityOnly", "LimitedDetails", "None", RoleCustom, "FullAccess", "SendAs", "SendOnBehalf",
		"freeBusyRead", "limitedRead", "read", "write", "delegateWithPrivateEventAccess", "delegateWithoutPrivateEventAccess"} {
		if !roles[r] {
			t.Errorf("no grant with role %s", r)
		}
	}
	for _, s := range []model.GrantScope{model.ScopeMailbox, model.ScopeFolder, model.ScopeCalendar, model.ScopeContacts, model.ScopeSendAs, model.ScopeSendOnBehalf} {
		if !scopes[s] {
			t.Errorf("no grant of scope %s", s)
		}
	}
	var sid, group bool
	for g := range grantees {
		sid = sid || strings.HasPrefix(g, "S-1-5-21-")
		group = group || g == groupSales.Name
	}
	if !sid || !group || !grantees[model.GranteeDefault] || !grantees[model.GranteeAnonymous] || !deny || !flags {
		t.Errorf("special cases: SID %v, group %v, Default %v, Anonymous %v, deny %v, delegate flags %v",
			sid, group, grantees[model.GranteeDefault], grantees[model.GranteeAnonymous], deny, flags)
	}
}

// TestCalendarFolderRowsMirrorGraph: the calendar rows of the exports say what
// calendarPermissions says, in Exchange's roles.
func TestCalendarFolderRowsMirrorGraph(t *testing.T) {
	ten := Generate(Small())
	for _, u := range ten.Users() {
		var graph, csv []string
		for _, g := range ten.Grants(u.ID) {
			if g.Origin == OriginGraph {
				role, flags := exchangeRole(g.Role)
				graph = append(graph, g.Grantee+"|"+g.FolderPath+"|"+role+"|"+strings.Join(flags, ","))
			}
		}
		def := ten.Calendars(u.ID)[0].Name
		for _, g := range ten.ExchangeGrants(u.ID) {
			if g.Scope == model.ScopeCalendar && g.Grantee != model.GranteeAnonymous {
				path := strings.TrimPrefix(g.FolderPath, def+"/")
				csv = append(csv, g.Grantee+"|"+path+"|"+g.Role+"|"+strings.Join(g.Flags, ","))
			}
		}
		slices.Sort(graph)
		slices.Sort(csv)
		if len(graph) == 0 || !slices.Equal(graph, csv) {
			t.Errorf("%s: graph %q\n csv %q", u.UPN, graph, csv)
		}
	}
}

type ruleDoc struct {
	ID         string         `json:"id"`
	Name       string         `json:"displayName"`
	HasError   bool           `json:"hasError"`
	Conditions map[string]any `json:"conditions"`
	Actions    map[string]any `json:"actions"`
}

func TestRules(t *testing.T) {
	ten := Generate(Small())
	exchangeOnly := map[string]bool{"categories": true, "sensitivity": true, "isMeetingRequest": true, "messageActionFlag": true}
	var only, total int
	for _, u := range ten.Users() {
		folders := map[string]bool{}
		for _, f := range ten.Folders(u.ID) {
			folders[f.ID] = true
		}
		rules := ten.Rules(u.ID)
		for i, r := range rules {
			var d ruleDoc
			if err := json.Unmarshal(r.Payload, &d); err != nil {
				t.Fatalf("rule %q: %v", r.Name, err)
			}
			if d.ID != r.ID || d.Name != r.Name || r.Sequence != i+1 || len(d.Actions) == 0 {
				t.Errorf("rule %d %+v / %s", i, r, r.Payload)
			}
			for _, k := range []string{"moveToFolder", "copyToFolder"} {
				if id, ok := d.Actions[k].(string); ok && !folders[id] && !d.HasError {
					t.Errorf("%s rule %q: %s %s is no folder of the mailbox", u.UPN, r.Name, k, id)
				}
			}
			total++
			for k := range d.Conditions {
				if exchangeOnly[k] {
					only++
					break
				}
			}
		}
		if _, err := ten.Rule(u.ID, rules[0].ID); err != nil {
			t.Error(err)
		}
	}
	if only == 0 || only*3 > total {
		t.Errorf("%d of %d rules use Exchange-only conditions; want a few", only, total)
	}
	if _, err := ten.Rule(ten.Users()[0].ID, "nope"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Rule(unknown) = %v", err)
	}
}

func TestAutoReply(t *testing.T) {
	ten := Generate(Small())
	u := ten.Users()[0]
	ar, err := ten.AutoReply(u.ID)
	if err != nil || ar.Status != "scheduled" || !ar.End.After(ar.Start) || !strings.Contains(ar.ExternalReply, "<html>") {
		t.Fatalf("AutoReply = %+v, %v", ar, err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	set := model.AutoReply{Status: "alwaysEnabled", ExternalAudience: "contactsOnly", Start: time.Date(2030, 5, 1, 9, 0, 0, 0, paris)}
	if err := ten.SetAutoReply(u.ID, set); err != nil {
		t.Fatal(err)
	}
	if got, _ := ten.AutoReply(u.ID); got.Status != "alwaysEnabled" || !got.Start.Equal(set.Start) || got.Start.Location() != time.UTC {
		t.Errorf("after SetAutoReply: %+v", got)
	}
	if err := ten.SetAutoReply("nobody", set); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SetAutoReply(unknown mailbox) = %v", err)
	}
	if err := ten.SetAutoReply(u.ID, model.AutoReply{Status: "disabled", ExternalAudience: "everyone"}); err == nil {
		t.Error("SetAutoReply accepted an unknown audience")
	}
}
