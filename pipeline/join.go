package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Joins.
//
// A stream that plays track B after track A, to a receiver decoding it
// with one decoder, goes from A's packets to B's. Sent as they are, A's
// last packet gives its padding (the end trimming a file would drop),
// B's first gives its encoder's delay (the pre-skip), and B's first
// packets, coded for an encoder that started from nothing, meet a decoder
// full of A: the jump's burst that seams are made for (see seam.go).
//
// A join is what a stream plays instead, from A's packet aLast to B's
// packet bFirst: transition packets, encoded once per pair of tracks and
// fade, as a seam's are. Their encoder is warmed up on A's packets up to
// aLast, decoded, so that its state is the receiver's; it then encodes
// A's audio to its true end, B's from its true start (both decoded from
// the tracks' own packets), and B's on to the start of packet bFirst, so
// that its state when it stops is, within quantisation, B's encoder's
// there, where B's own packets take over. The joined audio is checked as
// a receiver decodes it, against the seam bound, and the candidate that
// keeps it nearest is kept (see encodeJoin).
//
// A crossfade of length L mixes A's last L samples with B's first L with
// an equal-power fade (cos and sin): a level that holds for material
// uncorrelated between the two sides (two songs). Its gains add up to
// √2 at the middle, though: the same material on both sides in phase,
// or two tones whose peaks meet, would come out up to 3 dB above the
// louder side's peak, past the seam bound. The mix is limited to that
// peak (the larger of A's audio the transition is made from and B's), by
// a gain that moves smoothly over a few milliseconds where it is needed
// and is 1 elsewhere: music, whose peaks rarely meet, keeps its level
// through the fade; tones dip towards a linear fade's level.
//
// Packets put B on A's grid: B's packet bFirst starts a whole number of
// packets after A's aLast, and B's audio is where B's packets put it, so
// a packet stream can give exactly A's length and B's (less the fade)
// only when A's pre-skip and length, less B's pre-skip and the fade, are
// a whole number of packets (as with tracks of whole packets encoded by
// one encoder). Otherwise B is heard shift samples later (or earlier)
// than that, |shift| at most half a packet (10 ms for 20 ms packets): a
// crossfade is made that much shorter (longer); a join without one
// repeats (or skips) shift samples of the audio around the join, where
// it best matches itself shift samples away (see splice), so that
// nothing goes silent and no step is heard.
//
// A join needs A finished (its true end is known only then), B's first
// packets encoded, an Opus encoder (cgo), and transitions on for both
// tracks (WithSeams). Made ahead (prepareJoin, in the background, in a
// slot of A's Pool, as a queue asks once A is finished), it is cached on A and lent to every stream that plays the same
// pair with the same fade; the cache keeps joinCacheMax of them, and
// drops them when A or B is closed. Where a join cannot be made (tracks
// of other channels or packet durations, a live track, a track too short
// for the transition, no libopus, a track that failed) or is not ready
// when the stream comes to A's end, the stream cuts as a jump without a
// transition does: A's packets to its last, then a silence frame in
// place of B's first packet, then B's (a cut: see cutJoin).

// joinCacheMax bounds the joins cached on a track (a few KB each without
// a fade, about 16 KB a second of fade at 128 kbit/s).
const joinCacheMax = 16

// Errors of a join that could not be made: its plan is then a cut, and
// its err says why.
var (
	// errJoinNotReady: A is not finished, or B's first packets are not
	// encoded.
	errJoinNotReady = errors.New("pipeline: join: tracks not encoded around the join")
	// errJoinMismatch: the tracks' packets cannot be joined (channels,
	// packet durations, a live track).
	errJoinMismatch = errors.New("pipeline: join: tracks cannot be joined")
	// errJoinShort: a track is shorter than the transition and its fade.
	errJoinShort = errors.New("pipeline: join: track too short to join")
)

// join is what a stream plays to go from track A to track B: A's packets
// up to aLast, then packets, then B's from bFirst. Once published (its
// ready closed) it is immutable and shared: its packets are lent, not to
// be modified.
//
// Heard through one decoder, with A's pre-skip dropped, the stream gives
// A's audio from its start and B's sample j (counted from B's true start)
// at A's length - fade + shift + j; so A's length + B's length - fade +
// shift samples in all, to B's true end.
type join struct {
	aLast   int      // A's last own packet played
	packets [][]byte // sent after A's aLast, in place of B's packets before bFirst
	bFirst  int      // B's first own packet after them
	fade    int64    // the crossfade asked, in samples; 0: none
	mixed   int64    // the crossfade made: fade less shift (or fade, if a splice took shift)
	shift   int64    // where B is heard, against A's length - fade: |shift| <= half a packet for a join
	cut     bool     // no transition: A to its last packet, a silence frame, B from its second
	err     error    // why a cut, when it is one

	key   joinKey
	stop  func() bool   // unregisters the drop at B's Close; set before ready is closed
	ready chan struct{} // closed once the fields above are set
}

type joinKey struct {
	b    *Track
	fade int64 // samples
}

// joinCache is a track's joins into the tracks that follow it, each
// encoded once. Its zero value is empty and ready.
type joinCache struct {
	mu      sync.Mutex // guards m, order and closed, and wg's Add
	m       map[joinKey]*join
	order   []joinKey // insertion order of m's keys, to bound the cache
	closed  bool      // the track is closed: no more joins made
	wg      sync.WaitGroup
	bytes   atomic.Int64 // the cached transitions' bytes (Resident counts them)
	encodes atomic.Int64 // joins encoded (a cut that needed no encode not counted)
}

// prepareJoin starts making the join of a's end to b's start, with a
// crossfade of fade (0 for none), in the background if it is not cached
// or under way, and returns at once a channel closed once it is ready
// (then joinNow gives it). The background work waits for a to finish and
// for b's first packets (asking b's encoding for them), then encodes in a
// slot of a's Pool; it ends with a's or b's Close.
func (a *Track) prepareJoin(b *Track, fade time.Duration) <-chan struct{} {
	return a.joinEntry(b, fade).ready
}

// joinNow returns the join of a's end to b's start with a crossfade of
// fade, and true, if it is ready (a cut, if it could not be made: its err
// says why); else it starts making it (prepareJoin) and returns at once a
// cut and false. It never waits: a stream at a's end that is given a cut
// plays it, and the join made meanwhile serves the next stream.
func (a *Track) joinNow(b *Track, fade time.Duration) (*join, bool) {
	j := a.joinEntry(b, fade)
	select {
	case <-j.ready:
		return j, true
	default:
		return cutJoin(a, b, j.key.fade, errJoinNotReady), false
	}
}

// joinEntry returns the cache's entry for a's join into b, making it (and
// starting its background work) if there is none.
func (a *Track) joinEntry(b *Track, fade time.Duration) *join {
	k := joinKey{b: b, fade: max(opus.Samples(fade), 0)}
	c := &a.joins
	c.mu.Lock()
	defer c.mu.Unlock()
	if j := c.m[k]; j != nil {
		return j
	}
	if c.closed || b.ctx.Err() != nil {
		j := cutJoin(a, b, k.fade, fmt.Errorf("%w: track closed", ErrClosed))
		close(j.ready)
		return j
	}
	if a.cfg.noSeams || b.cfg.noSeams {
		j := cutJoin(a, b, k.fade, fmt.Errorf("%w: transitions are off (WithSeams(false))", errJoinMismatch))
		close(j.ready)
		return j // not cached: nothing was made
	}
	j := &join{key: k, ready: make(chan struct{})}
	if c.m == nil {
		c.m = make(map[joinKey]*join)
	}
	c.m[k] = j
	c.order = append(c.order, k)
	if len(c.order) > joinCacheMax {
		c.evictLocked()
	}
	ctx, cancel := context.WithCancel(a.ctx)
	dropped := context.AfterFunc(b.ctx, func() { a.dropJoin(j) })
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		stop := context.AfterFunc(b.ctx, cancel)
		defer stop()
		made, err := a.makeJoin(ctx, b, k.fade)
		if err != nil {
			made = cutJoin(a, b, k.fade, err)
		}
		a.finishJoin(j, made, dropped)
	}()
	return j
}

// makeJoin waits until a is finished and b's first packets are encoded,
// takes a slot of a's pool, and encodes the join.
func (a *Track) makeJoin(ctx context.Context, b *Track, fade int64) (*join, error) {
	if a.cfg.live > 0 || b.cfg.live > 0 {
		return nil, fmt.Errorf("%w: a live track", errJoinMismatch)
	}
	select {
	case <-a.Done():
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: track closed", ErrClosed)
	}
	if !a.Finished() {
		return nil, fmt.Errorf("%w: the track before it failed: %w", errJoinNotReady, a.Err())
	}
	if err := b.awaitHead(ctx, fade); err != nil {
		return nil, err
	}
	// A join is asked for as A's end nears: it is wanted within seconds,
	// before tracks that are only being preloaded.
	pool := a.cfg.pool
	if pool == nil { // a stored track: it encodes nothing itself
		pool = defaultPool()
	}
	if err := pool.acquire(ctx, func() bool { return true }); err != nil {
		return nil, fmt.Errorf("%w: track closed", ErrClosed)
	}
	defer pool.release()
	j, err := encodeJoin(ctx, a, b, fade)
	if err == nil {
		a.joins.encodes.Add(1)
	}
	return j, err
}

// awaitHead waits until the track's packets are encoded for as long as a
// join into it needs (its fade and the longest transition after it), or
// it has ended, asking its encoding for them.
func (t *Track) awaitHead(ctx context.Context, fade int64) error {
	select {
	case <-t.Ready():
	case <-ctx.Done():
		return fmt.Errorf("%w: track closed", ErrClosed)
	}
	for {
		x, ok := t.Index()
		if !ok {
			return fmt.Errorf("%w: the track after it failed: %w", errJoinNotReady, t.Err())
		}
		if x.Done() || x.DecodedSamples() >= x.PreSkip()+joinNeed(fade) {
			return nil
		}
		select {
		case <-t.c.Ready(x.End()):
		case <-ctx.Done():
			return fmt.Errorf("%w: track closed", ErrClosed)
		}
		if _, ok := t.Index(); !ok || t.Err() != nil {
			return fmt.Errorf("%w: the track after it failed: %w", errJoinNotReady, t.Err())
		}
	}
}

// finishJoin publishes a join made (or the cut in its place) in j, the
// cache's entry; an entry dropped meanwhile is published but not counted.
func (a *Track) finishJoin(j, made *join, dropped func() bool) {
	c := &a.joins
	c.mu.Lock()
	defer c.mu.Unlock()
	j.aLast, j.packets, j.bFirst = made.aLast, made.packets, made.bFirst
	j.fade, j.mixed, j.shift, j.cut, j.err = made.fade, made.mixed, made.shift, made.cut, made.err
	j.stop = dropped
	close(j.ready)
	if c.m[j.key] != j {
		dropped()
		return // evicted, dropped, or the cache closed
	}
	c.bytes.Add(j.size())
}

// dropJoin forgets a join (its B was closed).
func (a *Track) dropJoin(j *join) {
	c := &a.joins
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[j.key] != j {
		return
	}
	delete(c.m, j.key)
	c.order = slices.DeleteFunc(c.order, func(k joinKey) bool { return k == j.key })
	select {
	case <-j.ready:
		c.bytes.Add(-j.size())
	default:
	}
}

// evictLocked forgets the oldest join that is ready (one being made
// stays). Streams that hold it keep it until they have played it.
func (c *joinCache) evictLocked() {
	if j, ok := evictOldestReady(c.m, &c.order, func(j *join) <-chan struct{} { return j.ready }); ok {
		j.stop()
		c.bytes.Add(-j.size())
	}
}

// size is the bytes of a ready join's packets.
func (j *join) size() int64 { return packetBytes(j.packets) }

// closeJoins ends the background work of the track's joins (its context
// is cancelled first, by Close), waits for it, and empties the cache.
func (a *Track) closeJoins() {
	c := &a.joins
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	for _, j := range c.m {
		j.stop()
	}
	c.m, c.order = nil, nil
	c.bytes.Store(0)
	c.mu.Unlock()
}

// cutJoin is the join without a transition, what a jump without one does
// (see seam.go): all of A's packets (its padding heard), a silence frame
// in place of B's first packet (its pre-skip and the rest of its first
// packet not heard), which leaves the receiver's decoder where no packet
// comes out louder than it was coded, then B's packets; no crossfade
// (its shift counts the fade asked back). err says why there is no
// transition. Its shift and silence frame take B's first packet to be of
// the duration of A's last if B has none yet.
func cutJoin(a, b *Track, fade int64, err error) *join {
	j := &join{aLast: -1, bFirst: 1, fade: fade, shift: fade, cut: true, err: err, ready: make(chan struct{})}
	u := int64(960)
	if xa, ok := a.Index(); ok && xa.Packets() > 0 {
		j.aLast = xa.Packets() - 1
		j.shift += xa.DecodedSamples() - xa.PreSkip() - xa.DurationSamples() // A's padding
		u = xa.Entry(j.aLast).Samples
	}
	if xb, ok := b.Index(); ok && xb.Packets() > xb.First() {
		j.shift += xb.PreSkip() // B's packets from its second are where they are in B
		u = xb.Entry(xb.First()).Samples
	}
	j.packets = [][]byte{silenceOf(u)}
	return j
}

// joinedPackets returns the packets of a stream that plays track a from
// its start, the join j, and track b to its end, as a queue plays them
// (a test's driver): a's packets up to j.aLast, j's, and b's from
// j.bFirst; lent from the tracks' caches and j.
func joinedPackets(a, b *Track, j *join) ([][]byte, error) {
	xa, _ := a.Index()
	xb, _ := b.Index()
	pa, err := a.packets(xa, xa.First(), j.aLast+1)
	if err != nil {
		return nil, err
	}
	pb, err := b.packets(xb, min(j.bFirst, xb.Packets()), xb.Packets())
	if err != nil {
		return nil, err
	}
	return slices.Concat(pa, j.packets, pb), nil
}
