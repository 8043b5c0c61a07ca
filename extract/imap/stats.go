package imap

import "sync/atomic"

// Stats counts what the source asked the server so far.
type Stats struct {
	Logins      int64 // successful logins (connections made)
	Selects     int64 // EXAMINE commands
	Lists       int64 // LIST commands
	Statuses    int64 // STATUS commands
	Searches    int64 // UID SEARCH commands
	MetaFetches int64 // UID FETCH of metadata (flags, dates, sizes), each for a batch of UIDs
	BodyFetches int64 // UID FETCH BODY.PEEK[] commands
	BodyBytes   int64 // bytes of bodies read to the end
}

type statsCounters struct {
	logins, selects, lists, statuses, searches, metaFetches, bodyFetches, bodyBytes atomic.Int64
}

// Stats returns the counters so far.
func (s *Source) Stats() Stats {
	c := &s.stats
	return Stats{Logins: c.logins.Load(), Selects: c.selects.Load(), Lists: c.lists.Load(), Statuses: c.statuses.Load(),
		Searches: c.searches.Load(), MetaFetches: c.metaFetches.Load(), BodyFetches: c.bodyFetches.Load(), BodyBytes: c.bodyBytes.Load()}
}
