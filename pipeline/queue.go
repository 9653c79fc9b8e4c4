package pipeline

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Queue is a queue player: what a guild's bot plays. It plays the tracks
// of a Library one after another, commanded from any goroutine, and is
// driven as a Player is: its Next gives the next packet, so that a
// Scheduler (AddQueue), a sink.FrameProvider, sink.Copy or sink.Feed
// takes it as they take a Player.
//
// # Commands
//
// Every command (Play, Enqueue, PlayNext, InsertBefore, Remove, Move,
// Clear, Shuffle, Skip, SkipTo, Stop, Seek, Pause, Resume, Loop,
// LoopSection, SetFilters) returns at once: it is recorded, and applied at the next
// packet boundary (the driver's next Next call), in the order the queue
// recorded it, before that packet is chosen. Commands name queue entries
// by the EntryID that Play, Enqueue, PlayNext and InsertBefore return,
// never by an index, which another user's command may have moved; a
// command naming an entry that is no longer where it says (played,
// removed) does nothing. State gives the entries in order, for a
// command by index.
//
// # Playing
//
// The queue owns one Player at a time, of its current entry, and the
// Library holds (Library.Get's, without its wait) of its current entry
// and of the next ones up to WithLoadAhead (one by default), so that the
// next track loads while the current one plays; an entry further down
// holds nothing until it comes that near. A hold is released when its
// entry is played, removed, cleared, or the queue closed. Next never
// waits: an entry whose track is still loading (or whose source stalls)
// is an underrun (ErrUnderrun), counted towards WithStuckAfter.
//
// Tracks follow each other on one timeline (Packet.Timestamp runs on
// across tracks, and across the gaps a Scheduler passes), through the
// join of each track's end into the next one's start: gapless, or a
// crossfade (WithCrossfade), encoded once per pair and shared (see the
// package's joins). The queue asks for the join once the playing track
// is finished encoding, and plays it if it is ready when the track's
// packets come to it. Where there is none (a live track, tracks of other
// channels or packet durations, WithJoins(false), WithSeams(false), no
// libopus, or a join not ready in time), the next track's first packet
// follows the last one's last and, since a receiver decoding the stream
// with one decoder holds the state of the last track's audio, for which
// it was not coded, is sent as a silence frame of its duration (as a
// Player does at a jump that has no transition; see Player). The five
// silence frames of a Player's end are not sent between queued tracks:
// they are sent when the queue stops or empties, and at a pause, as a
// Player's are.
//
// When the queue has nothing to play (it is empty, or was stopped), Next
// gives those silence frames, then ErrIdle (which wraps ErrPaused: a
// driver waits it out as it waits out a pause), until a track is queued;
// with WithEndWhenEmpty it gives io.EOF instead, and a Scheduler then
// drops its listener.
//
// # Events
//
// With WithEvents or WithEventFunc, the queue tells of each entry's start
// and end (with the reason), a stuck track, the position at a rate the
// user picks (WithPositionEvery), a track's title changes, and when a
// filter change is heard; see Event.
//
// # Filters
//
// SetFilters gives the queue a filter chain, as Lavalink gives one to a
// player: every entry plays its track's variant with that chain (a
// Library entry of its own, encoded once and shared: see Key.Filters),
// the current one switching at the same place in the music, within a
// packet boundary or two where the variant has encoded that far, from a
// segment encoded from there where it has not; see SetFilters.
//
// A Queue is safe for concurrent use: any goroutine may command it and
// read its State; one goroutine at a time drives it (Next). It is made
// by NewQueue: its zero value is not a queue.
type Queue struct {
	// A queue is two allocations: what a steady packet (nextPacket)
	// reads, with the queue's first listener (the first AddQueue's), in
	// one of 720 bytes, about a Player's and its listener's together, and
	// the rest (queueCold) in another. A Scheduler's shard serves its
	// queues as densely packed in memory as its players: 10,000 of them
	// in 7.5 MB, not 18 (a listener's packet costs more, the more memory
	// its shard's listeners are spread over; see bench/README.md). The
	// steady fields fill the allocation's first line (an object of its
	// size has an 8-byte header before it), the player the next three, and
	// the listener touches as many lines as a Player's does: a steady
	// packet touches no more lines than a Player's
	// (TestQueueSteadyCacheLines), and writes none of the queue's own
	// (TestQueueSteadyWritesNothing). A shard asks for these lines a few
	// listeners ahead (prefetchAhead): the fields before lis, and the
	// listener's first.

	// pending is the word the driver looks at first: pendingCmds, while
	// commands are recorded and not applied (set and cleared under mu);
	// pendingClose, once Close has asked the driver to close the queue
	// (from an event function, or while a Scheduler's shard serves it).
	pending atomic.Uint32
	// live says that the current track is live, for the Scheduler (see
	// keepLive). Stored by the driver; read by the Scheduler's shard.
	live atomic.Bool
	// steady says what the next packet is unless a command comes first:
	// the current player's next, as long as (see steadiness).
	steady steadiness
	inHand bool // the packet the present step gives is counted in packets (see publishState); written only when it changes
	evOn   bool // ev is not nil (immutable)
	_      [1]byte
	// posLeft counts down the packets of the current entry to its next
	// position event; 0: none (see events).
	posLeft int32
	// ts is the queue's clock (samples given, and passed: passTime), and
	// packets QueueStats.Packets (stats' is unused); while steady, each
	// less the player's (its clock, its Packets), so that a steady packet
	// writes nothing on this line: see clock.
	ts      int64
	packets int64
	silent  int64 // QueueStats.Silence (stats' is unused)
	skips   int64 // the skips of the players ended (see counts)
	// pubBase is, while the packets given since the state was last
	// published (see publishState) are the current player's next, one
	// after the other, its cursor's place less packets; noBase when the
	// state is to be published at the next packet. The driver's.
	pubBase int64
	pl      Player // the current entry's player (player points here while there is one)
	// queueCold is set by NewQueue, never changed: here, in the lines a
	// shard asks for ahead of the queue's packet (see prefetchAhead), so
	// that a queue with a command pending has its cold lines asked for too.
	*queueCold
	lis Listener // the first AddQueue's listener
}

// queueCold is a Queue's fields that a steady packet does not read (but
// for a live track's, whose keepLive reads a few: a shard asks for these
// lines ahead then, as when a command is pending; see prefetchAhead).
type queueCold struct {
	// drive is held by Next and by Close, State and Playing when no
	// Scheduler's listener drives the queue (sched nil): it guards the
	// driver's fields (every field of the queue but the atomics and those
	// mu guards). A Scheduler's shard drives it without the lock, alone:
	// the others then read what it published (see publishState).
	drive sync.Mutex
	// sched is the Scheduler's listener that drives the queue, if one
	// does: set by its shard at its first deadline, and cleared when it
	// ends, under drive and mu.
	sched   *Listener
	lisUsed bool // lis is taken (by AddQueue; guarded by mu)
	done    bool // closed: Next gives ErrQueueClosed
	started bool // cur's first packet has been given (EventStarted sent)
	paused  bool
	dirty   bool // entries or cur changed: the load-ahead window is to be looked at
	loop    LoopMode
	player  *Player // cur's player, once its track is ready: &pl
	cur     *qentry // the current entry, nil if none
	audible *qentry // the entry whose audio the receiver's decoder holds: the last packet given was its audio; nil after silence
	given   *qentry // the entry of the last packet given (nil: the queue's own silence); Playing's

	// The fields a packet that is not steady reads (a command's, a
	// boundary's), then the commands and the published state, in as few
	// lines as they fit: a command costs the lines it touches.
	seek    int64      // cur's pending seek, in samples; -1 if none
	silence int        // the queue's silence frames still to give (a pause, a stop, an empty queue)
	stalls  int        // underruns in a row of the current entry while not paused
	jnAt    int        // the next of jn's packets to give while its transition plays; -1 if none does
	stats   QueueStats // but Packets and Silence: see packets and silent
	entries []*qentry  // queued after the current, in order
	cfg     queueConfig

	mu     sync.Mutex // guards cmds (and cmdBuf's half it is in), ids, closed, lisUsed and pub
	ids    EntryID    // the last ID given
	closed bool
	// emitting is set while WithEventFunc's function runs, on the
	// driver's goroutine: State then reads the state published before
	// it (pub), not the driver's.
	emitting atomic.Bool
	cmds     []queueCmd // recorded, not yet applied
	spare    []queueCmd // the last batch's slice, reused
	// cmdBuf holds cmds and spare while a batch fits: a command's record
	// is on the lines beside mu, not in an allocation of its own. The two
	// halves never overlap: cmds' is mu's, spare's the driver's.
	cmdBuf [2][2]queueCmd
	pub    queuePub // the state as published (see publishState)

	gen      int              // players made: keepLive's way to tell a new one
	liveSeen int              // gen of the player keepLive saw last
	section  [2]time.Duration // LoopSection's, from and to
	title    StreamTitle
	// The join of the current track into the next entry's (see joinStep).
	joinTo   *qentry         // the entry joinWait is for
	joinA    *Track          // the track joinWait joins from
	joinWait <-chan struct{} // joinMade's ready: closed once the join is ready; nil until asked
	joinMade *join           // the join asked for
	jn       *join           // the join, once ready (a cut is never played: boundary does that)
	jnPos    int64           // the position on the entry's track of the next of jn's packets
	rng      *rand.Rand
	lib      *Library
	flt      queueFilters // SetFilters' chain, and the current entry's switch to it
	ev       *eventSink   // nil: no events; immutable
}

// EntryID names an entry of a Queue. IDs are given in increasing order
// from 1, never twice by one queue; 0 names no entry.
type EntryID uint64

// qentry is one entry of the queue.
type qentry struct {
	id      EntryID
	key     Key   // written by the driver with mu held: the published state reads it (see queuePub)
	hold    *Hold // the Library's hold, while the entry is in the load-ahead window
	tries   int   // loads made again after a stored copy failed before its first packet
	noStore bool  // the next load encodes, without the store
}

// LoopMode is what a Queue repeats.
type LoopMode uint8

// Loop modes.
const (
	// LoopOff plays each entry once.
	LoopOff LoopMode = iota
	// LoopTrack plays the current track again and again, packet after
	// packet (as Player.Loop(-1)), whatever the track; Skip moves on.
	LoopTrack
	// LoopQueue puts each entry that finished back at the end of the
	// queue, with its ID.
	LoopQueue
	// LoopSection loops a section of the current track (LoopSection);
	// it ends with the track.
	LoopSection
)

// QueueOption configures a Queue.
type QueueOption func(*queueConfig)

type queueConfig struct {
	ahead        int
	stuckAfter   int // underruns in a row
	positionEach int // packets; 0: no position events
	endWhenEmpty bool
	seed         *uint64
	events       int // the channel's buffer; 0: no channel
	eventFunc    func(Event)
	fade         time.Duration // WithCrossfade's
	noJoins      bool          // WithJoins(false)
}

// WithLoadAhead sets how many entries after the current one are held,
// and so loaded, while it plays (1 by default; at most 2, at least 0).
func WithLoadAhead(n int) QueueOption { return func(c *queueConfig) { c.ahead = min(max(n, 0), 2) } }

// WithStuckAfter sets after how many packet deadlines in a row with no
// packet of the current track (underruns: Next calls that gave
// ErrUnderrun) the queue sends EventStuck (500 by default: ten seconds
// of 20 ms deadlines; 0 for never). It is counted on the driver's calls,
// not on a clock, and told once a stall.
func WithStuckAfter(deadlines int) QueueOption {
	return func(c *queueConfig) { c.stuckAfter = max(deadlines, 0) }
}

// WithPositionEvery makes the queue send EventPosition every n packets of
// the current track (50 by default: a second of 20 ms packets; 1 for
// every packet; 0 for none).
func WithPositionEvery(n int) QueueOption {
	return func(c *queueConfig) { c.positionEach = max(n, 0) }
}

// WithEndWhenEmpty makes Next give io.EOF, rather than ErrIdle, once the
// queue has nothing to play and has given its silence frames: for an
// export, or a driver that should stop.
func WithEndWhenEmpty() QueueOption { return func(c *queueConfig) { c.endWhenEmpty = true } }

// WithShuffleSeed makes Shuffle's order reproducible: the queue's
// shuffles are rand.New(rand.NewPCG(seed, seed)).Shuffle's, one after
// another (random by default).
func WithShuffleSeed(seed uint64) QueueOption { return func(c *queueConfig) { c.seed = &seed } }

// WithEvents makes the queue send its events on the channel Events
// returns, through a buffer of n events (64 if n < 1). The driver never
// waits for the reader: when the buffer is full, the oldest position
// event in it is dropped (and counted, QueueStats.EventsDropped), or the
// new one if it is a position event and there is none; the other events
// are never dropped (the buffer grows past n for them).
func WithEvents(n int) QueueOption {
	return func(c *queueConfig) {
		if n < 1 {
			n = 64
		}
		c.events = n
	}
}

// WithEventFunc makes the queue call f with each event, on the driver's
// goroutine, within the Next call that makes it: f must not block (it
// holds up the packet), and may give the queue commands, read its State
// and close it (the queue is then closed as that Next ends). It replaces
// WithEvents.
func WithEventFunc(f func(Event)) QueueOption { return func(c *queueConfig) { c.eventFunc = f } }

// WithCrossfade makes the queue cross-fade from each track into the next
// over d (an equal-power fade, encoded once per pair of tracks and d, and
// shared: see the package's joins), instead of the gapless join it makes
// by default. d is cut to what the tracks allow.
func WithCrossfade(d time.Duration) QueueOption {
	return func(c *queueConfig) { c.fade = max(d, 0) }
}

// WithJoins(false) turns the joins between tracks off: each track then
// starts as after a jump without a transition (a silence frame in place
// of its first packet), as it does anyway where a join cannot be made or
// is not ready in time. Joins are on by default.
func WithJoins(on bool) QueueOption { return func(c *queueConfig) { c.noJoins = !on } }

// NewQueue returns an empty queue playing the tracks of lib. Close
// releases what it holds.
func NewQueue(lib *Library, opts ...QueueOption) *Queue {
	cfg := queueConfig{ahead: 1, stuckAfter: 500, positionEach: 50}
	for _, o := range opts {
		o(&cfg)
	}
	q := &Queue{queueCold: &queueCold{lib: lib, cfg: cfg, seek: -1, jnAt: -1}, posLeft: int32(min(cfg.positionEach, math.MaxInt32))}
	q.cmds, q.spare = q.cmdBuf[0][:0], q.cmdBuf[1][:0]
	if cfg.seed != nil {
		q.rng = rand.New(rand.NewPCG(*cfg.seed, *cfg.seed))
	} else {
		q.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	switch {
	case cfg.eventFunc != nil:
		q.ev = &eventSink{fn: cfg.eventFunc}
	case cfg.events > 0:
		q.ev = newEventSink(cfg.events)
	}
	q.evOn = q.ev != nil
	return q
}

// Commands.

type cmdOp uint8

const (
	opPlay cmdOp = iota
	opEnqueue
	opPlayNext
	opInsert
	opRemove
	opMove
	opClear
	opShuffle
	opSkip
	opSkipTo
	opStop
	opSeek
	opPause
	opResume
	opLoop
	opLoopSection
	opFilters
)

// queueCmd is a command recorded for the next packet boundary: 56
// bytes, a cache line's worth to record and to apply (a key by pointer).
type queueCmd struct {
	op       cmdOp
	loop     LoopMode
	id       EntryID // the entry it names or makes
	before   EntryID
	key      *Key // the entry's it makes; SetFilters' chain in Filters
	n        int
	from, to time.Duration
}

// keyOf is a new entry's key, normal, for its command.
func keyOf(k Key) *Key {
	k = k.normal()
	return &k
}

// record records c, giving it a new entry's ID if it makes one.
func (q *Queue) record(c queueCmd, makes bool) EntryID {
	// The pending word's line is asked for while the lock's comes: the
	// caller finds both in the driver's cache or in memory.
	prefetchSpan(unsafe.Pointer(&q.pending), unsafe.Sizeof(q.pending))
	q.mu.Lock()
	defer q.mu.Unlock()
	if makes {
		q.ids++
		c.id = q.ids
	}
	if q.closed {
		return c.id
	}
	q.cmds = append(q.cmds, c)
	q.pending.Or(pendingCmds)
	return c.id
}

// Play plays the track of key now: it replaces the current entry (which
// ends with EndReplaced), the queue after it unchanged. It does not end a
// pause. It returns the new entry's ID.
func (q *Queue) Play(key Key) EntryID { return q.record(queueCmd{op: opPlay, key: keyOf(key)}, true) }

// Enqueue adds the track of key at the end of the queue, and returns the
// entry's ID. An idle queue starts playing it.
func (q *Queue) Enqueue(key Key) EntryID {
	return q.record(queueCmd{op: opEnqueue, key: keyOf(key)}, true)
}

// PlayNext adds the track of key at the front of the queue, to play after
// the current entry, and returns the entry's ID.
func (q *Queue) PlayNext(key Key) EntryID {
	return q.record(queueCmd{op: opPlayNext, key: keyOf(key)}, true)
}

// InsertBefore adds the track of key before the queued entry before (at
// the end if before is not queued then), and returns the entry's ID.
func (q *Queue) InsertBefore(key Key, before EntryID) EntryID {
	return q.record(queueCmd{op: opInsert, key: keyOf(key), before: before}, true)
}

// Remove removes the entry id: a queued one (it ends with EndRemoved,
// never played), or the current one (it ends with EndRemoved, and the
// next plays).
func (q *Queue) Remove(id EntryID) { q.record(queueCmd{op: opRemove, id: id}, false) }

// Move moves the queued entry id before the queued entry before (to the
// end if before is 0 or not queued then). Moving the current entry, or
// an entry before itself, does nothing.
func (q *Queue) Move(id, before EntryID) {
	q.record(queueCmd{op: opMove, id: id, before: before}, false)
}

// Clear removes every queued entry (each ends with EndRemoved); the
// current one plays on.
func (q *Queue) Clear() { q.record(queueCmd{op: opClear}, false) }

// Shuffle puts the queued entries in a random order (see
// WithShuffleSeed); the current one plays on.
func (q *Queue) Shuffle() { q.record(queueCmd{op: opShuffle}, false) }

// Skip ends the current entry (EndSkipped) and the n-1 queued after it
// (n < 1 is 1), and plays the next.
func (q *Queue) Skip(n int) { q.record(queueCmd{op: opSkip, n: max(n, 1)}, false) }

// SkipTo ends the current entry and the queued ones before the queued
// entry id (EndSkipped), and plays id. If id is not queued then, it does
// nothing.
func (q *Queue) SkipTo(id EntryID) { q.record(queueCmd{op: opSkipTo, id: id}, false) }

// Stop ends the current entry and every queued one (EndStopped): the
// queue gives its silence frames, then is idle until a track is queued.
// It ends a pause.
func (q *Queue) Stop() { q.record(queueCmd{op: opStop}, false) }

// Seek moves the entry id, if it is the current one then, to position d
// of its track. It never waits: a position already encoded is played from
// the next packet; past the encoded point of a track still encoding, the
// track makes a segment from d (see the package's segments: MP3, WAV and
// FLAC input encoded from d, filtered as the track is, Ogg Opus and WebM
// input's own packets from d (decoded, filtered and encoded, if the track
// has filters), a stored track's own records read from its store at d,
// the blocks before not read; raw PCM input waits for the track's own
// encode, which the queue asks to go on at once), and the queue plays on
// where it was (or gives
// nothing, if it had nothing to play), and moves at the first packet
// boundary at which d is there, in the segment or in the track (and, for
// the track, as Player.Seek asks, the jump's transition can be made);
// from a segment it goes back onto the track's own packets once they are
// there, through a transition (none from Ogg Opus, WebM and stored
// tracks' segments, whose packets are the track's own). A seek
// at or past the end of a finished track does nothing. A later Seek, or
// the entry's end, replaces a seek not yet made. A paused queue plays
// from d on Resume. A seek made during a join's transition into the
// entry takes effect at the transition's end.
func (q *Queue) Seek(id EntryID, d time.Duration) {
	q.record(queueCmd{op: opSeek, id: id, from: max(d, 0)}, false)
}

// Pause pauses the queue: it gives five silence frames (if it was giving
// audio), then ErrPaused until Resume. The entries and loops stay.
func (q *Queue) Pause() { q.record(queueCmd{op: opPause}, false) }

// Resume resumes a paused queue where it was.
func (q *Queue) Resume() { q.record(queueCmd{op: opResume}, false) }

// Loop sets the loop mode: LoopOff, LoopTrack or LoopQueue (LoopSection
// is set by LoopSection, and is LoopOff here).
func (q *Queue) Loop(m LoopMode) { q.record(queueCmd{op: opLoop, loop: m}, false) }

// LoopSection loops the section [from, to) of the entry id, if it is the
// current one then, as Player.LoopSection does, forever, until the track
// ends (Skip), or Loop sets another mode. An empty section is refused at
// once, with Player.LoopSection's error.
func (q *Queue) LoopSection(id EntryID, from, to time.Duration) error {
	if err := checkSection(from, to); err != nil {
		return err
	}
	q.record(queueCmd{op: opLoopSection, id: id, from: from, to: to}, false)
	return nil
}

// checkSection is Player.LoopSection's check.
func checkSection(from, to time.Duration) error {
	if to <= from || from < 0 {
		return fmt.Errorf("pipeline: loop section [%v, %v) is empty", from, to)
	}
	return nil
}

// Events returns the channel of the queue's events, if it was made
// WithEvents (nil otherwise). It is closed by Close; the events still
// buffered then are not delivered.
func (q *Queue) Events() <-chan Event {
	if q.ev == nil || q.ev.out == nil {
		return nil
	}
	return q.ev.out
}

// QueueEntry is an entry of a queue.
type QueueEntry struct {
	ID  EntryID
	Key Key
}

// QueueState is a Queue as of its last packet boundary: a consistent copy.
type QueueState struct {
	Current  QueueEntry   // the entry playing (ID 0 if none)
	Started  bool         // the current entry has given its first packet
	Position int64        // the current track's position of the next packet, in samples at 48 kHz after the pre-skip
	Entries  []QueueEntry // queued after the current one, in order
	Paused   bool
	Loop     LoopMode
	Filters  string // the chain SetFilters gave the queue, canonical ("" if none)
	Stats    QueueStats
}

// QueueStats counts what a Queue did.
type QueueStats struct {
	Packets       int64 // packets given, silence frames included
	Silence       int64 // silence frames given (the queue's, a player's, and in place of a track's first packet)
	Underruns     int64 // Next calls that gave ErrUnderrun
	Commands      int64 // commands applied, in the order recorded
	Tracks        int64 // entries started
	Joins         int64 // entries started through a join of the track before into theirs (the rest after a silence frame or silence)
	Failed        int64 // entries that ended with EndFailed
	EventsDropped int64 // position events dropped from a full buffer (WithEvents)
	FilterChanges int64 // SetFilters commands applied
}

// State returns the queue as of its last packet boundary (commands
// recorded since are not applied yet). It is safe to call from any
// goroutine, WithEventFunc's function included; it waits for a Next
// under way to end, but while an event function runs it gives, to any
// caller, the state as that event is told (which may be the middle of a
// boundary's work: after an entry's end, before the next one's start).
// While a Scheduler's listener drives the queue, State waits for nothing:
// it reads the state as the listener's last packet left it.
func (q *Queue) State() QueueState {
	var st QueueState
	if q.emitting.Load() {
		// The driver is in an event function (maybe this call's
		// caller): the state it published before it is the present one.
		q.mu.Lock()
		st = q.pub.state()
		q.mu.Unlock()
	} else if l := q.driving(); l != nil {
		st, _ = q.published()
	} else {
		st = q.stateLocked()
		q.drive.Unlock()
	}
	if q.ev != nil {
		st.Stats.EventsDropped = q.ev.dropped.Load()
	}
	return st
}

// Playing returns the entry of the last packet Next gave: its audio, a
// transition into it (a seek's, a loop's, a join's), the silence frame
// sent in place of its first packet, or the silence frames of its pause;
// ID 0 if that packet was the queue's own silence after its entries
// ended (a stop, an empty queue), or if none was given yet. Unlike
// State's Current, which is the entry the queue is on (one still
// loading, one just queued by Play during a pause), it changes only when
// a packet is given, so that what a "now playing" shows matches the
// audio sent: read on the driver's goroutine after Next (in a
// Scheduler's send function), it is the entry of the packet in hand. It
// is safe to call from any goroutine, as State is.
func (q *Queue) Playing() QueueEntry {
	if q.emitting.Load() {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.pub.given.entry()
	}
	if l := q.driving(); l != nil {
		_, given := q.published()
		return given
	}
	defer q.drive.Unlock()
	return q.givenLocked()
}

// driving returns the Scheduler's listener that drives the queue, if one
// does; if none does, it returns nil with the driver's lock held (none
// can then begin to).
func (q *Queue) driving() *Listener {
	q.mu.Lock()
	l := q.sched
	q.mu.Unlock()
	if l != nil {
		return l
	}
	q.drive.Lock()
	q.mu.Lock()
	l = q.sched // attached meanwhile?
	q.mu.Unlock()
	if l != nil {
		q.drive.Unlock()
	}
	return l
}

func (q *Queue) givenLocked() QueueEntry { return q.given.entry() }

// entry is e's QueueEntry; the zero one if e is nil.
func (e *qentry) entry() QueueEntry {
	if e == nil {
		return QueueEntry{}
	}
	return QueueEntry{e.id, e.key}
}

// stateLocked is the state, read by the driver or with its lock held.
func (q *Queue) stateLocked() QueueState {
	st := q.stateNoEntries()
	st.Entries = q.entryStates()
	return st
}

// entryStates is the entries' QueueState.Entries.
func (q *Queue) entryStates() []QueueEntry {
	if len(q.entries) == 0 {
		return nil
	}
	es := make([]QueueEntry, len(q.entries))
	for i, e := range q.entries {
		es[i] = QueueEntry{e.id, e.key}
	}
	return es
}

// stateNoEntries is stateLocked but its Entries.
func (q *Queue) stateNoEntries() QueueState {
	st := QueueState{Started: q.started, Paused: q.paused, Loop: q.loop, Filters: q.flt.chain, Stats: q.stats}
	_, st.Stats.Packets = q.clock()
	st.Stats.Silence = q.silent
	if q.cur != nil {
		st.Current = QueueEntry{q.cur.id, q.cur.key}
	}
	if q.player != nil {
		st.Position = max(q.player.position(), 0)
	}
	return st
}

// published is the state and Playing's entry as the Scheduler's
// listener that drives the queue published them: as of its last packet.
func (q *Queue) published() (QueueState, QueueEntry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.pub.state()
	if l := q.sched; l != nil && q.pub.track != nil {
		// The packets its listener has sent since are steady packets,
		// the player's next one after the other: a packet that is not
		// publishes the state before it is sent, and that waits for mu.
		if d := l.sent.Load() - q.pub.sent; d > 0 {
			st.Stats.Packets += d
			st.Position = max(q.pub.track.positionAt(q.pub.idx+int(d)), 0)
		}
	}
	return st, q.pub.given.entry()
}

// queuePub is the state a Scheduler's listener that drives a queue
// publishes for State and Playing (see publishState), or the driver
// before it calls an event function: the entries it is made of (read
// under mu: the driver changes an entry's key only with mu held), and
// its counts.
type queuePub struct {
	cur, given *qentry
	position   int64
	stats      QueueStats // EventsDropped unused
	started    bool
	paused     bool
	loop       LoopMode
	filters    string
	// track is the player's track, idx its cursor's place and sent the
	// packets its listener had sent (the one in hand included): the
	// packets sent since are the player's next, one after the other
	// (see published). nil if the next packet publishes the state.
	track *Track
	idx   int
	sent  int64
	// entries is the queue's Entries, made of of; rebuilt only when
	// they change, and never written to: State clones it.
	of      []*qentry
	entries []QueueEntry
}

// state is the QueueState published.
func (p *queuePub) state() QueueState {
	return QueueState{Current: p.cur.entry(), Started: p.started, Position: p.position,
		Entries: slices.Clone(p.entries), Paused: p.paused, Loop: p.loop, Filters: p.filters, Stats: p.stats}
}

// publishState publishes the state for State and Playing, as the
// driver's last packet left it, when a Scheduler's listener drives the
// queue (the driver's, or its shard's (Close), alone), or before an
// event function is called.
func (q *Queue) publishState() {
	same := len(q.pub.of) == len(q.entries) // q.pub.of is the driver's to read
	for i := 0; same && i < len(q.entries); i++ {
		same = q.pub.of[i] == q.entries[i]
	}
	// The packets that follow without a publication of their own: the
	// player's next, on its track, counted by its listener (see
	// published and nextPacket).
	var t *Track
	_, packets := q.clock()
	idx, base, pos := 0, int64(noBase), int64(0)
	if p := q.player; p != nil {
		pos = max(p.position(), 0)
		if p.seg == nil && !q.done {
			t, idx = p.t, p.cur.Pos()
			base = int64(idx) - packets
		}
	}
	q.mu.Lock()
	pb := &q.pub
	if !same {
		pb.entries, pb.of = q.entryStates(), slices.Clone(q.entries)
	}
	pb.cur, pb.given, pb.position = q.cur, q.given, pos
	pb.stats = q.stats
	pb.stats.Packets, pb.stats.Silence = packets, q.silent
	pb.started, pb.paused, pb.loop, pb.filters = q.started, q.paused, q.loop, q.flt.chain
	pb.track, pb.idx = t, idx
	if l := q.sched; l != nil {
		pb.sent = l.sent.Load()
		if q.inHand {
			pb.sent++ // counted here, not yet by the listener
		}
	}
	q.mu.Unlock()
	q.pubBase = base
}

// noBase is pubBase when the next packet publishes the state.
const noBase = math.MinInt64

// Driving.

// Next returns the next packet to send, and moves past it, as Player.Next
// does: it applies the commands recorded since the last call first. It
// never waits. Errors: ErrUnderrun when the current track's next packet
// is not ready (a track still loading, or encoding); ErrPaused while
// paused, after the silence frames; ErrIdle while there is nothing to
// play, after them; io.EOF then instead, WithEndWhenEmpty; ErrQueueClosed
// after Close. A track's error is not the queue's: the entry ends
// (EndFailed) and the next plays. The packet's Data is lent, as a
// Player's is.
func (q *Queue) Next() (Packet, error) {
	q.drive.Lock()
	defer q.drive.Unlock()
	var pk Packet
	err := q.nextPacket(&pk, false)
	return pk, err
}

// nextPacket is Next's work, the packet written to out: with the driver's
// lock held, or by a Scheduler's shard alone (sched), which then
// publishes the state for State and Playing. A queue in the middle of a
// track (steady, no command pending) goes straight to its player's next
// packet, and if that is the track's audio, gives it with no more work
// than a few loads: it reads only the fields on the line before pl and
// pl's own (TestQueueSteadyCacheLines), and writes none of the queue's
// (TestQueueSteadyWritesNothing). The rest is outlined (slow, missed),
// so that its frame stays small: a steady packet is a Player's Next and
// those loads.
func (q *Queue) nextPacket(out *Packet, sched bool) error {
	if q.steady == notSteady || q.pending.Load() != 0 || q.steady == steadyUnfinished && q.pl.t.Finished() {
		return q.stepSlow(out, sched)
	}
	p := &q.pl
	ts, n := q.ts+p.ts, q.packets+p.stats.Packets // clock's, before the player's call
	if err := p.next(out); err != nil || out.Silence || p.seg != nil {
		return q.steadyMissed(out, err, sched, ts, n)
	}
	out.Timestamp += q.ts // the player's clock, on the queue's
	if !q.inHand || q.evOn || sched && int64(p.cur.Pos())-p.stats.Packets-q.packets != q.pubBase {
		q.steadyRest(out, sched)
	}
	return nil
}

// steadyMissed is nextPacket's end when the steady player's answer (*out,
// err) was not an audio packet of its track: next goes on from it, its
// packet written to out. ts and packets are the queue's clock and count
// before the player's call. Not inlined, as stepSlow: nextPacket's frame
// stays a small one.
//
//go:noinline
func (q *Queue) steadyMissed(out *Packet, err error, sched bool, ts, packets int64) error {
	pk := *out
	if err != nil {
		pk = Packet{}
	}
	q.ts, q.packets, q.steady = ts, packets, notSteady
	q.inHand = false
	pk, err = q.next(&played{pk, err})
	*out, err = q.stepped(pk, err, sched)
	return err
}

// stepSlow is nextPacket's way when the queue is not steady, or a command or
// a Close is pending, its packet written to out.
//
//go:noinline
func (q *Queue) stepSlow(out *Packet, sched bool) error {
	q.unsteady()
	q.inHand = false
	if q.done {
		*out = Packet{}
		return ErrQueueClosed
	}
	w := q.pending.Load() // once: a command recorded after it waits for the next call
	if w&pendingClose != 0 {
		q.closeLocked() // asked by a Close that could not wait for the driver
		if sched {
			q.publishState()
		}
		*out = Packet{}
		return ErrQueueClosed
	}
	if w&pendingCmds != 0 {
		q.apply()
	}
	if q.dirty {
		q.window()
	}
	pk, err := q.next(nil)
	*out, err = q.stepped(pk, err, sched)
	return err
}

// steadyRest is a steady packet's work when the queue tells events or the
// state is to be published (or inHand is not set yet: see nextPacket).
func (q *Queue) steadyRest(pk *Packet, sched bool) {
	q.inHand = true // written once a run: see publishState
	if q.evOn {
		q.events(*pk)
	}
	if sched && int64(q.pl.cur.Pos())-q.pl.stats.Packets-q.packets != q.pubBase {
		q.publishState()
	}
	if q.evOn && q.pending.Load()&pendingClose != 0 {
		q.closeLocked() // an event function's Close: as this Next ends
		if sched {
			q.publishState()
		}
	}
}

// stepped ends a step that did not go the steady way: the counts, the
// next packet's steadiness, a Close that an event function asked for,
// and the state published (sched).
func (q *Queue) stepped(pk Packet, err error, sched bool) (Packet, error) {
	switch err {
	case nil:
		q.packets++
		q.inHand = true
		if pk.Silence {
			q.silent++
		}
		q.given = q.cur
	case ErrUnderrun:
		q.stats.Underruns++
	}
	if q.steady = q.steadiness(); q.steady != notSteady {
		q.ts -= q.pl.ts // a steady run: see clock
		q.packets -= q.pl.stats.Packets
	}
	if q.pending.Load()&pendingClose != 0 {
		q.closeLocked() // an event function's Close: as this Next ends
	}
	if sched {
		q.publishState()
	}
	return pk, err
}

// pending's bits.
const (
	pendingCmds  = 1 << iota // commands are recorded
	pendingClose             // Close asks the driver to close the queue
)

// steadiness is what the driver's next packet is, unless a command comes
// first.
type steadiness uint8

const (
	// notSteady: the next packet is chosen as the state says (next).
	notSteady steadiness = iota
	// steadyPlay: the next packet is the current player's next: no
	// silence frames of the queue's to give, no pause, no seek waiting,
	// no join under way or to be asked for.
	steadyPlay
	// steadyUnfinished: the same, as long as the player's track is not
	// finished encoding (a join into the next entry is asked for then).
	steadyUnfinished
)

// steadiness says whether the next packet is the current player's next,
// unless a command comes first, and for how long. It says so only where
// the packets the player gives go on as they do (the receiver's decoder
// holds the current entry's audio, no underrun to clear).
func (q *Queue) steadiness() steadiness {
	if q.done || q.dirty || q.silence > 0 || q.cur == nil || q.paused || q.player == nil || q.seek >= 0 || q.jnAt >= 0 || !q.started ||
		q.audible != q.cur || q.given != q.cur || q.stalls != 0 || q.flt.next != nil {
		return notSteady
	}
	if q.loop == LoopTrack || q.loop == LoopSection || len(q.entries) == 0 || q.cfg.noJoins {
		return steadyPlay // joinStep gives nothing
	}
	// A join is asked for once the track is finished: not yet.
	if q.joinWait == nil && q.joinTo == q.entries[0] && q.joinA == q.player.t && !q.player.t.Finished() {
		return steadyUnfinished
	}
	return notSteady
}

// clock returns the queue's clock and its count of packets given (ts
// and packets, which while steady are each less the player's). A steady
// packet so writes nothing of the queue's: the player's Next moves its
// clock and count, and so the queue's.
func (q *Queue) clock() (ts, packets int64) {
	if q.steady != notSteady {
		return q.ts + q.pl.ts, q.packets + q.pl.stats.Packets
	}
	return q.ts, q.packets
}

// unsteady ends a steady run: ts and packets are the queue's own again.
func (q *Queue) unsteady() {
	q.ts, q.packets = q.clock()
	q.steady = notSteady
}

// played is the current player's answer to a Next call.
type played struct {
	pk  Packet
	err error
}

// next chooses the packet: the queue's silence frames, the current
// entry's next packet, or the next entry's first, as the state says.
//
// If pre is not nil, the queue was steady and its player has given pre:
// the first round goes on from there.
func (q *Queue) next(pre *played) (Packet, error) {
	// Each round but the last ends an entry: bounded by the entries,
	// and by a LoopQueue of tracks that have no packet.
	for range len(q.entries) + 4 {
		var pk Packet
		var err error
		if pre != nil {
			pk, err = pre.pk, pre.err
			pre = nil
			goto play
		}
		if q.silence > 0 {
			q.silence--
			q.audible = nil
			pos := int64(0)
			if q.player != nil {
				pos = max(q.player.position(), 0)
				if q.started {
					q.player.silenced() // it resumes from silence: see seamData
				}
			}
			return q.give(Packet{Data: silence, Samples: 960, Position: pos, Silence: true}), nil
		}
		if q.cur == nil {
			if len(q.entries) == 0 {
				if q.audible != nil {
					q.silence = opus.SilenceFrames
					continue
				}
				if q.cfg.endWhenEmpty {
					return Packet{}, io.EOF
				}
				return Packet{}, ErrIdle
			}
			q.cur = q.entries[0]
			q.entries = slices.Delete(q.entries, 0, 1)
			q.dirty = true
			q.window()
		}
		if q.paused {
			return Packet{}, ErrPaused
		}
		if q.player == nil {
			t, err := q.ready(q.cur)
			if err != nil {
				q.end(EndFailed, err)
				continue
			}
			if t == nil {
				return Packet{}, q.underrun()
			}
			q.newPlayer(t)
		}
		if q.flt.next != nil && q.switchStep() {
			continue // the variant it was going to failed: the entry ended
		}
		if q.seek >= 0 {
			moved, err := q.player.trySeek(q.seek)
			switch {
			case moved || err != nil:
				q.seek = -1
			case q.seekAhead(q.seek):
				q.seek = -1
			}
		}
		if pk, ok := q.joinStep(); ok {
			return pk, nil
		}
		if q.player == nil {
			continue // a join that could not go on: the entry is started as usual
		}
		pk, err = q.player.Next()
	play:
		switch {
		case err == nil:
		case err == ErrUnderrun:
			return Packet{}, q.underrun()
		case err == io.EOF:
			q.end(EndFinished, nil)
			continue
		default:
			q.end(EndFailed, err)
			continue
		}
		q.stalls = 0
		if !q.started {
			q.started = true
			q.stats.Tracks++
			pk = q.boundary(q.audible, q.cur, pk)
			q.emit(Event{Kind: EventStarted, ID: q.cur.id, Key: q.cur.key, Position: pk.Position})
		}
		if pk.Silence {
			q.audible = nil
		} else {
			q.audible = q.cur
		}
		pk = q.give(pk)
		q.events(pk)
		return pk, nil
	}
	return Packet{}, q.underrun()
}

// boundary returns what is sent for the first packet pk of entry b's
// track, the receiver's decoder holding the state of entry a's audio
// (nil: of silence, or of nothing). The receiver's decoder holds a's
// state, for which b's first packet was not coded: it is sent as a
// silence frame of its duration (the rule of a Player's jump without a
// transition: see seamData), and b's player goes on as after a silence
// frame. (Where a join was ready, joinStep started b instead.)
func (q *Queue) boundary(a, b *qentry, pk Packet) Packet {
	if a == nil || pk.Silence {
		return pk
	}
	_ = b
	pk.Data, pk.Silence, pk.Seam = silenceOf(pk.Samples), true, false
	q.player.silenced()
	return pk
}

// joinStep plays the join of the current track into the next entry's:
// it asks for it once the current track is finished (its end is known),
// and when the player has given the join's aLast, makes the next entry
// the current one, its player at the join's bFirst, and gives the join's
// transition packets, then the new player's own. It reports whether it
// gave a packet. Without a join ready in time, or where none can be made
// (a cut), or when the player gave the join's aLast within a transition
// (a resume's or a seek's, not its last packet: the receiver's decoder is
// not in the state of the track's own packets the join was made for), the
// current track plays to its end and boundary starts the next.
func (q *Queue) joinStep() (Packet, bool) {
	if q.jnAt >= 0 {
		// A seek made meanwhile waits for the transition's end: its own
		// transition is made from where the join leaves the receiver's
		// decoder (b's packet bFirst). A pause's silence frames cut it
		// short: b's player goes on as after any silence.
		if q.cur == q.joinTo && q.audible == q.cur {
			return q.joinPacket(), true
		}
		q.joinReset()
		return Packet{}, false
	}
	if !q.started || q.audible != q.cur || q.seek >= 0 || q.loop == LoopTrack || q.loop == LoopSection || len(q.entries) == 0 || q.cfg.noJoins {
		return Packet{}, false
	}
	b, a := q.entries[0], q.player.t
	if b.hold == nil || !b.hold.e.isLoaded() || b.hold.e.err != nil {
		return Packet{}, false
	}
	bt := b.hold.e.track
	if bt == a || a.cfg.live > 0 || bt.cfg.live > 0 {
		return Packet{}, false
	}
	if q.joinTo != b || q.joinA != a {
		q.joinTo, q.joinA, q.joinWait, q.joinMade, q.jn = b, a, nil, nil, nil
	}
	if q.joinWait == nil {
		if !a.Finished() {
			return Packet{}, false
		}
		q.joinMade = a.joinEntry(bt, q.cfg.fade) // held: the cache may let it go meanwhile
		q.joinWait = q.joinMade.ready
	}
	if q.jn == nil {
		select {
		case <-q.joinWait:
			q.jn = q.joinMade
		default:
			return Packet{}, false
		}
	}
	j := q.jn
	if j.cut || q.player.last != j.aLast {
		return Packet{}, false // none, or not there yet (or past it: the end's cut then)
	}
	if q.player.inTransition() {
		// aLast was a transition's packet (a resume's, a seek's): the
		// receiver's decoder is not in the state of a's own packets that
		// the join was made for. a plays to its end, and the cut.
		return Packet{}, false
	}
	// a's packets to aLast given: b takes over.
	q.end(EndFinished, nil)
	q.cur = q.entries[0]
	q.entries = slices.Delete(q.entries, 0, 1)
	q.dirty = true
	q.window()
	t, err := q.ready(q.cur)
	if err != nil || t != bt {
		q.joinReset()
		return Packet{}, false // next plays it (or fails it) as usual: it has no player yet
	}
	q.newPlayer(t)
	p := q.player
	p.cur.Seek(j.bFirst)
	p.last = j.bFirst - 1 // the join's transition ends where b's packet bFirst follows on
	xb, _ := t.Index()
	q.jnPos = xb.Entry(j.bFirst).Start - xb.PreSkip()
	for _, d := range j.packets {
		n, _ := opus.PacketSamples(d)
		q.jnPos -= n
	}
	q.jnAt, q.joinTo = 0, q.cur
	q.started = true
	q.stats.Tracks++
	q.stats.Joins++
	pk := q.joinPacket()
	q.emit(Event{Kind: EventStarted, ID: q.cur.id, Key: q.cur.key, Position: pk.Position})
	return pk, true
}

// joinPacket gives the next of the join's transition packets.
func (q *Queue) joinPacket() Packet {
	d := q.jn.packets[q.jnAt]
	n, err := opus.PacketSamples(d)
	if err != nil {
		n = 960 // not so: the join's encoder made them
	}
	pk := Packet{Data: d, Samples: n, Position: max(q.jnPos, 0), Seam: true}
	q.jnPos += n
	q.jnAt++
	if q.jnAt == len(q.jn.packets) {
		q.joinReset()
	}
	q.stalls = 0
	q.audible = q.cur
	pk = q.give(pk)
	q.events(pk)
	return pk
}

// joinReset forgets the join played or asked.
func (q *Queue) joinReset() {
	q.joinTo, q.joinA, q.joinWait, q.joinMade, q.jn, q.jnAt = nil, nil, nil, nil, nil, -1
}

// give puts pk on the queue's timeline.
func (q *Queue) give(pk Packet) Packet {
	pk.Timestamp = q.ts
	q.ts += pk.Samples
	return pk
}

// events sends the events of the current entry's packet pk: its position,
// at WithPositionEvery's rate; its title, when it changed.
func (q *Queue) events(pk Packet) {
	if !q.evOn {
		return
	}
	if q.posLeft > 0 {
		q.posLeft--
		if q.posLeft == 0 {
			q.posLeft = int32(min(q.cfg.positionEach, math.MaxInt32))
			q.emit(Event{Kind: EventPosition, ID: q.cur.id, Key: q.cur.key, Position: pk.Position})
		}
	}
	t := q.pl.t // the current player's: q.player is &q.pl
	if len(t.Titles()) == 0 {
		return
	}
	if st, ok := q.player.Title(); ok && st != q.title {
		q.title = st
		q.emit(Event{Kind: EventTitle, ID: q.cur.id, Key: q.cur.key, Position: pk.Position, Title: st})
	}
}

// underrun counts an underrun of the current entry, telling EventStuck
// once the entry has had WithStuckAfter of them in a row, and returns
// ErrUnderrun.
func (q *Queue) underrun() error {
	q.stalls++
	if q.cfg.stuckAfter > 0 && q.stalls == q.cfg.stuckAfter && q.cur != nil {
		var pos int64
		if q.player != nil {
			pos = max(q.player.position(), 0)
		}
		q.emit(Event{Kind: EventStuck, ID: q.cur.id, Key: q.cur.key, Position: pos,
			Stalled: time.Duration(q.stalls) * 20 * time.Millisecond})
	}
	return ErrUnderrun
}

// newPlayer makes the current entry's player, of track t.
func (q *Queue) newPlayer(t *Track) {
	p := &q.pl
	t.initPlayer(p)
	q.gen++
	p.quiet = true
	if t.cfg.live > 0 {
		p.SkipToLive() // a live track is joined at its live edge
		q.live.Store(true)
	}
	switch q.loop {
	case LoopTrack:
		p.Loop(-1)
	case LoopSection:
		_ = p.LoopSection(q.section[0], q.section[1], -1) // checked when given
	}
	q.player = p
}

// seekAhead is called at each packet boundary at which the current
// entry's pending seek to target (samples) is past its encoded point. It
// asks the track for a segment at the target (see segment.go), which the
// track starts if it has none, and moves the player there once the
// segment's packet holding the target is there; it reports whether it
// did. Until then the queue plays on where it was (or gives nothing,
// ErrUnderrun, if the player had nothing to play), and the seek is made
// by whichever comes first: the segment, or the track's own encode.
func (q *Queue) seekAhead(target int64) bool {
	p := q.player
	s, i := p.t.segmentAt(target)
	if s == nil {
		// No segment: the seek waits for the track's own packets. Ask
		// the fill for the next of them, so that a fill that paces itself
		// (a stored track: see WithStoreReadAhead), or waits its turn in
		// the pool, goes on now: a block, or some packets, a boundary.
		if x, ok := p.t.Index(); ok {
			p.t.c.Ready(x.End())
		}
		return false
	}
	if _, ok, _ := s.packet(i); !ok {
		s.reach(i)
		return false
	}
	p.seekSegment(s, i)
	return true
}

// end ends the current entry, for reason r (and err, a failure's).
func (q *Queue) end(r EndReason, err error) {
	e := q.cur
	if e == nil {
		return
	}
	q.dropSwitch()
	q.closePlayer()
	q.cur, q.started, q.seek, q.stalls, q.title = nil, false, -1, 0, StreamTitle{}
	q.posLeft = int32(min(q.cfg.positionEach, math.MaxInt32))
	q.live.Store(false)
	if q.loop == LoopSection {
		q.loop = LoopOff
	}
	if r == EndFailed {
		q.stats.Failed++
	}
	if r == EndFinished && q.loop == LoopQueue {
		q.entries = append(q.entries, e)
	} else {
		e.release()
	}
	q.dirty = true
	q.emit(Event{Kind: EventEnded, ID: e.id, Key: e.key, Reason: r, Err: err})
}

// closePlayer closes the current entry's player, if it has one, its
// skips counted in the queue's.
func (q *Queue) closePlayer() {
	if q.player != nil {
		q.skips += q.player.stats.Skips
		q.player.stats.Skips = 0 // counts reads pl's: now the queue's
		q.player.Close()
		q.player = nil
	}
}

// drop removes the queued entries for which f is true, ending each with
// reason r.
func (q *Queue) drop(r EndReason, f func(i int, e *qentry) bool) {
	var gone []*qentry
	i := 0
	q.entries = slices.DeleteFunc(q.entries, func(e *qentry) bool {
		d := f(i, e)
		i++
		if d {
			gone = append(gone, e)
		}
		return d
	})
	for _, e := range gone {
		e.release()
		q.dirty = true
		q.emit(Event{Kind: EventEnded, ID: e.id, Key: e.key, Reason: r})
	}
}

// apply applies the commands recorded, in order.
func (q *Queue) apply() {
	q.mu.Lock()
	cmds := q.cmds
	q.cmds = q.spare[:0]
	q.pending.And(^uint32(pendingCmds))
	q.mu.Unlock()
	for i := range cmds {
		q.applyOne(&cmds[i])
		q.stats.Commands++
	}
	clear(cmds)
	q.spare = cmds[:0]
}

func (q *Queue) find(id EntryID) int {
	return slices.IndexFunc(q.entries, func(e *qentry) bool { return e.id == id })
}

func (q *Queue) isCurrent(id EntryID) bool { return q.cur != nil && q.cur.id == id }

func (q *Queue) applyOne(c *queueCmd) {
	var key Key
	if c.op <= opInsert {
		key = q.withChain(*c.key) // a new entry: the queue's filters, if SetFilters gave it some
	}
	switch c.op {
	case opFilters:
		q.setFilters(c.key.Filters)
	case opPlay:
		q.end(EndReplaced, nil)
		q.cur = &qentry{id: c.id, key: key}
		q.dirty = true
	case opEnqueue:
		q.entries = append(q.entries, &qentry{id: c.id, key: key})
		q.dirty = true
	case opPlayNext:
		q.entries = slices.Insert(q.entries, 0, &qentry{id: c.id, key: key})
		q.dirty = true
	case opInsert:
		i := q.find(c.before)
		if i < 0 {
			i = len(q.entries)
		}
		q.entries = slices.Insert(q.entries, i, &qentry{id: c.id, key: key})
		q.dirty = true
	case opRemove:
		if q.isCurrent(c.id) {
			q.end(EndRemoved, nil)
			return
		}
		q.drop(EndRemoved, func(_ int, e *qentry) bool { return e.id == c.id })
	case opMove:
		i := q.find(c.id)
		if i < 0 || c.id == c.before {
			return
		}
		e := q.entries[i]
		q.entries = slices.Delete(q.entries, i, i+1)
		j := q.find(c.before)
		if j < 0 {
			j = len(q.entries)
		}
		q.entries = slices.Insert(q.entries, j, e)
		q.dirty = true
	case opClear:
		q.drop(EndRemoved, func(int, *qentry) bool { return true })
	case opShuffle:
		q.rng.Shuffle(len(q.entries), func(i, j int) { q.entries[i], q.entries[j] = q.entries[j], q.entries[i] })
		q.dirty = true
	case opSkip:
		q.end(EndSkipped, nil)
		q.drop(EndSkipped, func(i int, _ *qentry) bool { return i < c.n-1 })
	case opSkipTo:
		i := q.find(c.id)
		if i < 0 {
			return
		}
		q.end(EndSkipped, nil)
		q.drop(EndSkipped, func(j int, _ *qentry) bool { return j < i })
	case opStop:
		q.end(EndStopped, nil)
		q.drop(EndStopped, func(int, *qentry) bool { return true })
		q.paused = false
	case opSeek:
		if q.isCurrent(c.id) {
			q.seek = opus.Samples(c.from)
		}
	case opPause:
		if !q.paused {
			q.paused = true
			if q.audible != nil {
				q.silence = opus.SilenceFrames
				if p := q.player; p != nil && q.started {
					p.t.prepareSeam(seamFromSilence, p.cur.Pos()) // for the resume
				}
			}
		}
	case opResume:
		if q.paused {
			q.paused, q.silence = false, 0 // a pause's silence frames not given yet are not needed
		}
	case opLoop:
		m := c.loop
		if m == LoopSection {
			m = LoopOff
		}
		q.loop = m
		if q.player != nil {
			if m == LoopTrack {
				q.player.Loop(-1)
			} else {
				q.player.Loop(0)
			}
		}
	case opLoopSection:
		if !q.isCurrent(c.id) {
			return
		}
		q.loop = LoopSection
		q.section = [2]time.Duration{c.from, c.to}
		if q.player != nil {
			_ = q.player.LoopSection(c.from, c.to, -1)
		}
	}
}

// silenced tells the player that its receiver has been given silence
// frames since its last packet, as its own pause's: its next packet is a
// jump from silence (see seamData).
func (p *Player) silenced() { p.last, p.seam = seamFromSilence, nil }

// trySeek moves the player to the packet that holds target (samples), as
// Seek does, if the encoding has reached it (and the packets after it that
// the jump's transition is made from): it never waits, and the transition
// is encoded in the background (Next encodes it if it is not ready by
// then). It reports whether the player moved; a target at or past the end
// of a finished track is ErrSeekPastEnd (or the track's error), and the
// player does not move.
func (p *Player) trySeek(target int64) (bool, error) {
	ahead := target
	if !p.t.cfg.noSeams && p.t.cfg.live == 0 {
		ahead += seamAhead
	}
	finished := p.t.c.Finished() // before the index: once finished, the index read after is whole
	x, ok := p.t.Index()
	done := finished || ok && x.Done()
	if ok && x.DecodedSamples()-x.PreSkip() > target && (!done || target < x.DurationSamples()) && (done || x.DecodedSamples()-x.PreSkip() > ahead) {
		i, _ := x.Find(target)
		from := p.last
		if err := p.seekTo(i); err != nil {
			return false, err
		}
		if i != from+1 || from < 0 {
			p.t.prepareSeam(from, i)
		}
		return true, nil
	}
	if done {
		if err := p.t.c.Err(); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: %v, the track is %v", ErrSeekPastEnd, opus.Duration(target), x.Duration())
	}
	return false, nil
}

// release gives back the entry's hold, if it has one.
func (e *qentry) release() {
	if e.hold != nil {
		e.hold.Release()
		e.hold = nil
	}
}

// window holds the current entry and the next WithLoadAhead ones, which so
// load, and lets go of the holds of entries further down (moved there).
func (q *Queue) window() {
	q.dirty = false
	if q.cur != nil && q.cur.hold == nil {
		q.hold(q.cur)
	}
	for i, e := range q.entries {
		switch {
		case i < q.cfg.ahead:
			if e.hold == nil {
				q.hold(e)
			}
		case e.hold != nil:
			e.release()
		}
	}
}

// hold takes a Library hold on e's track, starting its load if it is not
// in memory. It never waits. A refusal (ErrOverBudget, ErrLibraryClosed)
// is tried again at the next boundary that needs it, and fails the entry
// once it is the current one (see ready).
func (q *Queue) hold(e *qentry) error {
	le, err := q.lib.hold(e.key, true, e.noStore)
	if err != nil {
		return err
	}
	e.hold = &Hold{lib: q.lib, e: le}
	return nil
}

// ready returns e's track once its first packet is ready, nil before; or
// why it cannot play. It never waits. A stored copy that fails before its
// first packet is loaded again, as Get does.
func (q *Queue) ready(e *qentry) (*Track, error) {
	if e.hold == nil {
		if err := q.hold(e); err != nil {
			return nil, err
		}
	}
	le := e.hold.e
	if !le.isLoaded() {
		return nil, nil
	}
	if le.err != nil {
		return nil, le.err
	}
	t := le.track
	select {
	case <-t.Ready():
	default:
		return nil, nil
	}
	if x, _ := t.Index(); x.Packets() == 0 {
		if err := t.Err(); err != nil {
			how := q.lib.ended(le, err)
			e.release()
			if how != endFailed && e.tries < 3 {
				e.tries++
				e.noStore = e.noStore || how == endStoreRead
				return nil, nil // loaded again at the next boundary
			}
			return nil, err
		}
	}
	q.lib.diskHit(le)
	le.playable.Store(true)
	return t, nil
}

// queueDriver is a Queue as a Scheduler's listener drives it (see
// driven): Next without the driver's lock, and the state published.
type queueDriver Queue

// next is Queue.Next, by the listener's shard alone, the packet written
// to out (see driven): a steady packet goes from the player to the
// shard without a copy.
func (d *queueDriver) next(out *Packet) error { return (*Queue)(d).nextPacket(out, true) }

// passTime moves the queue's clock on by n samples in which it gave
// nothing (see Player.passTime).
func (d *queueDriver) passTime(n int64) { d.ts += n } // steady or not (see clock)

// counts is the Scheduler's (see driven): the skips of the queue's
// players, and the queue's silence frames.
func (d *queueDriver) counts() (skips, silence int64) {
	return d.skips + d.pl.stats.Skips, d.silent
}

// attach makes l, at its first deadline, the listener that drives the
// queue, and publishes its state; it reports false if another listener
// drives it (l waits for it to end), and ErrQueueClosed if the queue is
// closed.
func (q *Queue) attach(l *Listener) (bool, error) {
	q.drive.Lock()
	defer q.drive.Unlock()
	if q.done || q.pending.Load()&pendingClose != 0 {
		return false, ErrQueueClosed
	}
	if q.sched != nil {
		return false, nil
	}
	q.mu.Lock()
	q.sched = l
	q.mu.Unlock()
	q.inHand = false // between steps
	q.publishState()
	return true, nil
}

// detach ends l's drive of the queue, when l ends: the queue is then
// driven with its lock, by whoever calls Next. A Close that asked the
// driver to close it is done now.
func (q *Queue) detach(l *Listener) {
	q.drive.Lock()
	defer q.drive.Unlock()
	q.mu.Lock()
	if q.sched == l {
		q.sched = nil
	}
	q.mu.Unlock()
	if q.pending.Load()&pendingClose != 0 {
		q.closeLocked()
	}
}

// keepLive runs f, for a Scheduler's listener of the queue, with the
// player of the live track it plays, if it plays one and is not paused;
// fresh says that the player is not the one of the last call.
func (d *queueDriver) keepLive(f func(p *Player, fresh bool)) {
	q := (*Queue)(d)
	p := q.player
	if p == nil || p.t.cfg.live == 0 || q.paused || q.done {
		return
	}
	fresh := q.gen != q.liveSeen
	q.liveSeen = q.gen
	f(p, fresh)
}

// Close ends the queue: it releases every hold it has, closes its player,
// and ends its events (the channel is closed). Next then gives
// ErrQueueClosed; commands do nothing. It returns once no call of the
// queue runs, but for a queue a Scheduler's listener drives, closed while
// the listener's shard serves its deadlines (from a send function, say):
// the shard closes it at its next deadline, and its listener ends then,
// with ErrQueueClosed. Close is idempotent.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.closed = true
	q.cmds = nil
	q.pending.And(^uint32(pendingCmds))
	q.pending.Or(pendingClose) // for a driver this call cannot wait for
	q.mu.Unlock()
	switch {
	case !q.emitting.Load():
		q.drive.Lock()
	case !q.drive.TryLock():
		// An event function runs, within the driver's Next (and this
		// may be it): the driver closes the queue as that Next ends.
		return nil
	}
	if l := q.sched; l != nil {
		// A Scheduler's shard drives the queue without the lock. Between
		// its deadlines, the queue is closed now; while it serves them
		// (this may be a send function's call, or an event function's),
		// it closes the queue at the queue's next one.
		if !l.shard.serving.TryLock() {
			q.drive.Unlock()
			q.closeEvents()
			return nil
		}
		q.closeLocked()
		q.inHand = false // between steps
		q.publishState()
		l.shard.serving.Unlock()
	} else {
		q.closeLocked()
	}
	q.drive.Unlock()
	q.closeEvents()
	return nil
}

// closeEvents ends the events' channel, if there is one.
func (q *Queue) closeEvents() {
	if q.ev != nil {
		q.ev.close()
	}
}

// closeLocked is Close's work, with the driver's lock held.
func (q *Queue) closeLocked() {
	if q.done {
		return
	}
	q.unsteady()
	q.done = true
	q.dropSwitch()
	q.closePlayer()
	if q.cur != nil {
		q.cur.release()
	}
	for _, e := range q.entries {
		e.release()
	}
	q.live.Store(false)
	q.liveSeen = 0
}
