package dav_test

import (
	"testing"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load/dav"
	"github.com/bascule-migrate/bascule/load/davtest"
)

// sinks builds the user, admin and wrong-password sinks for s.
func harness(t *testing.T, s *testenv.DAVServer, principalTemplate string) davtest.Harness {
	t.Helper()
	mk := func(cfg dav.Config) *dav.Sink {
		cfg.URL = s.URL
		sink, err := dav.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sink.Close() })
		return sink
	}
	const wrong = "not-the-Password-42"
	return davtest.Harness{
		Server:        s,
		Sink:          mk(dav.Config{Passwords: s.Users}),
		Admin:         mk(dav.Config{Auth: "admin", AdminUser: s.AdminUser, AdminPassword: s.AdminPass, PrincipalTemplate: principalTemplate}),
		WrongPassword: mk(dav.Config{Passwords: map[string]string{"alice": wrong}}),
		WrongSecret:   wrong,
		Account:       "alice",
		Other:         "bob",
	}
}

// TestRadicale runs the conformance suite against a real Radicale; the admin's principal is
// derived from its own (/admin/ → /bob/).
func TestRadicale(t *testing.T) {
	s := testenv.Radicale(t, "alice", "bob")
	h := harness(t, s, "")
	h.RefusedText = "400"
	// Radicale's rights come from a static file: no per-collection sharing.
	h.Reader, h.ShareUnsupported = "bob", true
	davtest.Run(t, h)
}

// TestCyrus runs the suite against a real Cyrus (the strictest open-source DAV server):
// refusals carry its precondition elements; the admin writes at the owners' URLs, its
// principal given by a template.
func TestCyrus(t *testing.T) {
	s := testenv.Cyrus(t, "alice", "bob", "carol", "dave")
	h := harness(t, s, "/dav/principals/user/{user}/")
	h.Reader, h.Writer, h.Stranger = "bob", "carol", "dave"
	h.RefusedText = "C:valid-calendar-data"
	// Cyrus 3.6 names a UID conflict after RFC 6638's precondition, not RFC 4791's no-uid-conflict.
	h.UIDConflictText = "C:unique-scheduling-object-resource"
	h.HasDefaults = true
	// A display name set by a non-owner is a private annotation of that user in Cyrus.
	h.AdminNamesPrivate = true
	davtest.Run(t, h)
}
