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
	plan := PlanGrants(GrantPlanInput{Mailbox: m.mbx, Grants: grants, Folders: folders, TargetFolders: all,
		IMAPACL: aw != nil, DAV: cw != nil, Login: o.target})
	for _, a := range plan.Manual {
		m.manual(a.What, a.Why, a.Instruction)
	}
	for _, w := range plan.Warnings {
		m.problem("warning", w)
	}
	acls := plan.ACLs
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
	for _, sh := range plan.Shares {
		m.share(ctx, cw, sh.Folder, sh.Grant, sh.Who, sh.Write)
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
	if !SieveNeeded(s) {
		return nil
	}
	folders, err := m.knownFolders(ctx)
	if err != nil {
		return err
	}
	src, err := o.Source.Folders(ctx, m.mbx)
	if err != nil {
		src = nil // without them, a delete rule has no Deleted Items target
	}
	res, manuals, err := PlanSieve(SievePlanInput{Settings: s, Address: m.mbx.Address, Folders: folders, SourceFolders: src, Rewrite: o.Rewrite})
	if err != nil {
		m.problem("error", fmt.Sprintf("inbox rules: %v", err))
		return nil
	}
	for _, a := range manuals {
		m.manual(a.What, a.Why, a.Instruction)
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
