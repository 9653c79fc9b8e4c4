package pipeline

import (
	"context"
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
