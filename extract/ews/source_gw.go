package ews

import (
	"context"
	"iter"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
)

var (
	_ extract.GroupwareSource = (*Source)(nil)
	_ extract.SettingsSource  = (*Source)(nil)
)

// Collections lists the calendar (IPF.Appointment), contact (IPF.Contact) and task
// (IPF.Task) folders of mbx whose kind is in kinds (empty = all), kind by kind, the
// distinguished calendar, contacts and tasks folder of each kind first (Default). See
// groupware.go.
func (s *Source) Collections(ctx context.Context, mbx model.Mailbox, kinds []model.CollectionKind) ([]model.Collection, error) {
	return gwCollections(ctx, s.c, mbx, kinds)
}

// Records streams one collection's changes since cursor (a SyncFolderItems SyncState; ""
// = from the beginning), each new or changed item as the Graph JSON the Graph source gives
// for it (calendar.go, contacts.go, tasks.go). An expired SyncState yields an error
// wrapping model.ErrCursorExpired first. What an item cannot carry (a task's regeneration
// recurrence) is logged as a warning.
func (s *Source) Records(ctx context.Context, mbx model.Mailbox, col model.Collection, cursor string) iter.Seq2[extract.Change, error] {
	return func(yield func(extract.Change, error) bool) {
		warn := func(w string) { s.log.Warn("ews: "+w, "mailbox", mbx.Address, "collection", col.Name) }
		gwRecords(ctx, s.c, mbx, col, cursor, warn, yield)
	}
}

// Settings reads mbx's out-of-office, inbox rules (as Graph messageRule JSON), folder
// permissions and delegates. See settings.go.
func (s *Source) Settings(ctx context.Context, mbx model.Mailbox) (model.MailboxSettings, error) {
	st, err := gwSettings(ctx, s.c, mbx)
	if err != nil {
		return st, err
	}
	err = s.markGroups(ctx, mbx, st.Grants)
	return st, err
}
