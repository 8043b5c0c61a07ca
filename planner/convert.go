package planner

import (
	"fmt"

	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/transform"
	"github.com/bascule-migrate/bascule/transform/ical"
	"github.com/bascule-migrate/bascule/transform/vcard"
)

// ConvertOptions configure the standard converter.
type ConvertOptions struct {
	Rewrite      transform.Rewriter
	VCardVersion string // "4.0" (default) or "3.0"
	TimeZone     string // fallback zone for custom Exchange time zones ("" = UTC)
	MaxInline    int64  // event attachments inlined up to this size (0 = the transform's default)
}

// NewConverter returns the converter of Graph records into iCalendar (events, tasks) and
// vCard (contacts), through the transform packages.
func NewConverter(o ConvertOptions) Converter { return stdConverter{o} }

type stdConverter struct{ o ConvertOptions }

func (c stdConverter) Convert(rec model.Record) (Converted, error) {
	io := ical.Options{Rewrite: c.o.Rewrite, MailboxTimeZone: c.o.TimeZone, MaxInline: c.o.MaxInline}
	switch rec.Kind {
	case model.KindCalendar:
		r, err := ical.Event(rec.Payload, io)
		return Converted{Data: r.Data, Ext: ".ics", Warnings: r.Warnings}, err
	case model.KindTasks:
		r, err := ical.Task(rec.Payload, io)
		return Converted{Data: r.Data, Ext: ".ics", Warnings: r.Warnings}, err
	case model.KindContacts:
		r, err := vcard.Contact(rec.Payload, rec.Photo, vcard.Options{Version: c.o.VCardVersion, Rewrite: c.o.Rewrite})
		return Converted{Data: r.Data, Ext: ".vcf", Warnings: r.Warnings}, err
	}
	return Converted{}, fmt.Errorf("no converter for %q records", rec.Kind)
}
