package load

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bascule-migrate/bascule/model"
)

// DryRun wraps a sink so that nothing can be written: Open still logs in to the target when
// inner is not nil (so a dry-run proves the credentials), but every writing method is answered
// without reaching the server. Folder references carry the name the folder would get.
func DryRun(inner Sink) Sink { return &dryRunSink{inner: inner} }

type dryRunSink struct{ inner Sink }

func (d *dryRunSink) Open(ctx context.Context, account string) (MailboxWriter, error) {
	if d.inner != nil {
		w, err := d.inner.Open(ctx, account)
		if err != nil {
			return nil, err
		}
		// Only the login is proven; the session is not used to write.
		w.Close()
	}
	return dryRunWriter{}, nil
}

func (d *dryRunSink) Close() error {
	if d.inner != nil {
		return d.inner.Close()
	}
	return nil
}

type dryRunWriter struct{}

var errDryRun = errors.New("dry-run: nothing is written")

func (dryRunWriter) EnsureFolder(_ context.Context, f model.Folder) (FolderRef, error) {
	name := strings.Join(f.Path, "/")
	if f.WellKnown == model.WellKnownInbox {
		name = "INBOX"
	}
	return FolderRef{Name: name}, nil
}

func (dryRunWriter) Append(context.Context, FolderRef, Item) (ItemRef, error) {
	return ItemRef{}, model.Permanent(errDryRun)
}

func (dryRunWriter) Lookup(context.Context, FolderRef, model.Message, int64, string, map[uint32]bool) (ItemRef, error) {
	return ItemRef{}, fmt.Errorf("dry-run: %w", model.ErrNotFound)
}

func (dryRunWriter) SetFlags(context.Context, ItemRef, model.Flags, model.Flags) error {
	return model.Permanent(errDryRun)
}
func (dryRunWriter) Delete(context.Context, ItemRef) error { return model.Permanent(errDryRun) }
func (dryRunWriter) Close() error                          { return nil }

// DryRunGroupware wraps a groupware sink so that nothing can be written: Open still logs in
// (when inner is not nil), collections are answered with the href they would get, and every
// writing method fails without reaching the server.
func DryRunGroupware(inner GroupwareSink) GroupwareSink { return &dryRunGroupware{inner: inner} }

type dryRunGroupware struct{ inner GroupwareSink }

func (d *dryRunGroupware) Open(ctx context.Context, account string) (CollectionWriter, error) {
	if d.inner != nil {
		w, err := d.inner.Open(ctx, account)
		if err != nil {
			return nil, err
		}
		w.Close()
	}
	return dryRunCollections{}, nil
}

func (d *dryRunGroupware) Close() error {
	if d.inner != nil {
		return d.inner.Close()
	}
	return nil
}

type dryRunCollections struct{}

func (dryRunCollections) EnsureCollection(_ context.Context, c model.Collection) (CollectionRef, error) {
	if c.Default {
		return CollectionRef{Href: "(default " + string(c.Kind) + ")", Kind: c.Kind}, nil
	}
	return CollectionRef{Href: "(new) " + c.Name, Kind: c.Kind}, nil
}

func (dryRunCollections) Put(context.Context, CollectionRef, Resource) (ResourceRef, error) {
	return ResourceRef{}, model.Permanent(errDryRun)
}

func (dryRunCollections) Stat(context.Context, CollectionRef, string) (ResourceRef, error) {
	return ResourceRef{}, fmt.Errorf("dry-run: %w", model.ErrNotFound)
}
func (dryRunCollections) Delete(context.Context, ResourceRef) error {
	return model.Permanent(errDryRun)
}
func (dryRunCollections) Close() error { return nil }

// The dry-run writers answer the settings interfaces too, so that a dry-run plans grants
// instead of reporting them as impossible; nothing reaches the server.
var (
	_ ACLWriter        = dryRunWriter{}
	_ CollectionSharer = dryRunCollections{}
)

func (dryRunWriter) SetACL(context.Context, string, string, string) error {
	return model.Permanent(errDryRun)
}
func (dryRunWriter) ACL(context.Context, string) (map[string]string, error) {
	return map[string]string{}, nil
}
func (dryRunWriter) Folders(context.Context) ([]string, error) { return nil, nil }

func (dryRunCollections) Share(context.Context, CollectionRef, string, bool) error {
	return model.Permanent(errDryRun)
}
