package pipeline

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Seams.
//
// A receiver decodes a stream of Opus packets with one decoder, whose
// state runs from packet to packet: CELT predicts each frame's band
// energies from the previous frame's, and overlaps each frame with the
// last. A packet is coded for the state its encoder had, the state of the
// packets before it in the track. When a player jumps (a loop back to the
// start, a section's loop, a seek, a resume after silence frames), the
// receiver's decoder holds the state of where the player was, not of the
// packets before where it goes: the energy prediction is off by half the
// difference, and the first frames after a jump from loud audio to a
// place that followed quieter audio (a track's start, coded from an
// encoder's empty state) come out up to tens of decibels too loud, a
// click or a burst that clips.
//
// So at a jump from packet a (the last the receiver decoded) to packet b,
// a player sends, in place of b's first few packets, transition packets
// made for that seam: an encoder is warmed up on the audio the receiver's
// decoder last decoded (the track's own packets up to a, decoded), so
// that its state is the receiver's; it then encodes a short crossfade from
// what would have followed a into the audio at b, and b's next packets, so
// that its state when it stops is the track's encoder's at that point,
// where the player goes on with the track's own packets. Each seam is
// encoded once per track, on the first jump that needs it, and lent to
// every player that makes the same jump, like the track's packets.
//
// Transitions need an Opus encoder (cgo: see opus.go) and packets of one
// duration; without them, or when the packets around a seam are not
// encoded (a live track's edge, where a Broadcast's player starts and a
// live listener that fell behind is brought back), a player sends a
// silence frame in place of the jump's first packet instead: after a
// silence frame a decoder's energies are at their floor, so no packet
// comes out louder than it was coded (the first ones come out quieter: a
// short fade-in). So does a jump made while the transition of the jump
// before it is still being sent (a seek one packet after a resume): the
// receiver's decoder is then in the state of a transition packet, between
// the one the transition was made from and the track's, which no
// transition is made from. A new player is taken to face a new decoder:
// a stream that goes from one player to another must give the five
// silence frames of a pause or an end between them (as Pause and a
// track's end do).
//
// Encoding a transition takes a few milliseconds of one core, so it is
// done before the jump wherever the jump can be seen coming: in Seek
// (which may block), and in the background at a pause (for the resume),
// when a loop is set and as a loop's end nears, so that in real time it
// is ready when the jump comes. A player's Next that comes to a jump whose
// transition is not ready (a seek near the encoding's edge, a loop shorter
// than its encode, a player driven faster than real time) encodes it, or
// waits for the encode under way: the only time Next takes longer than a
// lookup, once per track and seam.

// Special origins of a seam: where the receiver's decoder was when the
// jump came from no packet of the track.
const (
	// seamFromSilence: the player gave silence frames (a pause, the end)
	// since its last packet.
	seamFromSilence = -1
	// seamFromStart: the player has given nothing yet; its receiver's
	// decoder is taken to be new (the only state that does not make the
	// first packet louder than it was coded: see seamFor).
	seamFromStart = -2
)

// Sizes of a seam, in samples at 48 kHz; in packets, at least one each.
const (
	seamTime     = 2880 // 60 ms of transition sent in place of the target's packets
	seamWarmTime = 3840 // 80 ms of warm-up for the transition encoder
	seamCacheMax = 64   // transitions kept a track (about 1 KB each at 128 kbit/s)
)

// seamAhead is how far past its target a seek waits for a track that is
// encoding to be encoded, so that the jump's transition can be made: the
// transition and the encoder's lookahead, and a packet (at most 60 ms).
const seamAhead = seamTime + 312 + 2880

// errSeamNotReady is encodeSeam's error when the packets around the seam
// are not encoded (or are no longer kept): try again at the next jump.
var errSeamNotReady = errors.New("pipeline: packets around the seam not encoded")

// seam is the transition into packet to: packets to send in place of
// to, to+1, ...; none if the seam needs none or cannot have one.
type seam struct {
	to      int
	claimed atomic.Bool   // someone is encoding it: only the claimer writes packets
	packets [][]byte      // written before ready is closed; read after
	ready   chan struct{} // closed once packets is set
}

type seamKey struct{ from, to int }

// seamCache is a track's transitions, encoded once each. Its zero value
// is empty and ready.
type seamCache struct {
	mu     sync.Mutex // guards m, order and closed, and wg's Add
	m      map[seamKey]*seam
	order  []seamKey // insertion order of m's keys, to bound the cache
	closed bool      // the track is closed: no more background encodes
	wg     sync.WaitGroup
	bytes  atomic.Int64 // the cached packets' bytes (Library counts them)
	gaps   atomic.Int64 // transitions made through silence
}

// seamSlots bounds the transitions encoded in the background at once, in
// the process: as many as there are processors.
var seamSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// seamNow returns the transition for a jump from packet from (or
// seamFromSilence, seamFromStart) to packet to, encoding it here if no
// one has begun to (a few milliseconds of one core, once per track and
// seam), or waiting for the encode under way; nil if the track's own
// packets are to be sent as they are (the jump needs no transition, or
// cannot have one).
func (t *Track) seamNow(from, to int) *seam {
	s, _ := t.seamEntry(from, to)
	if s == nil {
		return nil
	}
	if s.claimed.CompareAndSwap(false, true) {
		t.encodeInto(s, from, to)
	} else {
		<-s.ready // an encode under way: at most one transition's time
	}
	if len(s.packets) == 0 {
		return nil
	}
	return s
}

// prepareSeam starts encoding the transition for a jump from packet from
// to packet to in the background, if it is not cached or under way.
func (t *Track) prepareSeam(from, to int) {
	s, made := t.seamEntry(from, to)
	if !made {
		return
	}
	c := &t.seams
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if s.claimed.CompareAndSwap(false, true) {
			t.finishSeam(s, from, to, nil, errSeamNotReady)
		}
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		select {
		case seamSlots <- struct{}{}:
			defer func() { <-seamSlots }()
			if s.claimed.CompareAndSwap(false, true) { // else a player took it over
				t.encodeInto(s, from, to)
			}
		case <-t.ctx.Done():
			if s.claimed.CompareAndSwap(false, true) {
				t.finishSeam(s, from, to, nil, errSeamNotReady)
			}
		}
	}()
}

// seamEntry returns the cache's entry for a seam, and whether it was made
// now; nil for a seam that needs no transition. Whoever claims an entry
// encodes it.
func (t *Track) seamEntry(from, to int) (s *seam, made bool) {
	if t.cfg.noSeams || from == seamFromStart && to == 0 {
		return nil, false // a new decoder and the track's start: as encoded
	}
	k := seamKey{from, to}
	c := &t.seams
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.m[k]; s != nil {
		return s, false
	}
	s = &seam{to: to, ready: make(chan struct{})}
	if c.m == nil {
		c.m = make(map[seamKey]*seam)
	}
	c.m[k] = s
	c.order = append(c.order, k)
	if len(c.order) > seamCacheMax {
		c.evictLocked()
	}
	return s, true
}

// evictLocked forgets the oldest seam that is ready (one being encoded
// stays), and takes its bytes off the count. Players that hold it keep
// it until their transition ends.
func (c *seamCache) evictLocked() {
	if s, ok := evictOldestReady(c.m, &c.order, func(s *seam) <-chan struct{} { return s.ready }); ok {
		c.bytes.Add(-s.size())
	}
}

// evictOldestReady removes from m, and from order (m's keys in the order
// they were added), the oldest entry whose ready channel is closed, and
// returns it: a cache of transitions being encoded keeps those under way.
func evictOldestReady[K comparable, V any](m map[K]V, order *[]K, ready func(V) <-chan struct{}) (V, bool) {
	for i, k := range *order {
		v := m[k]
		select {
		case <-ready(v):
		default:
			continue
		}
		delete(m, k)
		*order = slices.Delete(*order, i, i+1)
		return v, true
	}
	var zero V
	return zero, false
}

// size is the bytes of a ready seam's packets.
func (s *seam) size() int64 { return packetBytes(s.packets) }

// packetBytes is the bytes of packets.
func packetBytes(packets [][]byte) int64 {
	n := 0
	for _, p := range packets {
		n += len(p)
	}
	return int64(n)
}

// encodeInto encodes the seam's transition and publishes it, whatever
// happens (a panic in the encoder is published as no transition, then
// goes on).
func (t *Track) encodeInto(s *seam, from, to int) {
	var (
		packets [][]byte
		err     = errors.New("pipeline: seam encoder panicked")
	)
	defer func() { t.finishSeam(s, from, to, packets, err) }()
	packets, err = t.encodeSeam(from, to)
}

// finishSeam publishes a seam's packets; a seam whose packets around it
// were not ready is forgotten, to be tried again at the next jump.
func (t *Track) finishSeam(s *seam, from, to int, packets [][]byte, err error) {
	if err != nil {
		packets = nil
	}
	c := &t.seams
	c.mu.Lock()
	defer c.mu.Unlock()
	s.packets = packets
	close(s.ready)
	k := seamKey{from, to}
	if c.m[k] != s {
		return // evicted, or the cache closed
	}
	if errors.Is(err, errSeamNotReady) {
		delete(c.m, k)
		c.order = slices.DeleteFunc(c.order, func(o seamKey) bool { return o == k })
		return
	}
	c.bytes.Add(s.size())
}

// closeSeams ends the background encodes of transitions, waits for them
// (an encode stops at its next packet once the track is closed), and
// empties the cache.
func (t *Track) closeSeams() {
	c := &t.seams
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	c.m, c.order = nil, nil
	c.bytes.Store(0)
	c.mu.Unlock()
}

// seamLead is how long before a loop's end a player starts encoding the
// loop's transition in the background, in samples (200 ms).
const seamLead = 9600

// prepareLoop starts encoding the transition of the player's loop in the
// background once the player is within seamLead of its end (and, for a
// section shorter than that, from its start).
func (p *Player) prepareLoop(next int) {
	x, ok := p.t.Index()
	if !ok || x.Uniform() == 0 {
		return
	}
	last := -1
	if p.to >= 0 {
		i, skip := x.Find(p.to)
		if i >= x.Packets() {
			return
		}
		last = i - 1
		if skip > 0 {
			last = i
		}
	} else if x.Done() {
		last = x.Packets() - 1
	}
	if last < 0 || next > last || int64(last-next)*x.Uniform() > seamLead {
		return
	}
	if to, _ := x.Find(p.from); to < x.Packets() {
		p.t.prepareSeam(last, to)
	}
}

// inTransition reports whether the packet the player gave last was a
// transition's, and not its last one: the receiver's decoder is then
// between two states of the track (the one the transition was made from,
// and the track's encoder's where it ends), in none of the states a
// transition (or a join) is made from.
func (p *Player) inTransition() bool {
	s := p.seam
	return s != nil && p.last >= s.to && p.last-s.to < len(s.packets)-1
}

// seamData returns what the player sends for packet i, whose track data
// is data: the transition's packet in its place while a transition is
// under way (and true), else data; or reset, for a jump that has no
// transition (the packets after its target are not encoded yet, or no
// longer kept, or the track has none): a silence frame is then sent in
// packet i's place. p.last, the packet the player gave before
// (seamFromSilence, seamFromStart), tells a jump. A jump made while a
// transition is under way (a seek just after a resume, a loop's end
// within a seek's transition) has no transition either: the receiver's
// decoder is not where the track's packets leave it (see inTransition).
func (p *Player) seamData(i int, data []byte) (_ []byte, seam, reset bool) {
	if p.reset {
		p.reset = false
		return nil, false, true
	}
	if i != p.last+1 || p.last < 0 {
		if p.inTransition() {
			// A jump before the transition under way has ended: the
			// receiver's decoder holds the state of a transition packet,
			// which no transition is made from. A jump without one.
			p.seam = nil
			return nil, false, true
		}
		p.seam = p.t.seamNow(p.last, i)
		if p.seam == nil && !p.t.cfg.noSeams && (p.last >= 0 || p.last == seamFromStart && i > 0) {
			return nil, false, true
		}
	}
	if p.loops != 0 {
		p.prepareLoop(i)
	}
	if s := p.seam; s != nil {
		if m := i - s.to; m >= 0 && m < len(s.packets) {
			return s.packets[m], true, false
		}
		p.seam = nil
	}
	return data, false, false
}
