package dav_test

import (
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/load/dav"
	"github.com/bascule-migrate/bascule/model"
)

// TestShares: on Cyrus, what Share wrote (bob read, carol read-write, then bob raised to
// read-write and carol lowered to read) Shares reads back, with nothing else; Radicale, which
// cannot share, says load.ErrUnsupported.
func TestShares(t *testing.T) {
	for _, kind := range []string{"radicale", "cyrus"} {
		t.Run(kind, func(t *testing.T) {
			var s *testenv.DAVServer
			tmpl := ""
			if kind == "cyrus" {
				s, tmpl = testenv.Cyrus(t, "alice", "bob", "carol"), "/dav/principals/user/{user}/"
			} else {
				s = testenv.Radicale(t, "alice", "bob", "carol")
			}
			ctx := context.Background()
			admin, err := dav.New(dav.Config{URL: s.URL, Auth: "admin", AdminUser: s.AdminUser, AdminPassword: s.AdminPass, PrincipalTemplate: tmpl})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"bob", "carol"} {
				if _, err := admin.Open(ctx, u); err != nil { // Cyrus makes a user's homes on first use
					t.Fatal(err)
				}
			}
			w, err := admin.Open(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			col, err := w.EnsureCollection(ctx, model.Collection{ID: "shares-test", Kind: model.KindCalendar, Name: "Partagé"})
			if err != nil {
				t.Fatal(err)
			}
			rd, err := admin.Reader(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			got, err := rd.Shares(ctx, col.Href)
			if kind == "radicale" {
				if !errors.Is(err, load.ErrUnsupported) {
					t.Fatalf("Shares on Radicale = %v, %v; want load.ErrUnsupported", got, err)
				}
				return
			}
			if err != nil || len(got) != 0 {
				t.Fatalf("Shares before sharing = %v, %v; want none", got, err)
			}
			sh := w.(load.CollectionSharer)
			for _, step := range []struct {
				who   string
				write bool
				want  map[string]string
			}{
				{"bob", false, map[string]string{"bob": "read"}},
				{"carol", true, map[string]string{"bob": "read", "carol": "read-write"}},
				{"bob", true, map[string]string{"bob": "read-write", "carol": "read-write"}},
				{"carol", false, map[string]string{"bob": "read-write", "carol": "read"}},
			} {
				if err := sh.Share(ctx, col, step.who, step.write); err != nil {
					t.Fatalf("Share(%s, write %v) = %v", step.who, step.write, err)
				}
				got, err := rd.Shares(ctx, col.Href)
				if err != nil || !maps.Equal(got, step.want) {
					t.Errorf("after Share(%s, write %v): Shares = %v, %v; want %v", step.who, step.write, got, err, step.want)
				}
			}
		})
	}
}
