package bench

import (
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
)

// TestGenerateCorpus: the files hold the bytes the metadata says, folders come parents
// first with non-ASCII names, flags carry keywords, and the same seed gives the same corpus.
func TestGenerateCorpus(t *testing.T) {
	dir := t.TempDir()
	c, err := GenerateCorpus(CorpusConfig{Seed: 3, Messages: 120}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Messages < 100 || c.Messages > 120 || len(c.Users) != 4 {
		t.Fatalf("corpus of %d messages over %d accounts", c.Messages, len(c.Users))
	}
	keywordsSeen, nonASCII := false, false
	var total int64
	for _, u := range c.Users {
		pos := map[string]int{}
		for i, f := range u.Folders {
			pos[f] = i
			for _, r := range f {
				if r > 0x7f {
					nonASCII = true
				}
			}
		}
		for f, i := range pos {
			for p := range parents(f) {
				if j, ok := pos[p]; ok && j > i {
					t.Errorf("%s: folder %q listed before its parent %q", u.Login, f, p)
				}
			}
		}
		for _, m := range u.Messages {
			total += m.Size
			if _, ok := pos[m.Folder]; !ok {
				t.Errorf("%s: message in unknown folder %q", u.Login, m.Folder)
			}
			sum, err := HashFile(m.File)
			if err != nil || sum != m.SHA256 {
				t.Errorf("%s: %s hashes to %s (%v), metadata says %s", u.Login, m.File, sum, err, m.SHA256)
			}
			if slices.ContainsFunc(m.Flags, func(f string) bool { return f[0] != '\\' }) {
				keywordsSeen = true
			}
		}
	}
	if total != c.Bytes {
		t.Errorf("sizes add up to %d, corpus says %d", total, c.Bytes)
	}
	if !keywordsSeen || !nonASCII {
		t.Errorf("keywords seen %v, non-ASCII folder names seen %v: want both", keywordsSeen, nonASCII)
	}
	again, err := GenerateCorpus(CorpusConfig{Seed: 3, Messages: 120}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range again.Users {
		for j, m := range u.Messages {
			o := c.Users[i].Messages[j]
			if m.SHA256 != o.SHA256 || !slices.Equal(m.Flags, o.Flags) || !m.Date.Equal(o.Date) || m.Folder != o.Folder {
				t.Fatalf("the same seed gave another message at %s #%d", u.Login, j)
			}
		}
	}
}

func parents(f string) map[string]bool {
	out := map[string]bool{}
	for i := range len(f) {
		if f[i] == '/' {
			out[f[:i]] = true
		}
	}
	return out
}

func TestEncodeMUTF7(t *testing.T) {
	for in, want := range map[string]string{
		"INBOX": "INBOX", "Été 2024": "&AMk-t&AOk- 2024", "A&B": "A&-B", "日本語": "&ZeVnLIqe-",
		"Projets/Été": "Projets/&AMk-t&AOk-",
	} {
		if got := EncodeMUTF7(in); got != want {
			t.Errorf("EncodeMUTF7(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCompare: each kind of difference is counted where it belongs.
func TestCompare(t *testing.T) {
	date := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	u := CorpusUser{Login: "a", Messages: []CorpusMessage{
		{Folder: "INBOX", SHA256: "h1", Flags: []string{`\Seen`}, Date: date},
		{Folder: "INBOX", SHA256: "h2", Flags: []string{`\Seen`, "$label1"}, Date: date},
		{Folder: "INBOX", SHA256: "h3", Flags: []string{`\Flagged`}, Date: date},
		{Folder: "X", SHA256: "h4", Date: date},
		{Folder: "X", SHA256: "h5", Date: date},
		{Folder: "X", SHA256: "h6", Date: date},
	}}
	msg := func(h string, d time.Time, fl ...imap.Flag) imapcheck.Message {
		return imapcheck.Message{SHA256: h, InternalDate: d, Flags: fl}
	}
	snap := &imapcheck.Snapshot{Folders: []imapcheck.Folder{
		{Name: "INBOX", Messages: []imapcheck.Message{
			msg("h1", date, `\SEEN`, `\Recent`), // exact (case, \Recent ignored)
			msg("h2", date, `\Seen`),            // keyword lost
			msg("h3", date, `\Seen`),            // system flag differs
			msg("h1", date, `\Seen`),            // a duplicate
			msg("h4", date.Add(time.Hour)),      // date differs, other folder
			msg("h6-altered", date),             // bytes differ
		}},
		{Name: "X", Messages: []imapcheck.Message{msg("h5", date)}},
	}}
	got := Compare(u, snap)
	want := Exactness{Source: 6, Target: 7, Missing: 1, Extra: 1, Flags: 2, Keywords: 1, Date: 1, Folder: 1}
	if got != want {
		t.Errorf("Compare = %+v, want %+v", got, want)
	}
	if got.Differ() != 4 {
		t.Errorf("Differ = %d, want 4", got.Differ())
	}
}

func TestBest(t *testing.T) {
	ex := &Exactness{Source: 1, Target: 1}
	in := []Result{
		{Tool: "bascule", Pass: "first", Wall: 5 * time.Second, CPU: 2 * time.Second, PeakRSS: 10, Exact: ex},
		{Tool: "mbsync", Pass: "first", Wall: 4 * time.Second, PeakRSS: 30},
		{Tool: "bascule", Pass: "first", Wall: 3 * time.Second, CPU: time.Second, PeakRSS: 20},
		{Tool: "mbsync", Pass: "first", Wall: 6 * time.Second, PeakRSS: 5},
	}
	got := Best(in)
	if len(got) != 2 {
		t.Fatalf("Best gave %d results, want 2", len(got))
	}
	b, m := got[0], got[1]
	if b.Wall != 3*time.Second || b.CPU != time.Second || b.PeakRSS != 20 || b.Exact != ex {
		t.Errorf("bascule merged to %+v", b)
	}
	if m.Wall != 4*time.Second || m.PeakRSS != 30 {
		t.Errorf("mbsync merged to %+v", m)
	}
}

// TestBudget: the share of the budget is what was accepted in the whole windows the run
// spans, and 429 bursts are counted per second.
func TestBudget(t *testing.T) {
	g := &GraphRecorder{log: map[string][]hit{}}
	t0 := time.Now()
	// 90 accepted requests in the first 10 s window, 45 in the second, 10 more after 20 s;
	// three 429s within half a second, one later.
	for i := range 90 {
		g.log["m"] = append(g.log["m"], hit{at: t0.Add(time.Duration(i) * 100 * time.Millisecond)})
	}
	for i := range 45 {
		g.log["m"] = append(g.log["m"], hit{at: t0.Add(10*time.Second + time.Duration(i)*200*time.Millisecond)})
	}
	for i := range 10 {
		g.log["m"] = append(g.log["m"], hit{at: t0.Add(20*time.Second + time.Duration(i)*100*time.Millisecond)})
	}
	for _, d := range []time.Duration{5 * time.Second, 5100 * time.Millisecond, 5400 * time.Millisecond, 15 * time.Second} {
		g.log["m"] = append(g.log["m"], hit{at: t0.Add(d), throttled: true})
	}
	g.log["(none)"] = []hit{{at: t0}}
	uses := g.Budget(100, 10*time.Second)
	if len(uses) != 1 {
		t.Fatalf("Budget gave %d mailboxes, want 1", len(uses))
	}
	u := uses[0]
	if u.Requests != 145 || u.Throttled != 4 || u.Windows != 2 || u.Burst429 != 3 {
		t.Errorf("Budget = %+v", u)
	}
	if u.Used < 0.674 || u.Used > 0.676 { // 135 of 200
		t.Errorf("Used = %v, want 0.675", u.Used)
	}
}
