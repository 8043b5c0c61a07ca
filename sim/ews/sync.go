package ews

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Sync states (SyncFolderItems, SyncFolderHierarchy) are kept server-side: the opaque
// SyncState a client holds names a snapshot of what that client has been told (item id →
// change key, read state, fingerprint). A sync compares the folder's items now with the
// snapshot and answers the differences, at most MaxChangesReturned at a time, each page
// under a new state. A state is invalid (ErrorInvalidSyncStateData) when it was never
// issued, was issued for another folder or mailbox, is older than the tenant's DeltaEpoch
// (tenant.ExpireDeltaTokens) or ExpireSyncStates, or was evicted (the store keeps the
// maxSyncStates newest).

const maxSyncStates = 20000

type syncEntry struct {
	ck, sig string
	read    *bool
}

type syncState struct {
	mailbox, folder string // folder "" for a hierarchy sync
	epoch, gen      uint64
	known           map[string]syncEntry
}

type syncStore struct {
	mu     sync.Mutex
	states map[string]*syncState
	order  []string
	gen    uint64
}

func (st *syncStore) init() { st.states = map[string]*syncState{} }

// get returns the state token names, nil when it is invalid for mailbox and folder.
func (st *syncStore) get(token, mailbox, folder string, epoch uint64) *syncState {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.states[token]
	if s == nil || s.mailbox != mailbox || s.folder != folder || s.epoch != epoch || s.gen != st.gen {
		return nil
	}
	return s
}

// put stores s under a new token and returns it.
func (st *syncStore) put(s *syncState) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "H4sIAAAAAAAEAO" + base64.StdEncoding.EncodeToString(b[:])
	st.mu.Lock()
	defer st.mu.Unlock()
	s.gen = st.gen
	st.states[tok] = s
	st.order = append(st.order, tok)
	for len(st.order) > maxSyncStates {
		delete(st.states, st.order[0])
		st.order = st.order[1:]
	}
	return tok
}

// ExpireSyncStates makes every sync state issued so far invalid: the next SyncFolderItems or
// SyncFolderHierarchy with one answers ErrorInvalidSyncStateData.
func (s *Server) ExpireSyncStates() {
	s.syncs.mu.Lock()
	s.syncs.gen++
	s.syncs.mu.Unlock()
}

type changeKind int

const (
	chCreate changeKind = iota
	chUpdate
	chReadFlag
	chDelete
)

type syncChange struct {
	kind changeKind
	item syncItem // create, update, read flag
	id   string   // delete
	ck   string   // delete: last change key told
}

// diffItems compares current with known and returns at most limit changes (limit <= 0: all),
// the snapshot once they are applied, and whether more changes remain.
func diffItems(known map[string]syncEntry, current []syncItem, limit int) ([]syncChange, map[string]syncEntry, bool) {
	var all []syncChange
	live := make(map[string]bool, len(current))
	for _, it := range current {
		live[it.ID] = true
		k, ok := known[it.ID]
		switch {
		case !ok:
			all = append(all, syncChange{kind: chCreate, item: it})
		case k.ck == it.ChangeKey && k.sig == it.Sig && boolEq(k.read, it.Read):
		case k.sig == it.Sig && !boolEq(k.read, it.Read) && it.Read != nil:
			all = append(all, syncChange{kind: chReadFlag, item: it})
		default:
			all = append(all, syncChange{kind: chUpdate, item: it})
		}
	}
	var gone []string
	for id := range known {
		if !live[id] {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		all = append(all, syncChange{kind: chDelete, id: id, ck: known[id].ck})
	}
	more := false
	if limit > 0 && len(all) > limit {
		all, more = all[:limit], true
	}
	next := maps.Clone(known)
	if next == nil {
		next = map[string]syncEntry{}
	}
	for _, ch := range all {
		if ch.kind == chDelete {
			delete(next, ch.id)
			continue
		}
		next[ch.item.ID] = syncEntry{ck: ch.item.ChangeKey, sig: ch.item.Sig, read: ch.item.Read}
	}
	return all, next, more
}

func boolEq(a, b *bool) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func init() {
	register("SyncFolderItems", syncFolderItems)
}

// syncFolderItems answers SyncFolderItems for any folder whose class has an item source.
func syncFolderItems(c *Call) error {
	var req struct {
		Shape      itemShape  `xml:"ItemShape"`
		Folder     folderRefs `xml:"SyncFolderId"`
		SyncState  string     `xml:"SyncState"`
		MaxChanges string     `xml:"MaxChangesReturned"`
		Scope      string     `xml:"SyncScope"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	max, err := strconv.Atoi(strings.TrimSpace(req.MaxChanges))
	if err != nil || max < 1 || max > 512 {
		return faultf("ErrorSchemaValidation", "The request failed schema validation: The 'MaxChangesReturned' element is invalid - The value '%s' is invalid according to its datatype - The MaxInclusive constraint failed.", req.MaxChanges)
	}
	c.begin()
	defer c.end()
	if len(req.Folder) != 1 {
		c.fail("ErrorInvalidRequest", "The request is invalid: SyncFolderId must name one folder.")
		return nil
	}
	f, u, code, text := c.resolveFolder(req.Folder[0])
	if code != "" {
		c.fail(code, text)
		return nil
	}
	src := sourceFor(f.Class)
	if src == nil {
		c.fail("ErrorSyncFolderNotFound", "The specified folder could not be found in the store.")
		return nil
	}
	epoch := c.s.ten.DeltaEpoch()
	known := map[string]syncEntry{}
	if tok := strings.TrimSpace(req.SyncState); tok != "" {
		st := c.s.syncs.get(tok, u.ID, f.ID, epoch)
		if st == nil {
			c.fail("ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")
			return nil
		}
		known = st.known
	}
	items, err := src.syncItems(c, u, f, &req.Shape)
	if err != nil {
		return err
	}
	changes, next, more := diffItems(known, items, max)
	tok := c.s.syncs.put(&syncState{mailbox: u.ID, folder: f.ID, epoch: epoch, known: next})
	var b strings.Builder
	fmt.Fprintf(&b, `<m:SyncState>%s</m:SyncState><m:IncludesLastItemInRange>%t</m:IncludesLastItemInRange><m:Changes>`, tok, !more)
	for _, ch := range changes {
		switch ch.kind {
		case chCreate:
			b.WriteString(`<t:Create>` + ch.item.XML() + `</t:Create>`)
		case chUpdate:
			b.WriteString(`<t:Update>` + ch.item.XML() + `</t:Update>`)
		case chReadFlag:
			fmt.Fprintf(&b, `<t:ReadFlagChange><t:ItemId Id="%s" ChangeKey="%s"/><t:IsRead>%t</t:IsRead></t:ReadFlagChange>`, esc(ch.item.ID), esc(ch.item.ChangeKey), *ch.item.Read)
		case chDelete:
			fmt.Fprintf(&b, `<t:Delete><t:ItemId Id="%s" ChangeKey="%s"/></t:Delete>`, esc(ch.id), esc(ch.ck))
		}
	}
	b.WriteString(`</m:Changes>`)
	c.ok(b.String())
	return nil
}

// syncFolderHierarchy answers SyncFolderHierarchy: the folders under SyncFolderId (default
// msgfolderroot), deep, with ParentFolderId and FolderClass always shown.
func syncFolderHierarchy(c *Call) error {
	var req struct {
		Shape     folderShape `xml:"FolderShape"`
		Folder    folderRefs  `xml:"SyncFolderId"`
		SyncState string      `xml:"SyncState"`
	}
	if err := c.decode(&req); err != nil {
		return err
	}
	c.begin()
	defer c.end()
	ref := folderRef{Distinguished: "msgfolderroot"}
	if len(req.Folder) > 0 {
		ref = req.Folder[0]
	}
	top, u, code, text := c.resolveFolder(ref)
	if code != "" {
		c.fail(code, text)
		return nil
	}
	epoch := c.s.ten.DeltaEpoch()
	key := "hierarchy:" + top.ID
	known := map[string]syncEntry{}
	if tok := strings.TrimSpace(req.SyncState); tok != "" {
		st := c.s.syncs.get(tok, u.ID, key, epoch)
		if st == nil {
			c.fail("ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")
			return nil
		}
		known = st.known
	}
	tree := c.s.folderTree(u)
	shape := req.Shape
	for _, uri := range []string{"folder:ParentFolderId", "folder:FolderClass"} {
		shape.Additional.FieldURI = append(shape.Additional.FieldURI, struct {
			URI string `xml:"FieldURI,attr"`
		}{uri})
	}
	under := map[string]bool{top.ID: true}
	var items []syncItem
	for _, f := range tree {
		if !under[f.ParentID] {
			continue
		}
		under[f.ID] = true
		items = append(items, syncItem{ID: f.ID, ChangeKey: f.ChangeKey, Sig: f.Name + "|" + f.ParentID,
			XML: func() string { return c.folderXML(u, f, &shape, tree) }})
	}
	changes, next, _ := diffItems(known, items, 0)
	tok := c.s.syncs.put(&syncState{mailbox: u.ID, folder: key, epoch: epoch, known: next})
	var b strings.Builder
	fmt.Fprintf(&b, `<m:SyncState>%s</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>`, tok)
	for _, ch := range changes {
		switch ch.kind {
		case chCreate:
			b.WriteString(`<t:Create>` + ch.item.XML() + `</t:Create>`)
		case chUpdate, chReadFlag:
			b.WriteString(`<t:Update>` + ch.item.XML() + `</t:Update>`)
		case chDelete:
			fmt.Fprintf(&b, `<t:Delete><t:FolderId Id="%s" ChangeKey="%s"/></t:Delete>`, esc(ch.id), esc(ch.ck))
		}
	}
	b.WriteString(`</m:Changes>`)
	c.ok(b.String())
	return nil
}
