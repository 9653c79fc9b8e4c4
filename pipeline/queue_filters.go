package pipeline

import (
	"fmt"

	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Filters of a Queue.
//
// SetFilters gives the queue a filter chain, as Lavalink gives one to a
// player: every entry then plays the variant of its track with that
// chain (Key.Filters), the current one, those queued and those queued
// after. A variant is a Library entry of its own (see Key), encoded once
// and shared by every queue that plays the same track with the same
// chain.
//
// The current entry goes on to the variant at the same place in the
// music: the position its player has reached, scaled from the old
// chain's timescale to the new one's (see scalePosition), at the first
// packet boundary at which the variant can play it. Until then the queue
// plays on with the old variant (or the variant loads, and gives nothing
// while it does if the entry had given nothing yet). The variant plays it
// from its own packets if its encode has reached it (with the packets
// after it that a transition needs), else from a segment encoded from
// there (see the package's segments), as a Seek past the encoded point
// does. The old variant's hold is let go once the new one plays.
//
// At the switch, the receiver's decoder holds the old variant's audio,
// for which the new one's packets were not coded. From the variant's own
// packets, the queue sends a transition encoded for that jump, as a
// Player does at a seek (see seam.go): an encoder warmed up on the old
// variant's audio up to its last packet given, then a crossfade into the
// new variant's audio at its packet, and its next packets, after which
// the variant's own packets follow. The old variant's packets are put on
// the new one's grid for it, a whole number of packets away (both have
// the same packet duration: the Key's). Where no transition can be made
// (a segment's packets, a live track, packets of other durations, no
// libopus), a silence frame takes the place of the variant's first
// packet, as at any jump without a transition: the seam bound holds
// either way.

// queueFilters is a queue's filter chain, and the switch of its current
// entry under way. Its fields are the driver's (guarded by drive).
type queueFilters struct {
	set   bool    // SetFilters was applied: chain is every entry's
	chain string  // the chain, canonical
	next  *qentry // the current entry on the variant it is going to, holding it; nil if none
	// The timescales of the last two chains scaled between (see
	// scalePosition), made once: a switch that waits scales at every
	// packet boundary.
	scaleOf [2]string
	scales  [2]frameCounter
}

// scale is scalePosition with the queue's timescales, made once a chain.
func (q *Queue) scale(from, to string, pos int64) int64 {
	if pos <= 0 || from == to {
		return max(pos, 0)
	}
	a, b := q.flt.counter(from), q.flt.counter(to)
	if a != nil {
		pos = sourceFrames(a, pos)
	}
	if b != nil {
		pos = b.OutFrames(pos)
	}
	return pos
}

// counter returns chain's timescale (nil if none), from the two made
// last or made now.
func (f *queueFilters) counter(chain string) frameCounter {
	for i, c := range f.scaleOf {
		if c == chain && f.scales[i] != nil {
			return f.scales[i]
		}
	}
	fc, _ := chainScale(chain)
	if fc == nil {
		return nil
	}
	f.scaleOf[1], f.scales[1] = f.scaleOf[0], f.scales[0]
	f.scaleOf[0], f.scales[0] = chain, fc
	return fc
}

// SetFilters sets the queue's filter chain (transform.ParseChain's input,
// in any spelling it reads; "" for none): every entry plays its track's
// variant with that chain from then on, the current one switching at the
// same place in the music (scaled by the chains' timescales), those
// queued, and those queued after, whatever their Key's Filters said;
// see the package's filters of a Queue. It returns at once: an invalid
// chain is refused at once, with an error wrapping
// transform.ErrFilterParam, and the queue is unchanged; a valid one is
// recorded as every command is, the switch made at the first packet
// boundary at which the variant can play (the queue plays on with the
// old meanwhile). EventFilters tells when the switch is heard.
func (q *Queue) SetFilters(chain string) error {
	c, err := transform.ParseChain(chain)
	if err != nil {
		return fmt.Errorf("pipeline: queue's filters %q: %w", chain, err)
	}
	q.record(queueCmd{op: opFilters, key: &Key{Filters: c.String()}}, false)
	return nil
}

// withChain returns k with the queue's chain, if SetFilters gave it one.
func (q *Queue) withChain(k Key) Key {
	if q.flt.set {
		k.Filters = q.flt.chain
	}
	return k
}

// setFilters applies SetFilters' command: chain c (canonical) for every
// entry. Queued entries change their key (those held load the variant);
// the current one starts its switch (switchStep).
func (q *Queue) setFilters(c string) {
	q.stats.FilterChanges++
	q.flt.set, q.flt.chain = true, c
	for k, e := range q.entries {
		if e.key.Filters == c {
			continue
		}
		e.release()
		nk := e.key
		nk.Filters = c
		q.entries[k] = &qentry{id: e.id, key: nk} // a new entry: a join asked for into the old one is not this one's
		q.dirty = true
	}
	e := q.cur
	q.dropSwitch()
	if e == nil {
		q.emit(Event{Kind: EventFilters, Key: Key{Filters: c}})
		return
	}
	if e.key.Filters == c {
		q.emit(Event{Kind: EventFilters, ID: e.id, Key: e.key, Position: q.position()})
		return
	}
	nk := e.key
	nk.Filters = c
	if q.player == nil || !q.started {
		// Nothing of it heard yet: it plays the variant, from where it
		// was to start.
		pos := int64(-1)
		if q.player != nil {
			pos = q.player.position()
		}
		if q.seek >= 0 {
			pos = q.seek
		}
		if pos > 0 {
			q.seek = q.scale(e.key.Filters, c, pos)
		}
		q.scaleSection(e.key.Filters, c)
		q.closePlayer()
		e.release()
		q.mu.Lock() // the published state may point at e (see queuePub)
		e.key = nk
		q.mu.Unlock()
		e.tries, e.noStore = 0, false
		q.dirty = true
		q.emit(Event{Kind: EventFilters, ID: e.id, Key: e.key, Position: max(q.seek, 0)})
		return
	}
	q.flt.next = &qentry{id: e.id, key: nk}
	_ = q.hold(q.flt.next) // a refusal is tried again by ready
}

// scaleSection scales LoopSection's bounds, positions in the current
// entry's variant with chain from, to the same places in the music in
// its variant with chain to.
func (q *Queue) scaleSection(from, to string) {
	if q.loop != LoopSection {
		return
	}
	for i, d := range q.section {
		q.section[i] = opus.Duration(q.scale(from, to, opus.Samples(d)))
	}
}

// position is the current player's position, 0 if none.
func (q *Queue) position() int64 {
	if q.player == nil {
		return 0
	}
	return max(q.player.position(), 0)
}

// dropSwitch forgets the switch under way, if any, and its hold.
func (q *Queue) dropSwitch() {
	if n := q.flt.next; n != nil {
		n.release()
		q.flt.next = nil
	}
}

// switchStep is called at each packet boundary while the current entry
// switches to another variant (flt.next), its player there and not
// paused: it makes the switch if the variant can play the place the
// player has reached. It reports whether it ended the entry (the variant
// failed to load).
func (q *Queue) switchStep() bool {
	n := q.flt.next
	if q.jnAt >= 0 {
		return false // a join's transition into the entry: after it
	}
	t, err := q.ready(n)
	if err != nil {
		// The variant cannot play (the Library's budget full of tracks
		// in use, its load failed): the entry plays on as it was, and
		// EventFilters tells why.
		q.dropSwitch()
		q.emit(Event{Kind: EventFilters, ID: q.cur.id, Key: q.cur.key, Position: q.position(), Err: err})
		return false
	}
	if t == nil {
		return false
	}
	p := q.player
	live := t.cfg.live > 0 || p.t.cfg.live > 0
	pos := p.position()
	if q.seek >= 0 {
		pos = q.seek // a seek not made yet: the switch makes it
	}
	target := q.scale(q.cur.key.Filters, n.key.Filters, pos)
	x, _ := t.Index()
	i, ok, end := 0, live, false
	var s *segment
	if !live {
		i, ok, end = encodedAt(t, target)
		if !ok {
			if s, i = t.segmentAt(target); s == nil {
				// No segment: the variant's own encode, asked to go on
				// now (see seekAhead).
				t.c.Ready(x.End())
				return false
			}
			if _, there, _ := s.packet(i); !there {
				s.reach(i)
				return false
			}
		}
	}
	// The switch: the transition from the old variant's audio, made
	// while its player is still there.
	audible := q.audible == q.cur
	var tr [][]byte
	if !live && s == nil && !end && audible && p.last >= 0 && !p.inTransition() {
		tr = switchTransition(p, t, x, i)
	}
	q.closePlayer()
	q.cur.release()
	old := q.cur.key.Filters
	q.mu.Lock() // the published state may point at the entry (see queuePub)
	q.cur.key = n.key
	q.mu.Unlock()
	q.cur.hold, q.cur.tries, q.cur.noStore = n.hold, n.tries, n.noStore
	q.flt.next, q.seek = nil, -1
	q.scaleSection(old, n.key.Filters)
	q.newPlayer(t) // a live one at its live edge
	p = q.player
	switch {
	case s != nil:
		p.seekSegment(s, i) // a silence frame in place of its first packet
	case len(tr) > 0:
		// The queue gives the transition (as a join's), in place of the
		// variant's packets from i; its player goes on after it.
		q.jn, q.jnAt, q.joinTo = &join{packets: tr, cut: false}, 0, q.cur
		q.jnPos = x.Entry(i).Start - x.PreSkip()
		_ = p.seekTo(i + len(tr))
		p.last = i + len(tr) - 1
	default:
		if !live {
			_ = p.seekTo(i)
		}
		if audible {
			p.reset = true // a jump without a transition: a silence frame in place of the first packet
		} else {
			p.silenced() // from the silence given: the player's transition from silence
		}
	}
	at := q.position()
	if q.jnAt >= 0 {
		at = q.jnPos
	}
	q.emit(Event{Kind: EventFilters, ID: q.cur.id, Key: q.cur.key, Position: at})
	return false
}

// encodedAt reports whether track t's own packets can play position
// target: encoded past it and past the packets after it that a jump's
// transition is made of (trySeek's condition), and the packet that holds
// it; end says the track is finished and target at or past its end (i
// is then its packet count, where a player ends).
func encodedAt(t *Track, target int64) (i int, ok, end bool) {
	ahead := target
	if !t.cfg.noSeams {
		ahead += seamAhead
	}
	finished := t.c.Finished() // before the index: once finished, the index read after is whole
	x, has := t.Index()
	if !has {
		return 0, false, false
	}
	done := finished || x.Done()
	if done && target >= x.DurationSamples() {
		return x.Packets(), true, true
	}
	if x.DecodedSamples()-x.PreSkip() > target && (done || x.DecodedSamples()-x.PreSkip() > ahead) {
		i, _ := x.Find(target)
		return i, true, false
	}
	return 0, false, false
}

// switchTransition encodes the transition from the audio of p (the old
// variant's player, its last packet given p.last) into packet i of t,
// the new variant, whose index is x; nil if none can be made. The old
// variant's packets are put on t's grid d packets later, so that p.last
// comes just before i: both grids are whole packets of one duration from
// their start.
func switchTransition(p *Player, t *Track, x framed.Index, i int) [][]byte {
	xa, ok := p.t.Index()
	u := x.Uniform()
	if !ok || i < 1 || u <= 0 || xa.Uniform() != u || t.cfg.noSeams || p.t.cfg.noSeams || xa.First() > 0 || x.First() > 0 {
		return nil
	}
	var a packetSpan = trackSpan{p.t, xa}
	if p.seg != nil {
		a = p.seg.snapshot()
	}
	packets, err := t.encodeTransition(x, shiftedSpan{a, i - 1 - p.last, u}, trackSpan{t, x}, i-1, i)
	if err != nil {
		return nil
	}
	return packets
}

// shiftedSpan is a packetSpan put d packets (of u samples) later: its
// packet i is s's i-d.
type shiftedSpan struct {
	s packetSpan
	d int
	u int64
}

func (w shiftedSpan) spanPackets(i, j int) ([][]byte, error) {
	i, j = max(i-w.d, 0), j-w.d // before s's first packet: from its first, a shorter warm-up
	if j < i {
		return nil, errSeamNotReady
	}
	return w.s.spanPackets(i, j)
}

func (w shiftedSpan) decode(ch int, s0, s1 int64) ([]float32, error) {
	return w.s.decode(ch, s0-int64(w.d)*w.u, s1-int64(w.d)*w.u)
}
