package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/bascule-migrate/bascule/extract"
	davsink "github.com/bascule-migrate/bascule/load/dav"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
	"github.com/bascule-migrate/bascule/transform/ical/expand"
	"github.com/bascule-migrate/bascule/transform/vcard"
)

// groupware verifies the mailbox's calendars, contact folders and task lists.
func (v *mailboxVerifier) groupware(ctx context.Context) error {
	src := v.o.Source.(extract.GroupwareSource)
	cols, err := src.Collections(ctx, v.mbx, v.o.Kinds)
	if err != nil {
		return fmt.Errorf("listing calendars, contacts and task lists: %w", err)
	}
	if len(cols) == 0 {
		return nil
	}
	rd, err := v.o.DAV.Reader(ctx, v.mbx.Target)
	if err != nil {
		return fmt.Errorf("target account %q (CalDAV/CardDAV): %w", v.mbx.Target, err)
	}
	stFolders, err := v.o.Store.Folders(ctx, v.mbx.ID)
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	stByID := map[string]state.Folder{}
	for _, f := range stFolders {
		if f.Kind != "" {
			stByID[f.ID] = f
		}
	}
	items, err := v.o.Store.Items(ctx, v.mbx.ID, "")
	if err != nil {
		return fmt.Errorf("reading the state store: %w", err)
	}
	itemByID := map[string]state.Item{}
	known := map[string]bool{} // every href the store accounts for
	for _, it := range items {
		if it.Kind == "" {
			continue
		}
		itemByID[it.ID] = it
		if it.Href != "" {
			known[davsink.NormHref(it.Href)] = true
		}
	}
	// Listings per target collection (on Cyrus, events and tasks share Default).
	listings := map[string]map[string]davsink.Object{}
	extraDone := map[string]bool{}
	for _, col := range cols {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := string(col.Kind) + ": " + col.Name
		if col.Owner != "" {
			path += " (" + col.Owner + ")"
		}
		fr := FolderReport{Kind: string(col.Kind), ID: col.ID, Path: path}
		sf, ok := stByID[col.ID]
		if col.Owner != "" && !ok {
			// Somebody else's collection shared with this mailbox: migrate leaves it to its
			// owner's mailbox (verified there).
			continue
		}
		if ok && sf.Path != "" {
			fr.Path = sf.Path
		}
		err := v.collection(ctx, src, rd, col, sf, ok, itemByID, known, listings, extraDone, &fr)
		v.rep.Folders = append(v.rep.Folders, fr)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, model.ErrFatal) {
				return err
			}
			v.rep.Folders[len(v.rep.Folders)-1].Error = err.Error()
			v.problem(fr.Path, err.Error())
		}
	}
	return nil
}

func (v *mailboxVerifier) collection(ctx context.Context, src extract.GroupwareSource, rd *davsink.Reader, col model.Collection,
	sf state.Folder, inStore bool, itemByID map[string]state.Item, known map[string]bool,
	listings map[string]map[string]davsink.Object, extraDone map[string]bool, fr *FolderReport) error {
	var recs []model.Record
	for ch, err := range src.Records(ctx, v.mbx, col, "") {
		if err != nil {
			return fmt.Errorf("listing the source collection: %w", err)
		}
		if ch.Kind == extract.Upsert {
			recs = append(recs, ch.Record)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	fr.Source.Items = int64(len(recs))
	for _, r := range recs {
		if it, ok := itemByID[r.ID]; ok && it.Status == state.StatusDone {
			fr.Store.Items++
			fr.Store.Bytes += it.Size
		}
	}
	if !inStore || sf.Target == "" {
		if len(recs) > 0 {
			v.diff(fr, Difference{Kind: FolderMissing, Detail: fmt.Sprintf("the collection was never migrated (%d items on the source): run migrate", len(recs))})
		}
		return nil
	}
	fr.TargetName = sf.Target
	colKey := davsink.NormHref(strings.TrimSuffix(sf.Target, "/") + "/")
	listing, ok := listings[colKey]
	if !ok {
		objs, err := rd.List(ctx, sf.Target)
		if errors.Is(err, model.ErrNotFound) {
			v.diff(fr, Difference{Kind: FolderMissing, TargetRef: sf.Target,
				Detail: fmt.Sprintf("collection %s is not on the target; %d items on the source", sf.Target, len(recs))})
			listings[colKey] = map[string]davsink.Object{}
			return nil
		}
		if err != nil {
			return err
		}
		listing = map[string]davsink.Object{}
		for _, o := range objs {
			listing[o.Href] = o
		}
		listings[colKey] = listing
	}
	// Count only this collection's objects when several source collections share one
	// target collection; the rest are counted (or reported extra) once.
	var present []string
	for _, r := range recs {
		it, ok := itemByID[r.ID]
		d := Difference{ItemID: r.ID, Subject: r.Subject}
		if !ok || it.Status != state.StatusDone {
			d.Kind = NotMigrated
			switch {
			case !ok:
				d.Detail = "the state store has never seen this item: run migrate"
			case it.Status == state.StatusFailed:
				d.Detail = "migrate failed on it: " + it.LastError
			default:
				d.Detail = fmt.Sprintf("its status is %s: run migrate", it.Status)
			}
			v.diff(fr, d)
			continue
		}
		if it.ChangeKey != r.ChangeKey {
			d.Kind, d.TargetRef = NotMigrated, it.Href
			d.Detail = "the item changed on the source since the last migrate: run migrate"
			v.diff(fr, d)
			continue
		}
		h := davsink.NormHref(it.Href)
		if _, there := listing[h]; !there {
			d.Kind, d.TargetRef = MissingOnTarget, it.Href
			d.Detail = "the object is not on the target where it was written"
			v.diff(fr, d)
			continue
		}
		fr.Target.Items++
		present = append(present, r.ID)
	}
	if !extraDone[colKey] {
		extraDone[colKey] = true
		var extra []string
		for h := range listing {
			if !known[h] {
				extra = append(extra, h)
			}
		}
		sort.Strings(extra)
		for _, h := range extra {
			fr.Target.Items++
			v.diff(fr, Difference{Kind: ExtraOnTarget, TargetRef: h, Detail: "an object on the target that the source and the state store do not know"})
		}
	}
	chosen := v.o.sample(present)
	for _, r := range recs {
		if !chosen[r.ID] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		it := itemByID[r.ID]
		obj, err := rd.Get(ctx, it.Href)
		if errors.Is(err, model.ErrNotFound) {
			v.diff(fr, Difference{Kind: MissingOnTarget, ItemID: r.ID, Subject: r.Subject, TargetRef: it.Href,
				Detail: "the object vanished from the target while it was being verified"})
			continue
		}
		if err != nil {
			return err
		}
		fr.Target.Bytes += int64(len(obj.Data))
		fr.Checked++
		conv, err := v.conv.Convert(r)
		if err != nil {
			v.problem(fr.Path, fmt.Sprintf("%s %q: cannot be converted, so not compared: %v", r.ID, r.Subject, err))
			continue
		}
		base := Difference{ItemID: r.ID, Subject: r.Subject, TargetRef: it.Href}
		switch r.Kind {
		case model.KindCalendar:
			v.compareEvent(fr, base, conv.Data, obj.Data)
		case model.KindContacts:
			for _, line := range vcard.CheckWith(obj.Data, r.Payload, r.Photo, vcard.Options{Version: v.o.VCardVersion, Rewrite: v.o.Rewrite}) {
				d := base
				d.Kind, d.Field, d.Detail = FieldChanged, firstWord(line), line
				v.diff(fr, d)
			}
		case model.KindTasks:
			for _, fd := range compareTodo(conv.Data, obj.Data) {
				d := base
				d.Kind, d.Field, d.Expected, d.Actual = FieldChanged, fd.field, fd.want, fd.got
				d.Detail = fd.detail()
				v.diff(fr, d)
			}
		}
	}
	return nil
}

// compareEvent compares the occurrences of an event as migrate wrote it (want) and as the
// target holds it (got), over the window.
func (v *mailboxVerifier) compareEvent(fr *FolderReport, base Difference, want, got []byte) {
	wo, err := expand.Parse(want, v.o.WindowStart, v.o.WindowEnd)
	if err != nil {
		v.problem(fr.Path, fmt.Sprintf("%s %q: the converted event cannot be expanded: %v", base.ItemID, base.Subject, err))
		return
	}
	fr.Occurrences += int64(len(wo))
	gotOccs, err := expand.Parse(got, v.o.WindowStart, v.o.WindowEnd)
	if err != nil {
		d := base
		d.Kind, d.Field, d.Detail = FieldChanged, "VEVENT", "the event on the target cannot be read: "+err.Error()
		v.diff(fr, d)
		return
	}
	gm := map[string]expand.Occurrence{}
	for _, o := range gotOccs {
		gm[o.Key()] = o
	}
	for _, w := range wo {
		g, ok := gm[w.Key()]
		d := base
		d.Occurrence = w.RecurrenceID
		if d.Occurrence == "" {
			d.Occurrence = w.Start
		}
		if !ok {
			d.Kind, d.Expected = OccurrenceMissing, w.Start
			d.Detail = fmt.Sprintf("the occurrence of %s is not on the target", w.Start)
			v.diff(fr, d)
			continue
		}
		delete(gm, w.Key())
		for _, c := range []struct{ field, want, got string }{
			{"start", w.Start, g.Start}, {"end", w.End, g.End}, {"summary", w.Summary, g.Summary},
			{"location", w.Location, g.Location}, {"attendees", w.Attendees, g.Attendees},
			{"cancelled", fmt.Sprint(w.Cancelled), fmt.Sprint(g.Cancelled)},
		} {
			if c.want != c.got {
				e := d
				e.Kind, e.Field, e.Expected, e.Actual = OccurrenceChanged, c.field, c.want, c.got
				e.Detail = fmt.Sprintf("the occurrence's %s is %q on the target, %q on the source", c.field, c.got, c.want)
				v.diff(fr, e)
			}
		}
	}
	var extra []expand.Occurrence
	for _, g := range gm {
		extra = append(extra, g)
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Key() < extra[j].Key() })
	for _, g := range extra {
		d := base
		d.Kind, d.Occurrence, d.Actual = OccurrenceExtra, g.RecurrenceID, g.Start
		if d.Occurrence == "" {
			d.Occurrence = g.Start
		}
		d.Detail = fmt.Sprintf("the target has an occurrence on %s that the source has not", g.Start)
		v.diff(fr, d)
	}
}

func firstWord(s string) string {
	f, _, _ := strings.Cut(s, " ")
	return f
}
