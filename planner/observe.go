package planner

import "github.com/bascule-migrate/bascule/model"

// Observer is an optional interface of Progress, for metrics that must agree with the run's
// Result. When Options.Progress implements it, every mailbox's run, as it starts, hands the
// Observer a function that reads that mailbox's live counters: the totals (mail and groupware)
// and the groupware part per kind — the numbers its MailboxResult will hold. The function is
// safe to call from any goroutine at any time, also after the mailbox's MailboxDone (it then
// returns the final counters).
type Observer interface {
	ObserveMailbox(address string, counters func() (total Counters, kinds map[model.CollectionKind]Counters))
}

// observe hands the mailbox's counters to the Progress when it is an Observer.
func (m *mailboxRun) observe() {
	if obs, ok := m.r.opts.Progress.(Observer); ok {
		obs.ObserveMailbox(m.mbx.Address, m.counters)
	}
}

// counters reads the mailbox's live counters.
func (m *mailboxRun) counters() (Counters, map[model.CollectionKind]Counters) {
	var total Counters
	total.add(&m.c)
	m.mu.Lock()
	kinds := make([]model.CollectionKind, 0, len(m.kinds))
	cs := make([]*Counters, 0, len(m.kinds))
	for k, c := range m.kinds {
		kinds = append(kinds, k)
		cs = append(cs, c)
	}
	m.mu.Unlock()
	out := make(map[model.CollectionKind]Counters, len(kinds))
	for i, k := range kinds {
		var one Counters
		one.add(cs[i])
		out[k] = one
	}
	return total, out
}
