package imap

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
)

// ACL (RFC 4314) on the writer's own session. The session is the account itself (its own
// login, a Dovecot master user with acl_user = %u, or SASL PLAIN with authorization identity,
// which a Cyrus admin may use), so folder names are the owner's personal names (FolderRef.Name)
// and the owner's implicit administer right applies.

var _ load.ACLWriter = (*writer)(nil)

// Special identifiers (RFC 4314 §2, and Dovecot's "authenticated").
const (
	IdentifierAnyone        = "anyone"
	IdentifierAuthenticated = "authenticated"
)

// SetACL replaces identifier's rights on folder; empty rights remove identifier from the
// folder's ACL (RFC 4314 DELETEACL semantics: Dovecot and Cyrus both drop the entry on a
// SETACL with an empty right set). identifier is a target login, "anyone" or
// "authenticated" (on a server that does not know "authenticated", i.e. Cyrus, it becomes
// "anyone": Cyrus refuses anonymous logins unless configured otherwise). A folder that does
// not exist wraps model.ErrNotFound and model.ErrPermanent; rights or an identifier the
// server refuses wrap model.ErrPermanent with its text; connection trouble
// model.ErrRetryable.
func (w *writer) SetACL(ctx context.Context, folder, identifier, rights string) error {
	c, err := w.client(ctx)
	if err != nil {
		return err
	}
	if !c.Caps().Has(imap.CapACL) {
		return fmt.Errorf("SETACL on %q: the server offers no ACL: %w", folder, load.ErrUnsupported)
	}
	id, err := w.identifier(ctx, c, identifier)
	if err != nil {
		return err
	}
	defer w.watch(ctx, c)()
	err = c.SetACL(folder, imap.RightsIdentifier(id), imap.RightModificationReplace, imap.RightSet(rights)).Wait()
	return w.aclError(c, err, fmt.Sprintf("SETACL %q %q %q", folder, id, rights))
}

// ACL returns folder's access control list as the server states it: identifier → rights
// (letters in the server's order; compare with SameRights). Entries with no rights left are
// omitted. A folder that does not exist wraps model.ErrNotFound.
func (w *writer) ACL(ctx context.Context, folder string) (map[string]string, error) {
	c, err := w.client(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Caps().Has(imap.CapACL) {
		return nil, fmt.Errorf("GETACL on %q: the server offers no ACL: %w", folder, load.ErrUnsupported)
	}
	defer w.watch(ctx, c)()
	data, err := c.GetACL(folder).Wait()
	if err := w.aclError(c, err, fmt.Sprintf("GETACL %q", folder)); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(data.Rights))
	for id, rs := range data.Rights {
		if len(rs) == 0 {
			continue
		}
		out[string(id)] = string(rs)
	}
	return out, nil
}

// MyRights returns the session's own rights on folder (MYRIGHTS): for a delegate's session,
// what the owner granted. A folder that does not exist (or is invisible) wraps
// model.ErrNotFound.
func (w *writer) MyRights(ctx context.Context, folder string) (string, error) {
	c, err := w.client(ctx)
	if err != nil {
		return "", err
	}
	defer w.watch(ctx, c)()
	data, err := c.MyRights(folder).Wait()
	if err := w.aclError(c, err, fmt.Sprintf("MYRIGHTS %q", folder)); err != nil {
		return "", err
	}
	return string(data.Rights), nil
}

// Folders lists every selectable folder of the account's personal namespace (target names,
// sorted), leaving out other users' and shared folders the account merely sees.
func (w *writer) Folders(ctx context.Context) ([]string, error) {
	c, err := w.client(ctx)
	if err != nil {
		return nil, err
	}
	defer w.watch(ctx, c)()
	out, err := PersonalFolders(c)
	if err != nil {
		return nil, w.classify(c, err, "NAMESPACE/LIST")
	}
	return out, nil
}

// PersonalFolders lists the selectable folders of the personal namespace of the account c
// is logged in to, sorted: not the other users' and shared folders it merely sees (when the
// server has NAMESPACE), nor \Noselect / \NonExistent names.
func PersonalFolders(c *imapclient.Client) ([]string, error) {
	var others []string
	if c.Caps().Has(imap.CapNamespace) {
		ns, err := c.Namespace().Wait()
		if err != nil {
			return nil, err
		}
		for _, d := range append(append([]imap.NamespaceDescriptor{}, ns.Other...), ns.Shared...) {
			if d.Prefix != "" {
				others = append(others, d.Prefix)
			}
		}
	}
	boxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, err
	}
	var out []string
next:
	for _, b := range boxes {
		for _, a := range b.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				continue next
			}
		}
		for _, p := range others {
			// A prefix ends with the separator ("shared/"); its bare form names the
			// namespace root itself.
			if strings.HasPrefix(b.Mailbox, p) || b.Mailbox == strings.TrimRight(p, string(b.Delim)) {
				continue next
			}
		}
		out = append(out, b.Mailbox)
	}
	sort.Strings(out)
	return out, nil
}

// identifier normalises an identifier for the server: Dovecot's "user=bob" (its ACL file
// syntax) becomes "bob"; "authenticated" becomes "anyone" on Cyrus, which has no such
// identifier (it would take it for a login), recognised by its answer to ID.
func (w *writer) identifier(ctx context.Context, c *imapclient.Client, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", model.Permanent(errors.New("SETACL: empty identifier"))
	}
	// Dovecot's own ACL files name users "user=bob"; IMAP takes the bare login.
	if rest, ok := strings.CutPrefix(id, "user="); ok {
		id = rest
	}
	if strings.EqualFold(id, IdentifierAnyone) {
		return IdentifierAnyone, nil
	}
	if strings.EqualFold(id, IdentifierAuthenticated) {
		cyrus, err := w.isCyrus(ctx, c)
		if err != nil {
			return "", err
		}
		if cyrus {
			return IdentifierAnyone, nil
		}
		return IdentifierAuthenticated, nil
	}
	return id, nil
}

// isCyrus tells whether the server is Cyrus, from its ID answer (RFC 2971), asked once.
func (w *writer) isCyrus(ctx context.Context, c *imapclient.Client) (bool, error) {
	w.idMu.Lock()
	defer w.idMu.Unlock()
	if w.server != "" {
		return w.server == "cyrus", nil
	}
	w.server = "other"
	if c.Caps().Has(imap.CapID) {
		defer w.watch(ctx, c)()
		data, err := c.ID(&imap.IDData{Name: "bascule"}).Wait()
		if err != nil {
			w.server = ""
			return false, w.classify(c, err, "ID")
		}
		if data != nil && strings.Contains(strings.ToLower(data.Name), "cyrus") {
			w.server = "cyrus"
		}
	}
	return w.server == "cyrus", nil
}

// aclError classifies an ACL command's error; a missing folder also wraps model.ErrNotFound.
func (w *writer) aclError(c *imapclient.Client, err error, what string) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) && strings.Contains(ie.Text, "identifier is disallowed") {
		// Dovecot without acl_anyone = allow: the administrator must allow it.
		return model.Permanent(fmt.Errorf("%s: the server said: %s (Dovecot: set acl_anyone = allow in plugin {}): %w",
			what, strings.TrimSpace(ie.Text), load.ErrUnsupported))
	}
	if errors.As(err, &ie) && (ie.Code == imap.ResponseCodeNonExistent ||
		strings.Contains(strings.ToLower(ie.Text), "mailbox does not exist") ||
		strings.Contains(strings.ToLower(ie.Text), "mailbox doesn't exist")) {
		return model.Permanent(fmt.Errorf("%s: the server said: %s: %w", what, strings.TrimSpace(ie.Text), model.ErrNotFound))
	}
	return w.classify(c, err, what)
}

// SameRights reports whether two RFC 4314 right strings grant the same rights, whatever
// their order. The obsolete RFC 2086 letters "c" and "d", which servers add to what they
// report (Dovecot and Cyrus answer "lrswipkxtecda" for "lrswipkxtea"), are ignored: they
// are derived from "k" and "x", "t", "e".
func SameRights(a, b string) bool {
	return canonRights(a) == canonRights(b)
}

func canonRights(s string) string {
	seen := map[rune]bool{}
	for _, r := range s {
		if r == 'c' || r == 'd' {
			continue
		}
		seen[r] = true
	}
	out := make([]rune, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return string(out)
}
