package ews

// Graph-shaped JSON: the groupware records and inbox rules of the EWS source carry the
// payload the Graph source would carry for the same item (model.Record.Payload,
// model.Rule.Payload), so transform/ical, transform/vcard and transform/sieve read both
// alike. The payloads are built as msgraph-sdk-go model objects and written by kiota's JSON
// serialization writer: the member names, enum spellings and date formats are exactly the
// SDK's, which is what the transforms parse.

import (
	"fmt"
	"strings"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/bascule-migrate/bascule/model"
)

// graphDateTime is how Graph writes a dateTimeTimeZone's dateTime (no offset, 7 digits).
const graphDateTime = "2006-01-02T15:04:05.0000000"

// graphJSON serialises a Graph model object as Graph sends it.
func graphJSON(v absser.Parsable) ([]byte, error) {
	w := jsonserialization.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", v); err != nil {
		return nil, model.Permanent(fmt.Errorf("ews: writing Graph JSON: %w", err))
	}
	b, err := w.GetSerializedContent()
	if err != nil {
		return nil, model.Permanent(fmt.Errorf("ews: writing Graph JSON: %w", err))
	}
	return b, nil
}

// dtz is a Graph dateTimeTimeZone in UTC (what Graph sends without Prefer: outlook.timezone).
func dtz(t time.Time) models.DateTimeTimeZoneable {
	d := models.NewDateTimeTimeZone()
	d.SetDateTime(ptr(t.UTC().Format(graphDateTime)))
	d.SetTimeZone(ptr("UTC"))
	return d
}

func ptr[T any](v T) *T { return &v }

// parseEWSTime reads an xs:dateTime as EWS writes it ("2024-01-01T09:00:00Z", sometimes with
// an offset or fractional seconds, rarely none: then UTC). ok is false for anything else.
func parseEWSTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// parseEWSDate reads an xs:date ("2024-01-01", "2024-01-01Z", "2024-01-01-08:00"): the
// date as written, the offset ignored.
func parseEWSDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s[:10])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// nearestMidnight is the UTC date whose midnight is nearest to t: a local midnight in any
// zone from UTC-12 to UTC+12, written as an instant, gives back its local date.
func nearestMidnight(t time.Time) time.Time {
	u := t.UTC().Add(12 * time.Hour)
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

// lowerFirst turns an EWS enum value (PascalCase) into Graph's camelCase spelling.
func lowerFirst(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	return strings.ToLower(s[:1]) + s[1:]
}
