package reports

import (
	"fmt"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

// BenchmarkRunReport builds and writes (HTML, CSV, JSON) the run report of 1,000 mailboxes
// of 1,000 items each, one mailbox's items at a time as BuildRun does.
func BenchmarkRunReport(b *testing.B) {
	t0 := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	items := make([]state.Item, 1000)
	for b.Loop() {
		bl := newRunBuilder([]state.Run{{ID: 1, Started: t0, Finished: t0.Add(10 * time.Hour), Status: "done"}}, t0.Add(11*time.Hour))
		for m := 0; m < 1000; m++ {
			mb := state.Mailbox{ID: fmt.Sprint(m), Address: fmt.Sprintf("user%04d@example.org", m), Target: fmt.Sprint(m), Status: "done"}
			for i := range items {
				items[i] = state.Item{ID: fmt.Sprint(i), FolderID: "f", Status: state.StatusDone, Size: int64(1000 + i*97),
					Updated: t0.Add(time.Duration(m*1000+i) * 36 * time.Millisecond)}
			}
			bl.add(mb, []state.Folder{{ID: "f", Path: "Inbox"}}, items)
		}
		rep := bl.finish()
		if _, err := WriteRun(b.TempDir(), rep, Options{Lang: French, Generated: t0}); err != nil {
			b.Fatal(err)
		}
	}
}
