// Package bench measures whole migrations side by side for `make bench`: a generated corpus
// loaded into a source Dovecot, then copied into fresh target Dovecots by a minimal pipelined
// APPEND client (the target's ceiling), by Bascule, by mbsync and by imapsync; and Bascule
// from the Graph emulator under Microsoft's throttling. It measures wall time, throughput,
// peak RSS and exactness (every message's SHA-256, flags and INTERNALDATE read back).
//
// The orchestration lives in e2e/bench_imap_test.go; this package holds the parts: the
// corpus, the raw client, the competitors' configurations, the checks and the table.
package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bascule-migrate/bascule/sim/tenant"
)

// CorpusVersion names the corpus generator's settings: a corpus kept on disk between runs
// (BENCH_CORPUS_DIR) is reused only under the same version. Change it with the settings.
const CorpusVersion = "v2a6m"

// MaxMessageSize is the largest message the corpus keeps (a realistic gateway limit).
const MaxMessageSize = 25 << 20

// Corpus is a generated set of mailboxes rendered to files: what the source server holds.
type Corpus struct {
	Dir      string
	Users    []CorpusUser
	Messages int
	Bytes    int64
	Largest  int64
}

// CorpusUser is one account: its folders (IMAP names, "/" separated, parents first) and
// messages.
type CorpusUser struct {
	Login    string
	Folders  []string
	Messages []CorpusMessage
}

// CorpusMessage is one message: its file, folder, flags (system flags and keywords) and
// INTERNALDATE.
type CorpusMessage struct {
	Folder string
	File   string
	Size   int64
	SHA256 string
	Flags  []string
	Date   time.Time
}

// CorpusConfig sizes a corpus.
type CorpusConfig struct {
	Seed     int64
	Messages int // about; messages over MaxMessageSize are left out
	Users    int // regular users (a shared mailbox is added), default 3
}

// specialNames are the IMAP names given to Exchange's well-known folders on the source
// server (Dovecot's special-use folders).
var specialNames = map[string]string{"inbox": "INBOX", "sentitems": "Sent", "drafts": "Drafts",
	"deleteditems": "Trash", "junkemail": "Junk", "archive": "Archive", "outbox": "Outbox"}

// keywords are the IMAP keywords a corpus uses besides system flags.
var keywords = []string{"$Forwarded", "$MDNSent", "$label1", "Projet_Alpha", "NonJunk"}

// GenerateCorpus builds the corpus from a generated tenant (sim/tenant: realistic MIME in
// many charsets, up to three attachments from 1 KB to 6 MiB each, nested non-ASCII folders) and writes each message to dir. The same config gives the same bytes.
func GenerateCorpus(cfg CorpusConfig, dir string) (*Corpus, error) {
	if cfg.Users <= 0 {
		cfg.Users = 3
	}
	ten := tenant.Generate(tenant.Config{Seed: cfg.Seed, Users: cfg.Users, Messages: cfg.Messages,
		MaxAttachment: 6 << 20})
	c := &Corpus{Dir: dir}
	type job struct {
		user, id, file string
	}
	var jobs []job
	for ui, u := range ten.Users() {
		login := strings.SplitN(u.UPN, "@", 2)[0]
		cu := CorpusUser{Login: login}
		names := map[string]string{} // folder id → IMAP name
		for _, f := range ten.Folders(u.ID) {
			var name string
			if n, ok := specialNames[f.WellKnown]; ok {
				name = n
			} else {
				leaf := strings.ReplaceAll(f.DisplayName, "/", "∕")
				if p, ok := names[f.ParentID]; ok {
					name = p + "/" + leaf
				} else {
					name = leaf
				}
			}
			names[f.ID] = name
			cu.Folders = append(cu.Folders, name)
		}
		udir := filepath.Join(dir, login)
		if err := os.MkdirAll(udir, 0o755); err != nil {
			return nil, err
		}
		for i, m := range ten.Messages(u.ID) {
			if m.Size > MaxMessageSize {
				continue
			}
			file := filepath.Join(udir, fmt.Sprintf("%05d.eml", i))
			cu.Messages = append(cu.Messages, CorpusMessage{Folder: names[m.FolderID], File: file, Size: m.Size,
				SHA256: m.SHA256, Flags: flagsOf(m, ui, i), Date: m.Received.Truncate(time.Second).UTC()})
			jobs = append(jobs, job{u.ID, m.ID, file})
			c.Messages++
			c.Bytes += m.Size
			c.Largest = max(c.Largest, m.Size)
		}
		c.Users = append(c.Users, cu)
	}
	// Render the files, in parallel.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ch := make(chan job)
	for range 4 {
		wg.Go(func() {
			for j := range ch {
				if err := render(ten, j.user, j.id, j.file); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return c, nil
}

func render(ten *tenant.Tenant, user, id, file string) error {
	if st, err := os.Stat(file); err == nil {
		if m, err := ten.Message(user, id); err == nil && st.Size() == m.Size {
			return nil // rendered by an earlier run with the same seed and CorpusVersion
		}
	}
	rc, _, err := ten.MIME(user, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// flagsOf maps a tenant message's state to IMAP flags, plus keywords drawn from a hash of
// the message's position (deterministic).
func flagsOf(m tenant.Message, user, i int) []string {
	var fl []string
	if m.IsRead {
		fl = append(fl, `\Seen`)
	}
	if m.Flag == "flagged" {
		fl = append(fl, `\Flagged`)
	}
	if m.IsDraft {
		fl = append(fl, `\Draft`)
	}
	switch m.LastVerb {
	case 102, 103:
		fl = append(fl, `\Answered`)
	case 104:
		fl = append(fl, "$Forwarded")
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", user, i)
	x := h.Sum32()
	for k, kw := range keywords[1:] {
		if x>>(k*4)&15 == 0 { // one in 16 per keyword
			fl = append(fl, kw)
		}
	}
	return fl
}

// HashFile returns the hex SHA-256 of a file (checks that a corpus on disk is intact).
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SizeMix describes a corpus's sizes: count per bucket, for the report.
func (c *Corpus) SizeMix() string {
	buckets := []struct {
		name string
		max  int64
	}{{"<10KB", 10 << 10}, {"<100KB", 100 << 10}, {"<1MB", 1 << 20}, {"<10MB", 10 << 20}, {"≤25MB", MaxMessageSize}}
	counts := make([]int, len(buckets))
	for _, u := range c.Users {
		for _, m := range u.Messages {
			for i, b := range buckets {
				if m.Size < b.max || i == len(buckets)-1 {
					counts[i]++
					break
				}
			}
		}
	}
	var parts []string
	for i, b := range buckets {
		parts = append(parts, fmt.Sprintf("%s %d", b.name, counts[i]))
	}
	return strings.Join(parts, ", ")
}

// FolderCount is the number of folders over every account.
func (c *Corpus) FolderCount() int {
	n := 0
	for _, u := range c.Users {
		n += len(u.Folders)
	}
	return n
}

// Logins are the accounts' logins, sorted.
func (c *Corpus) Logins() []string {
	var out []string
	for _, u := range c.Users {
		out = append(out, u.Login)
	}
	sort.Strings(out)
	return out
}
