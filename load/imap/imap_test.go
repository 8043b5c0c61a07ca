package imap_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/bascule-migrate/bascule/internal/memimap"
	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	imapsink "github.com/bascule-migrate/bascule/load/imap"
	"github.com/bascule-migrate/bascule/load/sinktest"
	"github.com/bascule-migrate/bascule/model"
)

// TestDovecot runs the sink conformance suite against a real Dovecot, through a master user
// as integrators do, with a 30 MiB message size limit on the server.
func TestDovecot(t *testing.T) {
	t.Setenv("DOVECOT_MAX_MAIL_SIZE", "30M")
	const user = "alice@contoso.example"
	d := testenv.Dovecot(t, user)
	sink, err := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Run(t, sinktest.Harness{
		Open:       opener(sink, user),
		Read:       func(t *testing.T) testenv.Account { return d.Read(t, user) },
		AddKeyword: keywordAdder(d.Addr, user+"*"+d.MasterUser, d.MasterPass),
		SpecialUse: true,
		// Dovecot keeps the instant, not the zone (maildir: the file's mtime).
		KeepsZone:   false,
		RejectAbove: 30 << 20,
		RejectText:  "larger than the maximum size",
		// Dovecot 2.3 turns bare LF into CRLF even in a BINARY literal8: not exact.
		Binary: false,
	})
}

// TestDovecotAuthzid logs in with SASL PLAIN authzid (the account) + authcid (the admin).
func TestDovecotAuthzid(t *testing.T) {
	d := testenv.Dovecot(t, "bob")
	sink, err := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "authzid", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(t.Context(), "bob")
	if err != nil {
		t.Fatalf("Open(authzid) = %v", err)
	}
	defer w.Close()
	ref, err := w.EnsureFolder(t.Context(), model.Folder{ID: "i", WellKnown: model.WellKnownInbox, Path: []string{"Inbox"}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("Subject: via authzid\r\n\r\nx\r\n")
	if _, err := w.Append(t.Context(), ref, load.Item{Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
		t.Fatalf("Append = %v", err)
	}
	if n := len(d.Dump(t, "bob")["INBOX"]); n != 1 {
		t.Errorf("bob's INBOX holds %d messages, want 1", n)
	}
}

// TestMemServer runs the suite against go-imap's in-memory server (the demo's target).
func TestMemServer(t *testing.T) {
	srv, err := memimap.Start(map[string]string{"alice": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sink, err := imapsink.New(imapsink.Config{Addr: srv.Addr(), TLS: "none", Auth: "login", Passwords: map[string]string{"alice": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Run(t, sinktest.Harness{
		Open:       opener(sink, "alice"),
		Read:       func(t *testing.T) testenv.Account { return testenv.ReadIMAP(t, srv.Addr(), "alice", "pw") },
		AddKeyword: keywordAdder(srv.Addr(), "alice", "pw"),
		// imapmemserver (beta.8) drops the special use given to CREATE: LIST never shows it.
		SpecialUse: false,
		KeepsZone:  true,
		Large:      4 << 20,
	})
}

// startBareServer runs go-imap's in-memory server with the bare IMAP4rev1 capability set: no
// SPECIAL-USE, CREATE-SPECIAL-USE, UIDPLUS, LITERAL+ or LIST-EXTENDED. The user has only
// INBOX.
func startBareServer(t *testing.T, caps imap.CapSet) string {
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("carol", "pw")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestBareServer: the sink degrades gracefully on a server with none of the extensions it
// uses when offered (APPEND through go-imap, folders by name, Delete only marks \Deleted).
func TestBareServer(t *testing.T) {
	addr := startBareServer(t, imap.CapSet{imap.CapIMAP4rev1: {}})
	sink, err := imapsink.New(imapsink.Config{Addr: addr, TLS: "none", Passwords: map[string]string{"carol": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Run(t, sinktest.Harness{
		Open:         opener(sink, "carol"),
		Read:         func(t *testing.T) testenv.Account { return testenv.ReadIMAP(t, addr, "carol", "pw") },
		AddKeyword:   keywordAdder(addr, "carol", "pw"),
		NoAppendUID:  true,
		NoUIDExpunge: true,
		KeepsZone:    true,
		Large:        4 << 20,
	})
}

// TestCreateSpecialUse: on a server that has no Sent folder yet but offers
// CREATE-SPECIAL-USE, the well-known folders are created with the configured language's
// names and their special use; FolderNames overrides a name.
func TestCreateSpecialUse(t *testing.T) {
	addr := startBareServer(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapSpecialUse: {}, imap.CapCreateSpecialUse: {},
		imap.CapListExtended: {}, imap.CapUIDPlus: {}, imap.CapLiteralPlus: {}})
	px := startProxy(t, addr) // records what the sink sends
	sink, err := imapsink.New(imapsink.Config{Addr: px.addr(), TLS: "none", Passwords: map[string]string{"carol": "pw"},
		Language: "fr", FolderNames: map[string]string{model.WellKnownJunkEmail: "Pourriels"}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(t.Context(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	want := map[string]struct {
		name string
		use  imap.MailboxAttr
	}{
		model.WellKnownSentItems:    {"Éléments envoyés", imap.MailboxAttrSent},
		model.WellKnownDrafts:       {"Brouillons", imap.MailboxAttrDrafts},
		model.WellKnownDeletedItems: {"Éléments supprimés", imap.MailboxAttrTrash},
		model.WellKnownJunkEmail:    {"Pourriels", imap.MailboxAttrJunk},
		model.WellKnownArchive:      {"Archives", imap.MailboxAttrArchive},
		model.WellKnownOutbox:       {"Boîte d'envoi", ""},
	}
	for wk, exp := range want {
		ref, err := w.EnsureFolder(t.Context(), model.Folder{ID: wk, WellKnown: wk, Path: []string{"x " + wk}})
		if err != nil || ref.Name != exp.name {
			t.Errorf("EnsureFolder(%s) = %+v, %v; want %q", wk, ref, err, exp.name)
		}
	}
	acct := testenv.ReadIMAP(t, addr, "carol", "pw")
	sent := px.recorded()
	for wk, exp := range want {
		if _, ok := acct.Folder(exp.name); !ok {
			t.Errorf("%s: no folder %q on the server", wk, exp.name)
		}
		// imapmemserver does not keep the special use: check that CREATE asked for it.
		if exp.use != "" && !bytes.Contains(sent, []byte("(USE ("+string(exp.use)+"))")) {
			t.Errorf("%s: no CREATE … (USE (%s)) was sent", wk, exp.use)
		}
	}
}

// TestSeparatorInName: a display name holding the server's separator keeps one level, with
// U+2215 in place of "/", and children nest under their parent.
func TestSeparatorInName(t *testing.T) {
	srv, err := memimap.Start(map[string]string{"alice": "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sink, _ := imapsink.New(imapsink.Config{Addr: srv.Addr(), TLS: "none", Passwords: map[string]string{"alice": "pw"}})
	w, err := sink.Open(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, c := range []struct {
		f    model.Folder
		want string
	}{
		{model.Folder{ID: "in", WellKnown: model.WellKnownInbox, Path: []string{"Boîte de réception"}}, "INBOX"},
		{model.Folder{ID: "p", ParentID: "in", Path: []string{"Boîte de réception", "Projets"}}, "INBOX/Projets"},
		{model.Folder{ID: "ab", ParentID: "p", Path: []string{"Boîte de réception", "Projets", "A/B tests"}}, "INBOX/Projets/A∕B tests"},
		{model.Folder{ID: "top", Path: []string{"Inbox"}}, "Inbox_"},
	} {
		ref, err := w.EnsureFolder(t.Context(), c.f)
		if err != nil || ref.Name != c.want {
			t.Errorf("EnsureFolder(%q) = %+v, %v; want %q", c.f.Path, ref, err, c.want)
		}
	}
}

// TestReconnect cuts the connections under a writer: the call that hits the cut returns a
// retryable error, the next call reconnects, and nothing lands twice.
func TestReconnect(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	px := startProxy(t, d.Addr)
	sink, err := imapsink.New(imapsink.Config{Addr: px.addr(), TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w, err := sink.Open(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ref, err := w.EnsureFolder(ctx, model.Folder{ID: "r", Path: []string{"Reconnect"}})
	if err != nil {
		t.Fatal(err)
	}
	small := []byte("Subject: before the cut\r\n\r\nx\r\n")
	if _, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(small), Size: int64(len(small))}); err != nil {
		t.Fatal(err)
	}

	// Cut while a large APPEND is on the wire.
	big := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345\r\n"), 200_000)
	px.cutAfter(1 << 20)
	_, err = w.Append(ctx, ref, load.Item{Body: bytes.NewReader(big), Size: int64(len(big))})
	if !errors.Is(err, model.ErrRetryable) {
		t.Fatalf("Append across a cut = %v, want a retryable error", err)
	}
	after := []byte("Subject: after the cut\r\n\r\ny\r\n")
	r, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(after), Size: int64(len(after))})
	if err != nil || r.UID == 0 {
		t.Fatalf("Append after the cut = %+v, %v; want it to reconnect", r, err)
	}

	// Cut the idle connections: folder work reconnects too.
	px.cutNow()
	time.Sleep(50 * time.Millisecond)
	_, err = w.EnsureFolder(ctx, model.Folder{ID: "r2", Path: []string{"Reconnect 2"}})
	if err != nil && !errors.Is(err, model.ErrRetryable) {
		t.Fatalf("EnsureFolder across a cut = %v, want success or a retryable error", err)
	}
	if _, err := w.EnsureFolder(ctx, model.Folder{ID: "r2", Path: []string{"Reconnect 2"}}); err != nil {
		t.Fatalf("EnsureFolder after the cut = %v", err)
	}
	if _, err := w.Lookup(ctx, ref, model.Message{}, int64(len(after)), sha(after), nil); err != nil {
		t.Fatalf("Lookup after the cut = %v", err)
	}
	got := d.Dump(t, "alice")["Reconnect"]
	if len(got) != 2 || got[0].SHA256 != sha(small) || got[1].SHA256 != sha(after) {
		t.Errorf("after the cuts the folder holds %+v; want the two small messages, once each", got)
	}
	if px.conns() < 3 {
		t.Errorf("%d connections were made; the writer did not reconnect", px.conns())
	}
}

func TestLoginRefused(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	sink, _ := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: "wrong"})
	if _, err := sink.Open(t.Context(), "alice"); err == nil {
		t.Fatal("Open with a wrong admin password succeeded")
	}
	sink, _ = imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "login", Passwords: map[string]string{}})
	if _, err := sink.Open(t.Context(), "alice"); !errors.Is(err, model.ErrPermanent) {
		t.Fatalf("Open without a password = %v, want a permanent error", err)
	}
	// TLS is verified by default: a plaintext-only server refuses STARTTLS, and that is an error.
	sink, _ = imapsink.New(imapsink.Config{Addr: d.Addr, Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if _, err := sink.Open(t.Context(), "alice"); err == nil {
		t.Fatal("Open over STARTTLS to a server without TLS succeeded")
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []imapsink.Config{
		{},
		{Addr: "x:1", TLS: "ssl"},
		{Addr: "x:1", Auth: "kerberos"},
		{Addr: "x:1", Language: "de"},
		{Addr: "x:1", CAFile: "/nonexistent"},
	} {
		if _, err := imapsink.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad configuration", cfg)
		}
	}
}

func TestNormalises(t *testing.T) {
	for in, want := range map[string]bool{"a\r\nb\r\n": false, "a\nb": true, "a\rb": true, "a\x00b\r\n": true, "": false} {
		if got := imapsink.Normalises([]byte(in)); got != want {
			t.Errorf("Normalises(%q) = %v, want %v", in, got, want)
		}
	}
}

func opener(sink *imapsink.Sink, account string) func(t *testing.T) load.MailboxWriter {
	return func(t *testing.T) load.MailboxWriter {
		w, err := sink.Open(t.Context(), account)
		if err != nil {
			t.Fatalf("Open(%s) = %v", account, err)
		}
		return w
	}
}

// keywordAdder sets a keyword with a client of its own (UID STORE +FLAGS).
func keywordAdder(addr, login, password string) func(t *testing.T, ref load.ItemRef, kw imap.Flag) {
	return func(t *testing.T, ref load.ItemRef, kw imap.Flag) {
		c, err := imapclient.DialInsecure(addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(login, password).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select(ref.Folder.Name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Store(imap.UIDSetNum(imap.UID(ref.UID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{kw}}, nil).Close(); err != nil {
			t.Fatalf("UID STORE +FLAGS %s = %v", kw, err)
		}
	}
}

// BenchmarkAppend writes ~100 KB messages into Dovecot on one writer (one account), one at a
// time and with 32 APPENDs in flight, on loopback and through a link with a 4 ms round trip:
// with a round trip to pay, in-flight APPENDs are faster only if they are really pipelined
// on the connection. Run with -benchtime=1000x for 1,000 messages per case.
func BenchmarkAppend(b *testing.B) {
	d := testenv.Dovecot(b, "bench")
	body := append([]byte("From: bench@example.org\r\nSubject: bench\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\r\n"), 1300)...)
	for _, rtt := range []time.Duration{0, 4 * time.Millisecond} {
		addr := d.Addr
		if rtt > 0 {
			addr = startDelayProxy(b, d.Addr, rtt/2).addr()
		}
		sink, err := imapsink.New(imapsink.Config{Addr: addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
		if err != nil {
			b.Fatal(err)
		}
		w, err := sink.Open(context.Background(), "bench")
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		for _, inflight := range []int{1, 32} {
			b.Run(fmt.Sprintf("rtt=%v/inflight=%d", rtt, inflight), func(b *testing.B) {
				// A fresh folder per run: Dovecot slows down as a folder grows.
				name := fmt.Sprintf("Bench %v %d %d", rtt, inflight, b.N)
				ref, err := w.EnsureFolder(context.Background(), model.Folder{ID: name, Path: []string{name}})
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				b.SetBytes(int64(len(body)))
				var next atomic.Int64
				var wg sync.WaitGroup
				for range inflight {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							if _, err := w.Append(context.Background(), ref, load.Item{Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// TestPipelined appends through a link with a 50 ms round trip: one at a time, 40 APPENDs
// would take at least 2 s; pipelined on one connection they take about one round trip.
func TestPipelined(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	px := startDelayProxy(t, d.Addr, 25*time.Millisecond)
	sink, err := imapsink.New(imapsink.Config{Addr: px.addr(), TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w, err := sink.Open(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ref, err := w.EnsureFolder(ctx, model.Folder{ID: "p", Path: []string{"Pipelined"}})
	if err != nil {
		t.Fatal(err)
	}
	// A first APPEND opens the APPEND connection (login round trips are not what is measured).
	first := []byte("Subject: first\r\n\r\n.\r\n")
	if _, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(first), Size: int64(len(first))}); err != nil {
		t.Fatal(err)
	}
	const n = 40
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		body := []byte(fmt.Sprintf("Subject: pipelined %d\r\n\r\n%s\r\n", i, bytes.Repeat([]byte("p"), 10_000)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append = %v", err)
	}
	took := time.Since(start)
	t.Logf("%d APPENDs over a 50 ms round trip took %v", n, took)
	if took > time.Second {
		t.Errorf("%d concurrent APPENDs took %v over a 50 ms round trip: they are not pipelined", n, took)
	}
	if got := len(d.Dump(t, "alice")["Pipelined"]); got != n+1 {
		t.Errorf("the folder holds %d messages, want %d", got, n+1)
	}
}

// TestSizeMismatch: a body longer or shorter than announced never lands (truncated or
// padded), and the writer goes on working.
func TestSizeMismatch(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	sink, err := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w, err := sink.Open(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ref, err := w.EnsureFolder(ctx, model.Folder{ID: "s", Path: []string{"Sizes"}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("Subject: size\r\n\r\n" + string(bytes.Repeat([]byte("s"), 20_000)) + "\r\n")
	for _, size := range []int64{int64(len(body)) - 100, int64(len(body)) + 100} {
		if _, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(body), Size: size}); err == nil {
			t.Errorf("Append(%d bytes announced as %d) succeeded", len(body), size)
		}
	}
	if _, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
		t.Fatalf("Append after a size mismatch = %v", err)
	}
	got := d.Dump(t, "alice")["Sizes"]
	if len(got) != 1 || got[0].SHA256 != sha(body) {
		t.Errorf("the folder holds %+v, want only the exact message", got)
	}
}

// TestHungServer: when the server stops answering, a call returns when its context ends
// (retryable), and the next call reconnects.
func TestHungServer(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	px := startProxy(t, d.Addr)
	sink, err := imapsink.New(imapsink.Config{Addr: px.addr(), TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ref, err := w.EnsureFolder(t.Context(), model.Folder{ID: "h", Path: []string{"Hung"}})
	if err != nil {
		t.Fatal(err)
	}
	px.stall(true)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = w.Lookup(ctx, ref, model.Message{}, 10, sha(nil), nil)
	if !errors.Is(err, model.ErrRetryable) || time.Since(start) > 5*time.Second {
		t.Fatalf("Lookup on a hung server = %v after %v, want a retryable error when the context ends", err, time.Since(start))
	}
	px.stall(false)
	if _, err := w.Lookup(t.Context(), ref, model.Message{}, 10, sha(nil), nil); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("Lookup once the server answers again = %v, want ErrNotFound", err)
	}
}

// TestAppendConnections: concurrent APPENDs spread over Config.AppendConnections pipelined
// connections (plus the main one), one at a time they keep to one, and every message lands
// once whichever connection carried it.
func TestAppendConnections(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	for _, tc := range []struct {
		name       string
		conns      int
		concurrent bool
		// main connection + APPEND connections: at least, at most (a connection is added
		// only while every other one has an APPEND in flight, which depends on timing)
		minConns, maxConns int
	}{
		{"sequential", 3, false, 2, 2},
		{"concurrent", 3, true, 3, 4},
		{"one", 1, true, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			px := startDelayProxy(t, d.Addr, 5*time.Millisecond)
			sink, err := imapsink.New(imapsink.Config{Addr: px.addr(), TLS: "none", Auth: "master", AdminUser: d.MasterUser,
				AdminPassword: d.MasterPass, AppendConnections: tc.conns})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			w, err := sink.Open(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			folder := "Conns " + tc.name
			ref, err := w.EnsureFolder(ctx, model.Folder{ID: tc.name, Path: []string{folder}})
			if err != nil {
				t.Fatal(err)
			}
			const n = 40
			uids := make(chan uint32, n)
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for i := range n {
				body := []byte(fmt.Sprintf("Subject: %s %d\r\n\r\n%s\r\n", tc.name, i, bytes.Repeat([]byte("c"), 20_000)))
				do := func() {
					r, err := w.Append(ctx, ref, load.Item{Body: bytes.NewReader(body), Size: int64(len(body))})
					if err != nil {
						errs <- err
						return
					}
					uids <- r.UID
				}
				if tc.concurrent {
					wg.Go(do)
				} else {
					do()
				}
			}
			wg.Wait()
			close(errs)
			close(uids)
			for err := range errs {
				t.Fatalf("Append = %v", err)
			}
			seen := map[uint32]bool{}
			for u := range uids {
				if seen[u] || u == 0 {
					t.Errorf("UID %d returned twice or zero", u)
				}
				seen[u] = true
			}
			if got := len(d.Dump(t, "alice")[folder]); got != n {
				t.Errorf("the folder holds %d messages, want %d", got, n)
			}
			if got := px.conns(); got < tc.minConns || got > tc.maxConns {
				t.Errorf("%d connections to the server, want %d to %d", got, tc.minConns, tc.maxConns)
			}
		})
	}
}
