package planner

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/transform/acl"
	"github.com/bascule-migrate/bascule/transform/sieve"
)

// GrantSource gives the grants the source API does not expose (Exchange's CSV exports).
type GrantSource interface {
	Grants(owner string) []model.Grant
}

// SieveTarget opens ManageSieve sessions on the target.
type SieveTarget interface {
	Open(ctx context.Context, account string) (SieveSession, error)
}

// SieveScript is one script the account holds.
type SieveScript struct {
	Name   string
	Active bool
}

// SieveSession is one account's ManageSieve session.
type SieveSession interface {
	Scripts(ctx context.Context) ([]SieveScript, error)
	Check(ctx context.Context, script []byte) error
	Put(ctx context.Context, name string, script []byte) error
	SetActive(ctx context.Context, name string) error
	Close() error
}

// SievePolicy says what to do when the account already has an active script of its own.
type SievePolicy string

const (
	// SieveKeep leaves the user's script active and reports a manual action (the default).
	SieveKeep SievePolicy = "keep"
	// SieveReplace activates Bascule's script instead (the user's script is kept, inactive).
	SieveReplace SievePolicy = "replace"
)

// SieveScriptName is the name of the script Bascule writes.
const SieveScriptName = "bascule"

// SettingsCounters count what the settings phase did for one mailbox.
type SettingsCounters struct {
	ACLs          int  `json:"acls"`           // IMAP folder rights set
	Shares        int  `json:"shares"`         // calendars / address books shared
	SieveRules    int  `json:"sieve_rules"`    // inbox rules carried into the Sieve script
	AutoReply     bool `json:"auto_reply"`     // out-of-office carried as a Sieve vacation
	ManualActions int  `json:"manual_actions"` // left to the administrator (listed)
}

// migrateSettings carries a mailbox's grants, inbox rules and out-of-office after its items.
func (m *mailboxRun) migrateSettings(ctx context.Context) error {
	o := &m.r.opts
	if !o.Permissions && !o.Rules {
		return nil
	}
	var settings model.MailboxSettings
	if ss, ok := o.Source.(extract.SettingsSource); ok {
		s, err := ss.Settings(ctx, m.mbx)
		if err != nil {
			return fmt.Errorf("reading permissions, rules and out-of-office: %w", err)
		}
		settings = s
	}
	if o.Permissions {
		grants := settings.Grants
		if o.Grants != nil {
			grants = append(grants, o.Grants.Grants(m.mbx.Address)...)
		}
		if err := m.applyGrants(ctx, grants); err != nil {
			return err
		}
	}
	if o.Rules {
		if err := m.applySieve(ctx, settings); err != nil {
			return err
		}
	}
	return nil
}

// manual records something the administrator must do.
func (m *mailboxRun) manual(what, why, instruction string) {
	m.mu.Lock()
	m.manuals = append(m.manuals, model.ManualAction{Mailbox: m.mbx.Address, What: what, Why: why, Instruction: instruction})
	m.settings.ManualActions++
	m.mu.Unlock()
}

// granteeLogin maps a grantee to the target's identifier: a login, "authenticated" for
// Exchange's Default, "anyone" for Anonymous; ok is false for what cannot be resolved (a
// group, an orphaned SID, a display name).
func (m *mailboxRun) granteeLogin(g model.Grant) (string, bool) {
	switch g.Grantee {
	case model.GranteeDefault:
		return "authenticated", true
	case model.GranteeAnonymous:
		return "anyone", true
	}
	if !strings.Contains(g.Grantee, "@") {
		return "", false
	}
	return m.r.opts.target(model.Mailbox{Address: g.Grantee}), true
}

func (m *mailboxRun) applyGrants(ctx context.Context, grants []model.Grant) error {
	o := &m.r.opts
	if len(grants) == 0 {
		return nil
	}
	var aw load.ACLWriter
	if !o.SkipMail && m.r.sink != nil {
		w, err := m.r.sink.Open(ctx, m.mbx.Target)
		if err != nil {
			return fmt.Errorf("target account %q: %w", m.mbx.Target, err)
		}
		defer w.Close()
		aw, _ = w.(load.ACLWriter)
	}
	var cw load.CollectionWriter
	if m.r.gsink != nil && len(o.Kinds) > 0 {
		w, err := m.r.gsink.Open(ctx, m.mbx.Target)
		if err != nil {
			return fmt.Errorf("target account %q (CalDAV/CardDAV): %w", m.mbx.Target, err)
		}
		defer w.Close()
		cw = w
	}
	folders, err := m.knownFolders(ctx)
	if err != nil {
		return err
	}
	var all []string // every target folder of the account, for mailbox-wide grants
	if aw != nil {
		if all, err = aw.Folders(ctx); err != nil {
			return fmt.Errorf("listing the target's folders: %w", err)
		}
	}
	if o.DryRun {
		// Nothing is listed on the target in a dry-run: plan on the folders the store knows.
		for _, f := range folders {
			if f.Kind == "" {
				all = append(all, f.Target)
			}
		}
	}
	// Rights add up: Exchange gives a delegate the union of a mailbox-wide FullAccess and
	// folder roles, while SETACL replaces an identifier's rights. So the rights of every
	// (folder, identifier) and the level of every (collection, identifier) are gathered
	// first, then set once.
	acls := map[string]map[string]string{} // target folder → identifier → rights
	type shareKey struct{ href, who string }
	type shareReq struct {
		f     state.Folder
		g     model.Grant
		write bool
	}
	shares := map[shareKey]*shareReq{}
	var shareOrder []shareKey
	addShare := func(f state.Folder, g model.Grant, who string, write bool) {
		k := shareKey{f.Target, who}
		if r, ok := shares[k]; ok {
			r.write = r.write || write
			return
		}
		shares[k] = &shareReq{f: f, g: g, write: write}
		shareOrder = append(shareOrder, k)
	}
	for _, g := range grants {
		if strings.EqualFold(g.Role, "None") && len(g.Rights) == 0 {
			continue // an explicit "no access" entry: nothing to carry
		}
		if g.Deny {
			m.manual(fmt.Sprintf("deny %s to %s", g.Role, g.Grantee), "an explicit deny has no IMAP/DAV equivalent",
				fmt.Sprintf("make sure %s has no access to %s's mailbox on the target", g.Grantee, m.mbx.Address))
			continue
		}
		if g.Group {
			m.manual(fmt.Sprintf("%s for group %s (%s)", g.Role, g.Grantee, g.Origin), "the grantee is a group: IMAP ACLs and DAV shares name logins, and target groups (Dovecot group=…, Cyrus group:…) are set up differently",
				fmt.Sprintf("grant the equivalent of %s on %s's %s to the group's members or to the target's group", g.Role, m.mbx.Address, describeScope(g)))
			continue
		}
		who, ok := m.granteeLogin(g)
		if !ok {
			m.manual(fmt.Sprintf("%s for %q (%s)", g.Role, g.Grantee, g.Origin), "the grantee is not a mailbox address (a group, a deleted user's SID or a display name)",
				fmt.Sprintf("grant the equivalent of %s on %s's %s to the right people by hand", g.Role, m.mbx.Address, describeScope(g)))
			continue
		}
		switch g.Scope {
		case model.ScopeSendAs, model.ScopeSendOnBehalf:
			m.manual(fmt.Sprintf("%s for %s", g.Role, g.Grantee), "IMAP and DAV have no send-as right",
				acl.ManualInstruction(g, m.mbx.Target, who))
		case model.ScopeMailbox, model.ScopeFolder:
			rights, exact, note := acl.IMAP(g)
			if aw == nil {
				m.manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), "the mail target does not support IMAP ACL (or mail is not migrated)",
					fmt.Sprintf("give %s the rights %q on %s", who, rights, describeScope(g)))
				continue
			}
			if rights == "" {
				if note != "" {
					m.manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), note, "nothing to set on IMAP; check whether the delegate needs another channel (free/busy)")
				}
				continue
			}
			var targets []string
			if g.Scope == model.ScopeMailbox {
				targets = all
			} else if f, ok := findFolder(folders, g); ok {
				targets = []string{f.Target}
			} else {
				m.manual(fmt.Sprintf("%s on folder %q for %s", g.Role, g.FolderPath, g.Grantee), "the folder was not found among the migrated folders",
					fmt.Sprintf("give %s the rights %q on that folder by hand", who, rights))
				continue
			}
			for _, name := range targets {
				if acls[name] == nil {
					acls[name] = map[string]string{}
				}
				acls[name][who] = acl.Normalize(acls[name][who] + rights)
			}
			if !exact {
				m.problem("warning", fmt.Sprintf("%s on %s for %s: carried as IMAP rights %q (%s)", g.Role, describeScope(g), g.Grantee, rights, note))
			}
			if g.Scope == model.ScopeMailbox && cw != nil {
				// Full access covers the calendars and address books too.
				for _, f := range folders {
					if f.Kind != "" {
						addShare(f, g, who, true)
					}
				}
			}
		case model.ScopeCalendar, model.ScopeContacts:
			_, level, exact, note := acl.DAV(g)
			if level == "none" {
				continue
			}
			f, ok := findCollection(folders, g)
			if !ok || cw == nil {
				m.manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), "the collection was not migrated to a CalDAV/CardDAV target",
					fmt.Sprintf("share %s's %s with %s (%s) on the target", m.mbx.Address, describeScope(g), who, level))
				continue
			}
			if level == "freebusy" {
				m.manual(fmt.Sprintf("%s on %s for %s", g.Role, describeScope(g), g.Grantee), "free/busy-only sharing has no portable DAV form",
					fmt.Sprintf("publish %s's free/busy to %s on the target", m.mbx.Address, who))
				continue
			}
			addShare(f, g, who, level == "write")
			if !exact {
				m.problem("warning", fmt.Sprintf("%s on %s for %s: carried as %s (%s)", g.Role, describeScope(g), g.Grantee, level, note))
			}
		default:
			m.manual(fmt.Sprintf("%s for %s", g.Role, g.Grantee), "unknown grant scope "+string(g.Scope), "grant it by hand")
		}
	}
	names := make([]string, 0, len(acls))
	for name := range acls {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		whos := make([]string, 0, len(acls[name]))
		for who := range acls[name] {
			whos = append(whos, who)
		}
		sort.Strings(whos)
		for _, who := range whos {
			rights := acls[name][who]
			if o.DryRun {
				m.settings.ACLs++
				continue
			}
			if err := m.retry(ctx, func() error { return aw.SetACL(ctx, name, who, rights) }); err != nil {
				m.problem("error", fmt.Sprintf("SETACL %s %s %q: %v", name, who, rights, err))
				continue
			}
			m.settings.ACLs++
		}
	}
	for _, k := range shareOrder {
		r := shares[k]
		m.share(ctx, cw, r.f, r.g, k.who, r.write)
	}
	return nil
}

func (m *mailboxRun) share(ctx context.Context, cw load.CollectionWriter, f state.Folder, g model.Grant, who string, write bool) {
	level := map[bool]string{false: "read", true: "read-write"}[write]
	sh, ok := cw.(load.CollectionSharer)
	if !ok {
		m.manual(fmt.Sprintf("%s on %s for %s", g.Role, f.Path, g.Grantee), "the CalDAV/CardDAV target cannot share collections",
			fmt.Sprintf("share %s (%s) with %s, %s", f.Path, f.Target, who, level))
		return
	}
	if m.r.opts.DryRun {
		m.settings.Shares++
		return
	}
	err := m.retry(context.WithoutCancel(ctx), func() error {
		return sh.Share(ctx, load.CollectionRef{Href: f.Target, Kind: f.Kind}, who, write)
	})
	switch {
	case err == nil:
		m.settings.Shares++
	case errors.Is(err, load.ErrUnsupported):
		m.manual(fmt.Sprintf("%s on %s for %s", g.Role, f.Path, g.Grantee), err.Error(),
			fmt.Sprintf("share %s (%s) with %s, %s, in the server's own administration", f.Path, f.Target, who, level))
	default:
		m.problem("error", fmt.Sprintf("sharing %s with %s: %v", f.Target, who, err))
	}
}

func describeScope(g model.Grant) string {
	switch g.Scope {
	case model.ScopeMailbox:
		return "whole mailbox"
	case model.ScopeFolder:
		return "folder " + g.FolderPath
	case model.ScopeCalendar:
		return "calendar " + firstNonEmpty(g.FolderPath, g.FolderID)
	case model.ScopeContacts:
		return "address book " + firstNonEmpty(g.FolderPath, g.FolderID)
	}
	return string(g.Scope)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// findFolder finds the migrated mail folder a folder grant names (by id, else by path).
func findFolder(folders []state.Folder, g model.Grant) (state.Folder, bool) {
	for _, f := range folders {
		if f.Kind == "" && g.FolderID != "" && f.ID == g.FolderID {
			return f, true
		}
	}
	want := strings.ToLower(strings.Trim(g.FolderPath, "/"))
	for _, f := range folders {
		if f.Kind == "" && strings.ToLower(f.Path) == want {
			return f, true
		}
	}
	return state.Folder{}, false
}

// findCollection finds the migrated collection a calendar / contacts grant names: by id;
// else by name; else, for the well-known folder, the default collection of that kind.
func findCollection(folders []state.Folder, g model.Grant) (state.Folder, bool) {
	kind := model.KindCalendar
	if g.Scope == model.ScopeContacts {
		kind = model.KindContacts
	}
	var cands []state.Folder
	for _, f := range folders {
		if f.Kind == kind {
			if g.FolderID != "" && f.ID == g.FolderID {
				return f, true
			}
			cands = append(cands, f)
		}
	}
	// Collection paths are recorded as "<kind>: <name>[ (owner)]"; an exported path names a
	// calendar below the Calendar folder as "Calendar/<name>": try the whole path, then its
	// last segment.
	path := strings.ToLower(strings.Trim(g.FolderPath, "/"))
	for _, name := range []string{path, path[strings.LastIndexByte(path, '/')+1:]} {
		for _, f := range cands {
			if strings.ToLower(strings.TrimPrefix(f.Path, string(kind)+": ")) == name {
				return f, true
			}
		}
	}
	return state.Folder{}, false
}

// applySieve writes the inbox rules and out-of-office as one Sieve script.
func (m *mailboxRun) applySieve(ctx context.Context, s model.MailboxSettings) error {
	o := &m.r.opts
	active := s.AutoReply != nil && s.AutoReply.Status != "" && s.AutoReply.Status != "disabled"
	if len(s.Rules) == 0 && !active {
		return nil
	}
	folders, err := m.knownFolders(ctx)
	if err != nil {
		return err
	}
	byID := map[string]string{}
	for _, f := range folders {
		if f.Kind == "" {
			byID[f.ID] = f.Target
		}
	}
	trash := ""
	if src, err := o.Source.Folders(ctx, m.mbx); err == nil {
		for _, f := range src {
			if f.WellKnown == model.WellKnownDeletedItems {
				trash = byID[f.ID]
			}
		}
	}
	res, err := sieve.Script(s.Rules, s.AutoReply, sieve.Options{Folders: byID, Trash: trash, Addresses: []string{m.mbx.Address}, Rewrite: o.Rewrite})
	if err != nil {
		m.problem("error", fmt.Sprintf("inbox rules: %v", err))
		return nil
	}
	for _, u := range res.Unmapped {
		m.manual(fmt.Sprintf("inbox rule %q", u.Rule), u.Reason, fmt.Sprintf("recreate the rule %q by hand in the user's webmail filters", u.Rule))
	}
	for _, w := range res.Warnings {
		m.problem("warning", "Sieve: "+w)
	}
	if len(res.Script) == 0 {
		return nil
	}
	if o.Sieve == nil {
		m.manual("inbox rules and out-of-office", "no ManageSieve target configured", "give --sieve-addr, or install this script by hand:\n"+string(res.Script))
		return nil
	}
	sess, err := o.Sieve.Open(ctx, m.mbx.Target)
	if err != nil {
		return fmt.Errorf("ManageSieve for %q: %w", m.mbx.Target, err)
	}
	defer sess.Close()
	scripts, err := sess.Scripts(ctx)
	if err != nil {
		return fmt.Errorf("ManageSieve LISTSCRIPTS: %w", err)
	}
	for _, sc := range scripts {
		if sc.Active && sc.Name != SieveScriptName && o.SievePolicy != SieveReplace {
			m.manual("inbox rules and out-of-office", fmt.Sprintf("the account already has its own active Sieve script %q", sc.Name),
				fmt.Sprintf("merge Bascule's script %q into %q by hand, or rerun with --sieve replace", SieveScriptName, sc.Name))
			if err := sess.Check(ctx, res.Script); err != nil {
				m.problem("error", fmt.Sprintf("the Sieve script was refused by the server: %v", err))
			}
			return nil
		}
	}
	if err := sess.Check(ctx, res.Script); err != nil {
		m.problem("error", fmt.Sprintf("the Sieve script was refused by the server: %v", err))
		return nil
	}
	if o.DryRun {
		m.settings.SieveRules, m.settings.AutoReply = res.Rules, res.AutoReply
		return nil
	}
	if err := sess.Put(ctx, SieveScriptName, res.Script); err != nil {
		m.problem("error", fmt.Sprintf("PUTSCRIPT: %v", err))
		return nil
	}
	if err := sess.SetActive(ctx, SieveScriptName); err != nil {
		m.problem("error", fmt.Sprintf("SETACTIVE: %v", err))
		return nil
	}
	m.settings.SieveRules, m.settings.AutoReply = res.Rules, res.AutoReply
	return nil
}

// noteFolder remembers a folder or collection this run ensured.
func (m *mailboxRun) noteFolder(f state.Folder) {
	m.mu.Lock()
	m.runFolders = append(m.runFolders, f)
	m.mu.Unlock()
}

// knownFolders returns the mailbox's folders and collections: the store's, updated with
// what this run ensured (in a dry-run, the store is read-only).
func (m *mailboxRun) knownFolders(ctx context.Context) ([]state.Folder, error) {
	fs, err := m.r.store.Folders(ctx, m.mbx.ID)
	if err != nil {
		m.storeFailed(err)
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	idx := map[string]int{}
	for i, f := range fs {
		idx[f.ID] = i
	}
	for _, f := range m.runFolders {
		if i, ok := idx[f.ID]; ok {
			fs[i] = f
		} else {
			idx[f.ID] = len(fs)
			fs = append(fs, f)
		}
	}
	return fs, nil
}
