package imap

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/bascule-migrate/bascule/model"
)

func TestModelFlags(t *testing.T) {
	got := modelFlags([]imap.Flag{"$Work", `\Seen`, "$Forwarded", `\Recent`, "$Work", `\flagged`, "NonJunk", `\Deleted`})
	want := model.Flags{Seen: true, Flagged: true, Keywords: "$Forwarded $Work NonJunk"}
	if got != want {
		t.Errorf("modelFlags = %+v, want %+v", got, want)
	}
	if got := modelFlags(nil); got != (model.Flags{}) {
		t.Errorf("modelFlags(nil) = %+v", got)
	}
}
