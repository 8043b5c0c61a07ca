package reports

import (
	"fmt"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// fixedNow is the generation time of every golden report.
var fixedNow = time.Date(2026, 11, 24, 21, 30, 0, 0, time.UTC)

// hostile is a name crafted to break out of HTML, SVG, CSV and spreadsheets.
const hostile = `=HYPERLINK("x")<img src=x onerror="console.error('xss')"><script>console.error('xss')</script>&amp;"';,`

// runFixture builds a run report from a deterministic store content: three mailboxes, one
// with a hostile folder name, failures, groupware, two runs.
func runFixture() *RunReport {
	t0 := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	runs := []state.Run{
		{ID: 2, Started: t0.Add(2 * time.Hour), Finished: t0.Add(2*time.Hour + 5*time.Minute), Command: "migrate", Status: "done", Written: 3, Skipped: 400},
		{ID: 1, Started: t0, Finished: t0.Add(50 * time.Minute), Command: "migrate", Status: "failed", Written: 397, Failed: 3, Bytes: 123456789},
	}
	b := newRunBuilder(runs, fixedNow)
	sizes := []int64{512, 4 << 10, 20 << 10, 150 << 10, 3 << 20, 12 << 20, 30 << 20}
	for mi, addr := range []string{"alice@example.fr", "bob@example.fr", "zoé.lefèvre@example.fr"} {
		m := state.Mailbox{ID: fmt.Sprintf("mbx-%d", mi), Address: addr, Target: "u" + fmt.Sprint(mi), Status: "done", Updated: t0.Add(time.Hour)}
		folders := []state.Folder{
			{Mailbox: m.ID, ID: "f-inbox", Path: "Inbox", Target: "INBOX"},
			{Mailbox: m.ID, ID: "f-proj", Path: "Projets/Été 2026", Target: "Projets/&AMk-t&AOk- 2026"},
			{Mailbox: m.ID, ID: "f-cal", Path: "Calendar", Target: "/dav/calendars/u/default/", Kind: model.KindCalendar},
		}
		if mi == 1 {
			folders[1].Path = hostile
			m.Status = "failed"
			m.Error = "target refused login: " + hostile
		}
		var items []state.Item
		n := 100 + 50*mi
		for i := 0; i < n; i++ {
			it := state.Item{Mailbox: m.ID, ID: fmt.Sprintf("%s-it-%03d", m.ID, i), FolderID: "f-inbox", Status: state.StatusDone,
				Size: sizes[(i*i+mi)%len(sizes)], Updated: t0.Add(time.Duration(i*(15+5*mi)+(i%7)*40+mi*90) * time.Second)}
			if i%5 == 1 {
				it.FolderID = "f-proj"
			}
			if i%9 == 0 {
				it.FolderID, it.Kind = "f-cal", model.KindCalendar
			}
			items = append(items, it)
		}
		if mi == 1 {
			items[1].Status, items[1].LastError, items[1].Attempts = state.StatusFailed, "APPEND: [LIMIT] message too large; "+hostile, 3
			items[4].Status, items[4].LastError, items[4].Attempts = state.StatusFailed, "NO [OVERQUOTA] Quota exceeded", 1
			items[5].Status = state.StatusInFlight
		}
		if mi == 2 {
			for i := 0; i < 3; i++ {
				items = append(items, state.Item{Mailbox: m.ID, ID: fmt.Sprintf("late-%d", i), FolderID: "f-inbox", Status: state.StatusDone,
					Size: 2048, Updated: t0.Add(2*time.Hour + time.Duration(i)*time.Minute)})
			}
			items = append(items, state.Item{Mailbox: m.ID, ID: "gone", FolderID: "f-inbox", Status: state.StatusDeleted})
		}
		b.add(m, folders, items)
	}
	return b.finish()
}
