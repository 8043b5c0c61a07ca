// Package tz maps the time zone ids Exchange uses to IANA names and builds iCalendar
// VTIMEZONE components from Go's time zone database.
//
// Graph and EWS name zones with Windows ids ("Romance Standard Time"). The mapping is CLDR's
// windowsZones data (territory 001, the default), generated into windowszones.go by
// ./gen from Debian's unicode-cldr-core package — never a hand-written list. IANA names
// pass through. Names are CLDR's, which keeps some legacy ones (Asia/Calcutta, Europe/Kiev):
// every tz database keeps them as links, while a client with an older database would not
// know a newer name (Europe/Kyiv), so they are the safer TZID.
//
// The package imports time/tzdata so that a machine without /usr/share/zoneinfo gives the
// same answers; where the system database exists Go prefers it (time.LoadLocation's rule).
package tz

//go:generate go run ./gen -out windowszones.go

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata"
)

// CLDRVersion is the CLDR release the Windows → IANA table comes from.
const CLDRVersion = cldrVersion

// utcAliases are ids Graph uses for UTC that are neither Windows ids in CLDR nor IANA names.
var utcAliases = map[string]bool{"tzone://microsoft/utc": true}

var lowerWindows = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(windowsToIANA))
	for k, v := range windowsToIANA {
		m[strings.ToLower(k)] = v
	}
	return m
})

// IANA returns the IANA name for id, a Windows time zone id (matched case-insensitively) or
// an IANA name that the time zone database knows (returned as given). It reports false for
// anything else, including "", "Local" and "tzone://Microsoft/Custom" (a zone defined only
// inside the item, which the caller must replace by a known one).
func IANA(id string) (string, bool) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", false
	}
	if v, ok := windowsToIANA[id]; ok {
		return v, true
	}
	lower := strings.ToLower(id)
	if v, ok := lowerWindows()[lower]; ok {
		return v, true
	}
	if utcAliases[lower] {
		return "Etc/UTC", true
	}
	if _, ok := load(id); ok {
		return id, true
	}
	return "", false
}

// Location returns the *time.Location for a Windows id or an IANA name, as IANA does.
func Location(id string) (*time.Location, bool) {
	name, ok := IANA(id)
	if !ok {
		return nil, false
	}
	return load(name)
}

var cache sync.Map // name → *time.Location or nil

func load(name string) (*time.Location, bool) {
	if v, ok := cache.Load(name); ok {
		loc, _ := v.(*time.Location)
		return loc, loc != nil
	}
	var loc *time.Location
	// "Local" is the machine's zone and "" is UTC to LoadLocation: neither names a zone.
	// Paths are refused by LoadLocation itself; control characters are refused here.
	if name != "Local" && name != "" && len(name) < 64 && !strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		if l, err := time.LoadLocation(name); err == nil {
			loc = l
		}
	}
	if cacheSize.Add(1) < 4096 { // bound memory under hostile input
		cache.Store(name, loc)
	}
	return loc, loc != nil
}

var cacheSize atomic.Int64

// IsUTC reports whether loc never differs from UTC and is named as UTC: times in it are
// written in iCalendar's "Z" form, without a VTIMEZONE.
func IsUTC(loc *time.Location) bool {
	if loc == nil || loc == time.UTC {
		return true
	}
	switch loc.String() {
	case "UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Etc/Universal", "Universal", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich", "GMT0", "Greenwich":
		return true
	}
	return false
}
