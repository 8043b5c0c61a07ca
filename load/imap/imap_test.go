package imap_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bascule-migrate/bascule/internal/imapcheck"
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
	d := testenv.Dovecot(t, "alice@contoso.example")
	sink, err := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Run(t, sinktest.Harness{
		Open: func(t *testing.T) load.MailboxWriter {
			w, err := sink.Open(t.Context(), "alice@contoso.example")
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			return w
		},
		Read: func(t *testing.T) *imapcheck.Snapshot {
			return read(t, d.Addr, "alice@contoso.example*"+d.MasterUser, d.MasterPass)
		},
		SpecialUse:  true,
		RejectAbove: 30 << 20,
		// Dovecot 2.3 turns bare LF into CRLF even in a BINARY literal8: not exact.
		Binary: false,
	})
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
		Open: func(t *testing.T) load.MailboxWriter {
			w, err := sink.Open(t.Context(), "alice")
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			return w
		},
		Read: func(t *testing.T) *imapcheck.Snapshot { return read(t, srv.Addr(), "alice", "pw") },
		// imapmemserver does not report special-use attributes in LIST.
		SpecialUse: false,
		Large:      4 << 20,
	})
}

func TestLoginRefused(t *testing.T) {
	d := testenv.Dovecot(t, "alice")
	sink, _ := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: "wrong"})
	if _, err := sink.Open(t.Context(), "alice"); err == nil {
		t.Fatal("Open with a wrong admin password succeeded")
	}
	// TLS is verified by default: a plaintext-only server refuses STARTTLS, and that is an error.
	sink, _ = imapsink.New(imapsink.Config{Addr: d.Addr, Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if _, err := sink.Open(t.Context(), "alice"); err == nil {
		t.Fatal("Open over STARTTLS to a server without TLS succeeded")
	}
}

func TestNormalises(t *testing.T) {
	for in, want := range map[string]bool{"a\r\nb\r\n": false, "a\nb": true, "a\rb": true, "a\x00b\r\n": true, "": false} {
		if got := imapsink.Normalises([]byte(in)); got != want {
			t.Errorf("Normalises(%q) = %v, want %v", in, got, want)
		}
	}
}

func read(t *testing.T, addr, user, pass string) *imapcheck.Snapshot {
	t.Helper()
	c, err := imapcheck.Dial(addr, user, pass)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	defer c.Close()
	s, err := imapcheck.Take(c)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	return s
}

// BenchmarkAppend writes 100 KB messages into Dovecot from 8 goroutines on one connection
// (pipelined APPENDs with LITERAL+).
func BenchmarkAppend(b *testing.B) {
	d := testenv.Dovecot(b, "bench")
	sink, err := imapsink.New(imapsink.Config{Addr: d.Addr, TLS: "none", Auth: "master", AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
	if err != nil {
		b.Fatal(err)
	}
	w, err := sink.Open(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	ref, err := w.EnsureFolder(context.Background(), model.Folder{ID: "f", Path: []string{"Bench"}})
	if err != nil {
		b.Fatal(err)
	}
	body := append([]byte("From: bench@example.org\r\nSubject: bench\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\r\n"), 1300)...)
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
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
}
