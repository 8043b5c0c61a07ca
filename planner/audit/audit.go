package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform/sieve"
)

// Defaults of Config.
const (
	// DefaultLargeThreshold is the size over which items are listed as large when the
	// target's limit is not given or is higher.
	DefaultLargeThreshold = 10 << 20
	DefaultLargestItems   = 10
	DefaultParallel       = 32
)

// Grants gives the grants an owner gives besides the source's own (Exchange CSV exports).
type Grants interface {
	Grants(owner string) []model.Grant
}

// Config configures an audit.
type Config struct {
	Source    extract.Source
	Inventory extract.Inventory
	// Settings (optional) reads rules, out-of-office and the source's own grants.
	Settings extract.SettingsSource
	// Grants (optional) adds grants from Exchange's exports.
	Grants Grants
	// Types (optional) gives mailbox types by lower-case address when the source does not
	// (EWS): Exchange's Get-Mailbox RecipientTypeDetails through TypeOf.
	Types     map[string]string
	Selection extract.Selection

	// TargetMaxMessageSize is the largest message the target accepts (0 = not checked).
	TargetMaxMessageSize int64
	// LargeThreshold: items over it are listed as large (default DefaultLargeThreshold,
	// lowered to TargetMaxMessageSize when that is smaller).
	LargeThreshold int64
	// LargestItems per mailbox (default DefaultLargestItems).
	LargestItems int
	// Parallel is the number of mailboxes audited at once (default DefaultParallel; the
	// source's throttle keeps each mailbox within Microsoft's limits).
	Parallel int
	// MailboxParallel and ItemParallel are the migration's concurrency the estimate assumes.
	MailboxParallel, ItemParallel int
	// Throughput calibrates the estimate (zero: DefaultThroughput).
	Throughput Throughput

	// Tool, SourceName and Endpoint are recorded in the report.
	Tool, SourceName, Endpoint string
	// Requests (optional) returns the number of requests sent to the source so far, per
	// mailbox id and in all.
	Requests func() (perMailbox map[string]int64, total int64)
	Logger   *slog.Logger
	// Progress (optional) is called after each mailbox is audited, from many goroutines,
	// with how many of the total are done.
	Progress func(address string, done, total int)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Run audits every selected mailbox and builds the report. A mailbox that cannot be
// audited gets its Error set and a blocking finding; the error returned is reserved for
// failures that stop the whole audit (listing mailboxes, cancellation, or a fatal error —
// refused credentials, a missing permission — on every mailbox: one mailbox refused by an
// application access policy does not stop the others).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Source == nil || cfg.Inventory == nil {
		return nil, model.Fatal(errors.New("audit: the source cannot report folder statistics"))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LargestItems <= 0 {
		cfg.LargestItems = DefaultLargestItems
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.LargeThreshold <= 0 {
		cfg.LargeThreshold = DefaultLargeThreshold
	}
	if cfg.TargetMaxMessageSize > 0 && cfg.TargetMaxMessageSize < cfg.LargeThreshold {
		cfg.LargeThreshold = cfg.TargetMaxMessageSize
	}
	if cfg.MailboxParallel <= 0 {
		cfg.MailboxParallel = 4
	}
	if cfg.ItemParallel <= 0 {
		cfg.ItemParallel = 4
	}
	if cfg.Throughput.MessagesPerSecond == 0 {
		cfg.Throughput = DefaultThroughput()
	}
	rep := &Report{Schema: SchemaVersion, Tool: cfg.Tool, Source: cfg.SourceName, Endpoint: cfg.Endpoint,
		Started: cfg.Now().UTC(),
		Options: Options{TargetMaxMessageSize: cfg.TargetMaxMessageSize, MailboxParallel: cfg.MailboxParallel,
			ItemParallel: cfg.ItemParallel, LargestItems: cfg.LargestItems, Model: cfg.Throughput}}
	mbxs, err := cfg.Source.Mailboxes(ctx, cfg.Selection)
	if err != nil {
		return nil, err
	}
	rep.Mailboxes = make([]Mailbox, len(mbxs))
	works := make([]Work, len(mbxs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fatal error
	fatals := 0
	sem := make(chan struct{}, cfg.Parallel)
	var done atomic.Int64
	for i, mbx := range mbxs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			m, w, err := auditMailbox(ctx, cfg, mbx)
			if err != nil {
				m.Error = err.Error()
				if errors.Is(err, model.ErrFatal) {
					mu.Lock()
					fatal = cmpOr(fatal, err)
					fatals++
					mu.Unlock()
				}
				cfg.Logger.Warn("audit: mailbox not fully audited", "mailbox", mbx.Address, "err", err)
			}
			rep.Mailboxes[i], works[i] = m, w
			if cfg.Progress != nil {
				cfg.Progress(mbx.Address, int(done.Add(1)), len(mbxs))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if fatal != nil && fatals == len(mbxs) {
		return nil, fatal
	}
	linkDelegations(rep.Mailboxes)
	ests := make([]Estimate, len(mbxs))
	names := make([]string, len(mbxs))
	for i := range rep.Mailboxes {
		m := &rep.Mailboxes[i]
		m.Estimate = EstimateMailbox(works[i], cfg.ItemParallel, cfg.Throughput)
		ests[i], names[i] = m.Estimate, m.Address
	}
	rep.Estimate = EstimateTenant(works, ests, names, cfg.MailboxParallel, cfg.Throughput)
	if cfg.Requests != nil {
		per, total := cfg.Requests()
		rep.Requests = total
		for i := range rep.Mailboxes {
			if n, ok := per[mbxs[i].ID]; ok {
				rep.Mailboxes[i].Requests = n
			}
		}
	}
	rep.Findings = Findings(rep, cfg.TargetMaxMessageSize)
	rep.Totals = totals(rep)
	rep.Finished = cfg.Now().UTC()
	return rep, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// auditMailbox audits one mailbox. On error the mailbox is returned as far as it got.
func auditMailbox(ctx context.Context, cfg Config, mbx model.Mailbox) (Mailbox, Work, error) {
	m := Mailbox{Address: mbx.Address, DisplayName: mbx.DisplayName, Type: mbx.Kind,
		Kinds: map[string]KindStats{}, Folders: []Folder{}, Largest: []Item{}, Rules: []Rule{},
		DelegationsOut: []Delegation{}, DelegationsIn: []Delegation{}}
	var w Work
	inv := cfg.Inventory
	// The settings (rules, out-of-office, grants) are read meanwhile.
	type settingsResult struct {
		set model.MailboxSettings
		err error
	}
	setc := make(chan settingsResult, 1)
	if cfg.Settings != nil {
		go func() {
			set, err := cfg.Settings.Settings(ctx, mbx)
			setc <- settingsResult{set, err}
		}()
	}
	info, err := inv.MailboxInfo(ctx, mbx)
	if err != nil {
		return m, w, err
	}
	if info.Type != "" {
		m.Type = info.Type
	}
	m.Archive, m.ArchiveItems, m.ArchiveBytes, m.QuotaBytes = info.Archive, info.ArchiveItems, info.ArchiveBytes, info.QuotaBytes

	stats, err := inv.FolderStats(ctx, mbx)
	if err != nil {
		return m, w, err
	}
	byID := map[string]extract.FolderStat{}
	for _, f := range stats {
		byID[f.ID] = f
		kind := string(f.Kind)
		fo := Folder{Path: f.Path, Kind: kind, Items: f.Items, Bytes: f.Bytes, Depth: len(f.Path)}
		m.Folders = append(m.Folders, fo)
		ks := m.Kinds[kind]
		ks.Items += f.Items
		ks.Bytes += f.Bytes
		ks.Folders++
		m.Kinds[kind] = ks
		m.Items += f.Items
		m.Bytes += f.Bytes
		switch f.Kind {
		case extract.FolderMail:
			m.MaxDepth = max(m.MaxDepth, len(f.Path))
			w.Messages += f.Items
			w.Bytes += f.Bytes
			w.Folders++
		case extract.FolderContacts:
			m.Contacts += f.Items
			w.Groupware += f.Items
			w.Folders++
		case extract.FolderTasks:
			m.Tasks += f.Items
			w.Groupware += f.Items
			w.Folders++
		case extract.FolderCalendar:
			w.Groupware += f.Items
			w.Folders++
		}
	}
	if err := seriesStats(ctx, inv, mbx, stats, &m); err != nil {
		return m, w, err
	}
	markNames(m.Folders)

	large, err := inv.LargeItems(ctx, mbx, cfg.LargeThreshold, max(cfg.LargestItems, 1000))
	if err != nil {
		if !errors.Is(err, model.ErrPermanent) || errors.Is(err, model.ErrNotFound) {
			return m, w, err
		}
		// The source refused the size query: the rest of the audit stands; the count of
		// items over the limit is then only a lower bound (0).
		cfg.Logger.Warn("audit: largest items not available", "mailbox", mbx.Address, "err", err)
		large = extract.LargeItems{Capped: true}
	}
	for i, it := range large.Items {
		if cfg.TargetMaxMessageSize > 0 && it.Size > cfg.TargetMaxMessageSize {
			m.OverLimit++
		}
		if i < cfg.LargestItems {
			var path []string
			if f, ok := byID[it.FolderID]; ok {
				path = f.Path
			}
			m.Largest = append(m.Largest, Item{Subject: it.Subject, Folder: path, Bytes: it.Size, Received: it.Received.UTC()})
		}
	}
	if cfg.TargetMaxMessageSize > 0 {
		switch {
		case cfg.LargeThreshold == cfg.TargetMaxMessageSize && (large.Total > 0 || !large.Capped):
			m.OverLimit = max(m.OverLimit, large.Total) // the server counted exactly those
		case large.Capped:
			m.OverLimitCapped = true
		}
	}

	if t := cfg.Types[strings.ToLower(mbx.Address)]; m.Type == "" && t != "" {
		m.Type = t
	}
	if cfg.Settings != nil {
		r := <-setc
		set, err := r.set, r.err
		if err != nil {
			return m, w, err
		}
		if m.Type == "" {
			m.Type = set.Purpose
		}
		m.Rules = classifyRules(set.Rules, stats, mbx.Address)
		if ar := set.AutoReply; ar != nil {
			m.AutoReply = ar.Status
			if strings.EqualFold(ar.Status, "scheduled") && !ar.End.IsZero() {
				end := ar.End.UTC()
				m.AutoReplyEnd = &end
			}
		}
		for _, g := range set.Grants {
			m.DelegationsOut = append(m.DelegationsOut, delegation(g))
		}
	}
	if cfg.Grants != nil {
		for _, g := range cfg.Grants.Grants(mbx.Address) {
			m.DelegationsOut = append(m.DelegationsOut, delegation(g))
		}
	}
	return m, w, nil
}

// seriesStats counts the series and exceptions of every calendar, four calendars at a time.
func seriesStats(ctx context.Context, inv extract.Inventory, mbx model.Mailbox, stats []extract.FolderStat, m *Mailbox) error {
	var cals []extract.FolderStat
	for _, f := range stats {
		if f.Kind == extract.FolderCalendar {
			cals = append(cals, f)
		}
	}
	series := make([]int64, len(cals))
	excepts := make([]int64, len(cals))
	errs := make([]error, len(cals))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, c := range cals {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			series[i], excepts[i], errs[i] = inv.SeriesStats(ctx, mbx, c)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i := range cals {
		m.Series += series[i]
		m.Exceptions += excepts[i]
	}
	return nil
}

// TypeOf maps Exchange's RecipientTypeDetails (UserMailbox, SharedMailbox, RoomMailbox,
// EquipmentMailbox, LinkedMailbox…) to the audit's types; "" when it is empty.
func TypeOf(recipientTypeDetails string) string {
	t := strings.ToLower(strings.TrimSpace(recipientTypeDetails))
	switch t {
	case "":
		return ""
	case "usermailbox":
		return "user"
	case "sharedmailbox":
		return "shared"
	case "roommailbox":
		return "room"
	case "equipmentmailbox":
		return "equipment"
	case "linkedmailbox":
		return "linked"
	}
	return strings.TrimSuffix(t, "mailbox")
}

func delegation(g model.Grant) Delegation {
	return Delegation{Owner: g.Owner, Grantee: g.Grantee, Scope: string(g.Scope), Folder: g.FolderPath, Role: g.Role, Origin: g.Origin}
}

// classifyRules runs transform/sieve over the rules, with every folder a placeholder target
// name, and says for each rule whether Sieve carries it.
func classifyRules(rules []model.Rule, stats []extract.FolderStat, address string) []Rule {
	out := []Rule{}
	if len(rules) == 0 {
		return out
	}
	folders := map[string]string{}
	for i, f := range stats {
		folders[f.ID] = fmt.Sprintf("F%d", i)
	}
	res, err := sieve.Script(rules, nil, sieve.Options{Folders: folders, Trash: "Trash", Addresses: []string{address}})
	unmapped := map[string]string{}
	for _, u := range res.Unmapped {
		unmapped[u.Rule] = u.Reason
	}
	for _, r := range rules {
		name := cmpOrStr(r.Name, r.ID)
		reason, bad := unmapped[name]
		if err != nil {
			bad, reason = true, err.Error()
		}
		out = append(out, Rule{Name: name, Enabled: r.Enabled, Sieve: !bad, Reason: reason})
	}
	return out
}

func cmpOrStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// linkDelegations fills each audited mailbox's DelegationsIn from the others' DelegationsOut.
func linkDelegations(ms []Mailbox) {
	idx := map[string]int{}
	for i, m := range ms {
		idx[strings.ToLower(m.Address)] = i
	}
	for _, m := range ms {
		for _, d := range m.DelegationsOut {
			if j, ok := idx[strings.ToLower(d.Grantee)]; ok {
				ms[j].DelegationsIn = append(ms[j].DelegationsIn, d)
			}
		}
	}
}

var sizeBuckets = []int64{0, 100e6, 1e9, 10e9, 50e9}

func totals(rep *Report) Totals {
	t := Totals{ByType: map[string]int{}, Kinds: map[string]KindStats{}, Findings: map[Severity]int{}}
	for i := range sizeBuckets {
		b := Bucket{Min: sizeBuckets[i]}
		if i+1 < len(sizeBuckets) {
			b.Max = sizeBuckets[i+1]
		}
		t.MailboxSizes = append(t.MailboxSizes, b)
	}
	for _, m := range rep.Mailboxes {
		t.Mailboxes++
		t.ByType[cmpOrStr(m.Type, "unknown")]++
		for k, ks := range m.Kinds {
			a := t.Kinds[k]
			a.Items += ks.Items
			a.Bytes += ks.Bytes
			a.Folders += ks.Folders
			t.Kinds[k] = a
		}
		t.Items += m.Items
		t.Bytes += m.Bytes
		t.Folders += m.Kinds[KindMail].Folders
		if m.Archive {
			t.Archives++
		}
		t.OverLimit += m.OverLimit
		t.Series += m.Series
		t.Exceptions += m.Exceptions
		for _, r := range m.Rules {
			t.Rules++
			if r.Sieve {
				t.RulesToSieve++
			} else {
				t.RulesManual++
			}
		}
		if m.AutoReply != "" && !strings.EqualFold(m.AutoReply, "disabled") {
			t.AutoReplyOn++
		}
		t.DelegationsIn += len(m.DelegationsIn)
		t.DelegationsOut += len(m.DelegationsOut)
		for i := len(t.MailboxSizes) - 1; i >= 0; i-- {
			if m.Bytes >= t.MailboxSizes[i].Min {
				t.MailboxSizes[i].Count++
				break
			}
		}
	}
	for _, f := range rep.Findings {
		t.Findings[f.Severity]++
	}
	for _, s := range []Severity{Info, Warning, Blocking} {
		t.Findings[s] += 0
	}
	return t
}
