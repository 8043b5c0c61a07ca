package graph

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

var _ extract.GroupwareSource = (*Source)(nil)

// Application permissions of the groupware calls; named in 401/403 errors.
const (
	permCalendars = "Calendars.Read"
	permContacts  = "Contacts.Read"
	permTasks     = "Tasks.Read.All"
)

// calendarColors maps the calendarColor enum, which Graph reports when a calendar has no
// hexColor, to the colours Outlook shows for it (approximately: Microsoft documents the
// names, not the values).
var calendarColors = map[models.CalendarColor]string{
	models.LIGHTBLUE_CALENDARCOLOR:   "#71AFE5",
	models.LIGHTGREEN_CALENDARCOLOR:  "#6BB700",
	models.LIGHTORANGE_CALENDARCOLOR: "#FF8C00",
	models.LIGHTGRAY_CALENDARCOLOR:   "#A19F9D",
	models.LIGHTYELLOW_CALENDARCOLOR: "#FCE100",
	models.LIGHTTEAL_CALENDARCOLOR:   "#00B7C3",
	models.LIGHTPINK_CALENDARCOLOR:   "#E3008C",
	models.LIGHTBROWN_CALENDARCOLOR:  "#8E562E",
	models.LIGHTRED_CALENDARCOLOR:    "#E81123",
	models.MAXCOLOR_CALENDARCOLOR:    "",
}

// Collections lists the calendars (/calendars), contact folders (/contactFolders and their
// childFolders, plus the default contacts folder, which Graph does not list) and To Do
// lists (/todo/lists) of mbx whose kind is in kinds (empty = all), kind by kind in the
// order calendar, contacts, tasks, the default collection of each kind first.
// A mailbox that does not exist returns an error wrapping model.ErrNotFound; 401/403
// model.ErrFatal naming the permission; throttling or 5xx after retries model.ErrRetryable.
func (s *Source) Collections(ctx context.Context, mbx model.Mailbox, kinds []model.CollectionKind) ([]model.Collection, error) {
	want := func(k model.CollectionKind) bool { return len(kinds) == 0 || slices.Contains(kinds, k) }
	var out []model.Collection
	for _, k := range []model.CollectionKind{model.KindCalendar, model.KindContacts, model.KindTasks} {
		if !want(k) {
			continue
		}
		var cols []model.Collection
		var err error
		switch k {
		case model.KindCalendar:
			cols, err = s.calendars(ctx, mbx)
		case model.KindContacts:
			cols, err = s.contactFolders(ctx, mbx)
		case model.KindTasks:
			cols, err = s.todoLists(ctx, mbx)
		}
		if err != nil {
			return nil, err
		}
		// Default first, the others in the order the source gave them.
		slices.SortStableFunc(cols, func(a, b model.Collection) int {
			switch {
			case a.Default == b.Default:
				return 0
			case a.Default:
				return -1
			}
			return 1
		})
		out = append(out, cols...)
	}
	return out, nil
}

func (s *Source) calendars(ctx context.Context, mbx model.Mailbox) ([]model.Collection, error) {
	what := "listing calendars of " + mbx.Address
	b := s.client.Users().ByUserId(mbx.ID).Calendars()
	top := int32(250)
	page, err := b.Get(ctx, &users.ItemCalendarsRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemCalendarsRequestBuilderGetQueryParameters{
			Select: []string{"id", "name", "color", "hexColor", "isDefaultCalendar", "canEdit", "owner"}, Top: &top}})
	var out []model.Collection
	for {
		if err != nil {
			return nil, classify(err, what, permCalendars)
		}
		for _, c := range page.GetValue() {
			col := model.Collection{ID: str(c.GetId()), Kind: model.KindCalendar, Name: str(c.GetName())}
			if col.ID == "" {
				continue
			}
			col.Color = normColor(str(c.GetHexColor()))
			if col.Color == "" && c.GetColor() != nil {
				col.Color = calendarColors[*c.GetColor()]
			}
			if d := c.GetIsDefaultCalendar(); d != nil && *d {
				col.Default = true
			}
			if e := c.GetCanEdit(); e != nil && !*e {
				col.ReadOnly = true
			}
			// The default calendar is the mailbox's own whatever address its owner shows
			// (mbx.Address may be the UPN, the owner the primary SMTP address).
			if o := c.GetOwner(); o != nil && !col.Default {
				if a := str(o.GetAddress()); a != "" && !strings.EqualFold(a, mbx.Address) {
					col.Owner = a
				}
			}
			out = append(out, col)
		}
		next := str(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		page, err = b.WithUrl(next).Get(ctx, nil)
	}
}

// normColor returns "#RRGGBB" (upper case) for a hex colour, or "" for anything else.
func normColor(c string) string {
	c = strings.TrimSpace(c)
	if len(c) != 7 || c[0] != '#' {
		return ""
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return ""
		}
	}
	return strings.ToUpper(c)
}

var contactFolderSelect = []string{"id", "displayName", "parentFolderId"}

// contactFolders lists the contact folders breadth first, parents before children. Graph
// lists the folders under the default contacts folder, not that folder itself: its id is
// the parentFolderId of the contacts /contacts lists, or of the top-level folders.
func (s *Source) contactFolders(ctx context.Context, mbx model.Mailbox) ([]model.Collection, error) {
	what := "listing contact folders of " + mbx.Address
	user := s.client.Users().ByUserId(mbx.ID)
	top := int32(250)
	var out []model.Collection
	parents := map[string]string{}
	add := func(fs []models.ContactFolderable) {
		for _, f := range fs {
			id := str(f.GetId())
			if id == "" {
				continue
			}
			parents[id] = str(f.GetParentFolderId())
			out = append(out, model.Collection{ID: id, Kind: model.KindContacts, Name: str(f.GetDisplayName())})
		}
	}
	page, err := user.ContactFolders().Get(ctx, &users.ItemContactFoldersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemContactFoldersRequestBuilderGetQueryParameters{Select: contactFolderSelect, Top: &top}})
	for {
		if err != nil {
			return nil, classify(err, what, permContacts)
		}
		add(page.GetValue())
		next := str(page.GetOdataNextLink())
		if next == "" {
			break
		}
		page, err = user.ContactFolders().WithUrl(next).Get(ctx, nil)
	}
	topLevel := len(out)
	for i := 0; i < len(out); i++ {
		cf := user.ContactFolders().ByContactFolderId(out[i].ID).ChildFolders()
		page, err := cf.Get(ctx, &users.ItemContactFoldersItemChildFoldersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemContactFoldersItemChildFoldersRequestBuilderGetQueryParameters{Select: contactFolderSelect, Top: &top}})
		for {
			if err != nil {
				return nil, classify(err, what, permContacts)
			}
			var fresh []models.ContactFolderable
			for _, f := range page.GetValue() {
				if _, dup := parents[str(f.GetId())]; !dup {
					fresh = append(fresh, f)
				}
			}
			add(fresh)
			next := str(page.GetOdataNextLink())
			if next == "" {
				break
			}
			page, err = cf.WithUrl(next).Get(ctx, nil)
		}
	}

	// The default folder: where /contacts lists its contacts.
	one := int32(1)
	cs, err := user.Contacts().Get(ctx, &users.ItemContactsRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemContactsRequestBuilderGetQueryParameters{Select: []string{"id", "parentFolderId"}, Top: &one}})
	if err != nil {
		return nil, classify(err, what, permContacts)
	}
	def := ""
	if v := cs.GetValue(); len(v) > 0 {
		def = str(v[0].GetParentFolderId())
	}
	if def == "" && topLevel > 0 {
		// No contact in it: the parent the top-level folders share.
		def = parents[out[0].ID]
		for _, c := range out[1:topLevel] {
			if parents[c.ID] != def {
				def = ""
				break
			}
		}
	}
	if def == "" {
		// An empty default folder without subfolders: nothing to carry, and Graph gives
		// no way to name it.
		return out, nil
	}
	for i := range out {
		if out[i].ID == def {
			out[i].Default = true
			return out, nil
		}
	}
	f, err := user.ContactFolders().ByContactFolderId(def).Get(ctx, &users.ItemContactFoldersContactFolderItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemContactFoldersContactFolderItemRequestBuilderGetQueryParameters{Select: contactFolderSelect}})
	if err != nil {
		if errors.Is(classify(err, what, permContacts), model.ErrNotFound) && len(cs.GetValue()) == 0 {
			// The shared parent was the mailbox root, not a contact folder.
			return out, nil
		}
		return nil, classify(err, what+" (default folder)", permContacts)
	}
	dc := model.Collection{ID: def, Kind: model.KindContacts, Name: str(f.GetDisplayName()), Default: true}
	return append([]model.Collection{dc}, out...), nil
}

func (s *Source) todoLists(ctx context.Context, mbx model.Mailbox) ([]model.Collection, error) {
	what := "listing To Do lists of " + mbx.Address
	b := s.client.Users().ByUserId(mbx.ID).Todo().Lists()
	page, err := b.Get(ctx, nil)
	var out []model.Collection
	for {
		if err != nil {
			return nil, classify(err, what, permTasks)
		}
		for _, l := range page.GetValue() {
			col := model.Collection{ID: str(l.GetId()), Kind: model.KindTasks, Name: str(l.GetDisplayName())}
			if col.ID == "" {
				continue
			}
			if w := l.GetWellknownListName(); w != nil {
				switch *w {
				case models.DEFAULTLIST_WELLKNOWNLISTNAME:
					col.Default = true
				case models.FLAGGEDEMAILS_WELLKNOWNLISTNAME:
					// To Do's view of the flagged messages: each task points at a message
					// whose \Flagged flag the mail migration carries. Copying them would
					// duplicate every flag as a task on the target.
					continue
				}
			}
			out = append(out, col)
		}
		next := str(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		page, err = b.WithUrl(next).Get(ctx, nil)
	}
}

// Records streams the changes of one collection since cursor:
//   - contacts: /contactFolders/{id}/contacts/delta, each contact with its photo
//     (/contacts/{id}/photo/$value, none on 404);
//   - tasks: /todo/lists/{id}/tasks/delta, each task with its checklistItems;
//   - calendars: Graph v1.0 has no whole-calendar delta, so the cursor is Bascule's own
//     (calendar.go): a compact record of every event's changeKey, compared with a cheap
//     listing; new and changed events are fetched in full, missing ones become Deletes.
//
// Payload is the JSON Graph returned, untouched (plus the parts fetched separately).
// A Checkpoint follows each page; the last is Final and carries the next cursor. An
// expired or unreadable cursor yields an error wrapping model.ErrCursorExpired first; a
// missing collection or mailbox model.ErrNotFound; 401/403 model.ErrFatal; throttling or
// 5xx after retries model.ErrRetryable. Iteration stops at the first error. Memory is
// bounded by a page (contacts, tasks) or a few events (calendars).
func (s *Source) Records(ctx context.Context, mbx model.Mailbox, col model.Collection, cursor string) iter.Seq2[extract.Change, error] {
	return func(yield func(extract.Change, error) bool) {
		switch col.Kind {
		case model.KindCalendar:
			s.calendarRecords(ctx, mbx, col, cursor, yield)
		case model.KindContacts:
			s.deltaRecords(ctx, mbx, col, cursor, yield)
		case model.KindTasks:
			s.deltaRecords(ctx, mbx, col, cursor, yield)
		default:
			yield(extract.Change{}, model.Permanent(fmt.Errorf("graph: collection %s has unknown kind %q", col.ID, col.Kind)))
		}
	}
}

var errorMapping = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// getBytes GETs rawURL through the SDK's adapter (same auth, middleware and throttle
// transport as every other call) and returns the body as it came. Errors are the SDK's
// (an *odataerrors.ODataError carrying the status): classify them.
func (s *Source) getBytes(ctx context.Context, rawURL, accept string, prefer ...string) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, model.Permanent(fmt.Errorf("bad URL %q: %w", rawURL, err))
	}
	ri := abstractions.NewRequestInformation()
	ri.Method = abstractions.GET
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", accept)
	for _, p := range prefer {
		ri.Headers.Add("Prefer", p)
	}
	res, err := s.adapter.SendPrimitive(ctx, ri, "[]byte", errorMapping)
	if err != nil {
		return nil, err
	}
	b, _ := res.([]byte)
	return b, nil
}

// withRetry calls fn again (up to 3 attempts) when it fails with a retryable error the
// transport did not already retry: a body cut short outside JSON pages (photos), a
// dropped connection. A model.Throttled is final: the transport has waited enough.
func withRetry[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	var v T
	var err error
	for attempt := 1; ; attempt++ {
		v, err = fn()
		var th *model.Throttled
		if err == nil || attempt >= 3 || !errors.Is(err, model.ErrRetryable) || errors.As(err, &th) || ctx.Err() != nil {
			return v, err
		}
		if serr := sleepCtx(ctx, time.Duration(attempt)*200*time.Millisecond); serr != nil {
			return v, err
		}
	}
}

// fetchOrdered runs fetch(i) for i in [0, n) with at most par calls in flight or waiting
// to be emitted, and emits the results in order. It stops early when emit returns false.
// Memory is bounded by par results.
func fetchOrdered[T any](ctx context.Context, n, par int, fetch func(ctx context.Context, i int) (T, error), emit func(i int, v T, err error) bool) {
	if n == 0 {
		return
	}
	type result struct {
		v   T
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, max(par, 1))
	res := make([]chan result, n)
	for i := range res {
		res[i] = make(chan result, 1)
	}
	go func() {
		for i := range n {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				v, err := fetch(ctx, i)
				res[i] <- result{v, err}
			}()
		}
	}()
	for i := range n {
		var r result
		select {
		case r = <-res[i]:
		case <-ctx.Done():
			emit(i, r.v, ctx.Err())
			return
		}
		<-slots
		if !emit(i, r.v, r.err) {
			return
		}
	}
}
