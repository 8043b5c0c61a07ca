package testenv

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
)

// StoredMessage is one message as the server keeps it (UID, SHA-256 of BODY.PEEK[], size,
// flags, INTERNALDATE).
type StoredMessage = imapcheck.Message

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
	c, err := imapcheck.Dial(addr, login, password)
	if err != nil {
		return Account{}, err
	}
	defer c.Close()
	snap, err := imapcheck.Take(c)
	if err != nil {
		return Account{}, err
	}
	_ = c.Logout().Wait()
	a := Account{Messages: map[string][]StoredMessage{}}
	for _, f := range snap.Folders {
		a.Folders = append(a.Folders, StoredFolder{Name: f.Name, Attrs: f.Attrs})
		a.Messages[f.Name] = f.Messages
	}
	return a, nil
}
