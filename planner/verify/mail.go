package verify

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/bascule-migrate/bascule/extract"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// dialIMAP logs in to account on the target the way migrate's sink does (load/imap.Config:
// TLS mode, CA file, login / master user / SASL authzid).
func dialIMAP(ctx context.Context, cfg *imapsink.Config, account string) (*imapclient.Client, error) {
	opts := &imapclient.Options{}
	if cfg.TLS != "none" {
		tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
			tc.ServerName = host
		}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, model.Fatal(fmt.Errorf("imap: CA file: %w", err))
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, model.Fatal(fmt.Errorf("imap: no certificate in CA file %s", cfg.CAFile))
			}
			tc.RootCAs = pool
		}
		opts.TLSConfig = tc
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var c *imapclient.Client
	var err error
	switch cfg.TLS {
	case "tls":
		c, err = imapclient.DialTLS(cfg.Addr, opts)
	case "none":
		c, err = imapclient.DialInsecure(cfg.Addr, opts)
	default:
		c, err = imapclient.DialStartTLS(cfg.Addr, opts)
	}
	if err != nil {
		return nil, model.Retryable(fmt.Errorf("connecting to %s: %w", cfg.Addr, err))
	}
	sep := cfg.MasterSeparator
	if sep == "" {
		sep = "*"
	}
	switch cfg.Auth {
	case "master":
		err = c.Login(account+sep+cfg.AdminUser, cfg.AdminPassword).Wait()
	case "authzid":
		err = c.Authenticate(sasl.NewPlainClient(account, cfg.AdminUser, cfg.AdminPassword))
	default:
		pw, ok := cfg.Passwords[account]
		if !ok {
			c.Close()
			return nil, model.Permanent(fmt.Errorf("no password for target account %q (add it to the mapping file, or use an admin login)", account))
		}
		err = c.Login(account, pw).Wait()
	}
	if err != nil {
		c.Close()
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, model.Permanent(fmt.Errorf("login to %s as %q refused: %s", cfg.Addr, account, ie.Text))
		}
		return nil, model.Retryable(fmt.Errorf("login to %s: %w", cfg.Addr, err))
	}
	// Close the connection when ctx ends, so that a command waiting on the server returns.
	context.AfterFunc(ctx, func() { c.Close() })
	return c, nil
}

// targetMsg is what FETCH says of one message on the target.
type targetMsg struct {
	uid   uint32
	flags []imap.Flag
	date  time.Time
	size  int64
}

func (m targetMsg) has(f imap.Flag) bool {
	for _, x := range m.flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

// mail verifies every mail folder of the mailbox.
func (v *mailboxVerifier) mail(ctx context.Context) error {
	c, err := dialIMAP(ctx, v.o.IMAP, v.mbx.Target)
	if err != nil {
		return fmt.Errorf("target account %q (IMAP): %w", v.mbx.Target, err)
	}
	defer func() { c.Close() }() // c is replaced after a broken connection
	folders, err := v.o.Source.Folders(ctx, v.mbx)
	if err != nil {
		return fmt.Errorf("listing the source's folders: %w", err)
	}
	stFolders, err := v.o.Store.Folders(ctx, v.mbx.ID)
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	stByID := map[string]state.Folder{}
	for _, f := range stFolders {
		if f.Kind == "" {
			stByID[f.ID] = f
		}
	}
	items, err := v.o.Store.Items(ctx, v.mbx.ID, "")
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	itemByID := map[string]state.Item{}
	// Every UID the store accounts for, per target folder: they are not "extra".
	known := map[string]map[uint32]bool{}
	for _, it := range items {
		if it.Kind != "" {
			continue
		}
		itemByID[it.ID] = it
		if it.UID != 0 && it.TargetFolder != "" {
			k := fmt.Sprintf("%s;%d", it.TargetFolder, it.UIDValidity)
			if known[k] == nil {
				known[k] = map[uint32]bool{}
			}
			known[k][it.UID] = true
		}
	}
	for _, f := range folders {
		if err := ctx.Err(); err != nil {
			return err
		}
		fr := FolderReport{Kind: "mail", ID: f.ID, Path: strings.Join(f.Path, "/")}
		sf, ok := stByID[f.ID]
		if ok && sf.Path != "" {
			fr.Path = sf.Path
		}
		err := v.mailFolder(ctx, c, f, sf, ok, itemByID, known, &fr)
		v.rep.Folders = append(v.rep.Folders, fr)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, model.ErrFatal) {
				return err
			}
			v.rep.Folders[len(v.rep.Folders)-1].Error = err.Error()
			v.problem(fr.Path, err.Error())
			if errors.Is(err, model.ErrRetryable) {
				// The connection may be broken: open another for the next folder.
				c.Close()
				if c, err = dialIMAP(ctx, v.o.IMAP, v.mbx.Target); err != nil {
					return fmt.Errorf("target account %q (IMAP): %w", v.mbx.Target, err)
				}
			}
		}
	}
	return nil
}

func (v *mailboxVerifier) mailFolder(ctx context.Context, c *imapclient.Client, f model.Folder, sf state.Folder, inStore bool,
	itemByID map[string]state.Item, known map[string]map[uint32]bool, fr *FolderReport) error {
	// The source's messages: a full listing (cursor "").
	var msgs []model.Message
	for ch, err := range v.o.Source.Changes(ctx, v.mbx, f, "") {
		if err != nil {
			return fmt.Errorf("listing the source folder: %w", err)
		}
		if ch.Kind == extract.Upsert {
			msgs = append(msgs, ch.Message)
		}
	}
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].ID < msgs[j].ID })
	for _, m := range msgs {
		fr.Source.Items++
		fr.Source.Bytes += m.Size
		if it, ok := itemByID[m.ID]; ok && it.Status == state.StatusDone {
			fr.Store.Items++
			fr.Store.Bytes += it.Size
		}
	}
	if !inStore || sf.Target == "" {
		if len(msgs) > 0 {
			v.diff(fr, Difference{Kind: FolderMissing, Detail: fmt.Sprintf("the folder was never migrated (%d messages on the source): run migrate", len(msgs))})
		}
		return nil
	}
	fr.TargetName = sf.Target
	sel, err := c.Select(sf.Target, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			v.diff(fr, Difference{Kind: FolderMissing, TargetRef: sf.Target,
				Detail: fmt.Sprintf("folder %q cannot be opened on the target (%s); %d messages on the source", sf.Target, ie.Text, len(msgs))})
			return nil
		}
		return model.Retryable(fmt.Errorf("EXAMINE %q: %w", sf.Target, err))
	}
	tmsgs := map[uint32]targetMsg{}
	if sel.NumMessages > 0 {
		var seq imap.SeqSet
		seq.AddRange(1, 0)
		cmd := c.Fetch(seq, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true, RFC822Size: true})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			buf, err := msg.Collect()
			if err != nil {
				break
			}
			tmsgs[uint32(buf.UID)] = targetMsg{uid: uint32(buf.UID), flags: buf.Flags, date: buf.InternalDate, size: buf.RFC822Size}
		}
		if err := cmd.Close(); err != nil {
			return model.Retryable(fmt.Errorf("FETCH in %q: %w", sf.Target, err))
		}
	}
	for _, m := range tmsgs {
		fr.Target.Items++
		fr.Target.Bytes += m.size
	}
	ref := func(uid uint32) string {
		return fmt.Sprintf("%s;UIDVALIDITY=%d;UID=%d", sf.Target, sel.UIDValidity, uid)
	}
	if sf.UIDValidity != 0 && sel.UIDValidity != sf.UIDValidity {
		v.diff(fr, Difference{Kind: FolderMissing, TargetRef: sf.Target, Field: "uidvalidity",
			Expected: fmt.Sprint(sf.UIDValidity), Actual: fmt.Sprint(sel.UIDValidity),
			Detail: "the target folder was recreated (UIDVALIDITY changed) since it was migrated: run migrate to write it again"})
	}
	// Per message: present, size, flags, date; content for the sample.
	var present []string
	presentUID := map[string]uint32{}
	for _, m := range msgs {
		it, ok := itemByID[m.ID]
		d := Difference{ItemID: m.ID, Subject: m.Subject}
		if !ok || it.Status != state.StatusDone {
			d.Kind = NotMigrated
			switch {
			case !ok:
				d.Detail = "the state store has never seen this message: run migrate"
			case it.Status == state.StatusFailed:
				d.Detail = "migrate failed on it: " + it.LastError
			default:
				d.Detail = fmt.Sprintf("its status is %s: run migrate", it.Status)
			}
			v.diff(fr, d)
			continue
		}
		if it.FolderID != m.FolderID && it.FolderID != "" && m.FolderID != "" {
			d.Kind, d.Detail = NotMigrated, "the message moved on the source since the last migrate: run migrate"
			v.diff(fr, d)
			continue
		}
		tm, there := tmsgs[it.UID]
		if it.TargetFolder != sf.Target || it.UIDValidity != sel.UIDValidity || !there {
			d.Kind, d.TargetRef = MissingOnTarget, fmt.Sprintf("%s;UIDVALIDITY=%d;UID=%d", it.TargetFolder, it.UIDValidity, it.UID)
			d.Detail = "the message is not on the target where it was written"
			v.diff(fr, d)
			continue
		}
		d.TargetRef = ref(it.UID)
		if it.Size != 0 && tm.size != it.Size {
			e := d
			e.Kind, e.Field, e.Expected, e.Actual = BytesDiffer, "size", fmt.Sprint(it.Size), fmt.Sprint(tm.size)
			e.Detail = fmt.Sprintf("RFC822.SIZE is %d bytes, %d were written", tm.size, it.Size)
			v.diff(fr, e)
		}
		for _, fl := range []struct {
			name imap.Flag
			want bool
		}{{imap.FlagSeen, m.Flags.Seen}, {imap.FlagFlagged, m.Flags.Flagged}, {imap.FlagAnswered, m.Flags.Answered}, {imap.FlagDraft, m.Flags.Draft}} {
			if got := tm.has(fl.name); got != fl.want {
				e := d
				e.Kind, e.Field, e.Expected, e.Actual = FlagsDiffer, string(fl.name), onOff(fl.want), onOff(got)
				e.Detail = fmt.Sprintf("%s is %s on the source, %s on the target", fl.name, onOff(fl.want), onOff(got))
				v.diff(fr, e)
			}
		}
		if !m.Received.IsZero() && !tm.date.IsZero() && !m.Received.Truncate(time.Second).Equal(tm.date.Truncate(time.Second)) {
			e := d
			e.Kind, e.Field = InternalDateDiffers, "internaldate"
			e.Expected, e.Actual = m.Received.UTC().Format(time.RFC3339), tm.date.UTC().Format(time.RFC3339)
			e.Detail = "INTERNALDATE is not the source's received time"
			v.diff(fr, e)
		}
		if it.SHA256 != "" {
			present = append(present, m.ID)
			presentUID[m.ID] = it.UID
		}
	}
	// Extra messages: UIDs nobody in the store accounts for.
	var extra []uint32
	kn := known[fmt.Sprintf("%s;%d", sf.Target, sel.UIDValidity)]
	for uid := range tmsgs {
		if !kn[uid] {
			extra = append(extra, uid)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	if len(extra) > 0 {
		subjects := fetchSubjects(c, extra)
		for _, uid := range extra {
			v.diff(fr, Difference{Kind: ExtraOnTarget, TargetRef: ref(uid), Subject: subjects[uid],
				Detail: "a message on the target that the source and the state store do not know"})
		}
	}
	// Content: SHA-256 of the sample.
	chosen := v.o.sample(present)
	if len(chosen) == 0 {
		return nil
	}
	var uids imap.UIDSet
	byUID := map[uint32]string{}
	for id := range chosen {
		uids.AddNum(imap.UID(presentUID[id]))
		byUID[presentUID[id]] = id
	}
	got := map[uint32]string{}
	cmd := c.Fetch(uids, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var uid uint32
		var sum string
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch x := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(x.UID)
			case imapclient.FetchItemDataBodySection:
				h := sha256.New()
				if _, err := io.Copy(h, x.Literal); err != nil {
					cmd.Close()
					return model.Retryable(fmt.Errorf("FETCH body in %q: %w", sf.Target, err))
				}
				sum = hex.EncodeToString(h.Sum(nil))
			}
		}
		if uid != 0 && sum != "" {
			got[uid] = sum
		}
	}
	if err := cmd.Close(); err != nil {
		return model.Retryable(fmt.Errorf("FETCH in %q: %w", sf.Target, err))
	}
	ids := make([]string, 0, len(chosen))
	for id := range chosen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	subj := map[string]string{}
	for _, m := range msgs {
		subj[m.ID] = m.Subject
	}
	for _, id := range ids {
		uid := presentUID[id]
		it := itemByID[id]
		fr.Checked++
		sum, ok := got[uid]
		if !ok {
			v.diff(fr, Difference{Kind: MissingOnTarget, ItemID: id, Subject: subj[id], TargetRef: ref(uid),
				Detail: "the message vanished from the target while it was being verified"})
			continue
		}
		if sum != it.SHA256 {
			v.diff(fr, Difference{Kind: BytesDiffer, ItemID: id, Subject: subj[id], TargetRef: ref(uid), Field: "sha256",
				Expected: it.SHA256, Actual: sum, Detail: "the message's bytes on the target are not the bytes written"})
		}
	}
	return nil
}

// fetchSubjects reads the subjects of a few messages (best effort: for the report only).
func fetchSubjects(c *imapclient.Client, uids []uint32) map[uint32]string {
	out := map[uint32]string{}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		return out
	}
	for _, m := range msgs {
		if m.Envelope != nil {
			out[uint32(m.UID)] = m.Envelope.Subject
		}
	}
	return out
}

func onOff(b bool) string {
	if b {
		return "set"
	}
	return "unset"
}
