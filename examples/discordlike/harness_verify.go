package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// What the server checks of each guild's stream, packet by packet:
//
//   - numbering: the sequence goes up by one (a gap is lost packets, a
//     number seen again a duplicate), and the timestamp by exactly the
//     previous packet's samples, or by more with the marker bit set (after
//     a pause or the silence between tracks);
//   - audio: every packet decodes, and, once the decoder has had preRoll
//     of continuous audio since a seek, loop, skip or pause, its samples
//     match the track's at the position its label names, within minSNR
//     (or, where the track is silent there, stay below silenceFloor). The
//     reference is the track's packets decoded in order from the start, so
//     a receiver that jumped decodes with another history: its energy
//     prediction converges over a few frames, and 100 ms after a jump
//     onto a loud onset the match can be as low as 13 dB (in a 15 s run of
//     50 guilds, one packet of some 32,000 compared was under 16 dB), while
//     audio from another place, or another track, is at or below
//     0 dB, its difference as loud as itself. A transition packet (its
//     label's seam bit: a seek's, a loop's or a resume's, 60 ms, within
//     the pre-roll of its jump; or the join of two queued tracks, up to
//     a few hundred milliseconds with a crossfade) is not compared: its
//     audio is faded or mixed across the jump, no one place of one track
//     (those past the pre-roll are counted, Transition);
//   - seams: at each jump (the label's position does not follow the
//     previous packet's), the peak heard in the next seamAfter, against
//     the larger of the two sides' peaks (seamSide of the track before the
//     jump, as decoded in order and as this stream was heard, and seamSide
//     of the track from where it goes; -40 dBFS at least): a click is
//     several decibels over. The library's bound is 1 dB (TestSeamBound in
//     package pipeline); jumps over it are reported, not failed, each
//     with its kind (see seamKind), and counted by kind;
//   - timing: interarrival jitter (RFC 3550) and late packets, those that
//     arrive more than lateBy after the stream's best transit time, which
//     are reported, not failed.
const (
	preRoll      = 4800  // samples: 100 ms
	minSNR       = 6.0   // dB
	silenceFloor = 100.0 // RMS in 16-bit units: -50 dBFS
	lateBy       = 40 * time.Millisecond
	queueLen     = 1024 // packets a stream's checker may fall behind by: 20 s
	seamAfter    = 2880 // samples: 60 ms
	seamSide     = 9600 // samples: 200 ms
	seamBound    = 1.0  // dB
)

// heardPacket is a copy of what the server's UDP goroutine opened.
type heardPacket struct {
	seq    uint16
	ts     uint32
	marker bool
	label
	payload []byte
	at      time.Time
}

// verifier checks every guild's stream, one goroutine a stream, off the
// server's UDP goroutine.
type verifier struct {
	refs     *references
	ctx      context.Context // for loading references; ends at close
	cancel   context.CancelFunc
	record   func(guild string) *recording // nil: not recording
	overflow atomic.Int64

	mu      sync.Mutex // guards streams and closed
	streams map[uint32]*stream
	closed  bool
	wg      sync.WaitGroup
}

func newVerifier(refs *references) *verifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &verifier{refs: refs, ctx: ctx, cancel: cancel, streams: make(map[uint32]*stream)}
}

// handle takes a packet the voice server opened, with its label parsed.
func (v *verifier) handle(s sessionInfo, o sink.Opened, l label, at time.Time) {
	st := v.stream(s)
	if st == nil {
		return
	}
	p := heardPacket{seq: o.Sequence, ts: o.Timestamp, marker: o.Marker, label: l, payload: bytes.Clone(o.Payload), at: at}
	select {
	case st.in <- p:
	default:
		v.overflow.Add(1)
	}
}

// sessionInfo is what the verifier needs of a voice session.
type sessionInfo struct {
	ssrc  uint32
	guild string
}

func (v *verifier) stream(s sessionInfo) *stream {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	if st := v.streams[s.ssrc]; st != nil {
		return st
	}
	st := &stream{guild: s.guild, in: make(chan heardPacket, queueLen), v: v, res: streamResult{Streams: 1}}
	v.streams[s.ssrc] = st
	v.wg.Add(1)
	go st.run()
	return st
}

// close waits for every stream's checker to finish what it was given.
func (v *verifier) close() {
	v.mu.Lock()
	v.closed = true
	for _, st := range v.streams {
		close(st.in)
	}
	v.mu.Unlock()
	v.wg.Wait()
	v.cancel()
}

// awaitHeard waits until the server has heard sent packets in all, the
// bots' count (those the verifier had no room for included), or for at
// most d, or until no packet has come for quietFor: the last packets are
// still in flight when the bots stop, longer on a busy machine, and a
// lost one never comes.
func (v *verifier) awaitHeard(sent int64, d time.Duration) {
	const quietFor = 2 * time.Second
	heard, moved := int64(-1), time.Now()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		n := v.totals().Packets + v.overflow.Load()
		if n >= sent {
			return
		}
		if n != heard {
			heard, moved = n, time.Now()
		} else if time.Since(moved) > quietFor {
			return
		}
	}
}

// results returns each stream's results, by guild.
func (v *verifier) results() map[string]streamResult {
	v.mu.Lock()
	streams := make([]*stream, 0, len(v.streams))
	for _, st := range v.streams {
		streams = append(streams, st)
	}
	v.mu.Unlock()
	out := make(map[string]streamResult)
	for _, st := range streams {
		st.mu.Lock()
		res := st.pub
		st.mu.Unlock()
		r := out[st.guild]
		r.add(res)
		out[st.guild] = r
	}
	return out
}

// totals sums the results of every stream (while they run, for the
// progress line).
func (v *verifier) totals() streamResult {
	var t streamResult
	for _, r := range v.results() {
		t.add(r)
	}
	return t
}

// streamResult is what was found of one stream.
type streamResult struct {
	Packets    int64 // heard
	Verified   int64 // audio compared and matching
	PreRoll    int64 // audio not compared: within preRoll of a jump
	Transition int64 // audio not compared: transition packets past the pre-roll
	Silence    int64 // silence frames
	Lost       int64
	Duplicate  int64
	Reordered  int64
	BadTime    int64 // timestamps that do not follow the packets
	Wrong      int64 // audio that does not match its place in the track
	Undecoded  int64 // packets the decoder refused
	Unlabelled int64 // packets without a readable label
	NoRef      int64 // packets of a track the server could not decode
	Late       int64
	Jitter     float64 // seconds, the last value (mean over streams when summed)
	MaxJitter  float64
	Streams    int     // 1 for a stream's own result
	WorstSNR   float64 // dB, of the compared packets with sound
	Seams      int64   // jumps measured
	SeamsOver  int64   // jumps over seamBound
	WorstSeam  float64 // dB over the louder side, the worst jump's
	// SeamKinds counts the jumps by kind; Overs are the jumps over
	// seamBound, the first maxOvers of a stream's.
	SeamKinds [numSeamKinds]seamTally
	Overs     []seamJump
}

// seamTally is what was measured of the jumps of one kind.
type seamTally struct {
	Jumps, Over int64
	Worst       float64 // dB over the louder side
}

// maxOvers bounds the jumps over seamBound a stream keeps for the report.
const maxOvers = 64

func (r *streamResult) add(o streamResult) {
	r.Packets += o.Packets
	r.Verified += o.Verified
	r.PreRoll += o.PreRoll
	r.Transition += o.Transition
	r.Silence += o.Silence
	r.Lost += o.Lost
	r.Duplicate += o.Duplicate
	r.Reordered += o.Reordered
	r.BadTime += o.BadTime
	r.Wrong += o.Wrong
	r.Undecoded += o.Undecoded
	r.Unlabelled += o.Unlabelled
	r.NoRef += o.NoRef
	r.Late += o.Late
	if n := r.Streams + o.Streams; n > 0 {
		r.Jitter = (r.Jitter*float64(r.Streams) + o.Jitter*float64(o.Streams)) / float64(n)
	}
	r.MaxJitter = max(r.MaxJitter, o.MaxJitter)
	r.Streams += o.Streams
	if o.WorstSNR != 0 && (r.WorstSNR == 0 || o.WorstSNR < r.WorstSNR) {
		r.WorstSNR = o.WorstSNR
	}
	if o.Seams > 0 && (r.Seams == 0 || o.WorstSeam > r.WorstSeam) {
		r.WorstSeam = o.WorstSeam
	}
	r.Seams += o.Seams
	r.SeamsOver += o.SeamsOver
	for k, t := range o.SeamKinds {
		c := &r.SeamKinds[k]
		if t.Jumps > 0 && (c.Jumps == 0 || t.Worst > c.Worst) {
			c.Worst = t.Worst
		}
		c.Jumps += t.Jumps
		c.Over += t.Over
	}
	r.Overs = append(r.Overs, o.Overs...)
}

// failed reports whether a correctness check failed.
func (r streamResult) failed() bool {
	return r.Lost+r.Duplicate+r.BadTime+r.Wrong+r.Undecoded+r.Unlabelled+r.NoRef > 0
}

// stream is one SSRC's checker.
type stream struct {
	v     *verifier
	guild string
	in    chan heardPacket
	dec   *libopus.PacketDecoder
	rec   *recording

	mu  sync.Mutex   // guards pub
	pub streamResult // res as of the last packet, for results (its Overs a copy)

	// The checker's own state.
	res                  streamResult
	started              bool
	seq                  uint16
	ts                   uint32
	samples              int64
	silence              bool
	track                int
	pos                  int64 // the last packet with sound's
	skip                 int64 // samples of pre-roll still to ignore
	seen                 [1024]int32
	transit, bestTransit float64
	clock                float64                 // the stream's timestamp, unwrapped, in seconds
	lastSeam             bool                    // the last packet with sound was a transition's
	heard                [seamSide / 960]float64 // the last packets' peaks, a ring
	heardAt              int
	seam                 *seamCheck // the jump being measured, if any
	silRun               int        // silence frames since the last packet with sound
	silLabel             label      // the label of the first of them
}

// seamCheck is a jump being measured: its sides, and the peak heard since.
type seamCheck struct {
	seamJump
	fromTrack    int
	fromEnd      int64 // -1: from silence
	toTrack      int
	toPos        int64
	before, peak float64
	left         int64 // samples still to hear after the transition
	lastPos      int64 // the end of the furthest packet heard of the track jumped to
	transition   bool  // the jump's transition packets are still coming
	heardN       int   // packets heard since the jump's first
	packets      int   // its transition packets
}

// crossfadePackets is the most transition packets a gapless join has
// (its transition is the end of A and the start of B, about 100 ms): a
// join with more is a crossfade.
const crossfadePackets = 10

// seamJump is a jump measured, as the report tells it.
type seamJump struct {
	Guild    string
	Kind     seamKind
	From, To string  // "track at position"
	Over     float64 // dB over the louder side
	PeakAt   int     // the packet of the peak, from the jump's first (0)
	Peak     float64 // dBFS
}

// seamKind is what a jump is, as the stream's labels tell it: whether the
// track changes, what the packets between were (none, one silence frame in
// place of the first packet, the silence frames of a pause or of a stop),
// whether its first packet is a transition, and where it lands (the
// harness's commands loop a section from 0.2 s, and seek to 0.7 s and 1.5
// s).
type seamKind uint8

const (
	kindStart       seamKind = iota // the stream's first audio
	kindJoin                        // another track, through a gapless join's transition
	kindCrossfade                   // another track, through a crossfade's (a transition of more than crossfadePackets)
	kindCutEnd                      // another track, after a silence frame in its first packet's place, where the last ended: a queue boundary without a join
	kindCutMid                      // the same, the last cut short (skip, play, remove)
	kindTrackSilent                 // another track, after the silence frames of a stop or a pause
	kindTrackBare                   // another track, straight after the last's audio (no join, no silence frame)
	kindLoop                        // the track's end to its start, through a transition
	kindSection                     // to a loop section's start (0.2 s), through a transition
	kindSeek                        // elsewhere in the track, through a transition (a seek)
	kindBare                        // elsewhere in the track, straight after (no transition, no silence frame)
	kindResetJump                   // elsewhere in the track, after a silence frame in the first packet's place (into a segment; a jump without a transition)
	kindResetOn                     // on where it was, after a silence frame in the next packet's place (back from a segment without a transition)
	kindSegmentBack                 // transition packets where the track follows on (back from a segment onto the track's packets)
	kindResume                      // where it was, after a pause's silence frames
	kindPausedSeek                  // elsewhere in the track, after a pause's silence frames
	numSeamKinds
)

var seamKindNames = [numSeamKinds]string{
	kindStart:       "stream start",
	kindJoin:        "join",
	kindCrossfade:   "crossfade",
	kindCutEnd:      "boundary, no join",
	kindCutMid:      "boundary, cut short",
	kindTrackSilent: "track after silence",
	kindTrackBare:   "track, bare",
	kindLoop:        "loop",
	kindSection:     "section loop",
	kindSeek:        "seek",
	kindBare:        "jump, bare",
	kindResetJump:   "jump, silence frame",
	kindResetOn:     "on, silence frame",
	kindSegmentBack: "segment back",
	kindResume:      "resume",
	kindPausedSeek:  "paused seek",
}

func (k seamKind) String() string { return seamKindNames[k] }

func (st *stream) run() {
	defer st.v.wg.Done()
	defer func() {
		if st.rec != nil {
			st.rec.close()
		}
	}()
	dec, err := libopus.NewPacketDecoder(2)
	if err != nil {
		panic(err) // 2 channels is always valid
	}
	st.dec = dec
	if st.v.record != nil {
		st.rec = st.v.record(st.guild)
	}
	published := 0 // len(st.res.Overs) as of the last copy
	for p := range st.in {
		st.check(p)
		st.mu.Lock()
		overs := st.pub.Overs
		if len(st.res.Overs) != published {
			overs, published = slices.Clone(st.res.Overs), len(st.res.Overs)
		}
		st.pub = st.res
		st.pub.Overs = overs
		st.mu.Unlock()
	}
}

// check checks one packet; it may wait for the track's reference to be
// decoded (the packets meanwhile queue in st.in).
func (st *stream) check(p heardPacket) {
	r := &st.res
	r.Packets++
	if st.rec != nil {
		st.rec.write(p.payload, p.label)
	}
	samples, err := opus.PacketSamples(p.payload)
	if err != nil {
		r.Undecoded++
		return
	}
	jump := false // the audio does not follow the previous packet's
	lost := false // packets were lost just before this one
	fresh := !st.started
	if !st.started {
		st.started, jump = true, true
		st.clock = float64(p.ts) / 48000
	} else {
		switch d := int16(p.seq - st.seq); {
		case d == 1:
		case d > 1:
			r.Lost += int64(d - 1)
			jump, lost = true, true
		default: // an old number
			if st.seen[p.seq%1024] == int32(p.seq)+1 {
				r.Duplicate++
			} else {
				r.Reordered++
				r.Lost-- // it was counted lost when the gap appeared
			}
			return
		}
		adv := p.ts - st.ts
		switch {
		case !p.marker && int64(adv) != st.samples && int16(p.seq-st.seq) == 1:
			r.BadTime++
		case p.marker && int64(adv) < st.samples:
			r.BadTime++
		}
		st.clock += float64(adv) / 48000
	}
	st.seen[p.seq%1024] = int32(p.seq) + 1
	st.timing(p)
	prev := st.samples // the previous packet's duration
	st.seq, st.ts, st.samples = p.seq, p.ts, samples

	silence := string(p.payload) == opus.SilenceFrame
	pcm, err := st.dec.Decode(p.payload)
	if err != nil {
		r.Undecoded++
		st.silence = true // the decoder's state is unknown: pre-roll again
		st.seam = nil
		return
	}
	heard := peakOf(pcm)
	// A join's first transition packets are labelled 0 (their audio is
	// before B's start): those after the first are not new jumps.
	clamped := st.seam != nil && st.seam.transition && !st.silence && p.seam && p.track == st.track && st.pos == 0 && p.pos >= 0 && p.pos < prev
	moved := st.silence || p.track != st.track || p.pos != st.pos+prev
	if !silence && p.ok && moved && !lost && !clamped && st.seam != nil {
		st.endSeam() // where this jump starts: the one before is not heard past it
	}
	if silence {
		p.ok = false // not the track's: the measure's transition has ended
	}
	st.measureSeam(p, heard, samples)
	if silence {
		r.Silence++
		st.silence = true
		if st.silRun == 0 {
			st.silLabel = p.label
		}
		st.silRun++
		st.hear(0)
		return
	}
	if !p.ok {
		r.Unlabelled++
		return
	}
	// After a packet without sound (silence, undecodable: st.silence) or
	// without a label (its position unknown), this one follows it only by
	// chance: a jump either way.
	if moved {
		jump = true
		if !lost && !clamped {
			st.startSeam(p, prev, heard, samples, fresh)
		}
	} else if p.seam && !st.lastSeam && st.seam == nil {
		// Transition packets where the audio follows on: the way back
		// from a segment, measured as a jump; the checks go on as they
		// are.
		st.startSeam(p, prev, heard, samples, fresh)
	}
	st.hear(heard)
	st.silence, st.track, st.pos, st.lastSeam, st.silRun = false, p.track, p.pos, p.seam, 0
	if jump {
		st.skip = preRoll
	}
	if st.skip > 0 {
		st.skip -= samples
		r.PreRoll++
		return
	}
	if p.seam {
		r.Transition++
		return
	}
	ref := st.v.refs.get(st.v.ctx, p.track)
	<-ref.done
	if ref.err != nil {
		r.NoRef++
		return
	}
	from := (p.pos + ref.preSkip) * 2
	to := from + int64(len(pcm))
	if from < 0 || to > int64(len(ref.pcm)) {
		r.Wrong++
		return
	}
	snr, ok := match(ref.pcm[from:to], pcm)
	if !ok {
		r.Wrong++
		return
	}
	r.Verified++
	if snr > 0 && (r.WorstSNR == 0 || snr < r.WorstSNR) {
		r.WorstSNR = snr
	}
}

// hear keeps a packet's peak for the side before a later jump.
func (st *stream) hear(peak float64) {
	st.heard[st.heardAt%len(st.heard)] = peak
	st.heardAt++
}

// startSeam starts measuring the jump that p makes (prev: the previous
// packet's samples; fresh: p is the stream's first); heard is p's own
// peak.
func (st *stream) startSeam(p heardPacket, prev int64, heard float64, samples int64, fresh bool) {
	c := &seamCheck{fromTrack: st.track, fromEnd: st.pos + prev, toTrack: p.track, toPos: p.pos, lastPos: p.pos, left: seamAfter, transition: true}
	c.Guild, c.Kind = st.guild, st.kindOf(p, prev, fresh)
	c.To = st.place(p.track, p.pos)
	if !fresh {
		c.From = st.place(st.track, st.pos+prev)
	}
	if st.silence || fresh {
		c.fromEnd = -1
	} else {
		for _, v := range st.heard {
			c.before = max(c.before, v)
		}
	}
	st.seam = c
	st.measureSeam(p, heard, samples)
}

// measureSeam adds a packet's peak to the jump being measured, and ends
// the measure once seamAfter has been heard after the jump's transition
// (the transition packets of the track jumped to, from the jump's first:
// a join's last a few hundred milliseconds, and their positions need not
// follow on, a join's first ones being labelled 0).
func (st *stream) measureSeam(p heardPacket, heard float64, samples int64) {
	c := st.seam
	if c == nil {
		return
	}
	if heard > c.peak {
		c.peak, c.PeakAt = heard, c.heardN
	}
	c.heardN++
	if p.ok && p.track == c.toTrack && (p.pos == c.lastPos || c.transition && p.seam) {
		c.lastPos = max(c.lastPos, p.pos+samples) // the audio after the jump, not the next jump's
	}
	if c.transition = c.transition && p.ok && p.seam && p.track == c.toTrack; c.transition {
		if c.packets++; c.Kind == kindJoin && c.packets > crossfadePackets {
			c.Kind = kindCrossfade
		}
		return
	}
	if c.left -= samples; c.left > 0 {
		return
	}
	st.endSeam()
}

// endSeam ends the measure of the jump under way, and counts it: its
// peak against the larger of the sides (the track jumped to is taken
// over what the measure heard of it, seamSide at least).
func (st *stream) endSeam() {
	c := st.seam
	st.seam = nil
	sides := math.Pow(10, -40.0/20)
	sides = max(sides, c.before, st.refPeak(c.toTrack, c.toPos, max(c.toPos+seamSide, c.lastPos)))
	if c.fromEnd >= 0 {
		sides = max(sides, st.refPeak(c.fromTrack, c.fromEnd-seamSide, c.fromEnd))
	}
	over := 20 * math.Log10(c.peak/sides)
	r := &st.res
	if r.Seams == 0 || over > r.WorstSeam {
		r.WorstSeam = over
	}
	r.Seams++
	k := &r.SeamKinds[c.Kind]
	if k.Jumps == 0 || over > k.Worst {
		k.Worst = over
	}
	k.Jumps++
	if over > seamBound {
		r.SeamsOver++
		k.Over++
		if len(r.Overs) < maxOvers {
			c.Over, c.Peak = over, 20*math.Log10(max(c.peak, 1e-5))
			r.Overs = append(r.Overs, c.seamJump)
		}
	}
}

// kindOf is the kind of the jump that p makes (prev: the previous packet
// with sound's samples; fresh: p is the stream's first).
func (st *stream) kindOf(p heardPacket, prev int64, fresh bool) seamKind {
	const packet = 960
	switch {
	case fresh:
		return kindStart
	case st.silRun == 0 && p.track != st.track:
		if p.seam {
			return kindJoin
		}
		return kindTrackBare
	case st.silRun == 0 && p.pos == st.pos+prev:
		return kindSegmentBack
	case st.silRun == 0 && !p.seam:
		return kindBare
	case st.silRun == 0:
		end := st.refLength(st.track)
		switch {
		case p.pos <= 0 && end >= 0 && st.pos+prev >= end-2*packet:
			return kindLoop
		case p.pos <= 9600 && p.pos > 9600-packet:
			return kindSection
		}
		return kindSeek
	case st.silRun == 1 && st.silLabel.track != st.track:
		end := st.refLength(st.track)
		if end >= 0 && st.pos+prev >= end-2*packet {
			return kindCutEnd
		}
		return kindCutMid
	case st.silRun == 1:
		if st.silLabel.pos == st.pos+prev && p.pos == st.silLabel.pos+packet {
			return kindResetOn
		}
		return kindResetJump
	case p.track != st.track:
		return kindTrackSilent
	case p.pos == st.pos+prev:
		return kindResume
	}
	return kindPausedSeek
}

// refLength is a track's length (after its pre-skip), in samples; -1 if
// it has no reference.
func (st *stream) refLength(track int) int64 {
	ref := st.v.refs.get(st.v.ctx, track)
	<-ref.done
	if ref.err != nil {
		return -1
	}
	return int64(len(ref.pcm))/2 - ref.preSkip
}

// place names a position of a track, for the report.
func (st *stream) place(track int, pos int64) string {
	return fmt.Sprintf("%s at %.3f s", st.v.refs.cat.name(track), float64(pos)/48000)
}

// seamLines are the report's lines on the jumps: by kind, then the worst
// of those over seamBound (at most n).
func (r streamResult) seamLines(n int) []string {
	var out []string
	for k, t := range r.SeamKinds {
		if t.Jumps == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("    %-20s %5d jumps, worst %+5.1f dB, %d over %+.0f dB", seamKind(k), t.Jumps, t.Worst, t.Over, seamBound))
	}
	overs := slices.Clone(r.Overs)
	slices.SortFunc(overs, func(a, b seamJump) int { return cmp.Compare(b.Over, a.Over) })
	for i, j := range overs {
		if i == n {
			out = append(out, fmt.Sprintf("    ... and %d more over %+.0f dB", len(overs)-n, seamBound))
			break
		}
		from := j.From
		if from == "" {
			from = "nothing"
		}
		out = append(out, fmt.Sprintf("    %+5.1f dB  %-20s %s: from %s to %s, peak %.1f dBFS in packet %d",
			j.Over, j.Kind, j.Guild, from, j.To, j.Peak, j.PeakAt))
	}
	return out
}

// refPeak is the peak of a track's reference over positions [from, to),
// full scale 1; 0 if it has none.
func (st *stream) refPeak(track int, from, to int64) float64 {
	ref := st.v.refs.get(st.v.ctx, track)
	<-ref.done
	if ref.err != nil {
		return 0
	}
	from, to = max(0, (from+ref.preSkip)*2), min(int64(len(ref.pcm)), (to+ref.preSkip)*2)
	return peakOf(ref.pcm[min(from, to):to])
}

// peakOf is the peak of 16-bit samples, full scale 1.
func peakOf(pcm []int16) float64 {
	m := 0.0
	for _, v := range pcm {
		m = max(m, math.Abs(float64(v)))
	}
	return m / 32768
}

// timing measures jitter and lateness from the packet's arrival.
func (st *stream) timing(p heardPacket) {
	r := &st.res
	arrival := float64(p.at.UnixNano()) / 1e9
	transit := arrival - st.clock
	if r.Packets > 1 {
		d := math.Abs(transit - st.transit)
		if p.marker {
			d = 0 // the sender's clock jumped: not jitter
		}
		r.Jitter += (d - r.Jitter) / 16
		r.MaxJitter = max(r.MaxJitter, r.Jitter)
	}
	st.transit = transit
	if r.Packets == 1 || transit < st.bestTransit {
		st.bestTransit = transit
	}
	if transit-st.bestTransit > lateBy.Seconds() {
		r.Late++
	}
}

// match compares decoded samples with the reference's: the SNR in dB, and
// whether they match (silence where the reference is silent).
func match(ref, got []int16) (float64, bool) {
	var sig, noise float64
	for i, v := range ref {
		d := float64(got[i]) - float64(v)
		sig += float64(v) * float64(v)
		noise += d * d
	}
	n := float64(len(ref))
	if math.Sqrt(sig/n) < silenceFloor {
		return 0, math.Sqrt(noise/n) < silenceFloor
	}
	if noise == 0 {
		return 99, true
	}
	snr := 10 * math.Log10(sig/noise)
	return snr, snr >= minSNR
}
