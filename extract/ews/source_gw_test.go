package ews

import (
	"context"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

// TestSourceGroupwareAndSettings: the Source answers the groupware and settings
// interfaces through the same code the conformance and comparison tests check.
func TestSourceGroupwareAndSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	tf := startTwoFaces(t)
	var src any = NewWithClient(tf.ews, Config{})
	gw, ok := src.(extract.GroupwareSource)
	if !ok {
		t.Fatal("Source is no GroupwareSource")
	}
	st, ok := src.(extract.SettingsSource)
	if !ok {
		t.Fatal("Source is no SettingsSource")
	}
	ctx := context.Background()
	u := tf.ten.Users()[0]
	mbx := model.Mailbox{ID: u.Mail, Address: u.Mail}
	cols, err := gw.Collections(ctx, mbx, []model.CollectionKind{model.KindCalendar})
	if err != nil || len(cols) == 0 || !cols[0].Default {
		t.Fatalf("Collections = %v, %v", cols, err)
	}
	n := 0
	for ch, err := range gw.Records(ctx, mbx, cols[0], "") {
		if err != nil {
			t.Fatal(err)
		}
		if ch.Kind == extract.Upsert {
			n++
		}
	}
	if want := len(tf.ten.Events(u.ID, cols[0].ID)); n != want {
		t.Errorf("%d records, the tenant has %d events", n, want)
	}
	s, err := st.Settings(ctx, mbx)
	if err != nil || s.AutoReply == nil || len(s.Grants) == 0 || len(s.Rules) == 0 {
		t.Errorf("Settings = %+v, %v", s, err)
	}
}
