// Package imaptest fills a real IMAP server with a generated corpus for the IMAP source's
// tests, the end-to-end tests and benchmarks: nested folders with non-ASCII names, messages
// of mixed sizes with flags, keywords and internal dates in several time zones, appended with
// APPEND (UIDPLUS gives each message's UIDVALIDITY and UID).
package imaptest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Folders are the folders of a generated corpus besides INBOX ("/" separated): nested, with
// non-ASCII names (mUTF-7 on the wire).
var Folders = []string{"Boîte/Projets/2024", "Boîte/Projets/Été", "日本語", "Archives/Zürich", "Sent"}

// Message is one generated message.
type Message struct {
	Folder string
	Body   []byte
	Flags  []imap.Flag
	Date   time.Time
}

// Options shape a corpus.
type Options struct {
	Messages int    // how many (default 40)
	Seed     uint64 // of the generator
	// MaxSize is the largest body in bytes (default 200 KiB); sizes follow a realistic mix
	// (most a few KiB, some tens of KiB, a few near MaxSize).
	MaxSize int
	// Folders (default Folders) besides INBOX.
	Folders []string
}

var flagSets = [][]imap.Flag{
	nil,
	{imap.FlagSeen},
	{imap.FlagSeen, imap.FlagFlagged},
	{imap.FlagSeen, imap.FlagAnswered},
	{imap.FlagDraft},
	{imap.FlagSeen, "$Label1"},
	{imap.FlagSeen, imap.FlagAnswered, "$Forwarded", "Projet_X"},
	{imap.FlagFlagged},
}

// Generate makes a deterministic corpus.
func Generate(o Options) []Message {
	if o.Messages <= 0 {
		o.Messages = 40
	}
	if o.MaxSize <= 0 {
		o.MaxSize = 200 << 10
	}
	if o.Folders == nil {
		o.Folders = Folders
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x6261736375)) //nolint:gosec // test data
	folders := append([]string{"INBOX"}, o.Folders...)
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -5*3600), time.FixedZone("", 5*3600+1800)}
	out := make([]Message, o.Messages)
	for i := range out {
		size := 800 + r.IntN(6000)
		switch x := r.IntN(100); {
		case x >= 98:
			size = o.MaxSize/2 + r.IntN(o.MaxSize/2)
		case x >= 85:
			size = 10000 + r.IntN(max(1, min(o.MaxSize, 100000)-10000))
		}
		date := time.Date(2019+r.IntN(6), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, zones[r.IntN(len(zones))])
		out[i] = Message{Folder: folders[i%len(folders)], Flags: flagSets[r.IntN(len(flagSets))], Date: date,
			Body: Body(i, o.Seed, size, date)}
	}
	return out
}

// Body is a well-formed RFC 5322 message of about size bytes, CRLF line endings.
func Body(i int, seed uint64, size int, date time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Return-Path: <sender%d@example.org>\r\n", i%7)
	fmt.Fprintf(&b, "From: =?UTF-8?Q?Ren=C3=A9e_Exp=C3=A9ditrice?= <sender%d@example.org>\r\n", i%7)
	fmt.Fprintf(&b, "To: Destinataire <rcpt@example.net>\r\n")
	fmt.Fprintf(&b, "Subject: =?UTF-8?Q?Message_n=C2=B0_%d_=E2=80=94_r=C3=A9union?=\r\n", i)
	fmt.Fprintf(&b, "Date: %s\r\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <gen-%d-%d@bascule.test>\r\n", seed, i)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	line := fmt.Sprintf("Ligne de corps du message %d — données générées, été à Zürich. ", i)
	for n := 0; b.Len() < size; n++ {
		fmt.Fprintf(&b, "%05d %s\r\n", n, line)
	}
	return []byte(b.String())
}

// Seeded is one message as the server holds it after Seed.
type Seeded struct {
	Folder      string
	UIDValidity uint32
	UID         uint32
	SHA256      string
	Size        int64
	Flags       []imap.Flag
	Date        time.Time
	Body        []byte // the bytes appended
}

// Dial connects in plaintext (loopback test servers) and logs in.
func Dial(addr, login, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(login, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login %s: %w", login, err)
	}
	return c, nil
}

// Create makes every folder of msgs (and the given ones) that is not there yet.
func Create(c *imapclient.Client, folders ...string) error {
	have := map[string]bool{}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return err
	}
	for _, l := range list {
		have[l.Mailbox] = true
	}
	for _, f := range folders {
		if have[f] || strings.EqualFold(f, "INBOX") {
			continue
		}
		if err := c.Create(f, nil).Wait(); err != nil {
			return fmt.Errorf("CREATE %s: %w", f, err)
		}
		have[f] = true
	}
	return nil
}

// Append appends one message and returns it as held (the server must offer UIDPLUS).
func Append(c *imapclient.Client, m Message) (Seeded, error) {
	cmd := c.Append(m.Folder, int64(len(m.Body)), &imap.AppendOptions{Flags: m.Flags, Time: m.Date})
	if _, err := cmd.Write(m.Body); err != nil {
		return Seeded{}, err
	}
	if err := cmd.Close(); err != nil {
		return Seeded{}, err
	}
	d, err := cmd.Wait()
	if err != nil {
		return Seeded{}, fmt.Errorf("APPEND to %s: %w", m.Folder, err)
	}
	sum := sha256.Sum256(m.Body)
	return Seeded{Folder: m.Folder, UIDValidity: d.UIDValidity, UID: uint32(d.UID), SHA256: hex.EncodeToString(sum[:]),
		Size: int64(len(m.Body)), Flags: m.Flags, Date: m.Date, Body: m.Body}, nil
}

// Seed creates the folders of msgs and appends them in order.
func Seed(c *imapclient.Client, msgs []Message) ([]Seeded, error) {
	var folders []string
	seen := map[string]bool{}
	for _, m := range msgs {
		if !seen[m.Folder] {
			seen[m.Folder] = true
			folders = append(folders, m.Folder)
		}
	}
	if err := Create(c, folders...); err != nil {
		return nil, err
	}
	out := make([]Seeded, 0, len(msgs))
	for _, m := range msgs {
		s, err := Append(c, m)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}
