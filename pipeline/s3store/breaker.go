package s3store

import (
	"fmt"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// breaker keeps a Store that has just failed from being waited on by
// every request after it. A request that fails every try (ErrUnavailable)
// opens it: from then on requests fail at once, with ErrSuspended, until
// its wait has passed; then one request, the probe, is let through, tried
// once, while the others still fail at once. A probe the server answers
// closes the breaker; one that fails opens it again for twice the wait,
// at most the cap. Any answer of the server (a missing object, a
// precondition failed) is an answer: only a request that got none, or
// 500s and 503s, after its tries is a failure.
//
// It is safe for concurrent use.
type breaker struct {
	clock     pipeline.Clock
	base, cap time.Duration // the first wait, and the longest; base 0: never opens

	mu      sync.Mutex    // guards the fields below
	open    bool          // a request failed, and no probe has been answered since
	until   time.Time     // while open: no request before this time
	wait    time.Duration // the wait of the last opening
	probing bool          // a probe is in flight
}

// allow says whether a request may go, and whether it is the probe;
// err is ErrSuspended, with the time left, if it may not.
func (b *breaker) allow() (probe bool, err error) {
	if b.base <= 0 {
		return false, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return false, nil
	}
	if now := b.clock.Now(); b.probing || now.Before(b.until) {
		if b.probing {
			return false, fmt.Errorf("%w: a probe of the server is in flight", ErrSuspended)
		}
		return false, fmt.Errorf("%w: a probe in %v", ErrSuspended, b.until.Sub(now))
	}
	b.probing = true
	return true, nil
}

// Outcomes of a request, as the breaker sees them.
const (
	answered    = iota // the server answered (whatever it said)
	failed             // no answer after every try: ErrUnavailable
	interrupted        // its context ended: nothing learnt
)

// done records the outcome of a request that allow let go; it reports
// whether the breaker opened (from closed).
func (b *breaker) done(probe bool, outcome int) (opened bool) {
	if b.base <= 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch outcome {
	case answered:
		b.open = false
	case failed:
		switch {
		case !b.open:
			b.open, b.wait, opened = true, b.base, true
			b.until = b.clock.Now().Add(b.wait)
		case probe:
			b.wait = min(2*b.wait, b.cap)
			b.until = b.clock.Now().Add(b.wait)
		}
		// A request begun before the breaker opened, failing after it,
		// leaves its wait as it is.
	}
	return opened
}
