package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Errors of a Player.
var (
	// ErrUnderrun is returned by Player.Next when the next packet is not
	// encoded yet: the driver sends nothing this time (the player counts
	// it) and asks again at its next deadline.
	ErrUnderrun = opus.ErrUnderrun

	// ErrPaused is returned by Player.Next while the player is paused,
	// once it has given its silence frames.
	ErrPaused = opus.ErrPaused

	// ErrSeekPastEnd is returned, wrapped with the positions, by a seek
	// past the end of a finished track.
	ErrSeekPastEnd = errors.New("pipeline: seek past the end of the track")
)

// Packet is one packet as a Player gives it: an opus.Packet, defined
// there so that packages without cgo (pipeline/sink) take it too.
type Packet = opus.Packet

// silence is opus.SilenceFrame as bytes, shared by every player: senders
// must not modify what they are lent.
var silence = []byte(opus.SilenceFrame)

// silenceOf returns a silence frame of n samples: silence for 20 ms, a
// CELT silence frame of that duration else (2.5 to 60 ms).
func silenceOf(n int64) []byte {
	if n == 960 {
		return silence
	}
	return silenceFrame(1, n)
}

// Player states.
const (
	playing uint8 = iota
	paused
	ended
)

// Player is one listener's cursor on a Track: the next packet, its
// timestamp and duration, borrowed from the cache; seek by time; pause and
// resume; loops of the whole track or of a section, packet-continuous.
// Next never waits for the encoding: when the next packet is not encoded
// yet it says so (ErrUnderrun) and counts it, so that a scheduler driving
// ten thousand players is never held by one. A player on a live track that falls out of
// its window jumps to the oldest packet kept, and counts the skip.
//
// At a jump (a loop, a section's loop, a seek, a resume after silence
// frames) it sends, in place of the first packets after the jump, a
// transition encoded for that seam, once per track (see seam.go), so that
// a receiver decoding the stream with one decoder hears no click. The
// transition is encoded before the jump wherever it can be (Seek, Pause,
// a loop's approach); a Next that meets a jump whose transition is not
// ready encodes it (or waits for its encode), a few milliseconds once per
// track and seam (BenchmarkSeam in bench/README.md).
//
// A Player is about 140 bytes beyond the Track it shares. It belongs to one
// goroutine at a time (its driver); Stats may be read from others only
// with the driver's care.
type Player struct {
	t   *Track
	cur framed.Cursor

	ts      int64 // the player's clock: samples given
	from    int64 // loop section, positions after the pre-skip; to < 0: the end
	to      int64
	loops   int32 // loops left: -1 forever
	state   uint8
	silence int8     // silence frames still to give before the pause or end takes effect
	quiet   bool     // no silence frames at the end: a Queue's player, whose queue gives them when it stops or empties
	reset   bool     // the next packet (seg's or the track's) follows audio it was not coded after, with no transition: a silence frame in its place
	err     error    // why the player ended, if not the track's end
	hold    *Hold    // its Library hold, given back by Close; nil if none
	last    int      // the packet given last; seamFromSilence, seamFromStart
	seam    *seam    // the transition under way, if any
	seg     *segment // the segment it plays from, if any (see segment.go): cur is then at its next packet
	stats   PlayerStats
}

// PlayerStats counts what a Player did.
type PlayerStats struct {
	Packets   int64 // packets of the track given (silence frames not counted)
	Underruns int64 // Next called while the next packet was not encoded yet
	Skips     int64 // packets lost to a live track's window
	Loops     int64 // loops made
	Silence   int64 // silence frames given
}

// NewPlayer returns a player at the track's start (for a live track, at
// the oldest packet kept; see SkipToLive to join at the live edge).
func (t *Track) NewPlayer() *Player {
	p := new(Player)
	t.initPlayer(p)
	return p
}

// initPlayer makes *p a new player of t (a Queue's player lives in the
// queue).
func (t *Track) initPlayer(p *Player) {
	*p = Player{t: t, cur: *framed.NewCursor(t.c), to: -1, last: seamFromStart}
	p.cur.SkipToOldest() // what a live track has let go is no skip of this player's
}

// ErrPlayerClosed is returned by Next after the player's Close. It wraps
// ErrClosed.
var ErrPlayerClosed = fmt.Errorf("pipeline: player closed: %w", ErrClosed)

// Close ends the player: Next then returns ErrPlayerClosed. A player made
// from a Library's Hold (or by Library.Play) gives back its hold on the
// track, which may then be evicted. Close is idempotent.
func (p *Player) Close() error {
	if p.hold != nil {
		p.hold.Release()
		p.hold = nil
	}
	p.leaveSegment()
	p.state, p.err, p.silence = ended, ErrPlayerClosed, 0
	return nil
}

// Track returns the track the player plays.
func (p *Player) Track() *Track { return p.t }

// Stats returns the player's counts.
func (p *Player) Stats() PlayerStats { return p.stats }

// Next returns the next packet to send, and moves past it. It never
// waits for the encoding, nor for I/O; at a jump whose transition is not
// ready it encodes it first (see Player). Errors: ErrUnderrun when the
// next packet is not encoded yet (try again at the next deadline); ErrPaused while paused; io.EOF after
// the last packet and the silence frames; the track's error (after the
// packets before it and the silence frames); ErrClosed (which is
// catcher.ErrClosed) after the track's Close; ErrPlayerClosed, which wraps
// it, after the player's.
func (p *Player) Next() (Packet, error) {
	var pk Packet
	err := p.next(&pk)
	return pk, err
}

// next is Next, its packet written to out (left as it is on an error):
// what a Scheduler's shard calls, so that the packet is not copied on
// its way through a Queue.
func (p *Player) next(out *Packet) error {
	if p.silence > 0 {
		p.silence--
		p.stats.Silence++
		p.last, p.seam = seamFromSilence, nil
		*out = Packet{Data: silence, Timestamp: p.ts, Samples: 960, Position: p.position(), Silence: true}
		p.ts += 960
		return nil
	}
	switch p.state {
	case paused:
		return ErrPaused
	case ended:
		if p.err != nil {
			return p.err
		}
		return io.EOF
	}
	if p.seg != nil {
		if pk, err, ok := p.segmentNext(); ok {
			if err == nil {
				*out = pk
			}
			return err
		}
	}
	looped := false // one loop back a call: a section that left a live window is not spun on
	for {
		pk, err := p.cur.Next()
		switch {
		case err == nil:
		case errors.Is(err, framed.ErrNotReady):
			p.stats.Underruns++
			return ErrUnderrun
		case errors.Is(err, catcher.ErrEvicted):
			if n := p.cur.SkipToOldest(); n > 0 {
				p.stats.Skips += int64(n)
				continue
			}
			return p.end(err)
		case err == io.EOF:
			if p.loops != 0 && !looped && p.loopBack() {
				looped = true
				continue
			}
			return p.endPacket(out, io.EOF)
		default:
			return p.endPacket(out, err)
		}
		pos := pk.Start - pk.PreSkip
		if p.to >= 0 && pos >= p.to && p.loops != 0 {
			if !looped && p.loopBack() {
				looped = true
				continue // the section's end: back to its start, this packet not played
			}
			if looped {
				p.loops = 0 // the section has left a live track's window: play on
			}
		}
		*out = Packet{Timestamp: p.ts, Samples: pk.Samples, Position: pos}
		var reset bool
		out.Data, out.Seam, reset = p.seamData(pk.Index, pk.Data)
		if reset {
			// A jump without a transition: a silence frame in place of
			// its first packet (the timeline goes on), which sets the
			// receiver's decoder to a state in which no packet comes out
			// louder than it was coded.
			p.last, p.seam = seamFromSilence, nil
			p.stats.Silence++
			out.Data, out.Silence = silenceOf(pk.Samples), true
			p.ts += pk.Samples
			return nil
		}
		p.last = pk.Index
		p.ts += pk.Samples
		p.stats.Packets++
		return nil
	}
}

// endPacket ends the player and gives the first of its silence frames.
func (p *Player) endPacket(out *Packet, err error) error {
	p.end(err)
	return p.next(out)
}

// end ends the player, with silence frames to give first.
func (p *Player) end(err error) error {
	p.state = ended
	if err != io.EOF {
		p.err = err
	}
	if err != catcher.ErrClosed && !p.quiet { // the track's Close; a source closed under it ended it like any error
		p.silence = opus.SilenceFrames
	}
	if p.err != nil {
		return p.err
	}
	return io.EOF
}

// loopBack moves to the start of the loop, if there are loops left.
func (p *Player) loopBack() bool {
	x, ok := p.t.Index()
	if !ok {
		return false
	}
	i, _ := x.Find(p.from)
	if i >= x.Packets() && x.Done() {
		return false
	}
	if p.loops > 0 {
		p.loops--
	}
	p.stats.Loops++
	p.cur.Seek(i)
	return true
}

// position is the track position of the next packet.
func (p *Player) position() int64 {
	x, ok := p.t.Index()
	if !ok {
		return 0
	}
	if p.seg != nil {
		return int64(p.cur.Pos())*p.seg.u - x.PreSkip()
	}
	return positionIn(x, p.cur.Pos())
}

// positionAt is the position of the track's packet i, as a player there
// (not in a segment) has it; 0 if t is nil or has no index yet.
func (t *Track) positionAt(i int) int64 {
	if t == nil {
		return 0
	}
	x, ok := t.Index()
	if !ok {
		return 0
	}
	return positionIn(x, i)
}

// positionIn is the track position of packet i of the index x: its
// start, or the end of what is encoded for a packet not (or no longer)
// in it.
func positionIn(x framed.Index, i int) int64 {
	if i >= x.First() && i < x.Packets() {
		return x.Entry(i).Start - x.PreSkip()
	}
	return x.DecodedSamples() - x.PreSkip()
}

// Position returns the track position of the next packet.
func (p *Player) Position() time.Duration { return opus.Duration(max(0, p.position())) }

// Timestamp returns the player's clock: the samples it has given, and the
// time a Scheduler driving it could not give it a packet (see passTime).
func (p *Player) Timestamp() int64 { return p.ts }

// passTime moves the player's clock on by n samples in which it gave
// nothing: a deadline its driver met with an underrun, or skipped to catch
// up. A receiver's clock ran on meanwhile: the packets after the gap say
// so (an RTP sender jumps its timestamp, with the marker bit), and the
// receiver hears a gap, rather than take it for a delay and buffer it.
func (p *Player) passTime(n int64) { p.ts += n }

// Seek moves the player to the packet that holds position d of the track,
// waiting, until ctx ends, for the encoding to reach it (and, unless the
// track is live, the 250 ms after it that the jump's transition is made
// from); it then encodes the seam's transition, if no player has made
// that jump before (a few milliseconds), so that Next does not have to.
// A seek at or past the end of a finished track (its Duration) is
// ErrSeekPastEnd, and the player does not move. A seek ends a finished
// player's end: it plays again from d, with its loop settings. It does not
// end a pause: a paused player stays paused (its silence frames still to
// come, if any), and plays from d on Resume.
func (p *Player) Seek(ctx context.Context, d time.Duration) error {
	target := opus.Samples(max(d, 0))
	ahead := target // encoded past the target: the packets its transition is made of
	if !p.t.cfg.noSeams && p.t.cfg.live == 0 {
		ahead += seamAhead
	}
	for {
		finished := p.t.c.Finished() // before the index: once finished, the index read after is whole
		x, ok := p.t.Index()
		done := finished || ok && x.Done()
		if ok && x.DecodedSamples()-x.PreSkip() > target && (!done || target < x.DurationSamples()) && (done || x.DecodedSamples()-x.PreSkip() > ahead) {
			i, _ := x.Find(target)
			if err := p.seekTo(i); err != nil {
				return err
			}
			p.prepareJump(i)
			return nil
		}
		if done {
			if err := p.t.c.Err(); err != nil {
				return err
			}
			return fmt.Errorf("%w: %v, the track is %v", ErrSeekPastEnd, d, x.Duration())
		}
		if err := p.t.c.WaitFor(ctx, x.End()); err != nil {
			return err
		}
	}
}

// prepareJump encodes the transition of the jump to packet i that the
// player's next packet will make, if it is one: now if the player plays
// on, in the background if it is paused (the jump will then come from the
// pause's silence frames, whenever it resumes).
func (p *Player) prepareJump(i int) {
	switch {
	case p.state == paused:
		p.t.prepareSeam(seamFromSilence, i)
	case i != p.last+1 || p.last < 0:
		p.t.seamNow(p.last, i)
	}
}

func (p *Player) seekTo(i int) error {
	if p.seg != nil && (p.seg.first > i || p.cur.Pos() != i) {
		p.leaveSegment()
	}
	p.cur.Seek(i)
	if p.state == ended && p.err != catcher.ErrClosed && p.err != ErrPlayerClosed {
		p.state, p.err, p.silence = playing, nil, 0
	}
	return nil
}

// SkipToLive moves a player of a live track to the newest packet encoded
// (the live edge), and returns the packets it skipped. A player joining a
// live track there has no latency but the encoder's.
func (p *Player) SkipToLive() int {
	x, ok := p.t.Index()
	if !ok || x.Packets() == 0 || p.cur.Pos() >= x.Packets()-1 {
		return 0
	}
	n := x.Packets() - 1 - p.cur.Pos()
	p.cur.Seek(x.Packets() - 1)
	return n
}

// Pause pauses the player: Next gives five silence frames, then ErrPaused
// until Resume. Pausing a paused or finished player does nothing. The
// transition for the resume is encoded in the background.
func (p *Player) Pause() {
	if p.state == playing {
		p.state = paused
		p.silence = opus.SilenceFrames
		p.t.prepareSeam(seamFromSilence, p.cur.Pos()) // for the resume
	}
}

// Resume resumes a paused player where it was. Its clock goes on from
// where it stopped: a sender adds the time the pause lasted to its own.
func (p *Player) Resume() {
	if p.state == paused {
		p.state = playing
		p.silence = 0
	}
}

// Paused reports whether the player is paused.
func (p *Player) Paused() bool { return p.state == paused }

// Loop makes the player play the whole track n more times after this one
// (-1: forever; 0: no loop), packet-continuous: after the last packet
// comes the first, with the clock going on.
func (p *Player) Loop(n int) {
	p.from, p.to, p.loops = 0, -1, int32(max(n, -1))
	if p.loops != 0 {
		p.prepareLoop(p.cur.Pos())
	}
}

// LoopSection makes the player play the section [from, to) of the track n
// more times once it reaches its end (-1: forever), at packet boundaries:
// the last packet played is the one before the first that starts at or
// after to; the next is the one that holds from. It returns an error if
// the section is empty.
func (p *Player) LoopSection(from, to time.Duration, n int) error {
	if to <= from || from < 0 {
		return fmt.Errorf("pipeline: loop section [%v, %v) is empty", from, to)
	}
	p.from, p.to, p.loops = opus.Samples(from), opus.Samples(to), int32(max(n, -1))
	if p.loops != 0 {
		p.prepareLoop(p.cur.Pos())
	}
	return nil
}

// Title returns the title the player is playing now, and whether there is
// one: the track's title change (Track.TitleAt) at the position of the
// packet it gave last, or of the next packet before it has given one. It
// is for the player's driver, as Next is.
func (p *Player) Title() (StreamTitle, bool) {
	pos := p.position()
	if x, ok := p.t.Index(); ok && p.last >= x.First() && p.last < x.Packets() {
		pos = x.Entry(p.last).Start - x.PreSkip()
	}
	return p.t.TitleAt(max(pos, 0)) // the first packet's start is in the pre-skip
}
