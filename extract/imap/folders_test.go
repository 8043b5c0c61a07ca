package imap

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/model"
)

func listData(lines string) []*imap.ListData {
	var out []*imap.ListData
	for _, l := range strings.Split(lines, "\n") {
		attrs, rest, _ := strings.Cut(l, "|")
		dl, name, _ := strings.Cut(rest, "|")
		d := &imap.ListData{Mailbox: name}
		if r := []rune(dl); len(r) > 0 {
			d.Delim = r[0]
		}
		for _, a := range strings.Fields(attrs) {
			d.Attrs = append(d.Attrs, imap.MailboxAttr(a))
		}
		out = append(out, d)
	}
	return out
}

// checkTree asserts what the conformance suite asserts of Folders: parents first, each path
// extending its parent's, ids unique, no empty name part.
func checkTree(t *testing.T, fs []model.Folder) {
	t.Helper()
	byID := map[string]model.Folder{}
	for _, f := range fs {
		if _, dup := byID[f.ID]; dup {
			t.Errorf("folder %q twice", f.ID)
		}
		if len(f.Path) == 0 || slices.Contains(f.Path, "") {
			t.Errorf("folder %q has path %q", f.ID, f.Path)
		}
		if f.ParentID != "" {
			p, ok := byID[f.ParentID]
			if !ok {
				t.Errorf("folder %q comes before its parent %q", f.ID, f.ParentID)
			} else if !slices.Equal(p.Path, f.Path[:len(f.Path)-1]) {
				t.Errorf("folder %q path %q does not extend its parent's %q", f.ID, f.Path, p.Path)
			}
		} else if len(f.Path) != 1 {
			t.Errorf("top folder %q has path %q", f.ID, f.Path)
		}
		byID[f.ID] = f
	}
}

// TestBuildFolders: Cyrus' INBOX. prefix removed, roles by SPECIAL-USE and by usual names,
// \Noselect kept as a parent and left out as a leaf, missing parents made up, virtual
// folders and other namespaces left out.
func TestBuildFolders(t *testing.T) {
	note := func(string, string) {}
	cyrus, ns := buildFolders(listData(`\HasChildren|.|INBOX
\HasNoChildren \Sent|.|INBOX.Envoyés
\Noselect \HasChildren|.|INBOX.Projets
|.|INBOX.Projets.2024
\Noselect|.|INBOX.Vide
|.|user.bob.Secret
\All|.|INBOX.Tout`), "INBOX.", '.', []string{"user."}, note)
	checkTree(t, cyrus)
	got := map[string]model.Folder{}
	for _, f := range cyrus {
		got[f.ID] = f
	}
	want := map[string]model.Folder{
		"INBOX":              {ID: "INBOX", Path: []string{"INBOX"}, WellKnown: model.WellKnownInbox},
		"INBOX.Envoyés":      {ID: "INBOX.Envoyés", Path: []string{"Envoyés"}, WellKnown: model.WellKnownSentItems},
		"INBOX.Projets":      {ID: "INBOX.Projets", Path: []string{"Projets"}},
		"INBOX.Projets.2024": {ID: "INBOX.Projets.2024", ParentID: "INBOX.Projets", Path: []string{"Projets", "2024"}},
	}
	if len(got) != len(want) {
		t.Errorf("folders = %+v, want %+v", cyrus, want)
	}
	for id, w := range want {
		if g := got[id]; !slices.Equal(g.Path, w.Path) || g.ParentID != w.ParentID || g.WellKnown != w.WellKnown {
			t.Errorf("folder %q = %+v, want %+v", id, g, w)
		}
	}
	if !ns["INBOX.Projets"] || len(ns) != 1 {
		t.Errorf("noselect = %v, want just INBOX.Projets", ns)
	}

	// Exchange: no SPECIAL-USE, roles by name; a parent LIST forgot.
	ex, _ := buildFolders(listData(`\HasNoChildren|/|INBOX
|/|Sent Items
|/|Deleted Items
|/|Junk Email
|/|Drafts
|/|Archive/2019/Q1`), "", '/', nil, note)
	checkTree(t, ex)
	roles := map[string]string{}
	for _, f := range ex {
		roles[f.ID] = f.WellKnown
	}
	for id, r := range map[string]string{"Sent Items": model.WellKnownSentItems, "Deleted Items": model.WellKnownDeletedItems,
		"Junk Email": model.WellKnownJunkEmail, "Drafts": model.WellKnownDrafts, "Archive": "", "Archive/2019": ""} { // Archive: a made-up parent, holding nothing
		if got, ok := roles[id]; !ok || got != r {
			t.Errorf("folder %q role = %q (listed %v), want %q", id, got, ok, r)
		}
	}
}

// FuzzBuildFolders: whatever a server answers to LIST, the tree is well-formed.
func FuzzBuildFolders(f *testing.F) {
	f.Add("\\HasChildren|/|INBOX\n|/|a/b/c\n\\Noselect|/|x\n|/|x/y", "", "/")
	f.Add("|.|INBOX.a..b\n|.|INBOX.\n|.|INBOX", "INBOX.", ".")
	f.Add("|/|/\n|/|//\n|/|inbox\n|/|INBOX", "", "")
	f.Fuzz(func(t *testing.T, lines, prefix, delim string) {
		d := rune(0)
		if r := []rune(delim); len(r) > 0 {
			d = r[0]
		}
		fs, _ := buildFolders(listData(lines), prefix, d, []string{"Other Users/"}, func(string, string) {})
		checkTree(t, fs)
	})
}
