package warden

import (
	"runtime"
	"testing"
	"time"
)

// A Warden nobody holds gives its engine instances back: wazero keeps an
// instance until it is closed, so without the cleanup each one would stay.
func TestAnUnreachableWardenClosesItsInstances(t *testing.T) {
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	runtime.GC()
	before := heap()
	const wardens = 200 // each instance's memory is 4 pages (256 KiB) at least
	for i := 0; i < wardens; i++ {
		w := mustLoad(t, guard)
		stillDecides(t, w) // a pooled instance too
	}
	// Cleanups run after a collection, on their own goroutine: collect until
	// they have (a leak keeps 100 MiB for good).
	for attempt := 0; attempt < 100; attempt++ {
		runtime.GC()
		if heap() < before+wardens*2*256<<10/4 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the heap grew by %d MiB and stayed", (heap()-before)>>20)
}
