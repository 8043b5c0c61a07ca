// Package imapcheck reads back what landed in an IMAP account — every folder, every message's
// SHA-256, flags and INTERNALDATE — so that the demo and the tests can compare a target with
// its source.
package imapcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Message is one message as stored on the target.
type Message struct {
	UID          uint32
	SHA256       string
	Size         int64
	Flags        []imap.Flag
	InternalDate time.Time
}

// Has reports whether the message carries flag (compared without case, as IMAP does).
func (m Message) Has(flag imap.Flag) bool {
	for _, f := range m.Flags {
		if strings.EqualFold(string(f), string(flag)) {
			return true
		}
	}
	return false
}

// Folder is one mailbox of the account.
type Folder struct {
	Name     string
	Attrs    []imap.MailboxAttr
	Messages []Message
}

// Snapshot is an account's content, folders sorted by name, messages by UID.
type Snapshot struct {
	Folders []Folder
}

// Dial connects in plaintext (loopback test servers) and logs in.
func Dial(addr, user, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	return c, nil
}

// Take reads every folder and message of the logged-in account: its personal namespace
// only (folders other users share with it, under the other-users and shared namespaces, are
// theirs). It reads every body to hash it: meant for checks, not for large production
// mailboxes.
func Take(c *imapclient.Client) (*Snapshot, error) {
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: c.Caps().Has(imap.CapSpecialUse)}).Collect()
	if err != nil {
		return nil, fmt.Errorf("LIST: %w", err)
	}
	var foreign []string
	if c.Caps().Has(imap.CapNamespace) {
		ns, err := c.Namespace().Wait()
		if err != nil {
			return nil, fmt.Errorf("NAMESPACE: %w", err)
		}
		for _, d := range append(ns.Other, ns.Shared...) {
			if d.Prefix != "" {
				foreign = append(foreign, d.Prefix)
			}
		}
	}
	snap := &Snapshot{}
mailboxes:
	for _, mb := range list {
		for _, p := range foreign {
			if strings.HasPrefix(mb.Mailbox, p) {
				continue mailboxes
			}
		}
		if hasAttr(mb.Attrs, imap.MailboxAttrNoSelect) || hasAttr(mb.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		f := Folder{Name: mb.Mailbox, Attrs: mb.Attrs}
		sel, err := c.Select(mb.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("SELECT %q: %w", mb.Mailbox, err)
		}
		if sel.NumMessages > 0 {
			var seq imap.SeqSet
			seq.AddRange(1, 0)
			cmd := c.Fetch(seq, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true,
				BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
			for {
				msg := cmd.Next()
				if msg == nil {
					break
				}
				var m Message
				for {
					item := msg.Next()
					if item == nil {
						break
					}
					switch it := item.(type) {
					case imapclient.FetchItemDataUID:
						m.UID = uint32(it.UID)
					case imapclient.FetchItemDataFlags:
						m.Flags = it.Flags
					case imapclient.FetchItemDataInternalDate:
						m.InternalDate = it.Time
					case imapclient.FetchItemDataRFC822Size:
						m.Size = it.Size
					case imapclient.FetchItemDataBodySection:
						h := sha256.New()
						if _, err := io.Copy(h, it.Literal); err != nil {
							return nil, fmt.Errorf("FETCH body in %q: %w", mb.Mailbox, err)
						}
						m.SHA256 = hex.EncodeToString(h.Sum(nil))
					}
				}
				f.Messages = append(f.Messages, m)
			}
			if err := cmd.Close(); err != nil {
				return nil, fmt.Errorf("FETCH in %q: %w", mb.Mailbox, err)
			}
		}
		sort.Slice(f.Messages, func(i, j int) bool { return f.Messages[i].UID < f.Messages[j].UID })
		snap.Folders = append(snap.Folders, f)
	}
	sort.Slice(snap.Folders, func(i, j int) bool { return snap.Folders[i].Name < snap.Folders[j].Name })
	return snap, nil
}

// Count is the number of messages in every folder.
func (s *Snapshot) Count() int {
	n := 0
	for _, f := range s.Folders {
		n += len(f.Messages)
	}
	return n
}

// Hashes counts messages by SHA-256 over the whole account (a multiset).
func (s *Snapshot) Hashes() map[string]int {
	m := map[string]int{}
	for _, f := range s.Folders {
		for _, msg := range f.Messages {
			m[msg.SHA256]++
		}
	}
	return m
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if x == a {
			return true
		}
	}
	return false
}
