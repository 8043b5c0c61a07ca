package graph

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

func contactDelta(ctx context.Context, t *testing.T, gc *msgraphsdk.GraphServiceClient, user, folder, link string) (map[string]models.Contactable, map[string]bool, string, int, error) {
	t.Helper()
	b := gc.Users().ByUserId(user).ContactFolders().ByContactFolderId(folder).Contacts().Delta()
	h := abs.NewRequestHeaders()
	h.Add("Prefer", "odata.maxpagesize=4")
	cfg := &users.ItemContactFoldersItemContactsDeltaRequestBuilderGetRequestConfiguration{Headers: h}
	if link != "" {
		b = b.WithUrl(link)
	}
	live, removed := map[string]models.Contactable{}, map[string]bool{}
	pages := 0
	for {
		resp, err := b.GetAsDeltaGetResponse(ctx, cfg)
		if err != nil {
			return nil, nil, "", pages, err
		}
		pages++
		for _, c := range resp.GetValue() {
			if _, ok := c.GetAdditionalData()["@removed"]; ok {
				removed[*c.GetId()] = true
			} else {
				live[*c.GetId()] = c
			}
		}
		if next := resp.GetOdataNextLink(); next != nil {
			b = b.WithUrl(*next)
			continue
		}
		if resp.GetOdataDeltaLink() == nil {
			t.Fatal("last contacts delta page without deltaLink")
		}
		return live, removed, *resp.GetOdataDeltaLink(), pages, nil
	}
}

func TestSDKContacts(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, adapter := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[1] // fr-FR
	ub := gc.Users().ByUserId(u.ID)
	all := ten.ContactFolders(u.ID)
	def, sup, abroad := all[0], all[1], all[2]

	// /contactFolders lists the folders under the default one; childFolders goes deeper; the
	// default folder answers to its well-known name.
	fp, err := ub.ContactFolders().Get(ctx, nil)
	if err != nil || len(fp.GetValue()) != 1 || *fp.GetValue()[0].GetDisplayName() != "Fournisseurs" || *fp.GetValue()[0].GetParentFolderId() != def.ID {
		t.Fatalf("ContactFolders().Get() = %v, %v", fp, err)
	}
	kids, err := ub.ContactFolders().ByContactFolderId(sup.ID).ChildFolders().Get(ctx, nil)
	if err != nil || len(kids.GetValue()) != 1 || *kids.GetValue()[0].GetId() != abroad.ID || *kids.GetValue()[0].GetDisplayName() != "Étranger" {
		t.Fatalf("childFolders = %v, %v", kids, err)
	}
	df, err := ub.ContactFolders().ByContactFolderId("contacts").Get(ctx, nil)
	if err != nil || *df.GetId() != def.ID || *df.GetDisplayName() != "Contacts" {
		t.Fatalf("contactFolders/contacts = %v, %v", df, err)
	}

	// /contacts: the default folder, paged.
	top := int32(3)
	cp, err := ub.Contacts().Get(ctx, &users.ItemContactsRequestBuilderGetRequestConfiguration{QueryParameters: &users.ItemContactsRequestBuilderGetQueryParameters{Top: &top}})
	if err != nil {
		t.Fatalf("Contacts().Get() = %v", err)
	}
	got := map[string]models.Contactable{}
	it, _ := msgraphcore.NewPageIterator[models.Contactable](cp, adapter, models.CreateContactCollectionResponseFromDiscriminatorValue)
	if err := it.Iterate(ctx, func(c models.Contactable) bool { got[*c.GetId()] = c; return true }); err != nil {
		t.Fatal(err)
	}
	want := ten.Contacts(u.ID, def.ID)
	if len(got) != len(want) || len(want) <= 3 {
		t.Fatalf("listed %d contacts, default folder has %d", len(got), len(want))
	}
	// Every field of the full contact.
	h := want[0]
	g := got[h.ID]
	var emails []string
	for _, e := range g.GetEmailAddresses() {
		emails = append(emails, *e.GetName()+" <"+*e.GetAddress()+">")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"givenName", *g.GetGivenName(), h.GivenName}, {"surname", *g.GetSurname(), h.Surname}, {"middleName", *g.GetMiddleName(), h.MiddleName},
		{"nickName", *g.GetNickName(), h.NickName}, {"title", *g.GetTitle(), h.Title}, {"displayName", *g.GetDisplayName(), h.DisplayName},
		{"companyName", *g.GetCompanyName(), h.CompanyName}, {"department", *g.GetDepartment(), h.Department}, {"jobTitle", *g.GetJobTitle(), h.JobTitle},
		{"emails", len(emails), 3}, {"email 2", emails[1], "Hélène (perso) <lena.girard@courriel.example>"},
		{"businessPhones", g.GetBusinessPhones(), h.BusinessPhones}, {"homePhones", g.GetHomePhones(), h.HomePhones}, {"mobilePhone", *g.GetMobilePhone(), h.MobilePhone},
		{"businessAddress.city", *g.GetBusinessAddress().GetCity(), "Saint-Étienne"}, {"homeAddress.street", *g.GetHomeAddress().GetStreet(), h.HomeAddress.Street},
		{"otherAddress.postalCode", *g.GetOtherAddress().GetPostalCode(), "74400"}, {"birthday", g.GetBirthday().UTC().Format(time.DateOnly), "1980-02-29"},
		{"personalNotes", *g.GetPersonalNotes(), h.PersonalNotes}, {"imAddresses", g.GetImAddresses(), h.IMAddresses},
		{"businessHomePage", *g.GetBusinessHomePage(), h.BusinessHomePage}, {"spouseName", *g.GetSpouseName(), "Marc Girard"},
		{"children", g.GetChildren(), []string{"Léo", "Inès"}}, {"categories", g.GetCategories(), []string{"Clients", "VIP"}},
		{"changeKey", *g.GetChangeKey(), h.ChangeKey}, {"parentFolderId", *g.GetParentFolderId(), def.ID},
	}
	for _, c := range checks {
		if gs, ok := c.got.([]string); ok {
			if !slices.Equal(gs, c.want.([]string)) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		} else if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// Photos: byte-exact JPEG; 404 when none.
	photo, err := ub.Contacts().ByContactId(h.ID).Photo().Content().Get(ctx, nil)
	if err != nil || !bytes.Equal(photo, h.Photo) || !bytes.HasPrefix(photo, []byte{0xff, 0xd8, 0xff}) {
		t.Fatalf("photo = %d bytes, %v; want the tenant's %d-byte JPEG", len(photo), err, len(h.Photo))
	}
	_, err = ub.Contacts().ByContactId(want[2].ID).Photo().Content().Get(ctx, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 404 || *oe.GetErrorEscaped().GetCode() != "ErrorItemNotFound" {
		t.Errorf("photo of a contact without one: %v, want 404 ErrorItemNotFound", err)
	}
	if want[2].Photo != nil {
		t.Fatal("test assumes the third contact has no photo")
	}

	// Folder contacts and their delta: changes, @removed, 410.
	fc, err := ub.ContactFolders().ByContactFolderId(sup.ID).Contacts().Get(ctx, nil)
	if err != nil || len(fc.GetValue()) != len(ten.Contacts(u.ID, sup.ID)) {
		t.Fatalf("folder contacts = %v, %v", fc, err)
	}
	live, removed, link, pages, err := contactDelta(ctx, t, gc, u.ID, def.ID, "")
	if err != nil || len(live) != len(want) || len(removed) != 0 || pages < 2 {
		t.Fatalf("initial contacts delta: %d live, %d removed, %d pages, %v", len(live), len(removed), pages, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ten.UpdateContact(u.ID, want[1].ID, func(c *tenant.Contact) { c.JobTitle = "Directeur général" }))
	must(ten.DeleteContact(u.ID, want[3].ID))
	added, err := ten.AddContact(u.ID, "contacts", tenant.Contact{GivenName: "Ana", Surname: "Ţepeş", DisplayName: "Ana Ţepeş"})
	must(err)
	must(ten.UpdateContact(u.ID, ten.Contacts(u.ID, sup.ID)[0].ID, func(c *tenant.Contact) { c.NickName = "Tom" })) // another folder
	live, removed, link, _, err = contactDelta(ctx, t, gc, u.ID, def.ID, link)
	if err != nil || len(live) != 2 || live[want[1].ID] == nil || *live[want[1].ID].GetJobTitle() != "Directeur général" || live[added.ID] == nil ||
		len(removed) != 1 || !removed[want[3].ID] {
		t.Fatalf("contacts delta after changes: live %v removed %v, %v", keysOf(live), removed, err)
	}
	ten.ExpireDeltaTokens()
	if _, _, _, _, err = contactDelta(ctx, t, gc, u.ID, def.ID, link); !errors.As(err, &oe) || oe.ResponseStatusCode != http.StatusGone {
		t.Errorf("expired contacts delta token: %v, want 410", err)
	}
	if c := s.Counts(); c["contactFolders"] != 1 || c["contactFolders.childFolders"] != 1 || c["contactFolder"] != 1 || c["contact.photo.value"] != 2 || c["contacts.delta"] < 4 {
		t.Errorf("Counts() = %v", c)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSDKTodo(t *testing.T) {
	s, ten := start(t, Options{})
	ctx := context.Background()
	gc, adapter := sdk(t, s, secretCred(t, s, testSecret), true)
	u := ten.Users()[0] // en-US
	tb := gc.Users().ByUserId(u.ID).Todo()

	lp, err := tb.Lists().Get(ctx, nil)
	if err != nil || len(lp.GetValue()) != 3 {
		t.Fatalf("todo lists = %v, %v", lp, err)
	}
	def := lp.GetValue()[0]
	if *def.GetDisplayName() != "Tasks" || def.GetWellknownListName().String() != "defaultList" || lp.GetValue()[2].GetWellknownListName().String() != "none" {
		t.Errorf("lists: %q %v", *def.GetDisplayName(), def.GetWellknownListName())
	}
	// Tasks with their checklist items, 4 per page.
	top := int32(4)
	tp, err := tb.Lists().ByTodoTaskListId(*def.GetId()).Tasks().Get(ctx, &users.ItemTodoListsItemTasksRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemTodoListsItemTasksRequestBuilderGetQueryParameters{Top: &top, Expand: []string{"checklistItems"}}})
	if err != nil {
		t.Fatalf("tasks = %v", err)
	}
	got := map[string]models.TodoTaskable{}
	it, _ := msgraphcore.NewPageIterator[models.TodoTaskable](tp, adapter, models.CreateTodoTaskCollectionResponseFromDiscriminatorValue)
	if err := it.Iterate(ctx, func(k models.TodoTaskable) bool { got[*k.GetId()] = k; return true }); err != nil {
		t.Fatal(err)
	}
	want := ten.Tasks(u.ID, *def.GetId())
	if len(got) != len(want) || len(want) <= 4 {
		t.Fatalf("listed %d tasks, list has %d", len(got), len(want))
	}
	r := got[want[0].ID]
	if *r.GetTitle() != "Envoyer le rapport trimestriel" || r.GetImportance().String() != "high" || !*r.GetIsReminderOn() ||
		*r.GetDueDateTime().GetDateTime() != "2026-12-15T00:00:00.0000000" || *r.GetReminderDateTime().GetDateTime() != "2026-12-14T08:00:00.0000000" ||
		len(r.GetChecklistItems()) != 3 || !*r.GetChecklistItems()[0].GetIsChecked() || *r.GetBody().GetContent() != want[0].Body {
		t.Errorf("first task: %q due %v checklist %d", *r.GetTitle(), r.GetDueDateTime(), len(r.GetChecklistItems()))
	}
	done := got[want[1].ID]
	if done.GetStatus().String() != "completed" || *done.GetCompletedDateTime().GetDateTime() != "2026-10-02T14:31:00.0000000" {
		t.Errorf("completed task: %v %v", done.GetStatus(), done.GetCompletedDateTime())
	}
	rec := got[want[2].ID]
	if rec.GetRecurrence() == nil || rec.GetRecurrence().GetPattern().GetDaysOfWeek()[0].String() != "saturday" {
		t.Errorf("recurring task: %v", rec.GetRecurrence())
	}
	ci, err := tb.Lists().ByTodoTaskListId(*def.GetId()).Tasks().ByTodoTaskId(want[0].ID).ChecklistItems().Get(ctx, nil)
	if err != nil || len(ci.GetValue()) != 3 || *ci.GetValue()[2].GetDisplayName() != "Envoyer à la direction" {
		t.Fatalf("checklistItems = %v, %v", ci, err)
	}

	// Deltas: lists and tasks, after completing, deleting and adding nothing else.
	ldelta, err := tb.Lists().Delta().GetAsDeltaGetResponse(ctx, nil)
	if err != nil || len(ldelta.GetValue()) != 3 || ldelta.GetOdataDeltaLink() == nil {
		t.Fatalf("lists delta = %v, %v", ldelta, err)
	}
	taskDelta := func(link string) (live map[string]models.TodoTaskable, removed map[string]bool, next string, err error) {
		b := tb.Lists().ByTodoTaskListId(*def.GetId()).Tasks().Delta()
		if link != "" {
			b = b.WithUrl(link)
		}
		live, removed = map[string]models.TodoTaskable{}, map[string]bool{}
		for {
			resp, err := b.GetAsDeltaGetResponse(ctx, nil)
			if err != nil {
				return nil, nil, "", err
			}
			for _, k := range resp.GetValue() {
				if _, ok := k.GetAdditionalData()["@removed"]; ok {
					removed[*k.GetId()] = true
				} else {
					live[*k.GetId()] = k
				}
			}
			if n := resp.GetOdataNextLink(); n != nil {
				b = b.WithUrl(*n)
				continue
			}
			return live, removed, *resp.GetOdataDeltaLink(), nil
		}
	}
	live, _, link, err := taskDelta("")
	if err != nil || len(live) != len(want) {
		t.Fatalf("initial tasks delta: %d, %v", len(live), err)
	}
	if err := ten.CompleteTask(u.ID, want[3].ID); err != nil {
		t.Fatal(err)
	}
	if err := ten.DeleteTask(u.ID, want[4].ID); err != nil {
		t.Fatal(err)
	}
	live, removed, _, err := taskDelta(link)
	if err != nil || len(live) != 1 || live[want[3].ID].GetStatus().String() != "completed" || live[want[3].ID].GetCompletedDateTime() == nil ||
		len(removed) != 1 || !removed[want[4].ID] {
		t.Fatalf("tasks delta after changes: live %v removed %v, %v", keysOf(live), removed, err)
	}
	_, _, _, err = taskDelta(link[:len(link)-3] + "zzz")
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != http.StatusGone {
		t.Errorf("bad tasks delta token: %v, want 410", err)
	}
	if c := s.Counts(); c["todo.lists"] != 1 || c["todo.tasks"] < 2 || c["todo.checklistItems"] != 1 || c["todo.lists.delta"] != 1 || c["todo.tasks.delta"] < 3 {
		t.Errorf("Counts() = %v", c)
	}
}
