package reports

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/state/sqlite"
)

// TestBuildRunFromStore fills a real SQLite state store and checks that the run report
// agrees with the store's own Counts, lists every failure with its reason and folder path,
// and puts every item done into the throughput of the run that wrote it.
func TestBuildRunFromStore(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runID, err := st.BeginRun(ctx, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	var wantFailed []string
	for m := 0; m < 4; m++ {
		mb := state.Mailbox{ID: fmt.Sprintf("m%d", m), Address: fmt.Sprintf("user%d@example.org", m), Target: fmt.Sprintf("user%d", m), Status: "done"}
		if m == 3 {
			mb.Status, mb.Error = "failed", "login refused by the target"
		}
		if err := st.PutMailbox(ctx, mb); err != nil {
			t.Fatal(err)
		}
		for _, f := range []state.Folder{{Mailbox: mb.ID, ID: "inbox", Path: "Inbox", Target: "INBOX"},
			{Mailbox: mb.ID, ID: "arch", Path: "Archives/2025", Target: "Archives/2025"},
			{Mailbox: mb.ID, ID: "cal", Path: "Calendar", Target: "/cal/", Kind: model.KindCalendar}} {
			if err := st.PutFolder(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		var items []state.Item
		for i := 0; i < 20+m*7; i++ {
			it := state.Item{Mailbox: mb.ID, ID: fmt.Sprintf("i%d", i), FolderID: "inbox", Status: state.StatusDone, Size: int64(1000 * (i + 1) * (m + 1)), ChangeKey: "ck"}
			switch {
			case i%6 == 5:
				it.FolderID, it.Kind, it.Href = "cal", model.KindCalendar, "/cal/x.ics"
			case i%4 == 3:
				it.FolderID = "arch"
			}
			if i == 7 && m%2 == 1 {
				it.Status, it.LastError, it.Attempts = state.StatusFailed, "NO [OVERQUOTA] quota exceeded", 2
				wantFailed = append(wantFailed, mb.Address+"/"+it.ID)
			}
			if i == 8 && m == 2 {
				it.Status = state.StatusInFlight
			}
			items = append(items, it)
		}
		if err := st.PutItems(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.FinishRun(ctx, state.Run{ID: runID, Status: "done", Written: 100}); err != nil {
		t.Fatal(err)
	}
	rep, err := BuildRun(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.Counts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	tot := rep.Totals
	if tot.Done != all.Items[state.StatusDone] || tot.Failed != all.Items[state.StatusFailed] || tot.InFlight != all.Items[state.StatusInFlight] || tot.Bytes != all.Bytes[state.StatusDone] {
		t.Errorf("totals %+v, store counts %+v / %+v", tot, all.Items, all.Bytes)
	}
	if tot.Mailboxes != 4 || tot.MailboxStatus["failed"] != 1 {
		t.Errorf("mailboxes %d, status %v", tot.Mailboxes, tot.MailboxStatus)
	}
	for _, k := range rep.Kinds {
		if k.Done != all.Kinds[k.Kind][state.StatusDone] {
			t.Errorf("kind %s: %d done, store says %d", k.Kind, k.Done, all.Kinds[k.Kind][state.StatusDone])
		}
	}
	for i, m := range rep.Mailboxes {
		c, _ := st.Counts(ctx, m.ID)
		if m.Done != c.Items[state.StatusDone] || m.Bytes != c.Bytes[state.StatusDone] || m.Folders != 2 || m.Collections != 1 {
			t.Errorf("mailbox %d %+v, store %+v", i, m, c.Items)
		}
	}
	var gotFailed []string
	mailboxFailure := false
	for _, f := range rep.Failures {
		if f.ItemID == "" {
			mailboxFailure = f.Mailbox == "user3@example.org" && f.Error == "login refused by the target"
			continue
		}
		gotFailed = append(gotFailed, f.Mailbox+"/"+f.ItemID)
		if f.Folder != "Archives/2025" || f.Error == "" || f.Attempts != 2 {
			t.Errorf("failure %+v: want folder Archives/2025, its reason and 2 attempts", f)
		}
	}
	if fmt.Sprint(gotFailed) != fmt.Sprint(wantFailed) {
		t.Errorf("failures %v, want %v", gotFailed, wantFailed)
	}
	if !mailboxFailure {
		t.Errorf("the failed mailbox is not among the failures: %+v", rep.Failures)
	}
	var thr int64
	for _, s := range rep.Throughput {
		if s.RunID != runID {
			t.Errorf("series of run %d, want only run %d", s.RunID, runID)
		}
		for _, p := range s.Points {
			thr += p.Items
		}
	}
	if thr != tot.Done {
		t.Errorf("throughput counts %d items, %d done", thr, tot.Done)
	}
	var sized int64
	for _, b := range rep.Sizes {
		sized += b.Items
	}
	if sized != tot.Done {
		t.Errorf("size buckets count %d items, %d done", sized, tot.Done)
	}
	// And it renders.
	if _, err := WriteRun(t.TempDir(), rep, Options{Lang: French}); err != nil {
		t.Fatal(err)
	}
}

// TestThroughputBuckets: the bucket width grows with the span so a series never has more
// than maxBuckets points, and no item is lost.
func TestThroughputBuckets(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, span := range []time.Duration{0, 30 * time.Second, 10 * time.Minute, 5 * time.Hour, 3 * 24 * time.Hour, 400 * 24 * time.Hour} {
		var pts []doneAt
		for i := 0; i <= 1000; i++ {
			pts = append(pts, doneAt{t0.Add(span * time.Duration(i) / 1000), 10, 1})
		}
		s := series(1, pts)
		if len(s.Points) > maxBuckets+1 {
			t.Errorf("span %v: %d points", span, len(s.Points))
		}
		var n int64
		for _, p := range s.Points {
			n += p.Items
		}
		if n != 1001 {
			t.Errorf("span %v: %d items in the series, want 1001", span, n)
		}
	}
}

// TestTimeTicks: ticks are round times inside the span, 2 to 7 of them, days at local
// midnight across a DST change.
func TestTimeTicks(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	t0 := time.Date(2026, 10, 20, 19, 7, 13, 0, time.UTC)
	for _, span := range []time.Duration{3 * time.Second, 50 * time.Second, 17 * time.Minute, 5 * time.Hour, 40 * time.Hour, 12 * 24 * time.Hour, 90 * 24 * time.Hour} {
		ticks := timeTicks(t0, t0.Add(span), paris)
		if len(ticks) < 2 || len(ticks) > 7 {
			t.Errorf("span %v: %d ticks %v", span, len(ticks), ticks)
		}
		for _, tk := range ticks {
			if tk.Before(t0) || tk.After(t0.Add(span)) {
				t.Errorf("span %v: tick %v outside", span, tk)
			}
			l := tk.In(paris)
			switch {
			case span >= 10*24*time.Hour:
				if l.Hour() != 0 || l.Minute() != 0 {
					t.Errorf("span %v: tick %v is not at midnight in Paris", span, l)
				}
			case span >= time.Hour:
				if l.Minute() != 0 && l.Minute()%5 != 0 {
					t.Errorf("span %v: tick %v is not round", span, l)
				}
			}
		}
	}
}
