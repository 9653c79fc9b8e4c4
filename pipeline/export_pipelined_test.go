package pipeline

import "context"

// Pipelined reports whether t's transcode has run pipelined: its decode
// goroutine was started.
func Pipelined(t *Track) bool { return t.piped.Load() }

// HoldSlot takes a slot of p, waiting for one, and returns the function
// that gives it back.
func HoldSlot(p *Pool) func() {
	if err := p.acquire(context.Background(), func() bool { return true }); err != nil {
		panic(err)
	}
	return p.release
}
