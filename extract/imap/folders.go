package imap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/model"
)

// specialUse maps SPECIAL-USE attributes (RFC 6154) to well-known folders.
var specialUse = map[imap.MailboxAttr]string{
	imap.MailboxAttrSent:    model.WellKnownSentItems,
	imap.MailboxAttrDrafts:  model.WellKnownDrafts,
	imap.MailboxAttrTrash:   model.WellKnownDeletedItems,
	imap.MailboxAttrJunk:    model.WellKnownJunkEmail,
	imap.MailboxAttrArchive: model.WellKnownArchive,
}

// usualNames are the top-level names that give a folder its role on servers without
// SPECIAL-USE (Exchange's IMAP among them), compared case-insensitively.
var usualNames = map[string]string{
	"sent": model.WellKnownSentItems, "sent items": model.WellKnownSentItems, "sent messages": model.WellKnownSentItems,
	"sent mail": model.WellKnownSentItems, "éléments envoyés": model.WellKnownSentItems,
	"drafts": model.WellKnownDrafts, "brouillons": model.WellKnownDrafts,
	"trash": model.WellKnownDeletedItems, "deleted items": model.WellKnownDeletedItems,
	"deleted messages": model.WellKnownDeletedItems, "éléments supprimés": model.WellKnownDeletedItems, "corbeille": model.WellKnownDeletedItems,
	"junk": model.WellKnownJunkEmail, "junk email": model.WellKnownJunkEmail, "junk e-mail": model.WellKnownJunkEmail,
	"spam": model.WellKnownJunkEmail, "courrier indésirable": model.WellKnownJunkEmail,
	"archive": model.WellKnownArchive, "archives": model.WellKnownArchive,
	"outbox": model.WellKnownOutbox, "boîte d'envoi": model.WellKnownOutbox,
}

type listed struct {
	name     string
	delim    rune
	path     []string
	attrs    []imap.MailboxAttr
	noselect bool
	total    int64
}

// Folders lists the folders of the personal namespace, parents before children (INBOX first).
// Folders of other users and shared namespaces are left out, and so are virtual folders
// (\All, \Flagged) whose messages live elsewhere too. A folder's id is its name on the server.
func (s *Source) Folders(ctx context.Context, mbx model.Mailbox) ([]model.Folder, error) {
	p := s.pool(mbx)
	c, err := p.acquire(ctx, "")
	if err != nil {
		return nil, err
	}
	defer p.release(c)
	stop := c.watch(ctx)
	defer stop()

	prefix, delim := "", rune(0)
	var others []string
	if p.s.has(c, imap.CapNamespace) {
		ns, err := c.c.Namespace().Wait()
		if err != nil {
			return nil, c.classify(err, "NAMESPACE")
		}
		if len(ns.Personal) > 0 {
			prefix, delim = ns.Personal[0].Prefix, ns.Personal[0].Delim
		}
		for _, d := range append(slices.Clone(ns.Other), ns.Shared...) {
			if d.Prefix != "" {
				others = append(others, d.Prefix)
			}
		}
	}
	var opts *imap.ListOptions
	if p.s.has(c, imap.CapListStatus) {
		opts = &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}
	}
	if p.s.has(c, imap.CapListExtended) && p.s.has(c, imap.CapSpecialUse) {
		if opts == nil {
			opts = &imap.ListOptions{}
		}
		opts.ReturnSpecialUse = true
	}
	data, err := c.c.List("", "*", opts).Collect()
	if err != nil {
		return nil, c.classify(err, "LIST")
	}
	s.stats.lists.Add(1)
	out, noselect := buildFolders(data, prefix, delim, others, func(msg, folder string) {
		s.log.Info("imap source: "+msg, "mailbox", mbx.Address, "folder", folder)
	})
	p.mu.Lock()
	p.noselect = noselect
	p.mu.Unlock()
	return out, nil
}

// buildFolders turns a LIST answer into folders, parents first, and the set of \Noselect
// ones. It trusts nothing in data: any answer gives a well-formed tree. note reports what
// is left out.
func buildFolders(data []*imap.ListData, prefix string, delim rune, others []string, note func(msg, folder string)) ([]model.Folder, map[string]bool) {
	byKey := map[string]*listed{}
	var all []*listed
	add := func(l *listed) {
		byKey[strings.Join(l.path, "\x00")] = l
		all = append(all, l)
	}
	hasInbox := false
	seen := map[string]bool{}
	for _, d := range data {
		name := d.Mailbox
		if otherNamespace(name, others) {
			continue
		}
		if slices.Contains(d.Attrs, imap.MailboxAttrAll) || slices.Contains(d.Attrs, imap.MailboxAttrFlagged) {
			note("virtual folder left out", name)
			continue
		}
		dl := d.Delim
		if dl == 0 {
			dl = delim
		}
		l := &listed{name: name, delim: dl, attrs: d.Attrs,
			noselect: slices.Contains(d.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(d.Attrs, imap.MailboxAttrNonExistent)}
		if d.Status != nil && d.Status.NumMessages != nil {
			l.total = int64(*d.Status.NumMessages)
		}
		switch {
		case strings.EqualFold(name, "INBOX"):
			l.path = []string{"INBOX"}
			hasInbox = true
		default:
			rel := name
			if prefix != "" && strings.HasPrefix(name, prefix) && len(name) > len(prefix) {
				rel = name[len(prefix):]
			}
			if dl != 0 {
				l.path = strings.Split(rel, string(dl))
			} else {
				l.path = []string{rel}
			}
		}
		if slices.Contains(l.path, "") {
			note("folder with an empty name part left out", name)
			continue
		}
		if _, dup := byKey[strings.Join(l.path, "\x00")]; dup || seen[name] {
			continue
		}
		seen[name] = true
		add(l)
	}
	if !hasInbox {
		// Every account has an INBOX, even when LIST forgets it.
		add(&listed{name: "INBOX", path: []string{"INBOX"}})
	}
	// Parents LIST did not return (servers may omit them) become \Noselect placeholders,
	// named as the server would name them (the child's name without its last parts).
	names := map[string]bool{}
	for _, l := range all {
		names[l.name] = true
	}
	for i := 0; i < len(all); i++ {
		l := all[i]
		for n := len(l.path) - 1; n >= 1; n-- {
			k := strings.Join(l.path[:n], "\x00")
			if _, ok := byKey[k]; ok {
				break
			}
			name := parentName(l, n)
			for names[name] {
				name += "\x00" // never a server's name: a made-up parent cannot take another's id
			}
			names[name] = true
			add(&listed{name: name, delim: l.delim, path: slices.Clone(l.path[:n]), noselect: true})
		}
	}
	slices.SortFunc(all, func(a, b *listed) int {
		if ai, bi := isInbox(a), isInbox(b); ai != bi {
			if ai {
				return -1
			}
			return 1
		}
		return slices.Compare(a.path, b.path)
	})

	// A \Noselect folder stays only as the parent of selectable ones.
	hasKids := map[string]bool{}
	for _, l := range all {
		if !l.noselect {
			for n := 1; n < len(l.path); n++ {
				hasKids[strings.Join(l.path[:n], "\x00")] = true
			}
		}
	}
	all = slices.DeleteFunc(all, func(l *listed) bool { return l.noselect && !hasKids[strings.Join(l.path, "\x00")] })

	roles := map[string]bool{}
	wk := map[*listed]string{}
	for _, l := range all {
		if isInbox(l) {
			wk[l] = model.WellKnownInbox
			roles[model.WellKnownInbox] = true
			continue
		}
		for _, a := range l.attrs {
			if r, ok := specialUseFold(a); ok && !roles[r] {
				wk[l], roles[r] = r, true
				break
			}
		}
	}
	for _, l := range all {
		if _, ok := wk[l]; ok || len(l.path) != 1 || l.noselect {
			continue
		}
		if r, ok := usualNames[strings.ToLower(l.path[0])]; ok && !roles[r] {
			wk[l], roles[r] = r, true
		}
	}

	out := make([]model.Folder, 0, len(all))
	noselect := map[string]bool{}
	for _, l := range all {
		f := model.Folder{ID: l.name, Path: l.path, WellKnown: wk[l], TotalItems: l.total}
		if len(l.path) > 1 {
			f.ParentID = byKey[strings.Join(l.path[:len(l.path)-1], "\x00")].name
		}
		if l.noselect {
			noselect[l.name] = true
		}
		out = append(out, f)
	}
	return out, noselect
}

func isInbox(l *listed) bool { return len(l.path) == 1 && l.path[0] == "INBOX" }

// specialUseFold matches a SPECIAL-USE attribute whatever its case.
func specialUseFold(a imap.MailboxAttr) (string, bool) {
	for k, v := range specialUse {
		if strings.EqualFold(string(k), string(a)) {
			return v, true
		}
	}
	return "", false
}

// parentName is the server name of l's ancestor with n path parts: l's name without its
// last parts (prefix and delimiter kept as the server wrote them).
func parentName(l *listed, n int) string {
	name := l.name
	for k := len(l.path); k > n; k-- {
		cut := len(l.path[k-1])
		if l.delim != 0 {
			cut += utf8.RuneLen(l.delim)
		}
		if cut > len(name) {
			return strings.Join(l.path[:n], "/")
		}
		name = name[:len(name)-cut]
	}
	return name
}

// otherNamespace reports whether name lies in another user's or a shared namespace.
func otherNamespace(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) || name+string(p[len(p)-1]) == p {
			return true
		}
	}
	return false
}

// folderError names a folder in an error.
func folderError(f model.Folder, err error) error {
	return fmt.Errorf("folder %q: %w", strings.Join(f.Path, "/"), err)
}
