package framed

import (
	"context"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// Packet is one packet as a Cursor lends it.
type Packet struct {
	// Data is the Opus packet, lent from the cache without a copy. It is
	// valid for as long as it is held (see catcher.Catcher.View) and must
	// not be modified.
	Data []byte
	// Index is the packet's number in the stream.
	Index int
	// Start is its first sample, pre-skip included; Samples its duration.
	Start, Samples int64
	// PreSkip is the stream's pre-skip (Start - PreSkip is the packet's
	// place in the decoded stream).
	PreSkip int64
}

// Cursor is one listener's position in a framed stream cached by a
// catcher.Catcher with a Framer: the number of the next packet, and
// nothing else, so that ten thousand listeners of one track cost ten
// thousand small cursors and one cache. Packets are lent from the cache
// (catcher.Catcher.View), not copied.
//
// A Cursor belongs to one goroutine at a time; any number of Cursors of one
// Catcher may be used in parallel. Its zero value is not usable: call
// NewCursor.
type Cursor struct {
	c    *catcher.Catcher
	next int
}

// NewCursor returns a Cursor at the first packet of c, whose transform must
// publish an Index (a Framer, alone or as the last stage of a Chain).
func NewCursor(c *catcher.Catcher) *Cursor { return &Cursor{c: c} }

// Catcher returns the cache the Cursor reads.
func (cur *Cursor) Catcher() *catcher.Catcher { return cur.c }

// Pos returns the number of the packet the next Next returns.
func (cur *Cursor) Pos() int { return cur.next }

// Seek sets the number of the packet the next Next returns. A packet not
// encoded yet is allowed: Next then waits for it (or says so); one past the
// end of a finished stream makes Next return io.EOF. A negative packet is
// 0.
func (cur *Cursor) Seek(packet int) { cur.next = max(packet, 0) }

// Index returns the Index as published now, and whether there is one yet.
func (cur *Cursor) Index() (Index, bool) {
	x, _, ok := catcher.StateOf[Index](cur.c)
	return x, ok
}

// Next returns the next packet and moves past it, without blocking. When
// the packet has not been encoded yet it returns ErrNotReady and does not
// move: try again later (Ready says when). At the end of the stream it
// returns io.EOF; if the stream failed, its error once the packets before
// the failure have been read; catcher.ErrClosed after the Catcher's
// Close; catcher.ErrEvicted (wrapped) for a packet that has left a
// window's cache.
func (cur *Cursor) Next() (Packet, error) {
	x, ok := cur.Index()
	if !ok || cur.next >= x.Packets() {
		if !cur.c.Finished() {
			return Packet{}, ErrNotReady
		}
		// The stream has ended, so the Index is final: load it again, in
		// case packets were published since the first load.
		if x, ok = cur.Index(); !ok || cur.next >= x.Packets() {
			if err := cur.c.Err(); err != nil {
				return Packet{}, err
			}
			return Packet{}, io.EOF
		}
	}
	if cur.next < x.First() {
		return Packet{}, fmt.Errorf("%w: packet %d, first indexed %d", catcher.ErrEvicted, cur.next, x.First())
	}
	e := x.Entry(cur.next)
	data, err := cur.c.View(e.Offset+PrefixSize, e.Size)
	if err != nil {
		return Packet{}, err
	}
	p := Packet{Data: data, Index: cur.next, Start: e.Start, Samples: e.Samples, PreSkip: x.PreSkip()}
	cur.next++
	return p, nil
}

// SkipToOldest moves a Cursor left behind a window's eviction (Next
// returned catcher.ErrEvicted) to the oldest packet still cached, and
// returns how many packets it skipped (0 if it was not behind).
func (cur *Cursor) SkipToOldest() int {
	x, _ := cur.Index()
	to := max(x.FindOffset(cur.c.Oldest()), x.First())
	if to <= cur.next {
		return 0
	}
	skipped := to - cur.next
	cur.next = to
	return skipped
}

// Ready returns a channel that is closed once Next may have something new
// to say: the next packet indexed, or the stream ended. (After a Seek past
// the packets indexed, it is closed at each new packet until the one
// sought.) Its demand on the fill lasts until then (see
// catcher.Catcher.Ready); NextContext's does not.
func (cur *Cursor) Ready() <-chan struct{} {
	x, ok := cur.Index()
	if ok && cur.next < x.Packets() {
		return cur.c.Ready(0) // already there
	}
	return cur.c.Ready(x.End())
}

// NextContext is Next that waits for a packet not encoded yet, until ctx
// ends (it then returns ctx's error). A wait that ctx ends leaves no demand
// on the fill behind (catcher.Catcher.WaitFor), so a listener that leaves
// does not keep the encoder running.
func (cur *Cursor) NextContext(ctx context.Context) (Packet, error) {
	for {
		p, err := cur.Next()
		if err != ErrNotReady {
			return p, err
		}
		if err := cur.c.WaitFor(ctx, cur.end()); err != nil {
			return Packet{}, err
		}
	}
}

// end is the offset of the record after the last one indexed now: it is
// published with its entry, or the stream ends.
func (cur *Cursor) end() int64 {
	x, _ := cur.Index()
	return x.End()
}
