package warden

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// The engine instances of one Warden.
//
// The primary instance loads every policy set (it validates them and
// reports the metadata), keeps the rate-limit counts, explains, and decides
// every request while the policies have rate limits: counts live in an
// instance (policy-language.md §7), so deciding them in several would
// multiply every limit.
//
// Policies without rate limits are decided by a pool of up to GOMAXPROCS
// instances, created as concurrent checks need them, each behind its own
// mutex and loading the policies in force the first time it decides with
// them. A check takes a random free instance, so goroutines on different
// cores do not contend on one lock: on 2 cores, b.RunParallel measured
// 530 to 660 ns/op through one instance behind a mutex (more than the 410 to
// 490 ns/op of a single goroutine: the lock goes back and forth) against 240
// to 300 ns/op through the pool (bench/, BenchmarkSupportBotParallel); a
// single goroutine pays the same either way.
type instances struct {
	// primary is guarded by Warden.mu.
	primary *engine

	slots   []poolSlot
	created atomic.Int32 // slots[:created] have been handed out
	growMu  sync.Mutex
}

// poolSlot is one pooled instance and the policies it holds, on a cache
// line of its own.
type poolSlot struct {
	mu  sync.Mutex
	eng *engine
	st  *policyState
	_   [40]byte
}

func newInstances(primary *engine) *instances {
	return &instances{primary: primary, slots: make([]poolSlot, max(1, runtime.GOMAXPROCS(0)))}
}

// acquire returns a pooled instance, locked; its engine is nil only when a
// new instance could not be made (the error).
func (p *instances) acquire(ctx context.Context) (*poolSlot, error) {
	n := int(p.created.Load())
	if n > 0 {
		start := rand.IntN(n)
		for i := 0; i < n; i++ {
			if s := &p.slots[(start+i)%n]; s.mu.TryLock() {
				return s, nil
			}
		}
	}
	// Every instance is busy: add one, or wait for one when there are as
	// many as cores (or another goroutine is adding one).
	s := &p.slots[0]
	if n > 0 {
		s = &p.slots[rand.IntN(n)]
	}
	if n < len(p.slots) && p.growMu.TryLock() {
		if n = int(p.created.Load()); n < len(p.slots) {
			s = &p.slots[n]
			s.mu.Lock()
			err := s.ensure(ctx)
			if err == nil {
				p.created.Store(int32(n + 1))
			}
			p.growMu.Unlock()
			return s, err
		}
		p.growMu.Unlock()
	}
	s.mu.Lock()
	return s, s.ensure(ctx)
}

// ensure gives a locked slot its instance.
func (s *poolSlot) ensure(ctx context.Context) error {
	if s.eng != nil {
		return nil
	}
	e, err := newEngine(ctx)
	if err != nil {
		return err
	}
	s.eng, s.st = e, nil
	return nil
}

// closeAll closes every instance; the Warden is gone.
func (p *instances) closeAll() {
	p.primary.close()
	for i := range p.slots {
		if e := p.slots[i].eng; e != nil {
			e.close()
		}
	}
}
