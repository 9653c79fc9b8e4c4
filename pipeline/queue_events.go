package pipeline

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind is what a Queue's Event tells.
type EventKind uint8

// Kinds of events.
const (
	// EventStarted: the entry's first packet was given (Position is its
	// track position, 0 unless a seek came first).
	EventStarted EventKind = iota + 1
	// EventEnded: the entry left the queue, or its play ended (Reason;
	// Err for EndFailed). Every entry ends once for each time it
	// started, and once if it leaves without playing; an entry of a
	// LoopQueue ends (EndFinished) at each play, and is queued again.
	EventEnded
	// EventStuck: the current entry has given no packet for
	// WithStuckAfter deadlines in a row (Stalled); the queue waits on.
	EventStuck
	// EventPosition: the position of the current entry's packet just
	// given (WithPositionEvery).
	EventPosition
	// EventTitle: the current track's title changed (Title; see
	// Player.Title), at the packet just given.
	EventTitle
	// EventFilters: the queue's filters changed (SetFilters), and are
	// heard from the packet about to be given (Position), the current
	// entry's Key now its track's variant with them; without a current
	// entry (ID 0), told as the command is applied, Key's Filters the
	// chain. With Err, the current entry's variant could not be played
	// (the Library's budget full of tracks in use, its load failed): the
	// entry plays on as it was (Key), the entries after it with the
	// chain.
	EventFilters
)

// EndReason is why an entry ended.
type EndReason uint8

// Reasons of EventEnded.
const (
	EndFinished EndReason = iota + 1 // played to its end
	EndSkipped                       // Skip, SkipTo
	EndStopped                       // Stop
	EndReplaced                      // Play put another entry in its place
	EndRemoved                       // Remove, Clear
	EndFailed                        // its track could not be loaded, or failed while playing (Err)
)

// String returns the reason's name: "finished", "skipped", ...
func (r EndReason) String() string {
	switch r {
	case EndFinished:
		return "finished"
	case EndSkipped:
		return "skipped"
	case EndStopped:
		return "stopped"
	case EndReplaced:
		return "replaced"
	case EndRemoved:
		return "removed"
	case EndFailed:
		return "failed"
	}
	return fmt.Sprintf("EndReason(%d)", uint8(r))
}

// Event is what a Queue tells of its entries.
type Event struct {
	Kind EventKind
	ID   EntryID
	Key  Key
	// Position is the track position of the packet the event is about, in
	// samples at 48 kHz after the pre-skip (Packet.Position): exact, not
	// a wall-clock time.
	Position int64
	Reason   EndReason     // EventEnded's
	Err      error         // EventEnded's, for EndFailed; EventFilters', for a switch that failed
	Stalled  time.Duration // EventStuck's: the deadlines without a packet, at 20 ms each
	Title    StreamTitle   // EventTitle's
}

// emit tells ev, if the queue tells events.
func (q *Queue) emit(ev Event) {
	switch {
	case q.ev == nil:
	case q.ev.fn != nil:
		// The function may ask for State: it gets this, the driver's
		// lock being held (or a Scheduler's shard driving it).
		q.publishState()
		q.emitting.Store(true)
		defer q.emitting.Store(false) // a function that panics leaves no snapshot in force
		q.ev.fn(ev)
	default:
		q.ev.emit(ev)
	}
}

// eventSink delivers a queue's events: to a function, or through a
// bounded buffer to a channel, fed by a goroutine of its own.
type eventSink struct {
	fn func(Event) // WithEventFunc's; immutable

	max     int        // the buffer's bound for position events
	out     chan Event // unbuffered; closed by close
	wake    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
	dropped atomic.Int64

	mu  sync.Mutex // guards buf
	buf []Event    // events not yet taken by the goroutine, in order
}

func newEventSink(n int) *eventSink {
	s := &eventSink{max: n, out: make(chan Event), wake: make(chan struct{}, 1), stop: make(chan struct{})}
	s.wg.Add(1)
	go s.run()
	return s
}

// emit buffers ev, or gives it to the function. When the buffer is full,
// the oldest position event in it goes (or ev, if it is one and there is
// none): other events are never dropped.
func (s *eventSink) emit(ev Event) {
	if s.fn != nil {
		s.fn(ev)
		return
	}
	s.mu.Lock()
	if len(s.buf) >= s.max {
		i := slices.IndexFunc(s.buf, func(e Event) bool { return e.Kind == EventPosition })
		switch {
		case i >= 0:
			s.buf = slices.Delete(s.buf, i, i+1)
			s.dropped.Add(1)
		case ev.Kind == EventPosition:
			s.mu.Unlock()
			s.dropped.Add(1)
			return
		}
	}
	s.buf = append(s.buf, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run gives the buffered events to the channel's reader, one at a time,
// until close.
func (s *eventSink) run() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(s.buf) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		ev := s.buf[0]
		s.buf = slices.Delete(s.buf, 0, 1)
		s.mu.Unlock()
		select {
		case s.out <- ev:
		case <-s.stop:
			return
		}
	}
}

// close ends the delivery, and closes the channel. Idempotent.
func (s *eventSink) close() {
	if s.fn != nil {
		return
	}
	s.mu.Lock()
	select {
	case <-s.stop:
		s.mu.Unlock()
		s.wg.Wait()
		return
	default:
	}
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	close(s.out)
}
