package warden

import (
	"sync"
	"time"

	// The IANA database inside the binary, so that zones resolve on hosts
	// without /usr/share/zoneinfo (containers, Windows).
	_ "time/tzdata"
)

// UTC offsets of IANA time zones, which the engine needs for `time.*`
// (policy-language.md §1 `timezone`, §3): Go's time package computes them;
// locations are loaded once per zone and process.

var locations sync.Map // zone name → *time.Location

// loadZone returns the location of an IANA zone, or ERR_TIMEZONE_UNSUPPORTED.
func loadZone(zone string) (*time.Location, error) {
	if loc, ok := locations.Load(zone); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil || zone == "" || zone == "Local" {
		return nil, newError(ErrTimezoneUnsupported, "Go's time package does not know the time zone `%s`", zone)
	}
	locations.Store(zone, loc)
	return loc, nil
}

// zoneOffset is the offset of loc at the given epoch second, in seconds east
// of UTC.
func zoneOffset(loc *time.Location, seconds int64) int32 {
	if loc == time.UTC {
		return 0
	}
	_, offset := time.Unix(seconds, 0).In(loc).Zone()
	return int32(offset)
}
