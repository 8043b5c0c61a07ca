package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform/tz"
)

var _ extract.SettingsSource = (*Source)(nil)

// OriginCalendarPermissions is the Origin of the grants read from Graph.
const OriginCalendarPermissions = "graph calendarPermissions"

// permRules is the application permission of GET …/messageRules: Microsoft documents
// MailboxSettings.Read for it, not Mail.Read.
const permRules = permSettings

// Settings reads what mbx carries besides its items:
//   - GET /users/{id}/mailboxSettings: userPurpose, timeZone, language.locale and
//     automaticRepliesSetting (its scheduled bounds read in the zone Graph names, a
//     Windows id or an IANA name);
//   - GET /users/{id}/calendars, then …/calendars/{id}/calendarPermissions for every
//     calendar the mailbox owns (not those shared with it): one ScopeCalendar grant per
//     entry, Role as Graph names it, the "My Organization" entry as model.GranteeDefault,
//     the owner's own entry left out;
//   - GET /users/{id}/mailFolders/inbox/messageRules: the rules, Payload the rule's JSON
//     as Graph returned it, ordered by sequence.
//
// A mailbox that does not exist returns an error wrapping model.ErrNotFound; an inbox
// without rules (some shared mailboxes answer 404) gives no rules. 401/403 return
// model.ErrFatal naming the missing application permission (MailboxSettings.Read for
// settings and rules, Calendars.Read for calendar permissions); throttling or 5xx after
// retries (or a body that still does not parse) model.ErrRetryable.
func (s *Source) Settings(ctx context.Context, mbx model.Mailbox) (model.MailboxSettings, error) {
	var out model.MailboxSettings
	if err := s.mailboxSettings(ctx, mbx, &out); err != nil {
		return model.MailboxSettings{}, err
	}
	grants, err := s.calendarGrants(ctx, mbx)
	if err != nil {
		return model.MailboxSettings{}, err
	}
	out.Grants = grants
	rules, err := s.inboxRules(ctx, mbx)
	if err != nil {
		return model.MailboxSettings{}, err
	}
	out.Rules = rules
	return out, nil
}

// getJSON GETs rawURL and decodes its body into v, asking again when the body does not
// parse (a body cut short is the usual cause).
func (s *Source) getJSON(ctx context.Context, rawURL, what, perm string, v any) error {
	_, err := withRetry(ctx, func() (struct{}, error) {
		b, err := s.getBytes(ctx, rawURL, "application/json")
		if err != nil {
			return struct{}{}, classify(err, what, perm)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return struct{}{}, model.Retryable(fmt.Errorf("graph: %s: malformed JSON: %w", what, err))
		}
		return struct{}{}, nil
	})
	return err
}

type dateTimeTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type mailboxSettingsJSON struct {
	UserPurpose string `json:"userPurpose"`
	TimeZone    string `json:"timeZone"`
	Language    *struct {
		Locale string `json:"locale"`
	} `json:"language"`
	AutomaticReplies *struct {
		Status           string            `json:"status"`
		ExternalAudience string            `json:"externalAudience"`
		Start            *dateTimeTimeZone `json:"scheduledStartDateTime"`
		End              *dateTimeTimeZone `json:"scheduledEndDateTime"`
		InternalReply    string            `json:"internalReplyMessage"`
		ExternalReply    string            `json:"externalReplyMessage"`
	} `json:"automaticRepliesSetting"`
}

func (s *Source) mailboxSettings(ctx context.Context, mbx model.Mailbox, out *model.MailboxSettings) error {
	what := "reading mailboxSettings of " + mbx.Address
	var ms mailboxSettingsJSON
	if err := s.getJSON(ctx, s.rawURL("users", mbx.ID, "mailboxSettings"), what, permSettings, &ms); err != nil {
		return err
	}
	out.Purpose, out.TimeZone = ms.UserPurpose, ms.TimeZone
	if ms.Language != nil {
		out.Language = ms.Language.Locale
	}
	if ar := ms.AutomaticReplies; ar != nil {
		r := &model.AutoReply{Status: ar.Status, ExternalAudience: ar.ExternalAudience,
			InternalReply: ar.InternalReply, ExternalReply: ar.ExternalReply}
		// The bounds only mean something for a scheduled reply; Graph keeps stale ones.
		if strings.EqualFold(ar.Status, "scheduled") {
			var err error
			if r.Start, err = parseDateTimeTZ(ar.Start, ms.TimeZone); err != nil {
				return model.Permanent(fmt.Errorf("graph: %s: automaticRepliesSetting.scheduledStartDateTime: %w", what, err))
			}
			if r.End, err = parseDateTimeTZ(ar.End, ms.TimeZone); err != nil {
				return model.Permanent(fmt.Errorf("graph: %s: automaticRepliesSetting.scheduledEndDateTime: %w", what, err))
			}
		}
		out.AutoReply = r
	}
	return nil
}

// parseDateTimeTZ reads a Graph dateTimeTimeZone: a local time without offset
// ("2024-07-01T08:00:00.0000000") in a zone named by a Windows id or an IANA name. A zone
// Bascule does not know ("tzone://Microsoft/Custom") falls back to the mailbox's own
// zone, then UTC.
func parseDateTimeTZ(d *dateTimeTimeZone, mailboxZone string) (time.Time, error) {
	if d == nil || strings.TrimSpace(d.DateTime) == "" {
		return time.Time{}, errors.New("missing")
	}
	loc, ok := tz.Location(d.TimeZone)
	if !ok {
		if loc, ok = tz.Location(mailboxZone); !ok {
			loc = time.UTC
		}
	}
	v := strings.TrimSpace(d.DateTime)
	// An offset or a Z is not what Graph sends here, but it is unambiguous when present.
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad dateTime %q", v)
	}
	return t, nil
}

type calendarJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefaultCalendar"`
	Owner     *struct {
		Address string `json:"address"`
	} `json:"owner"`
}

type calendarPermissionJSON struct {
	ID           string `json:"id"`
	Role         string `json:"role"`
	IsRemovable  *bool  `json:"isRemovable"`
	EmailAddress *struct {
		Name    string `json:"name"`
		Address string `json:"address"`
	} `json:"emailAddress"`
}

// ownedCalendars lists the calendars mbx owns, and the addresses its owner shows (the
// mailbox's, and the one its default calendar names, which may be the primary SMTP address
// where mbx.Address is the UPN).
func (s *Source) ownedCalendars(ctx context.Context, mbx model.Mailbox) ([]calendarJSON, []string, error) {
	what := "listing calendars of " + mbx.Address
	link := s.rawURL("users", mbx.ID, "calendars") + "?$select=id,name,isDefaultCalendar,owner&$top=250"
	var all []calendarJSON
	for link != "" {
		var p struct {
			Value []calendarJSON `json:"value"`
			Next  string         `json:"@odata.nextLink"`
		}
		if err := s.getJSON(ctx, link, what, permCalendars, &p); err != nil {
			return nil, nil, err
		}
		all = append(all, p.Value...)
		link = p.Next
	}
	own := []string{strings.ToLower(mbx.Address)}
	for _, c := range all {
		if c.IsDefault && c.Owner != nil && c.Owner.Address != "" {
			own = append(own, strings.ToLower(c.Owner.Address))
		}
	}
	var out []calendarJSON
	for _, c := range all {
		if c.ID == "" {
			continue
		}
		if c.IsDefault || c.Owner == nil || c.Owner.Address == "" || slices.Contains(own, strings.ToLower(c.Owner.Address)) {
			out = append(out, c)
		}
	}
	return out, own, nil
}

// calendarGrants reads the calendarPermissions of every calendar mbx owns, a few calendars
// at a time (the transport holds the mailbox to its concurrency limit anyway).
func (s *Source) calendarGrants(ctx context.Context, mbx model.Mailbox) ([]model.Grant, error) {
	cals, own, err := s.ownedCalendars(ctx, mbx)
	if err != nil {
		return nil, err
	}
	var out []model.Grant
	var firstErr error
	fetchOrdered(ctx, len(cals), fetchParallel, func(ctx context.Context, i int) ([]calendarPermissionJSON, error) {
		return s.calendarPermissions(ctx, mbx, cals[i])
	}, func(i int, perms []calendarPermissionJSON, err error) bool {
		if err != nil {
			firstErr = err
			return false
		}
		for _, p := range perms {
			g := model.Grant{Owner: mbx.Address, Scope: model.ScopeCalendar, Role: p.Role,
				FolderID: cals[i].ID, FolderPath: cals[i].Name, Origin: OriginCalendarPermissions}
			addr := ""
			if p.EmailAddress != nil {
				addr = strings.TrimSpace(p.EmailAddress.Address)
			}
			switch {
			case addr == "":
				// Graph: "For the 'My Organization' share recipient, the address property
				// is null."
				g.Grantee = model.GranteeDefault
			case slices.Contains(own, strings.ToLower(addr)):
				continue // the owner's own entry
			default:
				g.Grantee = addr
			}
			out = append(out, g)
		}
		return true
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func (s *Source) calendarPermissions(ctx context.Context, mbx model.Mailbox, cal calendarJSON) ([]calendarPermissionJSON, error) {
	what := fmt.Sprintf("reading calendarPermissions of calendar %q of %s", cal.Name, mbx.Address)
	link := s.rawURL("users", mbx.ID, "calendars", cal.ID, "calendarPermissions")
	var out []calendarPermissionJSON
	for link != "" {
		var p struct {
			Value []calendarPermissionJSON `json:"value"`
			Next  string                   `json:"@odata.nextLink"`
		}
		if err := s.getJSON(ctx, link, what, permCalendars, &p); err != nil {
			if errors.Is(err, model.ErrNotFound) && len(out) == 0 {
				// The calendar went away between the two requests: nothing to share.
				return nil, nil
			}
			return nil, err
		}
		out = append(out, p.Value...)
		link = p.Next
	}
	return out, nil
}

// ruleHead is what Bascule reads of a messageRule; Payload keeps all of it.
type ruleHead struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Sequence    int    `json:"sequence"`
	IsEnabled   *bool  `json:"isEnabled"`
}

func (s *Source) inboxRules(ctx context.Context, mbx model.Mailbox) ([]model.Rule, error) {
	what := "listing inbox rules of " + mbx.Address
	link := s.rawURL("users", mbx.ID, "mailFolders", "inbox", "messageRules")
	var out []model.Rule
	for link != "" {
		var p struct {
			Value []json.RawMessage `json:"value"`
			Next  string            `json:"@odata.nextLink"`
		}
		if err := s.getJSON(ctx, link, what, permRules, &p); err != nil {
			if errors.Is(err, model.ErrNotFound) && len(out) == 0 {
				// Some shared mailboxes have no rules folder at all.
				return nil, nil
			}
			return nil, err
		}
		for _, raw := range p.Value {
			var h ruleHead
			if err := json.Unmarshal(raw, &h); err != nil {
				return nil, model.Permanent(fmt.Errorf("graph: %s: a rule that is not a JSON object: %w", what, err))
			}
			r := model.Rule{ID: h.ID, Name: h.DisplayName, Sequence: h.Sequence, Enabled: h.IsEnabled == nil || *h.IsEnabled,
				Payload: append([]byte(nil), raw...)}
			out = append(out, r)
		}
		link = p.Next
	}
	slices.SortStableFunc(out, func(a, b model.Rule) int { return a.Sequence - b.Sequence })
	return out, nil
}
