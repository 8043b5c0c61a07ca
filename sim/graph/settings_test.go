package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// graphInstant reads a dateTimeTimeZone the SDK returned (the emulator says UTC).
func graphInstant(t *testing.T, d models.DateTimeTimeZoneable) time.Time {
	t.Helper()
	if d == nil || d.GetDateTime() == nil || d.GetTimeZone() == nil || *d.GetTimeZone() != "UTC" {
		t.Fatalf("dateTimeTimeZone %v", d)
	}
	v, err := time.Parse(graphTime, *d.GetDateTime())
	if err != nil {
		t.Fatalf("dateTime %q: %v", *d.GetDateTime(), err)
	}
	return v
}

func TestSDKMailboxSettings(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, _ := sdk(t, s, secretCred(t, s, testSecret), true)
	statuses := map[string]bool{}
	for _, u := range ten.Users() {
		ms, err := gc.Users().ByUserId(u.ID).MailboxSettings().Get(ctx, nil)
		if err != nil {
			t.Fatalf("MailboxSettings(%s).Get() = %v", u.UPN, err)
		}
		want, _ := ten.AutoReply(u.ID)
		ar := ms.GetAutomaticRepliesSetting()
		if ar == nil || ar.GetStatus().String() != want.Status || ar.GetExternalAudience().String() != want.ExternalAudience ||
			*ar.GetInternalReplyMessage() != want.InternalReply || *ar.GetExternalReplyMessage() != want.ExternalReply {
			t.Fatalf("%s automaticRepliesSetting = %v, want %+v", u.UPN, ar, want)
		}
		if a, b := graphInstant(t, ar.GetScheduledStartDateTime()), graphInstant(t, ar.GetScheduledEndDateTime()); !a.Equal(want.Start) || !b.Equal(want.End) {
			t.Errorf("%s schedule %v–%v, want %v–%v", u.UPN, a, b, want.Start, want.End)
		}
		statuses[want.Status] = true
		if *ms.GetTimeZone() != tenant.TimeZone(u) || *ms.GetLanguage().GetLocale() != u.Language || ms.GetUserPurpose().String() != u.Purpose {
			t.Errorf("%s: timeZone %s, locale %s, userPurpose %s", u.UPN, *ms.GetTimeZone(), *ms.GetLanguage().GetLocale(), ms.GetUserPurpose())
		}
	}
	if len(statuses) != 3 {
		t.Errorf("automatic replies statuses in the tenant: %v, want disabled, alwaysEnabled and scheduled", statuses)
	}

	// A change shows at once, on both endpoints.
	u := ten.Users()[0]
	set := model.AutoReply{Status: "scheduled", ExternalAudience: "none", Start: time.Date(2030, 1, 2, 9, 30, 0, 0, time.UTC),
		End: time.Date(2030, 1, 9, 18, 0, 0, 0, time.UTC), InternalReply: "<p>Absent &amp; injoignable</p>", ExternalReply: ""}
	if err := ten.SetAutoReply(u.ID, set); err != nil {
		t.Fatal(err)
	}
	ms, err := gc.Users().ByUserId(u.ID).MailboxSettings().Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ar := ms.GetAutomaticRepliesSetting()
	if ar.GetStatus().String() != "scheduled" || ar.GetExternalAudience().String() != "none" || *ar.GetInternalReplyMessage() != set.InternalReply ||
		!graphInstant(t, ar.GetScheduledStartDateTime()).Equal(set.Start) {
		t.Fatalf("after SetAutoReply: %v", ar)
	}
	res, err := rawGet(t, s, rawToken(t, s), "/users/"+u.ID+"/mailboxSettings/automaticRepliesSetting")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET automaticRepliesSetting: %v %v", res, err)
	}
	var only struct {
		Context string `json:"@odata.context"`
		Status  string `json:"status"`
		Start   struct {
			DateTime string `json:"dateTime"`
		} `json:"scheduledStartDateTime"`
	}
	if err := json.NewDecoder(res.Body).Decode(&only); err != nil || only.Status != "scheduled" || only.Start.DateTime != "2030-01-02T09:30:00.0000000" {
		t.Fatalf("automaticRepliesSetting = %+v, %v", only, err)
	}
	res.Body.Close()
	if err := ten.SetAutoReply(u.ID, model.AutoReply{Status: "sometimes", ExternalAudience: "all"}); err == nil {
		t.Error("SetAutoReply accepted an unknown status")
	}
	if c := s.Counts(); c["mailboxSettings"] != int64(len(ten.Users())+1) || c["mailboxSettings.automaticRepliesSetting"] != 1 {
		t.Errorf("counts %v", c)
	}
}

func TestSDKCalendarPermissions(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, _ := sdk(t, s, secretCred(t, s, testSecret), true)
	roles := map[string]bool{}
	var external, org int
	for _, u := range ten.Users() {
		ub := gc.Users().ByUserId(u.ID)
		for i, c := range ten.Calendars(u.ID) {
			want, err := ten.CalendarPermissions(u.ID, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ub.Calendars().ByCalendarId(c.ID).CalendarPermissions().Get(ctx, nil)
			if err != nil {
				t.Fatalf("%s calendar %q CalendarPermissions().Get() = %v", u.UPN, c.Name, err)
			}
			got := resp.GetValue()
			if c.Owner.Address != u.Mail && len(got) != 0 {
				t.Errorf("%s: calendar %q shared with it lists %d permissions, want none", u.UPN, c.Name, len(got))
			}
			if len(got) != len(want) {
				t.Fatalf("%s calendar %q: %d permissions, want %d", u.UPN, c.Name, len(got), len(want))
			}
			for j, p := range got {
				w := want[j]
				addr := p.GetEmailAddress().GetAddress()
				if *p.GetId() != w.ID || p.GetRole().String() != w.Role || *p.GetIsRemovable() != w.IsRemovable ||
					*p.GetIsInsideOrganization() != w.IsInsideOrganization || *p.GetEmailAddress().GetName() != w.Name ||
					(addr == nil) != (w.Address == "") || (addr != nil && *addr != w.Address) {
					t.Errorf("%s calendar %q permission %d = %v, want %+v", u.UPN, c.Name, j, p, w)
				}
				var allowed []string
				for _, r := range p.GetAllowedRoles() {
					allowed = append(allowed, r.String())
				}
				if !slices.Equal(allowed, w.AllowedRoles) || !slices.Contains(allowed, w.Role) {
					t.Errorf("allowedRoles %v, want %v (role %s)", allowed, w.AllowedRoles, w.Role)
				}
				roles[w.Role] = true
				if w.Address == "" {
					org++
					if w.Name != "My Organization" || w.IsRemovable {
						t.Errorf("built-in entry %+v", w)
					}
				}
				if !w.IsInsideOrganization {
					external++
				}
			}
			if i == 0 {
				def, err := ub.Calendar().CalendarPermissions().Get(ctx, nil)
				if err != nil || len(def.GetValue()) != len(want) {
					t.Fatalf("Calendar().CalendarPermissions().Get() = %v, %v", def, err)
				}
				if len(want) > 1 {
					one, err := ub.Calendar().CalendarPermissions().ByCalendarPermissionId(want[1].ID).Get(ctx, nil)
					if err != nil || *one.GetId() != want[1].ID || one.GetRole().String() != want[1].Role {
						t.Fatalf("ByCalendarPermissionId(%s).Get() = %v, %v", want[1].ID, one, err)
					}
				}
			}
		}
	}
	for _, r := range []string{"freeBusyRead", "limitedRead", "read", "write", "delegateWithPrivateEventAccess", "delegateWithoutPrivateEventAccess"} {
		if !roles[r] {
			t.Errorf("no calendar permission with role %s in the tenant", r)
		}
	}
	if org == 0 || external == 0 {
		t.Errorf("%d My Organization entries, %d external ones", org, external)
	}
	u := ten.Users()[0]
	_, err := gc.Users().ByUserId(u.ID).Calendar().CalendarPermissions().ByCalendarPermissionId("bm9wZQ==").Get(ctx, nil)
	var oe *odataerrors.ODataError
	if !asODataError(err, &oe) || oe.ResponseStatusCode != http.StatusNotFound {
		t.Errorf("unknown permission: %v", err)
	}
	if c := s.Counts(); c["calendarPermissions"] == 0 || c["calendarPermission"] != int64(len(ten.Users())+1) {
		t.Errorf("counts %v", c)
	}
}

func asODataError(err error, oe **odataerrors.ODataError) bool {
	e, ok := err.(*odataerrors.ODataError)
	if ok {
		*oe = e
	}
	return ok
}

func TestSDKMessageRules(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, _ := sdk(t, s, secretCred(t, s, testSecret), true)
	var disabled, withError, readOnly, categories, moves int
	for _, u := range ten.Users() {
		want := ten.Rules(u.ID)
		if len(want) == 0 {
			t.Fatalf("%s has no rules", u.UPN)
		}
		resp, err := gc.Users().ByUserId(u.ID).MailFolders().ByMailFolderId("inbox").MessageRules().Get(ctx, nil)
		if err != nil {
			t.Fatalf("%s MessageRules().Get() = %v", u.UPN, err)
		}
		got := resp.GetValue()
		if len(got) != len(want) {
			t.Fatalf("%s: %d rules, want %d", u.UPN, len(got), len(want))
		}
		folders := map[string]bool{}
		for _, f := range ten.Folders(u.ID) {
			folders[f.ID] = true
		}
		for i, r := range got {
			w := want[i]
			if *r.GetId() != w.ID || *r.GetDisplayName() != w.Name || int(*r.GetSequence()) != w.Sequence || *r.GetIsEnabled() != w.Enabled {
				t.Errorf("%s rule %d = %s %q seq %d enabled %v, want %+v", u.UPN, i, *r.GetId(), *r.GetDisplayName(), *r.GetSequence(), *r.GetIsEnabled(), w)
			}
			if !w.Enabled {
				disabled++
			}
			if *r.GetHasError() {
				withError++
			}
			if *r.GetIsReadOnly() {
				readOnly++
			}
			if c := r.GetConditions(); c != nil && len(c.GetCategories()) > 0 {
				categories++
			}
			if a := r.GetActions(); a != nil && a.GetMoveToFolder() != nil {
				moves++
				if !folders[*a.GetMoveToFolder()] && !*r.GetHasError() {
					t.Errorf("%s rule %q moves to %s, not a folder of the mailbox", u.UPN, w.Name, *a.GetMoveToFolder())
				}
			}
		}
		one, err := gc.Users().ByUserId(u.ID).MailFolders().ByMailFolderId("inbox").MessageRules().ByMessageRuleId(want[0].ID).Get(ctx, nil)
		if err != nil || *one.GetDisplayName() != want[0].Name || one.GetActions() == nil {
			t.Fatalf("ByMessageRuleId(%s).Get() = %v, %v", want[0].ID, one, err)
		}
	}
	if disabled == 0 || withError == 0 || readOnly == 0 || categories == 0 || moves == 0 {
		t.Errorf("rules: %d disabled, %d in error, %d read-only, %d on categories, %d moving", disabled, withError, readOnly, categories, moves)
	}

	// The payload served is the tenant's, byte for byte.
	u := ten.Users()[1]
	res, err := rawGet(t, s, rawToken(t, s), "/users/"+u.ID+"/mailFolders/inbox/messageRules")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET messageRules: %v %v", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var page struct{ Value []json.RawMessage }
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	for i, w := range ten.Rules(u.ID) {
		if !bytes.Equal(page.Value[i], w.Payload) {
			t.Fatalf("rule %d served as %s, tenant payload %s", i, page.Value[i], w.Payload)
		}
	}
	// Only the inbox has rules; an unknown rule is 404.
	if res, err := rawGet(t, s, rawToken(t, s), "/users/"+u.ID+"/mailFolders/sentitems/messageRules"); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("rules of sent items: %v %v", res.StatusCode, err)
	}
	if res, err := rawGet(t, s, rawToken(t, s), "/users/"+u.ID+"/mailFolders/inbox/messageRules/AQAAAAAAAAA="); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown rule: %v %v", res.StatusCode, err)
	}

	// SetRules replaces them.
	if err := ten.SetRules(u.ID, [][]byte{[]byte(`{"displayName":"Seule règle","sequence":1,"isEnabled":true,"conditions":{"subjectContains":["x"]},"actions":{"delete":true}}`)}); err != nil {
		t.Fatal(err)
	}
	resp, err := gc.Users().ByUserId(u.ID).MailFolders().ByMailFolderId("inbox").MessageRules().Get(ctx, nil)
	if err != nil || len(resp.GetValue()) != 1 || *resp.GetValue()[0].GetDisplayName() != "Seule règle" || !*resp.GetValue()[0].GetActions().GetDelete() {
		t.Fatalf("after SetRules: %v, %v", resp, err)
	}
}

// TestSettingsFaultsAndThrottling: the new endpoints count against the mailbox's budget
// and take injected faults like the others.
func TestSettingsFaultsAndThrottling(t *testing.T) {
	s, ten := start(t, Options{})
	token := rawToken(t, s)
	u := ten.Users()[0]
	s.SetFaults(Faults{Seed: 1, Rate503: 1, Only: []string{"messageRules", "calendarPermissions"}})
	for _, p := range []string{"/mailFolders/inbox/messageRules", "/calendar/calendarPermissions"} {
		res, err := rawGet(t, s, token, "/users/"+u.ID+p)
		if err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Fatalf("%s with Rate503=1: %v %v", p, res.StatusCode, err)
		}
		res.Body.Close()
	}
	s.SetFaults(Faults{})
	s.SetThrottle(Throttle{Requests: 2, Window: time.Minute})
	var codes []int
	for _, p := range []string{"/mailboxSettings", "/mailFolders/inbox/messageRules", "/calendar/calendarPermissions"} {
		res, err := rawGet(t, s, token, "/users/"+u.ID+p)
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, res.StatusCode)
		res.Body.Close()
	}
	if !slices.Equal(codes, []int{200, 200, 429}) {
		t.Fatalf("status codes with a budget of 2 requests: %v", codes)
	}
}
