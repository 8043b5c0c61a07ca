package graph

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// Inventory (extract.Inventory) over Graph v1.0. Requests per mailbox:
//
//   - MailboxInfo: 1 (mailboxSettings?$select=userPurpose), plus once per Source the
//     tenant-wide usage report (/reports/getMailboxUsageDetail(period='D7'), Reports.Read.All:
//     archive and quota). Without that permission the archive stays unknown (Known false).
//   - FolderStats: 1 + the number of mail folders that have children (mailFolders and
//     childFolders, $top=250, each folder's PR_MESSAGE_SIZE_EXTENDED 'Long 0x0E08' expanded),
//     plus the collection listing (Collections: calendars 1, contact folders 1 + one per
//     contact folder, To Do lists 1), plus 1 per calendar and contact folder
//     ($count=true&$top=1) and ⌈T/1000⌉ per To Do list of T tasks (ids listed: To Do
//     documents no $count).
//   - LargeItems: at most largePages pages of /messages filtered on PidTagMessageSize
//     ('Integer 0x0E08') greater than the threshold, $top=largePageSize, $count=true.
//   - SeriesStats: ceil(series/100) per calendar (events?$filter=type eq 'seriesMaster'
//     with exceptionOccurrences expanded to their ids).

var _ extract.Inventory = (*Source)(nil)

const (
	largePageSize = 250
	largePages    = 2
	permReports   = "Reports.Read.All"
)

type extProp struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

func propInt(props []extProp, tag string) (int64, bool) {
	for _, p := range props {
		// Graph answers ids in its own spelling ("Long 0xe08"): compare the tag only.
		_, t, _ := strings.Cut(p.ID, " ")
		if n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(t), "0x"), 16, 32); err == nil && fmt.Sprintf("0x%04x", n) == tag {
			v, err := strconv.ParseInt(p.Value, 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// MailboxInfo returns the mailbox's purpose and, from the usage report, its archive and
// quota.
func (s *Source) MailboxInfo(ctx context.Context, mbx model.Mailbox) (extract.MailboxInfo, error) {
	var info extract.MailboxInfo
	var ms struct {
		UserPurpose string `json:"userPurpose"`
	}
	if err := s.getJSON(ctx, s.rawURL("users", mbx.ID, "mailboxSettings")+"?$select=userPurpose",
		"reading the purpose of "+mbx.Address, permSettings, &ms); err != nil {
		return info, err
	}
	info.Type = ms.UserPurpose
	rows, asOf, err := s.usageReport(ctx)
	if err != nil {
		if errors.Is(err, model.ErrFatal) {
			// No Reports.Read.All: the rest of the audit stands without archive facts.
			s.log.Warn("graph: the mailbox usage report is not readable; archive and quota stay unknown", "err", err)
			return info, nil
		}
		return info, err
	}
	for _, key := range []string{mbx.Address, mbx.ID} {
		if r, ok := rows[strings.ToLower(key)]; ok {
			info.Known, info.AsOf = true, asOf
			info.Archive = r.archive
			info.QuotaBytes, info.UsedBytes, info.UsedItems = r.quota, r.used, r.items
			break
		}
	}
	return info, nil
}

type usageRow struct {
	items, used, quota int64
	archive            bool
}

type usageCache struct {
	once sync.Once
	rows map[string]usageRow
	asOf time.Time
	err  error
}

var usageCaches sync.Map // *Source → *usageCache

// usageReport reads getMailboxUsageDetail once per Source: 302 to a preauthenticated CSV.
func (s *Source) usageReport(ctx context.Context) (map[string]usageRow, time.Time, error) {
	v, _ := usageCaches.LoadOrStore(s, &usageCache{})
	c := v.(*usageCache)
	c.once.Do(func() { c.rows, c.asOf, c.err = s.fetchUsageReport(ctx) })
	return c.rows, c.asOf, c.err
}

func (s *Source) fetchUsageReport(ctx context.Context) (map[string]usageRow, time.Time, error) {
	what := "reading the mailbox usage report"
	req, err := s.rawGet(ctx, s.endpoint+"/reports/getMailboxUsageDetail(period='D7')")
	if err != nil {
		return nil, time.Time{}, err
	}
	resp, err := s.raw.Do(req)
	if err != nil {
		return nil, time.Time{}, classify(err, what, permReports)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusTemporaryRedirect {
		// A preauthenticated download URL: fetched without the token.
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || loc.Host == "" {
			return nil, time.Time{}, model.Permanent(fmt.Errorf("graph: %s: bad download location", what))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		dl, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		if err != nil {
			return nil, time.Time{}, model.Permanent(fmt.Errorf("graph: %s: %w", what, err))
		}
		if resp, err = s.raw.Do(dl); err != nil {
			return nil, time.Time{}, classify(err, what, permReports)
		}
		defer resp.Body.Close()
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		code, message := parseErrorBody(body)
		ra, _ := parseRetryAfter(resp.Header.Get("Retry-After"), timeNow())
		return nil, time.Time{}, classifyStatus(resp.StatusCode, code, message, ra, what, permReports)
	}
	return parseUsageReport(io.LimitReader(resp.Body, 1<<30))
}

// parseUsageReport reads the CSV of getMailboxUsageDetail by its documented column names.
func parseUsageReport(r io.Reader) (map[string]usageRow, time.Time, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, time.Time{}, model.Permanent(fmt.Errorf("graph: mailbox usage report: %w", err))
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	upn, ok := col["User Principal Name"]
	if !ok {
		return nil, time.Time{}, model.Permanent(errors.New("graph: mailbox usage report: no User Principal Name column"))
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	num := func(rec []string, name string) int64 {
		n, _ := strconv.ParseInt(get(rec, name), 10, 64)
		return n
	}
	out := map[string]usageRow{}
	var asOf time.Time
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, time.Time{}, model.Permanent(fmt.Errorf("graph: mailbox usage report: %w", err))
		}
		if upn >= len(rec) || strings.EqualFold(get(rec, "Is Deleted"), "true") {
			continue
		}
		if d, err := time.Parse(time.DateOnly, get(rec, "Report Refresh Date")); err == nil {
			asOf = d
		}
		out[strings.ToLower(strings.TrimSpace(rec[upn]))] = usageRow{
			items: num(rec, "Item Count"), used: num(rec, "Storage Used (Byte)"),
			quota:   num(rec, "Prohibit Send/Receive Quota (Byte)"),
			archive: strings.EqualFold(get(rec, "Has Archive"), "true"),
		}
	}
	return out, asOf, nil
}

type folderStatJSON struct {
	ID       string    `json:"id"`
	Name     string    `json:"displayName"`
	Parent   string    `json:"parentFolderId"`
	Children int       `json:"childFolderCount"`
	Total    int64     `json:"totalItemCount"`
	Props    []extProp `json:"singleValueExtendedProperties"`
}

var folderStatQuery = "?" + odataQuery("$select", "id,displayName,parentFolderId,childFolderCount,totalItemCount",
	"$expand", "singleValueExtendedProperties($filter=id eq 'Long 0x0E08')", "$top", "250")

// odataQuery encodes name/value pairs in order, spaces as %20 (not '+'), "$" kept.
func odataQuery(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(kv[i+1]), "+", "%20"))
	}
	return b.String()
}

// FolderStats lists the mail folders with their counts and sizes, then the mailbox's own
// calendars, contact folders and To Do lists with their counts (no sizes: Graph reports
// none for them).
func (s *Source) FolderStats(ctx context.Context, mbx model.Mailbox) ([]extract.FolderStat, error) {
	what := "reading folder statistics of " + mbx.Address
	var out []extract.FolderStat
	list := func(link, parent string, parentPath []string) error {
		for link != "" {
			var p struct {
				Value []folderStatJSON `json:"value"`
				Next  string           `json:"@odata.nextLink"`
			}
			if err := s.getJSON(ctx, link, what, permMail, &p); err != nil {
				return err
			}
			for _, f := range p.Value {
				size, ok := propInt(f.Props, "0x0e08")
				out = append(out, extract.FolderStat{ID: f.ID, ParentID: parent,
					Path: append(slices.Clone(parentPath), f.Name), Kind: extract.FolderMail,
					Items: f.Total, Bytes: size, HasBytes: ok, Children: f.Children})
			}
			link = p.Next
		}
		return nil
	}
	if err := list(s.rawURL("users", mbx.ID, "mailFolders")+folderStatQuery, "", nil); err != nil {
		return nil, err
	}
	for i := 0; i < len(out); i++ {
		if out[i].Children == 0 {
			continue
		}
		f := out[i]
		if err := list(s.rawURL("users", mbx.ID, "mailFolders", f.ID, "childFolders")+folderStatQuery, f.ID, f.Path); err != nil {
			return nil, err
		}
	}

	cols, err := s.Collections(ctx, mbx, nil)
	if err != nil {
		return nil, err
	}
	// One count per collection, four at a time (Microsoft's per-mailbox concurrency).
	var own []model.Collection
	for _, c := range cols {
		if c.Owner == "" && (c.Kind == model.KindCalendar || c.Kind == model.KindContacts || c.Kind == model.KindTasks) {
			own = append(own, c) // others' collections shared to this one are audited with their owner
		}
	}
	counts := make([]int64, len(own))
	errs := make([]error, len(own))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, c := range own {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			counts[i], errs[i] = s.countCollection(ctx, mbx, c)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, c := range own {
		out = append(out, extract.FolderStat{ID: c.ID, Path: []string{c.Name}, Kind: extract.FolderKind(c.Kind), Items: counts[i]})
	}
	return out, nil
}

// countCollection asks the item count of one collection ($count=true&$top=1), or counts its
// ids when the answer has no @odata.count (and for To Do lists, which document none).
func (s *Source) countCollection(ctx context.Context, mbx model.Mailbox, c model.Collection) (int64, error) {
	var link, perm string
	switch c.Kind {
	case model.KindCalendar:
		link, perm = s.rawURL("users", mbx.ID, "calendars", c.ID, "events"), permCalendars
	case model.KindContacts:
		link, perm = s.rawURL("users", mbx.ID, "contactFolders", c.ID, "contacts"), permContacts
	default:
		link, perm = s.rawURL("users", mbx.ID, "todo", "lists", c.ID, "tasks"), permTasks
	}
	what := "counting " + string(c.Kind) + " " + c.Name + " of " + mbx.Address
	if c.Kind != model.KindTasks { // To Do documents no $count: its ids are counted below
		var p struct {
			Count *int64 `json:"@odata.count"`
		}
		if err := s.getJSON(ctx, link+"?"+odataQuery("$count", "true", "$top", "1", "$select", "id"), what, perm, &p); err != nil {
			return 0, err
		}
		if p.Count != nil {
			return *p.Count, nil
		}
	}
	// No @odata.count: count the ids, a page of up to 1,000 at a time.
	var n int64
	for next := link + "?" + odataQuery("$select", "id", "$top", "1000"); next != ""; {
		var page struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := s.getJSON(ctx, next, what, perm, &page); err != nil {
			return 0, err
		}
		n += int64(len(page.Value))
		next = page.Next
	}
	return n, nil
}

// LargeItems lists the messages whose PidTagMessageSize is over minSize: at most largePages
// pages of largePageSize; Total is Graph's @odata.count.
func (s *Source) LargeItems(ctx context.Context, mbx model.Mailbox, minSize int64, limit int) (extract.LargeItems, error) {
	var res extract.LargeItems
	what := "finding large messages of " + mbx.Address
	minSize = min(max(minSize, 0), 1<<31-1)
	link := s.rawURL("users", mbx.ID, "messages") + "?" + odataQuery(
		"$filter", fmt.Sprintf("singleValueExtendedProperties/any(ep: ep/id eq 'Integer 0x0E08' and cast(ep/value, Edm.Int32) gt %d)", minSize),
		"$select", "subject,parentFolderId,receivedDateTime",
		"$expand", "singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')",
		"$count", "true", "$top", strconv.Itoa(largePageSize))
	for page := 0; link != ""; page++ {
		if page == largePages {
			res.Capped = true
			break
		}
		var p struct {
			Count *int64 `json:"@odata.count"`
			Value []struct {
				ID       string    `json:"id"`
				Subject  string    `json:"subject"`
				Folder   string    `json:"parentFolderId"`
				Received time.Time `json:"receivedDateTime"`
				Props    []extProp `json:"singleValueExtendedProperties"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := s.getJSON(ctx, link, what, permMail, &p); err != nil {
			return res, err
		}
		if p.Count != nil {
			res.Total = *p.Count
		}
		for _, m := range p.Value {
			size, _ := propInt(m.Props, "0x0e08")
			res.Items = append(res.Items, extract.LargeItem{ID: m.ID, FolderID: m.Folder, Subject: m.Subject, Size: size, Received: m.Received})
		}
		link = p.Next
	}
	if n := int64(len(res.Items)); res.Total < n {
		res.Total = n
	}
	slices.SortStableFunc(res.Items, func(a, b extract.LargeItem) int {
		if a.Size != b.Size {
			if a.Size > b.Size {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if limit >= 0 && len(res.Items) > limit {
		res.Items = res.Items[:limit]
	}
	return res, nil
}

// SeriesStats counts the series masters of a calendar and their exceptions: the masters
// alone ($filter=type eq 'seriesMaster'), or, if Graph refuses that filter, every event's
// type (100 per page).
func (s *Source) SeriesStats(ctx context.Context, mbx model.Mailbox, cal extract.FolderStat) (series, exceptions int64, err error) {
	base := s.rawURL("users", mbx.ID, "calendars", cal.ID, "events") + "?"
	series, exceptions, err = s.countSeries(ctx, mbx, base+odataQuery(
		"$filter", "type eq 'seriesMaster'", "$select", "id,type", "$expand", "exceptionOccurrences($select=id)", "$top", "100"))
	if err != nil && errors.Is(err, model.ErrPermanent) && !errors.Is(err, model.ErrNotFound) {
		s.log.Warn("graph: events filtered by type refused; counting series over every event", "mailbox", mbx.Address, "err", err)
		return s.countSeries(ctx, mbx, base+odataQuery("$select", "id,type", "$expand", "exceptionOccurrences($select=id)", "$top", "100"))
	}
	return series, exceptions, err
}

func (s *Source) countSeries(ctx context.Context, mbx model.Mailbox, link string) (series, exceptions int64, err error) {
	what := "counting recurring series of " + mbx.Address
	for link != "" {
		var p struct {
			Value []struct {
				ID         string `json:"id"`
				Type       string `json:"type"`
				Exceptions []struct {
					ID string `json:"id"`
				} `json:"exceptionOccurrences"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		if err := s.getJSON(ctx, link, what, permCalendars, &p); err != nil {
			return 0, 0, err
		}
		for _, e := range p.Value {
			if e.Type != "" && e.Type != "seriesMaster" {
				continue
			}
			series++
			exceptions += int64(len(e.Exceptions))
		}
		link = p.Next
	}
	return series, exceptions, nil
}
