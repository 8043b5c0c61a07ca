package planner

import (
	"context"
	"slices"

	"github.com/bascule-migrate/bascule/model"
)

// listMailboxes returns the mailboxes of the run: Options.Mailboxes when given (a fleet
// worker already knows the mailbox it leased, as its listing at start gave it: listing the
// whole tenant again for each mailbox would cost the source's budget), else the source's
// listing of Options.Selection.
func (o *Options) listMailboxes(ctx context.Context) ([]model.Mailbox, error) {
	if o.Mailboxes != nil {
		return slices.Clone(o.Mailboxes), nil
	}
	return o.Source.Mailboxes(ctx, o.Selection)
}
