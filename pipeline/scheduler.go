package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Scheduler drives many players in real time: each of its shards (at most
// GOMAXPROCS) is one goroutine that wakes at absolute deadlines, start +
// k·2 ms (never a chain of sleeps, which drifts), and gives the listeners
// of the phase whose deadline it is the packets whose time has come, each
// packet moving that listener's own clock on by the packet's duration:
// each listener is on an absolute 20 ms grid of its own, offset by its
// phase (WithPhases), so that a shard's listeners are served spread over
// the frame rather than all at one deadline. There is no goroutine
// or timer per listener. A listener that has fallen behind (its callback
// was slow, or its shard was) catches up by at most a few packets a
// deadline; further behind, it resynchronises to the present, and that is
// counted, as disgo's sender does. Lateness is measured when each packet
// is sent, so it is the clock's waking late and the callbacks before it in
// the same deadline. A player whose next packet is not
// encoded yet (an underrun) or that is paused leaves a gap: its clock goes
// on, so it does not burst afterwards.
//
// A listener of a live track's player is held to the live edge: it never
// gets more than real time, and never a backlog.
//
//   - It never catches up: a deadline gives it at most one frame of
//     packets. Behind by a frame or more (its shard woke late), its clock
//     is resynchronised to the present at once, and that is counted.
//   - Once it has followed the live edge (it has come within WithCatchUp
//     frames of the newest packet encoded, or run out of packets: an
//     underrun), a player that trails the edge by more than those frames
//     (its input came late, then in a burst; its clock was resynchronised)
//     skips to the newest packet: a resynchronisation, counted, and the
//     packets passed over counted as skips. The late packets are never
//     sent at once, nor played late, one a deadline, behind the edge.
//   - A player moved by a function given to Do (a seek back into the
//     window, a pause) plays on where it was put until it has come back
//     within those frames of the edge; a player looping a section is never
//     moved.
//
// A listener is a callback that borrows each packet: it must not keep the
// Packet's Data past its return (copy it if need be), must not block, and
// must not call the Scheduler but for its own Listener's Remove.
//
// A Scheduler is safe for concurrent use. Its measures (packets, lateness
// percentiles, underruns, skips, resynchronisations, silence frames, time
// to first packet) are kept by listener and by shard, with atomic counters
// and fixed histograms: cheap enough to leave on.
type Scheduler struct {
	clock   Clock
	frame   time.Duration
	phases  int
	catchUp int
	shards  []*shard
	next    atomic.Uint32 // the shard of the next listener added
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// SchedulerOption configures a Scheduler.
type SchedulerOption func(*Scheduler)

// WithClock sets the clock (SystemClock by default; a FakeClock in tests).
func WithClock(c Clock) SchedulerOption { return func(s *Scheduler) { s.clock = c } }

// WithShards sets the number of shards, at most GOMAXPROCS (the default).
func WithShards(n int) SchedulerOption {
	return func(s *Scheduler) { s.shards = make([]*shard, min(max(n, 1), runtime.GOMAXPROCS(0))) }
}

// WithPhases sets how many phases a shard spreads its listeners over (10
// by default, from 1 to 20): the shard wakes every frame/phases and serves
// one phase's listeners each time, so that ten thousand listeners are not
// all served at one deadline, the last of them a tick's work late. Each
// listener keeps an absolute 20 ms grid of its own, offset by its phase.
func WithPhases(n int) SchedulerOption {
	return func(s *Scheduler) { s.phases = min(max(n, 1), 20) }
}

// WithCatchUp sets how many frames (of 20 ms) a listener that has fallen
// behind may catch up by, in one deadline, before it is resynchronised to
// the present instead (3 by default): the packets of that time, whatever
// their duration. A listener of a live track never catches up; it is how
// far such a listener's player may trail the live edge (the input's
// jitter it absorbs) before it skips to it.
func WithCatchUp(frames int) SchedulerOption {
	return func(s *Scheduler) { s.catchUp = max(frames, 1) }
}

// NewScheduler returns a running Scheduler; Close stops it.
func NewScheduler(opts ...SchedulerOption) *Scheduler {
	s := &Scheduler{clock: SystemClock{}, frame: 20 * time.Millisecond, phases: 10, catchUp: 3}
	for _, o := range opts {
		o(s)
	}
	if s.shards == nil {
		s.shards = make([]*shard, runtime.GOMAXPROCS(0))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	start := s.clock.Now()
	for i := range s.shards {
		sh := &shard{s: s, start: start, slots: make([]slotList, s.phases)}
		s.shards[i] = sh
		s.wg.Add(1)
		go sh.run()
	}
	return s
}

// Close stops the scheduler: its shards return, and every listener left
// ends with ErrStopped. It returns once they have.
func (s *Scheduler) Close() {
	s.cancel()
	s.wg.Wait()
}

// ErrStopped is a listener's error when its Scheduler was closed.
var ErrStopped = errors.New("pipeline: scheduler closed")

// Listener is a player (or a Queue) driven by a Scheduler, and what it
// measured.
type Listener struct {
	// What a packet reads and writes comes first, in as few lines as it
	// fits (see prefetchAhead): the rest after lateness.
	p    *Player // nil for a Queue's listener
	q    *Queue  // nil for a Player's listener
	send func(Packet) error

	// Only the shard's goroutine touches these.
	next      time.Duration // the deadline of the listener's next packet, from the shard's start
	started   bool          // next is set: the listener has had its first deadline
	first     bool          // a packet has been sent
	live      bool          // its player's track is live: the listener is held to the live edge (a Queue's: see queueDriver.keepLive)
	following bool          // a live listener has followed the live edge since Do last moved its player
	attached  bool          // a Queue's listener drives the queue (see Queue.attach)
	liveSkips int64         // packets a live listener's player passed over to rejoin the live edge

	removed        atomic.Bool
	hasOps         atomic.Bool // ops is not empty
	sent           int64Counter
	skips, silence int64Counter // the player's, copied after each deadline
	// lateness: a packet reads its max, and adds to one of its buckets
	// (see listenerHot).
	lateness histogram

	shard       *shard
	added       time.Time
	ended       atomic.Bool // finish has run (it runs once)
	done        chan struct{}
	err         error       // why it ended; set before done is closed
	onEnd       func(error) // if not nil, called by finish once done is closed; immutable
	underruns   int64Counter
	resyncs     int64Counter
	late        int64Counter
	firstPacket atomic.Int64 // nanoseconds from Add to the first packet sent, or 0

	opsMu sync.Mutex // guards ops
	ops   []func(*Player)
}

// Add adds a listener: the player p, its packets given to send at their
// deadlines from the next one on. When the player ends (io.EOF after its
// silence frames, or an error), when send returns an error, or on Remove,
// the listener is dropped and its Done channel closed. A player of a live
// track plays from where it is (a new one from the oldest packet kept;
// see Player.SkipToLive), and is held to the live edge once it has
// reached it (see Scheduler).
func (s *Scheduler) Add(p *Player, send func(Packet) error) *Listener {
	return s.add(p, send, nil)
}

// AddQueue adds a Queue as one listener, as Add adds a player: its
// packets are given to send at their deadlines from the next one on. An
// idle or paused queue leaves a gap, as a paused player does; the
// listener is dropped when the queue ends (io.EOF, with WithEndWhenEmpty),
// is closed (its error is then ErrQueueClosed), when send returns an
// error, or on Remove. The queue is commanded through its own methods,
// from any goroutine: Do does nothing for its listener. A live track it
// plays is held to the live edge as a player's is.
//
// The queue's first listener is in the queue's own allocation, beside
// the fields its packets read. While the listener drives the queue (from
// its first deadline to its end), its shard calls the queue with no lock,
// and the queue publishes its state at each packet for State and
// Playing; a Close while the shard serves its deadlines is made at the
// queue's next one. A listener added while another drives the queue
// (one removed, not yet ended) gives nothing until that one has ended.
// The queue's Next must not be called by anyone else meanwhile.
func (s *Scheduler) AddQueue(q *Queue, send func(Packet) error) *Listener {
	sh := s.shards[int(s.next.Add(1)-1)%len(s.shards)]
	q.mu.Lock()
	l := &q.lis
	if q.lisUsed {
		l = new(Listener)
	}
	q.lisUsed = true
	q.mu.Unlock()
	*l = Listener{q: q, send: send, shard: sh, added: s.clock.Now(), done: make(chan struct{})}
	return sh.take(l)
}

// driven is what a Scheduler's listener plays: a Player or a Queue.
//
// No call goes through it: a shard calls a Listener's Player or Queue
// directly (see Listener.passTime, Listener.counts); it states what both
// give, and the declarations after it check that they do.
type driven interface {
	// next is Player.Next's contract, the packet written to out.
	next(out *Packet) error
	// passTime moves its clock on by n samples in which it gave nothing.
	passTime(n int64)
	// counts returns the packets lost to live windows and the silence
	// frames it has given so far (only the driver calls it).
	counts() (skips, silence int64)
}

var (
	_ driven = (*Player)(nil)
	_ driven = (*queueDriver)(nil)
)

// passTime is passTime of what l drives.
func (l *Listener) passTime(n int64) {
	if l.q != nil {
		(*queueDriver)(l.q).passTime(n)
		return
	}
	l.p.passTime(n)
}

// counts is counts of what l drives.
func (l *Listener) counts() (skips, silence int64) {
	if l.q != nil {
		return (*queueDriver)(l.q).counts()
	}
	return l.p.counts()
}

func (p *Player) counts() (skips, silence int64) { return p.stats.Skips, p.stats.Silence }

// add is Add with onEnd, called with the listener's error when it ends,
// on whichever goroutine ends it; it must not block.
func (s *Scheduler) add(p *Player, send func(Packet) error, onEnd func(error)) *Listener {
	sh := s.shards[int(s.next.Add(1)-1)%len(s.shards)]
	l := &Listener{p: p, send: send, shard: sh, added: s.clock.Now(), done: make(chan struct{}), onEnd: onEnd, live: p.t.cfg.live > 0}
	l.following = l.live && s.nearLive(p) // a player put at the live edge (a Broadcast's) is held there from the start
	return sh.take(l)
}

// take puts a new listener in the shard's next slot, or ends it if the
// scheduler has closed.
func (sh *shard) take(l *Listener) *Listener {
	sh.mu.Lock()
	if sh.stopped {
		sh.mu.Unlock()
		l.finish(ErrStopped)
		return l
	}
	slot := &sh.slots[sh.nextSlot]
	sh.nextSlot = (sh.nextSlot + 1) % len(sh.slots)
	slot.pending = append(slot.pending, l)
	sh.mu.Unlock()
	return l
}

// Remove drops the listener at its shard's next deadline. It is safe to
// call from its own callback, and more than once.
func (l *Listener) Remove() { l.removed.Store(true) }

// stop drops the listener now: when it returns, the listener's callback is
// not running and will not run again, the listener is out of its shard's
// lists, and it has ended (Done closed, onEnd called). It waits for a tick
// of the shard in progress, so it must not be called from a callback of a
// listener on the same shard.
func (l *Listener) stop() {
	sh := l.shard
	sh.serving.Lock()
	defer sh.serving.Unlock()
	l.removed.Store(true)
	if l.ended.Load() {
		return
	}
	sh.mu.Lock()
	for i := range sh.slots {
		sl := &sh.slots[i]
		sl.listeners = without(sl.listeners, l)
		sl.pending = without(sl.pending, l)
	}
	sh.mu.Unlock()
	l.finish(nil)
}

// without removes l from ls, in place, keeping the order.
func without(ls []*Listener, l *Listener) []*Listener {
	for i, x := range ls {
		if x == l {
			n := copy(ls[i:], ls[i+1:])
			ls[i+n] = nil
			return ls[:i+n]
		}
	}
	return ls
}

// Do runs f with the listener's player on the listener's shard, at its
// next deadline (within a frame, paused or not), before its packets are
// given: the way to pause, resume, seek or loop a player the scheduler
// drives, from any goroutine, without a race. f must not block (a Seek
// into the part not encoded yet should be given a context already done,
// or be made before Add). Functions run in the order given. A Queue's
// listener has no player of its own: f is not run (command the Queue).
func (l *Listener) Do(f func(*Player)) {
	l.opsMu.Lock()
	l.ops = append(l.ops, f)
	l.opsMu.Unlock()
	l.hasOps.Store(true)
}

// Done returns a channel closed once the listener has been dropped.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Err returns why the listener was dropped, once Done is closed: nil at
// the end of its track, or after Remove; the player's error; send's; or
// ErrStopped.
func (l *Listener) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// Player returns the listener's player (nil for a Queue's). While the
// listener is driven, only its callback, or a function given to Do, may
// use it.
func (l *Listener) Player() *Player { return l.p }

// ListenerStats is what a Scheduler measured of one listener.
type ListenerStats struct {
	Packets   int64         // packets sent (silence frames included)
	Underruns int64         // deadlines at which the next packet was not encoded yet
	Resyncs   int64         // times it fell too far behind and was resynchronised (a live track's: behind by a frame, or off its live edge)
	Late      int64         // packets sent more than one frame after their deadline
	Skips     int64         // packets its player lost to a live track's window, or passed over to rejoin its live edge
	Silence   int64         // silence frames sent (at pauses and the end)
	First     time.Duration // from Add to its first packet; 0 until then
	Lateness  Percentiles   // of its packets' sending after their deadlines
}

// Percentiles are quantiles of lateness, as measured into a histogram of
// four buckets an octave from 1 µs: each is the top of the bucket that
// holds it, at most 25% above the true value.
type Percentiles struct {
	P50, P99, P999, Max time.Duration
	Count               int64
}

// Stats returns what was measured of the listener. It is safe to call at
// any time, from any goroutine, but its counts may be a moment apart.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{
		Packets: l.sent.Load(), Underruns: l.underruns.Load(), Resyncs: l.resyncs.Load(), Late: l.late.Load(),
		Skips: l.skips.Load(), Silence: l.silence.Load(),
		First: time.Duration(l.firstPacket.Load()), Lateness: l.lateness.percentiles(),
	}
}

// ShardStats is what a Scheduler measured of one shard.
type ShardStats struct {
	Listeners int
	Ticks     int64 // deadlines it served (a phase each)
	Overruns  int64 // wakes later than a whole frame (it skipped deadlines)
	Packets   int64
	Underruns int64
	Resyncs   int64
	Skips     int64 // packets lost to live tracks' windows, or passed over to rejoin their live edges
	Silence   int64 // silence frames sent
	Lateness  Percentiles
}

// Stats returns each shard's measures.
func (s *Scheduler) Stats() []ShardStats {
	out := make([]ShardStats, len(s.shards))
	for i, sh := range s.shards {
		sh.mu.Lock()
		n := 0
		for _, sl := range sh.slots {
			n += len(sl.listeners) + len(sl.pending)
		}
		sh.mu.Unlock()
		out[i] = ShardStats{Listeners: n, Ticks: sh.ticks.Load(), Overruns: sh.overruns.Load(), Packets: sh.sent.Load(),
			Underruns: sh.underruns.Load(), Resyncs: sh.resyncs.Load(), Skips: sh.skips.Load(), Silence: sh.silence.Load(),
			Lateness: sh.lateness.percentiles()}
	}
	return out
}

// shard is one goroutine's share of the listeners.
type shard struct {
	s     *Scheduler
	start time.Time

	// serving is held by the shard's goroutine while it serves its
	// deadlines and when it stops, and by Listener.stop, which so waits
	// for the callbacks in progress and changes the listener lists while
	// the goroutine does not read them.
	serving sync.Mutex

	mu       sync.Mutex // guards the slots' pending lists, and their lengths for Stats
	slots    []slotList // a phase each
	nextSlot int        // the slot of the next listener added
	stopped  bool       // the scheduler closed: Add ends new listeners at once (guarded by mu)

	ticks, overruns, sent, underruns, resyncs, skips, silence int64Counter
	lateness                                                  bigHistogram
}

type int64Counter = atomic.Int64

// slotList is the listeners of one phase.
type slotList struct {
	pending   []*Listener // added, not yet taken in; guarded by shard.mu
	listeners []*Listener // changed under shard.mu by the shard's goroutine, or by Listener.stop, both holding shard.serving
}

// run is the shard's loop: one deadline after another, on the absolute
// grid start + k·step (step = frame/phases), deadline k serving the
// listeners of phase k mod phases. Woken late, it serves every phase whose
// deadline has passed, each once, at its latest deadline; later than a
// whole frame, it counts an overrun.
func (sh *shard) run() {
	defer sh.s.wg.Done()
	s := sh.s
	k := int64(0)
	for {
		if err := s.clock.Wait(s.ctx, sh.start.Add(sh.deadline(k))); err != nil {
			sh.serving.Lock()
			sh.stop()
			sh.serving.Unlock()
			return
		}
		sh.serving.Lock()
		now := s.clock.Now().Sub(sh.start)
		last := sh.latest(now)
		if last-k >= int64(s.phases) {
			sh.overruns.Add(1)
			k = last - int64(s.phases) + 1
		}
		for ; k <= last; k++ {
			sh.ticks.Add(1)
			sh.tick(&sh.slots[k%int64(s.phases)], sh.deadline(k), now)
		}
		sh.serving.Unlock()
	}
}

// deadline is the time of deadline k from the shard's start: frame k/phases,
// phase k mod phases, each phase at the same offset in every frame, so that
// a phase's deadlines are exactly a frame apart whatever the division's
// rounding.
func (sh *shard) deadline(k int64) time.Duration {
	s := sh.s
	p := int64(s.phases)
	return time.Duration(k/p)*s.frame + time.Duration(k%p)*(s.frame/time.Duration(p))
}

// latest is the last deadline at or before now.
func (sh *shard) latest(now time.Duration) int64 {
	s := sh.s
	p := int64(s.phases)
	f := int64(now / s.frame)
	j := min(int64(now%s.frame/(s.frame/time.Duration(p))), p-1)
	return f*p + j
}

// tickStats is what a tick measured, added to the shard's counters once at
// its end rather than a packet at a time.
type tickStats struct {
	sent, underruns, resyncs, skips, silence int64
	lateness                                 [buckets]uint32
	max                                      time.Duration
	clock                                    time.Duration // the time, read every sendsPerRead packets
}

// sendsPerRead is how many packets a shard sends between two readings of
// the clock, for their lateness: the time of a send is known within that
// many callbacks' time (a few microseconds).
const sendsPerRead = 32

// tick gives every listener the packets whose time has come. Times are
// durations since the shard's start.
func (sh *shard) tick(sl *slotList, deadline, now time.Duration) {
	ts := tickStats{clock: now}
	sh.mu.Lock()
	sl.listeners = append(sl.listeners, sl.pending...)
	clear(sl.pending)
	sl.pending = sl.pending[:0]
	sh.mu.Unlock()

	kept := sl.listeners[:0]
	for i, l := range sl.listeners {
		prefetchAhead(sl.listeners, i)
		if l.removed.Load() {
			l.finish(nil)
			continue
		}
		if !l.started {
			l.next, l.started = deadline, true // its first packet goes now
		}
		err := sh.serve(l, now, &ts)
		// The player's counts, for readers of the listener's: its own
		// are the driver's alone, and a queue's listener that waits for
		// another to stop driving it (on another shard, perhaps) has
		// none to read.
		if l.q == nil || l.attached {
			skips, silence := l.counts()
			skips += l.liveSkips
			// Stored only when they change: an atomic store is a locked
			// instruction, which would wait for this listener's misses.
			if d := skips - l.skips.Load(); d != 0 {
				ts.skips += d
				l.skips.Store(skips)
			}
			if d := silence - l.silence.Load(); d != 0 {
				ts.silence += d
				l.silence.Store(silence)
			}
		}
		if err != nil {
			l.finish(err)
			continue
		}
		kept = append(kept, l)
	}
	clear(sl.listeners[len(kept):])
	sh.mu.Lock()
	sl.listeners = kept
	sh.mu.Unlock()
	sh.sent.Add(ts.sent)
	sh.underruns.Add(ts.underruns)
	sh.resyncs.Add(ts.resyncs)
	sh.skips.Add(ts.skips)
	sh.silence.Add(ts.silence)
	sh.lateness.merge(&ts.lateness, ts.max)
}

// maxPerDeadline bounds the packets a listener is given at one deadline:
// catch-up is bounded in time (catchUp frames), and this guards against
// packets of no duration.
const maxPerDeadline = 64

// serve sends l the packets due by now: those of at most catchUp frames
// behind; a listener further behind than that is resynchronised. A live
// track's listener is given one frame at most, and kept at the live edge
// (keepLive). It returns why l ends, if it does.
func (sh *shard) serve(l *Listener, now time.Duration, ts *tickStats) error {
	s := sh.s
	if l.hasOps.Load() {
		l.opsMu.Lock()
		ops := l.ops
		l.ops = nil
		l.hasOps.Store(false)
		l.opsMu.Unlock()
		for _, f := range ops {
			if l.p != nil {
				f(l.p)
			}
		}
		l.following = false // the player may have been moved: it rejoins the edge by playing on
	}
	live := l.live
	if l.q != nil {
		if !l.attached {
			ok, err := l.q.attach(l)
			if err != nil {
				return err
			}
			if !ok {
				l.next += s.frame // another listener drives the queue: a gap
				return nil
			}
			l.attached = true
		}
		live = l.q.live.Load()
	}
	bound := time.Duration(s.catchUp) * s.frame
	if live {
		bound = s.frame - 1 // no catch-up: more than the packet due now is a resync
	}
	if behind := now - l.next; behind > bound {
		l.next = now - behind%s.frame // back on the grid, at the present
		l.passTime(opus.Samples(behind - behind%s.frame))
		l.resyncs.Add(1)
		ts.resyncs++
	}
	switch {
	case l.live:
		sh.keepLive(l, l.p, ts)
	case live:
		(*queueDriver)(l.q).keepLive(func(p *Player, fresh bool) {
			if fresh {
				l.following = s.nearLive(p)
			}
			sh.keepLive(l, p, ts)
		})
	}
	for n := 0; n < maxPerDeadline && l.next <= now; n++ {
		var pk Packet
		var err error
		if l.q != nil { // called directly, not through an interface: pk stays on the stack
			err = (*queueDriver)(l.q).next(&pk)
		} else {
			err = l.p.next(&pk)
		}
		switch {
		case err == nil:
		case err == ErrUnderrun:
			l.underruns.Add(1)
			ts.underruns++
			l.next += s.frame // a gap, not a burst later
			l.passTime(opus.Samples(s.frame))
			if live {
				l.following = true // it has run into the live edge
			}
			return nil
		case err == ErrPaused || err == ErrIdle:
			l.next += s.frame
			return nil
		case err == io.EOF:
			return io.EOF
		default:
			return err
		}
		if ts.sent%sendsPerRead == sendsPerRead-1 {
			ts.clock = s.clock.Now().Sub(sh.start)
		}
		late := max(ts.clock, now) - l.next // when it is sent, not when the shard woke
		// Counted as it is sent: a Queue's State in the send function
		// has it (see Queue.published).
		l.sent.Add(1)
		if err := l.send(pk); err != nil {
			l.sent.Add(-1)
			return fmt.Errorf("pipeline: listener's send: %w", err)
		}
		if !l.first {
			l.first = true
			l.firstPacket.Store(int64(max(s.clock.Now().Sub(l.added), 1)))
		}
		b := bucketOf(late)
		l.lateness.addIn(b, late)
		ts.sent++
		ts.lateness[b]++
		ts.max = max(ts.max, late)
		if late > s.frame {
			l.late.Add(1)
		}
		l.next += opus.Duration(pk.Samples)
	}
	return nil
}

// keepLive moves a live track's player that has followed the live edge,
// and now trails it by more than catchUp frames, to the newest packet: a
// resynchronisation, its packets passed over counted as skips. A player
// that has not followed the edge since Do last ran (it was put behind it)
// starts to once it is within those frames of it; a player looping a
// section is left where it is.
func (sh *shard) keepLive(l *Listener, p *Player, ts *tickStats) {
	if p.loops != 0 {
		return
	}
	if p.Paused() {
		l.following = false // it resumes where it was, behind the edge
		return
	}
	if sh.s.nearLive(p) {
		l.following = true
		return
	}
	if !l.following {
		return
	}
	if n := int64(p.SkipToLive()); n > 0 {
		l.liveSkips += n
		l.resyncs.Add(1)
		ts.resyncs++
	}
}

// nearLive reports whether a live track's player is within catchUp frames
// of its live edge: the audio encoded and not yet given, its next
// packet's included, is no more than that.
func (s *Scheduler) nearLive(p *Player) bool {
	x, ok := p.t.Index()
	return !ok || x.DecodedSamples()-x.PreSkip()-p.position() <= opus.Samples(time.Duration(s.catchUp)*s.frame)
}

// finish drops a listener: the end of its track is no error. Only its
// first call does anything.
func (l *Listener) finish(err error) {
	if !l.ended.CompareAndSwap(false, true) {
		return
	}
	if err == io.EOF {
		err = nil
	}
	if l.attached {
		l.q.detach(l) // by the shard, or with its serving held: no deadline of l runs
	}
	l.err = err
	close(l.done)
	if l.onEnd != nil {
		l.onEnd(err)
	}
}

// stop ends the shard's listeners when the scheduler closes.
func (sh *shard) stop() {
	sh.mu.Lock()
	sh.stopped = true
	var all []*Listener
	for i := range sh.slots {
		all = append(append(all, sh.slots[i].listeners...), sh.slots[i].pending...)
		sh.slots[i] = slotList{}
	}
	sh.mu.Unlock()
	for _, l := range all {
		l.finish(ErrStopped)
	}
}

// histogram counts durations in buckets of a quarter octave from 1 µs (a
// bucket's width is 14% to 25% of its bottom), added to with one atomic
// increment; the listener's kind has 32-bit counts (288 bytes: it wraps
// after 2^32 packets, 2.7 years of one listener), a shard's 64-bit ones.
// A listener's max comes first: it is read at every packet, and so sits
// beside the listener's other fields of a packet, not on a line of its
// own after the buckets.
type histogram struct {
	max     atomic.Int64
	buckets [buckets]atomic.Uint32
}

type bigHistogram struct {
	buckets [buckets]atomic.Uint64
	max     atomic.Int64
}

const buckets = 72

// bucketOf is the bucket of d: 0 below 1 µs; then, from 1 µs, four a
// doubling.
// In quarters of a microsecond, q = d/250ns, bucket 1+4o+s holds
// (4+s)·2^o <= q < (5+s)·2^o: the octave is q's top bit, the quarter the
// two bits below it (a division by a constant, and shifts: it is on every
// packet's path).
func bucketOf(d time.Duration) int {
	q := uint64(max(d, 0)) / 250
	if q < 4 {
		return 0
	}
	o := bits.Len64(q) - 3 // the octave: 2^o µs <= d < 2^(o+1) µs
	return min(1+4*o+int(q>>o)-4, buckets-1)
}

// bucketTop is the upper bound of bucket i (the last bucket has none).
func bucketTop(i int) time.Duration {
	if i == 0 {
		return time.Microsecond
	}
	o, sub := (i-1)/4, (i-1)%4
	return time.Duration(uint64(5+sub) * (uint64(1000) << o) / 4)
}

func setMax(m *atomic.Int64, d time.Duration) {
	for {
		v := m.Load()
		if int64(d) <= v || m.CompareAndSwap(v, int64(d)) {
			return
		}
	}
}

func (h *histogram) add(d time.Duration) { h.addIn(bucketOf(d), d) }

// addIn adds d, whose bucket is i.
func (h *histogram) addIn(i int, d time.Duration) {
	h.buckets[i].Add(1)
	setMax(&h.max, d)
}

func (h *histogram) percentiles() Percentiles {
	var counts [buckets]uint64
	for i := range counts {
		counts[i] = uint64(h.buckets[i].Load())
	}
	return percentilesOf(&counts, time.Duration(h.max.Load()))
}

// merge adds counts measured elsewhere.
func (h *bigHistogram) merge(counts *[buckets]uint32, max time.Duration) {
	for i, n := range counts {
		if n > 0 {
			h.buckets[i].Add(uint64(n))
		}
	}
	setMax(&h.max, max)
}

func (h *bigHistogram) percentiles() Percentiles {
	var counts [buckets]uint64
	for i := range counts {
		counts[i] = h.buckets[i].Load()
	}
	return percentilesOf(&counts, time.Duration(h.max.Load()))
}

// percentilesOf reads quantiles off bucket counts: the top of the bucket
// that holds each (the maximum, for the last bucket, which has no top).
func percentilesOf(counts *[buckets]uint64, maxSeen time.Duration) Percentiles {
	var total uint64
	for _, n := range counts {
		total += n
	}
	p := Percentiles{Count: int64(total), Max: maxSeen}
	if total == 0 {
		return p
	}
	at := func(q float64) time.Duration {
		want := uint64(q*float64(total) + 0.999999)
		var c uint64
		for i, n := range counts {
			c += n
			if c >= want {
				if i == buckets-1 {
					return p.Max
				}
				return min(bucketTop(i), p.Max)
			}
		}
		return p.Max
	}
	p.P50, p.P99, p.P999 = at(0.50), at(0.99), at(0.999)
	return p
}
