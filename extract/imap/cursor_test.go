package imap

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestCursorRoundTrip: a cursor reads back as written, runs and digests included.
func TestCursorRoundTrip(t *testing.T) {
	b := newBuilder(modeFlags, 42, 100, 0)
	for _, u := range []uint32{1, 2, 3, 5, 6, 9, 99} {
		d := flagDigest([]imap.Flag{imap.FlagSeen})
		if u == 3 || u == 9 {
			d = flagDigest([]imap.Flag{imap.FlagFlagged, "$Label1"})
		}
		b.add(u, d)
	}
	c := b.cursor()
	s := c.String()
	back, err := parseCursor(s)
	if err != nil {
		t.Fatalf("parseCursor(%q) = %v", s, err)
	}
	if back.String() != s || !slices.Equal(back.uids, c.uids) || back.validity != 42 || back.next != 100 {
		t.Errorf("parseCursor(%q) = %+v", s, back)
	}
	if d, _ := back.digestOf(9); d != flagDigest([]imap.Flag{"$Label1", imap.FlagFlagged}) {
		t.Errorf("digest of 9 = %q: flags in another order must give the same digest", d)
	}
	if d, _ := back.digestOf(1); d != flagDigest([]imap.Flag{imap.FlagSeen, `\Recent`}) {
		t.Errorf("\\Recent changes the digest")
	}
	g := newBuilder(modeCondStore, 7, 1001, 555)
	for u := uint32(1); u <= 1000; u++ {
		g.add(u, "")
	}
	if s := g.cursor().String(); s != "imap1;c;7;1001;555;;1-1000" {
		t.Errorf("a folder that only grew = %q, want one run", s)
	}
}

// FuzzCursor: no input makes the cursor or id parsers panic, and what parses writes back.
func FuzzCursor(f *testing.F) {
	f.Add("imap1;f;42;100;0;a,b;1-3.0,5.1,9-10.0")
	f.Add("imap1;c;7;1001;555;;1-1000")
	f.Add("imap1;n;0;0;0;;")
	f.Add("12:34:Boîte/Projets")
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := parseCursor(s); err == nil {
			if _, err := parseCursor(c.String()); err != nil {
				t.Errorf("parseCursor(%q) wrote %q, which does not parse: %v", s, c.String(), err)
			}
		}
		if v, u, f, ok := parseMsgID(s); ok && msgID(v, u, f) != s && u != 0 {
			// Leading zeros and signs may differ; the parsed parts must round-trip.
			if v2, u2, f2, ok2 := parseMsgID(msgID(v, u, f)); !ok2 || v2 != v || u2 != u || f2 != f {
				t.Errorf("parseMsgID(%q) does not round-trip", s)
			}
		}
	})
}

// TestBuilderLastAddWins: a UID added twice keeps its last digest, once.
func TestBuilderLastAddWins(t *testing.T) {
	b := newBuilder(modeFlags, 1, 10, 0)
	b.add(5, "a")
	b.add(3, "a")
	b.add(5, "b")
	c := b.cursor()
	if !slices.Equal(c.uids, []uint32{3, 5}) {
		t.Fatalf("uids = %v", c.uids)
	}
	if d, _ := c.digestOf(5); d != "b" {
		t.Errorf("digest of 5 = %q, want b", d)
	}
}
