package state

import "context"

// ReadOnly wraps a store so that every read reaches it and every write is dropped: what a
// dry-run uses, so that it can never advance a cursor or mark an item.
func ReadOnly(s Store) Store { return readOnly{s} }

type readOnly struct{ Store }

func (readOnly) BeginRun(context.Context, string) (int64, error) { return 0, nil }
func (readOnly) FinishRun(context.Context, Run) error            { return nil }
func (readOnly) PutMailbox(context.Context, Mailbox) error       { return nil }
func (readOnly) PutFolder(context.Context, Folder) error         { return nil }
func (readOnly) PutItems(context.Context, []Item) error          { return nil }
func (readOnly) Close() error                                    { return nil }
