package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// StoredMessage is one message as the server keeps it.
type StoredMessage struct {
	UID          uint32
	SHA256       string // hex SHA-256 of BODY.PEEK[] (the exact bytes stored)
	Size         int64  // RFC822.SIZE
	Flags        []imap.Flag
	InternalDate time.Time
}

// Has reports whether the message carries flag (compared without case, as IMAP does).
func (m StoredMessage) Has(flag imap.Flag) bool {
	return slices.ContainsFunc(m.Flags, func(f imap.Flag) bool { return strings.EqualFold(string(f), string(flag)) })
}

// StoredFolder is one mailbox of an account, with its attributes (special use included when
// the server reports it).
type StoredFolder struct {
	Name  string
	Attrs []imap.MailboxAttr
}

// Has reports whether the folder carries attr (e.g. imap.MailboxAttrSent).
func (f StoredFolder) Has(attr imap.MailboxAttr) bool { return slices.Contains(f.Attrs, attr) }

// Account is everything an IMAP account holds, read back for assertions.
type Account struct {
	// Folders are sorted by name; \NoSelect and \NonExistent entries are left out.
	Folders []StoredFolder
	// Messages maps a folder name to its messages, sorted by UID (empty folders are present
	// with a nil slice).
	Messages map[string][]StoredMessage
}

// Folder returns the folder called name, and whether it exists.
func (a Account) Folder(name string) (StoredFolder, bool) {
	for _, f := range a.Folders {
		if f.Name == name {
			return f, true
		}
	}
	return StoredFolder{}, false
}

// Read logs in to user through the master user and reads the whole account back.
func (d *DovecotServer) Read(t testing.TB, user string) Account {
	t.Helper()
	return ReadIMAP(t, d.Addr, user+"*"+d.MasterUser, d.MasterPass)
}

// Dump returns what user's account holds: folder name → messages (UID, SHA-256 of the
// bytes, flags, INTERNALDATE, size), read through the master user.
func (d *DovecotServer) Dump(t testing.TB, user string) map[string][]StoredMessage {
	t.Helper()
	return d.Read(t, user).Messages
}

// Folders returns user's folder list with the attributes the server reports (special use
// included).
func (d *DovecotServer) Folders(t testing.TB, user string) []StoredFolder {
	t.Helper()
	return d.Read(t, user).Folders
}

// ReadIMAP logs in to a plaintext loopback IMAP server and reads every folder and message of
// the account; the test fails on any error. It hashes every body: meant for test accounts.
func ReadIMAP(t testing.TB, addr, login, password string) Account {
	t.Helper()
	a, err := readIMAP(addr, login, password)
	if err != nil {
		t.Fatalf("reading back %s on %s: %v", login, addr, err)
	}
	return a
}

func readIMAP(addr, login, password string) (Account, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return Account{}, err
	}
	defer c.Close()
	if err := c.Login(login, password).Wait(); err != nil {
		return Account{}, fmt.Errorf("LOGIN: %w", err)
	}
	var opts imap.ListOptions
	if c.Caps().Has(imap.CapSpecialUse) {
		opts.ReturnSpecialUse = true
	}
	boxes, err := c.List("", "*", &opts).Collect()
	if err != nil {
		return Account{}, fmt.Errorf("LIST: %w", err)
	}
	a := Account{Messages: map[string][]StoredMessage{}}
	for _, b := range boxes {
		if slices.Contains(b.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(b.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		a.Folders = append(a.Folders, StoredFolder{Name: b.Mailbox, Attrs: b.Attrs})
		msgs, err := readFolder(c, b.Mailbox)
		if err != nil {
			return Account{}, err
		}
		a.Messages[b.Mailbox] = msgs
	}
	sort.Slice(a.Folders, func(i, j int) bool { return a.Folders[i].Name < a.Folders[j].Name })
	_ = c.Logout().Wait()
	return a, nil
}

func readFolder(c *imapclient.Client, name string) ([]StoredMessage, error) {
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, fmt.Errorf("EXAMINE %q: %w", name, err)
	}
	if sel.NumMessages == 0 {
		return nil, nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	cmd := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	var msgs []StoredMessage
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var m StoredMessage
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
					cmd.Close()
					return nil, fmt.Errorf("FETCH in %q: %w", name, err)
				}
				m.SHA256 = hex.EncodeToString(h.Sum(nil))
			}
		}
		msgs = append(msgs, m)
	}
	if err := cmd.Close(); err != nil {
		return nil, fmt.Errorf("FETCH in %q: %w", name, err)
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].UID < msgs[j].UID })
	return msgs, nil
}
