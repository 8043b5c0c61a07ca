package audit

import (
	"math"
	"slices"
)

// The throughput model's calibration. Source: README "make bench" table, measured on the
// 2-core CI machine, `bascule migrate` from sim/graph (Microsoft's default limits, TLS,
// real token flow) into Dovecot on tmpfs, default --mailbox-parallel 4 and --item-parallel 4:
//
//   - 3 mailboxes, 10,000 messages, 541 MB: 14.4 s → 692 messages/s, 37.5 MB/s;
//   - groupware into Cyrus 3.6: 2,658 items in 5.9 s → 454 items/s (Radicale: 152).
//
// The rates are the machine's aggregate; one mailbox gets at most 1/3 of them (the bench ran
// three mailboxes at once and the per-mailbox concurrency limit of 4 held each).
//
// Microsoft's budget (Outlook limits on Graph, per app and mailbox): 4 concurrent requests and
// 10,000 requests per 10 minutes. Bascule's throttle transport spends the 10,000 of the first
// window at once, then keeps to 10,000 / 600 s = 16.67 requests/s.
const (
	BenchMessagesPerSecond  = 692.0
	BenchBytesPerSecond     = 37.5e6
	BenchGroupwarePerSecond = 454.0
	BenchMailboxes          = 3.0
	BenchItemParallel       = 4

	// MailboxRequestBudget and BudgetWindowSeconds are Microsoft's per-mailbox limit.
	MailboxRequestBudget = 10000
	BudgetWindowSeconds  = 600.0
	MailboxConcurrency   = 4

	// PageSize is the delta page size of the extraction (one listing request per 100 items).
	PageSize = 100

	calibration = "make bench on the 2-core CI machine (README): Graph emulator → Dovecot 692 msg/s, 37.5 MB/s; " +
		"groupware → Cyrus 454 items/s; Microsoft per-mailbox budget 10,000 requests / 10 min, 4 concurrent"
)

// DefaultThroughput is the calibration of the model.
func DefaultThroughput() Throughput {
	return Throughput{
		MessagesPerSecond:        BenchMessagesPerSecond,
		BytesPerSecond:           BenchBytesPerSecond,
		GroupwarePerSecond:       BenchGroupwarePerSecond,
		MailboxRequestsPerSecond: MailboxRequestBudget / BudgetWindowSeconds,
		MailboxConcurrency:       MailboxConcurrency,
		Source:                   calibration,
	}
}

// Work is what a mailbox's migration has to move.
type Work struct {
	Messages, Bytes int64
	Groupware       int64
	// Folders counts mail folders and collections (each costs a listing and a cursor).
	Folders int
}

// Requests is the number of source requests a first full migration of w costs at least:
// one body per message and one per groupware item (Graph: event with its exceptions,
// contact with its photo, task with its checklist), one listing page per PageSize items,
// and two per folder (create/list and the final delta page).
func (w Work) Requests() int64 {
	pages := (w.Messages + PageSize - 1) / PageSize
	gpages := (w.Groupware + PageSize - 1) / PageSize
	return w.Messages + w.Groupware + pages + gpages + 2*int64(w.Folders)
}

// EstimateMailbox is the wall time of one mailbox's migration with itemParallel items in
// flight: the slowest of its message rate, its byte rate (one mailbox gets a third of the
// machine, scaled by the item concurrency up to Microsoft's 4) and the request budget.
func EstimateMailbox(w Work, itemParallel int, t Throughput) Estimate {
	if itemParallel <= 0 {
		itemParallel = BenchItemParallel
	}
	conc := float64(min(itemParallel, t.MailboxConcurrency)) / float64(BenchItemParallel)
	msgRate := t.MessagesPerSecond / BenchMailboxes * conc
	byteRate := t.BytesPerSecond / BenchMailboxes * conc
	gwRate := t.GroupwarePerSecond / BenchMailboxes * conc
	req := w.Requests()
	items := 0.0
	if msgRate > 0 {
		items = float64(w.Messages) / msgRate
	}
	bytes := 0.0
	if byteRate > 0 {
		bytes = float64(w.Bytes) / byteRate
	}
	gw := 0.0
	if gwRate > 0 {
		gw = float64(w.Groupware) / gwRate
	}
	budget := 0.0
	if over := req - MailboxRequestBudget; over > 0 && t.MailboxRequestsPerSecond > 0 {
		budget = float64(over) / t.MailboxRequestsPerSecond
	}
	e := Estimate{Requests: req}
	switch m := math.Max(items, bytes); {
	case budget > m+gw:
		e.Seconds, e.Bound = budget, "request-budget"
	case bytes > items:
		e.Seconds, e.Bound = bytes+gw, "bytes"
	default:
		e.Seconds, e.Bound = items+gw, "items"
	}
	return e
}

// EstimateTenant spreads the mailboxes over mailboxParallel lanes (longest first, each to
// the lane that frees first) and bounds the result by the machine's aggregate rates.
func EstimateTenant(works []Work, ests []Estimate, names []string, mailboxParallel int, t Throughput) TenantEstimate {
	if mailboxParallel <= 0 {
		mailboxParallel = 4
	}
	var te TenantEstimate
	idx := make([]int, len(ests))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case ests[a].Seconds > ests[b].Seconds:
			return -1
		case ests[a].Seconds < ests[b].Seconds:
			return 1
		}
		return 0
	})
	if len(idx) > 0 {
		te.LongestMailbox, te.LongestSeconds = names[idx[0]], ests[idx[0]].Seconds
	}
	lanes := make([]float64, mailboxParallel)
	for _, i := range idx {
		j := 0
		for k := range lanes {
			if lanes[k] < lanes[j] {
				j = k
			}
		}
		lanes[j] += ests[i].Seconds
	}
	makespan := slices.Max(lanes)
	var msgs, bytes, gw int64
	for _, w := range works {
		msgs += w.Messages
		bytes += w.Bytes
		gw += w.Groupware
	}
	machine := 0.0
	if t.MessagesPerSecond > 0 && t.BytesPerSecond > 0 {
		machine = math.Max(float64(msgs)/t.MessagesPerSecond, float64(bytes)/t.BytesPerSecond)
	}
	if t.GroupwarePerSecond > 0 {
		machine += float64(gw) / t.GroupwarePerSecond
	}
	if machine > makespan {
		te.Seconds, te.Bound = machine, "machine"
	} else {
		te.Seconds, te.Bound = makespan, "mailbox"
	}
	return te
}
