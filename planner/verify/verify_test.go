package verify

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ids(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("item-%03d", i))
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestSample(t *testing.T) {
	all := ids(100)
	o := &Options{Sample: 10, Seed: 3}
	a := keys(o.sample(all))
	if len(a) != 10 {
		t.Fatalf("sample of 10 = %d items", len(a))
	}
	// The same seed picks the same items whatever the listing order.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	if b := keys(o.sample(rev)); !slices.Equal(a, b) {
		t.Errorf("same seed, other order: %v, then %v", a, b)
	}
	// Another seed picks other items.
	if c := keys((&Options{Sample: 10, Seed: 4}).sample(all)); slices.Equal(a, c) {
		t.Errorf("seeds 3 and 4 chose the same items %v", a)
	}
	// Adding items keeps the earlier choice where it still ranks (stable across runs).
	if p := keys((&Options{SamplePercent: 25, Sample: 1, Seed: 3}).sample(all)); len(p) != 25 {
		t.Errorf("25 %% of 100 = %d items", len(p))
	}
	if p := keys((&Options{SamplePercent: 0.5, Seed: 3}).sample(all)); len(p) != 1 {
		t.Errorf("0.5 %% of 100 = %d items, want 1 (rounded up)", len(p))
	}
	if n := len((&Options{All: true}).sample(all)); n != 100 {
		t.Errorf("--all sampled %d of 100", n)
	}
	if n := len((&Options{Sample: 500}).sample(all)); n != 100 {
		t.Errorf("a sample larger than the folder = %d, want the folder's 100", n)
	}
	if n := len((&Options{}).sample(all)); n != 0 {
		t.Errorf("--sample 0 = %d items", n)
	}
}

const todoWritten = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Bascule//EN\r\nBEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20250101T000000Z\r\n" +
	"SUMMARY:Lire \\, relire\r\nDUE;TZID=Europe/Paris:20250310T090000\r\nCATEGORIES:Lecture,Perso\r\n" +
	"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"

func TestCompareTodo(t *testing.T) {
	// As a server may give it back: other DTSTAMP, due in UTC, categories split, RRULE parts
	// reordered, a property of its own, lines folded.
	same := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Server//EN\r\nBEGIN:VTODO\r\nUID:t1\r\nDTSTAMP:20260101T000000Z\r\n" +
		"SUMMARY:Lire \\, re\r\n lire\r\nDUE:20250310T080000Z\r\nCATEGORIES:Perso\r\nCATEGORIES:Lecture\r\n" +
		"RRULE:COUNT=3;FREQ=WEEKLY;BYDAY=MO\r\nSTATUS:NEEDS-ACTION\r\nX-SERVER:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
	if d := compareTodo([]byte(todoWritten), []byte(same)); len(d) != 0 {
		t.Errorf("re-serialised task: differences %v, want none", d)
	}
	changed := strings.Replace(strings.Replace(same, "NEEDS-ACTION", "COMPLETED", 1), "DUE:20250310T080000Z\r\n", "", 1)
	d := compareTodo([]byte(todoWritten), []byte(changed))
	var fields []string
	for _, f := range d {
		fields = append(fields, f.field)
	}
	if !slices.Equal(fields, []string{"DUE", "STATUS"}) {
		t.Errorf("changed task: fields %v, want DUE and STATUS", d)
	}
	if d := compareTodo([]byte(todoWritten), []byte("BEGIN:VCALENDAR\r\nBEGIN:VTODO;")); len(d) != 1 || d[0].field != "VTODO" {
		t.Errorf("unreadable task on the target: %v", d)
	}
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		rep  Report
		ctx  bool
		want string
	}{
		{Report{}, false, VerdictOK},
		{Report{Errors: []Problem{{Mailbox: "a", Message: "x"}}}, false, VerdictIncomplete},
		{Report{Differences: []Difference{{Kind: FlagsDiffer}}, Errors: []Problem{{}}}, false, VerdictDifferences},
		{Report{Differences: []Difference{{Kind: FlagsDiffer}}}, true, VerdictInterrupted},
	}
	for i, c := range cases {
		ctx, cancel := context.WithCancel(context.Background())
		if c.ctx {
			cancel()
		}
		if got := finish(ctx, &c.rep).Verdict; got != c.want {
			t.Errorf("case %d: verdict %s, want %s", i, got, c.want)
		}
		cancel()
	}
}

// TestReportJSON pins the JSON schema documented in docs/VERIFY.md (testdata/report.json):
// renaming or removing a field fails here.
func TestReportJSON(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rep := &Report{Schema: SchemaVersion, Started: ts, Finished: ts.Add(90 * time.Second),
		Options: ReportOptions{Kinds: []string{"mail", "calendar", "contacts", "tasks", "permissions", "rules"}, Sample: 20, Seed: 1,
			WindowStart: ts.AddDate(-2, 0, 0), WindowEnd: ts.AddDate(2, 0, 0)},
		Mailboxes: []MailboxReport{{ID: "u1", Address: "alice@contoso.example", Target: "alice", Differences: 4,
			Settings: &SettingsReport{ACLFolders: 14, ACLEntries: 15, Collections: 3, Shares: 2, Sieve: "differs"}, Folders: []FolderReport{
				{Kind: "mail", ID: "f1", Path: "Inbox", TargetName: "INBOX", Source: Count{12, 34000}, Store: Count{12, 35000},
					Target: Count{11, 32000}, Checked: 11, Differences: 1},
				{Kind: "calendar", ID: "c1", Path: "calendar: Calendar", TargetName: "/alice/calendar/", Source: Count{Items: 5},
					Store: Count{Items: 5}, Target: Count{5, 4200}, Checked: 5, Occurrences: 140, Differences: 1},
			}}},
		Differences: []Difference{
			{Kind: MissingOnTarget, Mailbox: "alice@contoso.example", Target: "alice", ItemKind: "mail", Folder: "Inbox", FolderID: "f1",
				ItemID: "m7", Subject: "Budget", TargetRef: "INBOX;UIDVALIDITY=1700000000;UID=8", Detail: "the message is not on the target where it was written"},
			{Kind: OccurrenceMissing, Mailbox: "alice@contoso.example", Target: "alice", ItemKind: "calendar", Folder: "calendar: Calendar", FolderID: "c1",
				ItemID: "e3", Subject: "1:1", TargetRef: "/alice/calendar/04ac.ics", Occurrence: "2027-11-16T09:00:00Z", Expected: "2027-11-16T09:00:00Z",
				Detail: "the occurrence of 2027-11-16T09:00:00Z is not on the target"},
			{Kind: RightMissing, Mailbox: "alice@contoso.example", Target: "alice", ItemKind: "permissions", Folder: "Inbox", FolderID: "f1",
				TargetRef: "INBOX", Field: "bob", Expected: "eiklrstwx", Actual: "eiklstwx",
				Detail: `bob lacks "r" on INBOX (has "eiklstwx", the source's grants give "eiklrstwx")`},
			{Kind: SieveDiffers, Mailbox: "alice@contoso.example", Target: "alice", ItemKind: "rules", Folder: "Sieve",
				TargetRef: "bascule", Field: "line 2", Expected: `if header :contains "subject" "Budget" {`, Actual: "# changed by hand",
				Detail: `the active script "bascule" differs from the one migrate installs, first at line 2`},
		},
		ManualActions: []model.ManualAction{{Mailbox: "alice@contoso.example", What: "SendAs for bob@contoso.example",
			Why: "IMAP and DAV have no send-as right", Instruction: "Allow bob to send mail with alice@contoso.example as the From address."}},
		NotVerifiable: []Problem{{Mailbox: "carol@contoso.example", Message: "the CalDAV/CardDAV server's sharing cannot be read back: 1 share(s) not verified"}},
		Errors:        []Problem{{Mailbox: "bob@contoso.example", Message: "not in the state store: it was never migrated"}},
	}
	finish(context.Background(), rep)
	rep.Finished = ts.Add(90 * time.Second)
	got, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
		t.Errorf("report JSON changed (a documented schema: update docs/VERIFY.md, then go test -update):\n%s", got)
	}
}
