package sieve_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load/sieve"
	"github.com/bascule-migrate/bascule/model"
)

const goodScript = `require ["fileinto", "vacation"];
# Déplacé depuis Exchange : « Projets »
if address :is "from" "x@example.org" {
    fileinto "Projets";
    stop;
}
vacation :days 1 :subject "Absent" "Je suis absent jusqu'au 3 mars.";
`

// suite runs the same checks on one server: a session for account, every command, and the
// server's refusals classified.
// maxScript is the server's script size limit (0: none below 1 MiB): a script below it goes
// through byte for byte, one above it is refused (permanent) and the session goes on.
func suite(t *testing.T, c *sieve.Client, account, name string, maxScript int) {
	ctx := context.Background()
	s, err := c.Open(ctx, account)
	if err != nil {
		t.Fatalf("Open(%s) = %v", account, err)
	}
	defer s.Close()
	caps := s.Capabilities()
	if !caps.Has("vacation") || !caps.Has("fileinto") {
		t.Errorf("capabilities %+v: want vacation and fileinto", caps)
	}
	t.Logf("server: %q, version %q, %d extensions", caps.Implementation, caps.Version, len(caps.Extensions))

	if err := s.Check(ctx, []byte(goodScript)); err != nil {
		t.Errorf("Check(good) = %v", err)
	}
	err = s.Check(ctx, []byte("require \"fileinto\";\nfileinto ;\n"))
	var se *sieve.Error
	if !errors.Is(err, model.ErrPermanent) || !errors.As(err, &se) || se.Text == "" {
		t.Errorf("Check(bad) = %v, want a permanent *sieve.Error with the server's reason", err)
	}
	err = s.Check(ctx, []byte("require \"no-such-extension\";\nkeep;\n"))
	if !errors.Is(err, model.ErrPermanent) {
		t.Errorf("Check(unknown extension) = %v, want permanent", err)
	}
	// A refused Check leaves nothing behind (the PUTSCRIPT fallback deletes its script).
	if l, err := s.Scripts(ctx); err != nil || len(l) != 0 {
		t.Errorf("Scripts() after checks = %v, %v; want none", l, err)
	}

	if err := s.Put(ctx, name, []byte(goodScript)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if err := s.Put(ctx, "other", []byte("keep;\n")); err != nil {
		t.Fatalf("Put(other) = %v", err)
	}
	got, err := s.Get(ctx, name)
	if err != nil || !bytes.Equal(bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n")), []byte(goodScript)) {
		t.Errorf("Get = %q, %v; want the script put", got, err)
	}
	if err := s.SetActive(ctx, name); err != nil {
		t.Fatalf("SetActive = %v", err)
	}
	list, err := s.Scripts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{name: true, "other": false}
	if len(list) != len(want) {
		t.Errorf("Scripts() = %+v, want %v", list, want)
	}
	for _, sc := range list {
		if a, ok := want[sc.Name]; !ok || a != sc.Active {
			t.Errorf("Scripts() = %+v, want %v", list, want)
		}
	}
	// Refusals.
	if err := s.Put(ctx, "broken", []byte("if true {\n")); !errors.Is(err, model.ErrPermanent) {
		t.Errorf("Put(broken) = %v, want permanent", err)
	}
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	if err := s.SetActive(ctx, "missing"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("SetActive(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, name); !errors.Is(err, model.ErrPermanent) {
		t.Errorf("Delete(active) = %v, want a permanent refusal", err)
	}
	if err := s.Delete(ctx, "missing"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	if err := s.Put(ctx, "bad\nname", []byte("keep;\n")); !errors.Is(err, model.ErrPermanent) {
		t.Errorf("Put(name with LF) = %v, want permanent", err)
	}
	// Deactivate, delete; the session works after every refusal.
	if err := s.SetActive(ctx, ""); err != nil {
		t.Fatalf("SetActive(\"\") = %v", err)
	}
	for _, n := range []string{name, "other"} {
		if err := s.Delete(ctx, n); err != nil {
			t.Errorf("Delete(%q) = %v", n, err)
		}
	}
	if l, err := s.Scripts(ctx); err != nil || len(l) != 0 {
		t.Errorf("Scripts() at the end = %v, %v; want none", l, err)
	}

	// A large script goes through as a literal, byte for byte.
	size := 200 << 10
	if maxScript > 0 {
		size = maxScript - 1024
	}
	script := func(size int) string {
		var big strings.Builder
		big.WriteString("require \"fileinto\";\n")
		for big.Len() < size {
			big.WriteString("if header :contains \"subject\" \"ticket-\\\"quoted\\\" ünïcödé\" { fileinto \"INBOX\"; }\n")
		}
		return big.String()
	}
	if maxScript > 0 {
		if err := s.Put(ctx, "big", []byte(script(maxScript+1024))); !errors.Is(err, model.ErrPermanent) {
			t.Errorf("Put(over the size limit) = %v, want permanent", err)
		}
	}
	big := strings.Builder{}
	big.WriteString(script(size))
	if err := s.Put(ctx, "big", []byte(big.String())); err != nil {
		t.Fatalf("Put(%d KiB) = %v", size>>10, err)
	}
	if got, err := s.Get(ctx, "big"); err != nil || string(bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))) != big.String() {
		t.Errorf("Get(big) = %d bytes, %v; want %d bytes back", len(got), err, big.Len())
	}
	if err := s.Delete(ctx, "big"); err != nil {
		t.Error(err)
	}
}

func TestDovecot(t *testing.T) {
	d := testenv.Dovecot(t, "alice", "bob")
	for _, auth := range []string{"master", "authzid"} {
		t.Run(auth, func(t *testing.T) {
			c, err := sieve.New(sieve.Config{Addr: d.SieveAddr, TLS: "none", Auth: auth, AdminUser: d.MasterUser, AdminPassword: d.MasterPass})
			if err != nil {
				t.Fatal(err)
			}
			suite(t, c, "alice", "bascule migré", 0)
		})
	}
	t.Run("login", func(t *testing.T) {
		c, err := sieve.New(sieve.Config{Addr: d.SieveAddr, TLS: "none", Passwords: d.Users})
		if err != nil {
			t.Fatal(err)
		}
		suite(t, c, "bob", "bascule migré", 0)
	})
	t.Run("refused", func(t *testing.T) { refused(t, d.SieveAddr, "alice") })
}

func TestCyrus(t *testing.T) {
	s := testenv.Cyrus(t, "alice", "bob")
	t.Run("authzid", func(t *testing.T) {
		c, err := sieve.New(sieve.Config{Addr: s.SieveAddr, TLS: "none", Auth: "authzid", AdminUser: s.AdminUser, AdminPassword: s.AdminPass})
		if err != nil {
			t.Fatal(err)
		}
		// timsieved takes only ASCII script names, and scripts up to 32 KiB
		// (sieve_maxscriptsize).
		suite(t, c, "alice", "bascule migre", 32<<10)
	})
	t.Run("login", func(t *testing.T) {
		c, err := sieve.New(sieve.Config{Addr: s.SieveAddr, TLS: "none", Passwords: s.Users})
		if err != nil {
			t.Fatal(err)
		}
		suite(t, c, "bob", "bascule migre", 32<<10)
	})
	t.Run("asciiNames", func(t *testing.T) {
		// timsieved refuses a non-ASCII name before reading the script: the error is
		// permanent and the session stays usable.
		c, err := sieve.New(sieve.Config{Addr: s.SieveAddr, TLS: "none", Passwords: s.Users})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := c.Open(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		defer ss.Close()
		if err := ss.Put(t.Context(), "migré", []byte("keep;\n")); !errors.Is(err, model.ErrPermanent) {
			t.Errorf("Put(non-ASCII name) = %v, want permanent", err)
		}
		if err := ss.Put(t.Context(), "after", []byte("keep;\n")); err != nil {
			t.Errorf("Put after a refused name = %v", err)
		}
		if l, err := ss.Scripts(t.Context()); err != nil || len(l) != 1 || l[0].Name != "after" {
			t.Errorf("Scripts() = %+v, %v; want only \"after\"", l, err)
		}
	})
	t.Run("refused", func(t *testing.T) { refused(t, s.SieveAddr, "alice") })
}

// refused: a wrong password is a permanent error that does not show the password; STARTTLS
// on a server without it is refused, not silently dropped.
func refused(t *testing.T, addr, account string) {
	const secret = "wrong-S3cret-pw"
	c, err := sieve.New(sieve.Config{Addr: addr, TLS: "none", Passwords: map[string]string{account: secret}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Open(context.Background(), account)
	if !errors.Is(err, model.ErrPermanent) {
		t.Errorf("Open with a wrong password = %v, want permanent", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("the error shows the password: %v", err)
	}
	c, err = sieve.New(sieve.Config{Addr: addr, Passwords: map[string]string{account: secret}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(context.Background(), account); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("Open with STARTTLS on a server without it = %v, want a refusal naming STARTTLS", err)
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []sieve.Config{
		{},
		{Addr: "x:4190", TLS: "ssl"},
		{Addr: "x:4190", Auth: "kerberos"},
		{Addr: "x:4190", Auth: "master"},
	} {
		if _, err := sieve.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
	if _, err := sieve.New(sieve.Config{Addr: "x:4190"}); err != nil {
		t.Errorf("New(defaults) = %v", err)
	}
}
