package dav_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bascule-migrate/bascule/internal/testenv"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/load/dav"
	"github.com/bascule-migrate/bascule/model"
)

const readEvent = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:read-1\r\n" +
	"DTSTAMP:20250101T000000Z\r\nDTSTART:20250301T100000Z\r\nDTEND:20250301T110000Z\r\nSUMMARY:Lu\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

// TestReader: what the sink wrote, the reader lists (href and ETag) and reads back, as the
// admin acting for alice and as alice; a missing resource or collection is ErrNotFound.
func TestReader(t *testing.T) {
	for _, kind := range []string{"radicale", "cyrus"} {
		t.Run(kind, func(t *testing.T) {
			var s *testenv.DAVServer
			tmpl := ""
			if kind == "cyrus" {
				s, tmpl = testenv.Cyrus(t, "alice"), "/dav/principals/user/{user}/"
			} else {
				s = testenv.Radicale(t, "alice")
			}
			ctx := context.Background()
			admin, err := dav.New(dav.Config{URL: s.URL, Auth: "admin", AdminUser: s.AdminUser, AdminPassword: s.AdminPass, PrincipalTemplate: tmpl})
			if err != nil {
				t.Fatal(err)
			}
			w, err := admin.Open(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			col, err := w.EnsureCollection(ctx, model.Collection{ID: "read-test", Kind: model.KindCalendar, Name: "Lecture"})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := w.Put(ctx, col, load.Resource{Name: "r1.ics", Data: []byte(readEvent)})
			if err != nil {
				t.Fatal(err)
			}
			user, err := dav.New(dav.Config{URL: s.URL, Passwords: s.Users})
			if err != nil {
				t.Fatal(err)
			}
			for name, sink := range map[string]*dav.Sink{"admin": admin, "alice": user} {
				rd, err := sink.Reader(ctx, "alice")
				if err != nil {
					t.Fatalf("%s: Reader: %v", name, err)
				}
				objs, err := rd.List(ctx, col.Href)
				if err != nil {
					t.Fatalf("%s: List: %v", name, err)
				}
				// Cyrus's ETags are per user (they cover per-user data): the writer's equals
				// the admin's; every reader's List and Get agree.
				want := ref.ETag
				if name != "admin" && len(objs) == 1 {
					want = objs[0].ETag
				}
				if len(objs) != 1 || objs[0].Href != dav.NormHref(ref.Href) || objs[0].ETag != want || want == "" {
					t.Errorf("%s: List = %+v, want one object %s %s", name, objs, ref.Href, want)
				}
				o, err := rd.Get(ctx, ref.Href)
				if err != nil || !strings.Contains(string(o.Data), "UID:read-1") || o.ETag != want {
					t.Errorf("%s: Get = %q %q, %v; want ETag %s", name, o.ETag, o.Data, err, want)
				}
				if _, err := rd.Get(ctx, col.Href+"nothing.ics"); !errors.Is(err, model.ErrNotFound) {
					t.Errorf("%s: Get of a missing resource = %v, want ErrNotFound", name, err)
				}
				if _, err := rd.List(ctx, strings.TrimSuffix(col.Href, "/")+"-gone/"); !errors.Is(err, model.ErrNotFound) {
					t.Errorf("%s: List of a missing collection = %v, want ErrNotFound", name, err)
				}
			}
		})
	}
}
