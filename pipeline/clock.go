package pipeline

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Clock is the time a Scheduler keeps: the system's, or a FakeClock in
// tests, which then need not sleep.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Wait blocks until the time is t or later, or until ctx ends (it
	// then returns ctx's error).
	Wait(ctx context.Context, t time.Time) error
}

// SystemClock is the Clock of the system: time.Now and a timer.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Wait sleeps until t, or until ctx ends.
func (SystemClock) Wait(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PreciseClock is the system's clock with a more exact Wait: it sleeps on
// a timer until Spin before the time, then yields the processor in a loop
// until it. The Go runtime's timers on Linux wake in whole milliseconds
// (about 0.6 ms late on average, measured in bench/README.md); the spin
// brings that to microseconds, for the price of up to Spin of one core's
// time a wait (5% of a core for 1 ms at 20 ms deadlines). It does nothing
// for a machine whose own scheduling is late (a busy virtual machine).
type PreciseClock struct {
	Spin time.Duration // 1 ms if 0
}

// Now returns time.Now().
func (PreciseClock) Now() time.Time { return time.Now() }

// Wait sleeps until Spin before t, then yields until t; or until ctx ends.
func (c PreciseClock) Wait(ctx context.Context, t time.Time) error {
	spin := c.Spin
	if spin <= 0 {
		spin = time.Millisecond
	}
	if err := (SystemClock{}).Wait(ctx, t.Add(-spin)); err != nil {
		return err
	}
	for time.Now().Before(t) {
		if err := ctx.Err(); err != nil {
			return err
		}
		runtime.Gosched()
	}
	return nil
}

// FakeClock is a Clock that moves only when told (Advance), for tests of
// what a Scheduler does at each deadline without sleeping. It is safe for
// concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
	changed chan struct{} // closed and replaced whenever waiters change
}

type fakeWaiter struct {
	at   time.Time
	wake chan struct{}
}

// NewFakeClock returns a FakeClock at start.
func NewFakeClock(start time.Time) *FakeClock {
	return &FakeClock{now: start, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Wait blocks until the clock has been advanced to t, or ctx ends.
func (c *FakeClock) Wait(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if !t.After(c.now) {
		c.mu.Unlock()
		return ctx.Err()
	}
	w := &fakeWaiter{at: t, wake: make(chan struct{})}
	c.waiters = append(c.waiters, w)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-w.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, x := range c.waiters {
			if x == w {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				break
			}
		}
		c.notifyLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock on by d and wakes the waits it reaches.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			close(w.wake)
		}
	}
	clear(c.waiters[len(kept):])
	c.waiters = kept
	c.notifyLocked()
}

func (c *FakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// BlockUntilWaiting blocks until n goroutines wait on the clock (a
// Scheduler's shards have done what the time asked and wait for the next
// deadline), or ctx ends.
func (c *FakeClock) BlockUntilWaiting(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		k, ch := len(c.waiters), c.changed
		c.mu.Unlock()
		if k >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
