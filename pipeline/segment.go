package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/wav"
)

// Segments.
//
// A seek past the encoded point of a track that is still encoding need
// not wait for everything before its target: the track opens its source
// a second time (a Library's track reopens it by its key), finds the
// target in it without decoding what comes before, and makes a segment
// from there: packets that lie exactly on the track's grid (its packet i
// holds what the track's packet i will hold). The track's own encode goes
// on untouched; segments are temporary. A stored track (see trackfile.go),
// whose cache is read from its store in order at a pace, makes them too,
// from its own blob (below). How the target is found, by the input's
// kind:
//
//	MP3       a walk over the frame headers, then the frames just before
//	          the target decoded for the bit reservoir (mp3.Seek)
//	WAV       by byte: one seek to the header's end plus whole frames
//	          where the reopened source seeks (a file, an HTTPSource served
//	          by range); else the frames before are read and dropped
//	          (wav.Seek)
//	FLAC      by its seek table where the source seeks (flac.Seek: the
//	          frame of the last point at or before the target); without a
//	          table, or a source that cannot seek, decoded from the start
//	Ogg Opus  by page: the last page whose granule position is at or
//	          before the pre-roll before the target, found by bisecting
//	          the pages (ogg.SeekOpus); from the first page where the
//	          source cannot seek
//	WebM      by Cues: the Cluster of the cue at or before the seek
//	          pre-roll before the target (webm.Seek); from the first
//	          Cluster where the source cannot seek or has no Cues
//	stored    by its index, which gives each packet's record's offset:
//	          the blob read from the block that holds it (copyStored),
//	          by ReadAt, or by a range of a BlobStreamer (an object
//	          store's, fetched ahead); the blocks before it not read
//
// MP3, WAV and FLAC segments are encoded from the target, the same
// samples encoded by another encoder. Where a segment's encoder starts is
// chosen so that its positions are exact: a source sample q0 whose time
// is a whole 48 kHz sample P0 (so that the resampler started there puts
// out the same samples as the track's, past its first taps), some way
// before the packet segWarm packets before the target's, from which the
// encoder is fed so that its packets fall on the track's (their
// pre-skips are the same encoder's); the segWarm packets are dropped.
//
// Ogg Opus and WebM segments are not encoded (unless the track has
// filters: see segment_filter.go): they are the source's own
// packets (copySegment), from the pre-roll before the target on (80 ms,
// so that a decoder given them from there has converged), so that packet
// i of the segment is packet i of the track, the same bytes, as long as
// the packets are of the track's one duration (a packet of another ends
// the segment). A stored track's segments are copied segments too, of
// its own records (copyStored), from the same pre-roll on: each block
// checked against its checksum before any of its records is taken, each
// record against its index entry, as the track's cache checks them, so
// that they are the bytes the cache will hold, and no packet that fails
// a check is lent (a block that fails ends the segment with
// ErrCorruptTrack: the seek then waits for the track's own packets, and
// the track's cache meets the bad block in its turn). Both kinds go
// through one loop (copyPackets).
//
// A player that seeks there (Queue.Seek, through seekAhead) keeps playing
// what it played until the segment's packet at the target is there, then
// plays the segment, a silence frame in place of its first packet (a
// jump without a transition: see seam.go). From an encoded segment it
// goes back onto the track's packets at the same position once the
// track's own encode has passed its position by what a transition needs,
// through a transition encoded from the segment's audio into the
// track's (the same audio, coded by two encoders), as a seam's is
// (encodeTransition). From a copied segment it goes back as soon as the
// track's demux (or a stored track's cache) has the packet it is at, with
// no transition: the packets are the same, so the receiver's decoder
// cannot tell. A stored track's cache, read at its pace, may never catch
// up with a player sought ahead of it: the segment then goes on to the
// track's end, whose packet count the track knows, and the player ends
// there (or loops) as at the end of the track's own packets.
//
// A segment runs in its own goroutine; an encoded one takes a slot of the
// track's Pool for each packet, urgently (a listener waits). It goes no
// further than segLead packets ahead of the furthest player on it, and
// stops once the track's own packets have passed its end. Segments are
// kept on the track (segMax at most), lent to every player that seeks
// into them, counted in Resident, and dropped once the track's encode has
// passed them and no player is on them. Raw PCM input has none: its seeks
// wait for the track's own encode.
//
// A stored track's segments share its blob with its cache (storedBlob):
// each read of it, and each stream, holds it open, so that the blob is
// closed (by the cache's Close, at the track's Close or the end of its
// fill) only once the last of them is done, and nothing is read from it
// after. The track's Close ends a segment's stream at once (its context),
// and a segment's ReadAt by waiting for it; a segment asked for once the
// blob is closed reads nothing and ends, and the seek waits for the
// track's own packets, which are then all there.

// Sizes of segments.
const (
	// segWarm is the packets a segment's encoder makes before the
	// target's, dropped: its first packets, and the resampler's start.
	segWarm = 2
	// segMargin is how far before the encoder's first input (48 kHz
	// samples) the resampler starts: more than its filter's half length.
	segMargin = 2048
	// segLead is how far ahead of the furthest player on it a segment
	// encodes, in packets (10 s of 20 ms packets).
	segLead = 500
	// segMax bounds the segments a track keeps.
	segMax = 4
	// segBackTime is the segment's audio a player must have played (in
	// samples) before it goes back onto the track: what a transition's
	// longest warm-up decodes, with the decoder's pre-roll.
	segBackTime = 2*seamWarmTime + 2*opus.PreRoll
)

// errNoSegment says why a track cannot make a segment.
var errNoSegment = errors.New("pipeline: no segment")

// segment is a side encode of a track from a packet on: packets[k] is
// the track's packet first+k, encoded from a second reading of the
// source, or (same) copied from it.
type segment struct {
	first  int   // the track's packet number of packets[0]
	u      int64 // samples a packet
	same   bool  // its packets are the source's own, as the track's are (Ogg Opus, WebM): byte-equal to the track's
	cancel context.CancelFunc

	mu      sync.Mutex    // guards packets, ended, err and backs
	packets [][]byte      // only appended to: a copy of the slice is a snapshot
	ended   bool          // no packet will be added: the encode ended, failed, or is no longer needed
	err     error         // why it failed, if it did
	backs   map[int]*seam // transitions back onto the track, by the track's packet

	want  atomic.Int64  // the furthest packet a player has asked for; the encode keeps segLead ahead of it
	more  chan struct{} // a token when want moves (buffered 1)
	users atomic.Int32  // players on it
	size  atomic.Int64  // its packets' bytes
}

// segmentCache is a track's segments. Its zero value is empty.
type segmentCache struct {
	mu     sync.Mutex // guards segs and closed, and wg's Add
	segs   []*segment
	closed bool
	wg     sync.WaitGroup
	bytes  atomic.Int64 // the segments' packets' bytes (Resident counts them)
	made   atomic.Int64 // segments started

	// A stored track's parts and blob, which its segments read from
	// (copyStored); nil for other tracks. Set before the track is shared.
	st   *storedTrack
	blob *storedBlob
}

// withReopen gives a track a way to open its source again, for segments
// (a Library's opener and the track's key).
func withReopen(f func(ctx context.Context) (io.Reader, error)) TrackOption {
	return func(c *trackConfig) { c.reopen = f }
}

// packet returns the segment's packet for the track's packet i, if it is
// encoded, and whether the segment has ended.
func (s *segment) packet(i int) (data []byte, ok, ended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := i - s.first; k >= 0 && k < len(s.packets) {
		return s.packets[k], true, s.ended
	}
	return nil, false, s.ended
}

// end is the track's packet number one past the segment's last.
func (s *segment) end() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first + len(s.packets)
}

// reach tells the encode that a player has asked for packet i.
func (s *segment) reach(i int) {
	for {
		w := s.want.Load()
		if int64(i) <= w {
			return
		}
		if s.want.CompareAndSwap(w, int64(i)) {
			select {
			case s.more <- struct{}{}:
			default:
			}
			return
		}
	}
}

func (s *segment) add(p []byte, c *segmentCache) {
	s.mu.Lock()
	s.packets = append(s.packets, p)
	s.mu.Unlock()
	s.size.Add(int64(len(p)))
	c.bytes.Add(int64(len(p)))
}

func (s *segment) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	if err != nil && !errors.Is(err, context.Canceled) {
		s.err = err
	}
}

// snapshot is the segment's packets now, as a packetSpan.
func (s *segment) snapshot() segmentSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return segmentSpan{first: s.first, u: s.u, packets: s.packets[:len(s.packets):len(s.packets)]}
}

// segmentSpan is a segment's packets at one moment, as a transition reads
// them.
type segmentSpan struct {
	first   int
	u       int64
	packets [][]byte
}

func (s segmentSpan) spanPackets(i, j int) ([][]byte, error) {
	if i < s.first || j > s.first+len(s.packets) {
		return nil, errSeamNotReady
	}
	return s.packets[i-s.first : j-s.first], nil
}

func (s segmentSpan) decode(ch int, s0, s1 int64) ([]float32, error) {
	out := make([]float32, (s1-s0)*int64(ch))
	first := max(int(max(s0-2*opus.PreRoll, 0)/s.u), s.first)
	last := int((s1 + s.u - 1) / s.u) // one past the last packet needed
	if first > int(s0/s.u) && s0 >= 0 || last > s.first+len(s.packets) {
		return nil, errSeamNotReady
	}
	dec, err := newPacketDecoder(ch)
	if err != nil {
		return nil, err
	}
	for i := first; i < last; i++ {
		pcm, err := dec.Decode(s.packets[i-s.first])
		if err != nil {
			return nil, fmt.Errorf("pipeline: segment: packet %d: %w", i, err)
		}
		for j := range int64(len(pcm) / ch) {
			at := int64(i)*s.u + j
			if at < s0 || at >= s1 {
				continue
			}
			for c := range int64(ch) {
				out[(at-s0)*int64(ch)+c] = float32(pcm[j*int64(ch)+c]) / 32768
			}
		}
	}
	return out, nil
}

// segmentAt returns the segment that holds (or will hold) the packet at
// position target (samples after the pre-skip) and that packet's number,
// starting one if the track has none and can make one; nil if it cannot
// (no way to reopen its source, raw PCM input, packets of varying
// durations, segMax segments in use, the track closed). It never waits.
func (t *Track) segmentAt(target int64) (*segment, int) {
	x, ok := t.Index()
	u := x.Uniform()
	c := &t.segs
	if !ok || u <= 0 || t.cfg.reopen == nil && c.st == nil || t.cfg.live > 0 || x.First() > 0 {
		return nil, 0
	}
	i := int((target + x.PreSkip()) / u)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, 0
	}
	for _, s := range c.segs {
		if e := s.end(); i >= s.first && i < max(e, int(s.want.Load())+segLead) {
			s.mu.Lock()
			usable := i < s.first+len(s.packets) || !s.ended
			s.mu.Unlock()
			if !usable {
				// It ended before i: failed (a source that cannot be
				// opened again, a file mp3.Seek refuses), or at the
				// source's end. Not made again: the seek waits for the
				// track's own encode, as without segments.
				return nil, 0
			}
			return s, i
		}
	}
	if i < segWarm+1 {
		return nil, 0 // at the start: the track's own encode is there at once
	}
	t.sweepLocked(x)
	if len(c.segs) >= segMax {
		return nil, 0
	}
	if c.st != nil && int64(i) >= c.st.packets {
		return nil, 0 // past a stored track's end: the seek waits for the track's own packets, and ends it
	}
	s := &segment{first: i, u: u, more: make(chan struct{}, 1)}
	var fill func(ctx context.Context) error
	if c.st != nil {
		// A stored track: its own records, read from its blob at the
		// target's block, from the pre-roll before the target on, as a
		// copied segment's.
		s.first, s.same = copiedFirst(i, u), true
		fill = func(ctx context.Context) error { return t.copyStored(ctx, s) }
	} else {
		src, _, ok := catcher.StateOf[codec.Source](t.c)
		if !ok {
			return nil, 0
		}
		switch src.Kind {
		case codec.KindOggOpus, codec.KindWebM:
			if t.cfg.filtered() {
				// Its own packets are not the track's: decoded,
				// filtered and encoded (see segment_filter.go).
				fill = func(ctx context.Context) error { return t.encodeOpusSegment(ctx, s, x, src.Kind) }
				break
			}
			s.first, s.same = copiedFirst(i, u), true
			fill = func(ctx context.Context) error { return t.copySegment(ctx, s, src.Kind) }
		case codec.KindMP3, codec.KindWAV, codec.KindFLAC:
			if src.Format.Rate <= 0 {
				return nil, 0
			}
			fill = func(ctx context.Context) error { return t.encodeSegment(ctx, s, x, src) }
		default:
			return nil, 0 // raw PCM: nothing to find a position in but a read from the start
		}
	}
	ctx, cancel := context.WithCancel(t.ctx)
	s.cancel = cancel
	s.want.Store(int64(i))
	c.segs = append(c.segs, s)
	c.made.Add(1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer cancel()
		s.finish(fill(ctx))
	}()
	return s, i
}

// copiedFirst is the first packet of a copied segment whose target is
// packet i, of u samples: the packets from the pre-roll before the target
// on, so that a decoder given them from there has converged.
func copiedFirst(i int, u int64) int { return max(i-int((opus.PreRoll+u-1)/u), 0) }

// sweepLocked drops the segments no player is on whose end the track's
// encode has passed (or that ended with an error).
func (t *Track) sweepLocked(x framed.Index) {
	c := &t.segs
	c.segs = slices.DeleteFunc(c.segs, func(s *segment) bool {
		if s.users.Load() > 0 {
			return false
		}
		s.mu.Lock()
		gone := s.ended && (x.Packets() >= s.first+len(s.packets) || x.Done())
		s.mu.Unlock()
		if gone {
			s.cancel()
			c.bytes.Add(-s.size.Load())
		}
		return gone
	})
}

// leaveSegment is a player's leaving s: the track drops the segments it
// no longer needs.
func (t *Track) leaveSegment(s *segment) {
	if s.users.Add(-1) == 0 {
		select { // its encode, waiting for a player to need more, sees it has none
		case s.more <- struct{}{}:
		default:
		}
	}
	x, _ := t.Index()
	c := &t.segs
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		t.sweepLocked(x)
	}
}

// closeSegments stops the segments' encodes, waits for them, and drops
// the segments.
func (t *Track) closeSegments() {
	c := &t.segs
	c.mu.Lock()
	c.closed = true
	for _, s := range c.segs {
		s.cancel()
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.mu.Lock()
	c.segs = nil
	c.bytes.Store(0)
	c.mu.Unlock()
}

// segmentEncoder is a new encoder for a segment of the track, whose
// index is x: the track's, whose packets must have the track's pre-skip.
func (t *Track) segmentEncoder(x framed.Index) (encoder, error) {
	enc, err := newEncoder(t.cfg)
	if err != nil {
		return nil, err
	}
	if enc.PreSkip() != x.PreSkip() {
		return nil, fmt.Errorf("%w: the encoder's pre-skip is %d, the track's %d", errNoSegment, enc.PreSkip(), x.PreSkip())
	}
	return enc, nil
}

// encodeSegment encodes segment s of the track, whose index was x when it
// was asked for, from its source (of kind and format src) opened again;
// see the top of this file.
func (t *Track) encodeSegment(ctx context.Context, s *segment, x framed.Index, src codec.Source) error {
	enc, err := t.segmentEncoder(x)
	if err != nil {
		return err
	}
	// The encoder's first input, and where the source is read from: q0
	// at its rate, P0 at 48 kHz, the same instant. A filtered track's
	// encoder input is the filters' output: the source is read from the
	// 48 kHz sample at48 whose filtered audio comes filterWarm samples
	// before start (see filteredInput).
	start := int64(s.first-segWarm) * s.u
	at48 := start
	var fi *filteredInput
	if t.cfg.filtered() {
		if fi, err = t.newFilteredInput(start); err != nil {
			return err
		}
		at48 = fi.from
	}
	rate := int64(src.Format.Rate)
	g := gcd64(rate, opus.SampleRate)
	L, M := opus.SampleRate/g, rate/g
	p0 := max(0, at48-segMargin) / L * L
	q0 := p0 / L * M

	r, closeSource, err := t.openSegmentSource(ctx)
	if err != nil {
		return err
	}
	defer closeSource()
	sl := &slot{pool: t.cfg.pool, ctx: ctx, urgent: func() bool { return true }}
	r = yieldingSeeker(r, sl)
	dec, first, err := seekPCM(src.Kind, r, q0, t.cfg.mp3)
	if err != nil {
		return err
	}
	pcm := catcher.NewTransformReader(r, dec)
	if _, err := io.CopyN(io.Discard, pcm, (q0-first)*int64(src.Format.BytesPerFrame())); err != nil {
		return err
	}
	to := pcmFormat(t.cfg.channels)
	if fi != nil {
		to = fi.format
	}
	conv, err := codec.NewDecoder(to, codec.WithQuality(t.cfg.quality), codec.WithRawInput(src.Format))
	if err != nil {
		return err
	}
	var in io.Reader = catcher.NewTransformReader(pcm, conv)
	if _, err := io.CopyN(io.Discard, in, (at48-p0)*int64(to.BytesPerFrame())); err != nil {
		return err
	}
	if fi != nil {
		if in, err = fi.reader(in, start); err != nil {
			return err
		}
	}
	return t.encodeSegmentPackets(ctx, s, enc, sl, in)
}

// encodeSegmentPackets encodes segment s's packets with enc from in, the
// encoder's input from segWarm packets before s.first's on, the first
// segWarm packets dropped, each in a slot of the pool (sl), as a player
// on it needs them; it ends once the track's own encode is there, or at
// in's end.
func (t *Track) encodeSegmentPackets(ctx context.Context, s *segment, enc encoder, sl *slot, in io.Reader) error {
	ahead := int(seamAhead/s.u) + 2 // the packets a player's way back needs
	for j := 0; ; j++ {
		if j >= segWarm {
			if stop, err := t.awaitSegment(ctx, s, s.first+j-segWarm); stop || err != nil {
				return err
			}
		}
		if j >= segWarm {
			if y, ok := t.Index(); ok && (y.Done() || y.Packets() >= s.first+j-segWarm+ahead) {
				return nil // the track's own encode is there: no one needs more
			}
		}
		if err := sl.take(); err != nil {
			return err
		}
		p, err := enc.NextPacket(in)
		sl.give()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if j >= segWarm {
			s.add(bytes.Clone(p), &t.segs)
		}
	}
}

// openSegmentSource opens the track's source again for a segment, and
// returns it with the function that closes it (if it is an io.Closer),
// which the end of ctx calls too, so that a read that blocks ends.
func (t *Track) openSegmentSource(ctx context.Context) (io.Reader, func(), error) {
	r, err := t.cfg.reopen(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, ok := r.(io.Closer)
	if !ok {
		return r, func() {}, nil
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return r, func() {
		if stop() {
			c.Close()
		}
	}, nil
}

// awaitSegment waits, before segment s makes the track's packet k, until
// a player on it needs it (k within segLead of the furthest packet asked
// for); it reports true instead if no one will: no player is on it and
// the track's own packets are there, or the track has ended.
func (t *Track) awaitSegment(ctx context.Context, s *segment, k int) (bool, error) {
	for k >= int(s.want.Load())+segLead {
		select {
		case <-s.more:
		case <-t.Done():
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if y, ok := t.Index(); ok && (y.Done() || s.users.Load() == 0 && y.Packets() >= k) {
			return true, nil
		}
	}
	return false, nil
}

// copySegment fills segment s of a track whose input is framed as it is
// (Ogg Opus, WebM; kind) with the source's own packets, none decoded,
// from the track's packet s.first on: its source opened again, and the
// packets found by page (Ogg: ogg.SeekOpus bisects the pages' granule
// positions) or by Cues (WebM: webm.Seek) where the source seeks, else
// read from the first. Packet k of the source is the track's packet k,
// the same bytes. It ends once the track's own packets are there, at the
// source's end, or at a packet of another duration than the track's.
func (t *Track) copySegment(ctx context.Context, s *segment, kind codec.Kind) error {
	r, closeSource, err := t.openSegmentSource(ctx)
	if err != nil {
		return err
	}
	defer closeSource()
	x, _ := t.Index()
	next, at, err := locatePackets(kind, r, int64(s.first)*s.u, x.PreSkip())
	if err != nil {
		return err
	}
	// The track's packet number of the first packet: WebM's timestamps
	// are rounded to its timestamp precision (a millisecond as ffmpeg
	// writes them), Ogg's granule positions exact.
	k := int((at + s.u/2) / s.u)
	if d := at - int64(k)*s.u; d > s.u/4 || d < -s.u/4 || k > s.first {
		return fmt.Errorf("%w: the %v source's packets found start at sample %d, not at or before packet %d of %d samples", errNoSegment, kind, at, s.first, s.u)
	}
	return t.copyPackets(ctx, s, k, next, kind.String()+" source")
}

// copyPackets fills segment s with the packets next gives, the track's
// packet k first, byte-equal to the track's own (a copied segment's,
// see copySegment and copyStored; from is what they are read from, for
// errors): those before s.first dropped, each added when a player on it
// needs it (awaitSegment). It ends once the track's own packets are
// there, at next's io.EOF, or at a packet of another duration than the
// track's.
func (t *Track) copyPackets(ctx context.Context, s *segment, k int, next func() ([]byte, error), from string) error {
	for ; ; k++ {
		p, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n, err := opus.PacketSamples(p); err != nil || n != s.u {
			return fmt.Errorf("%w: packet %d of the %s is of %d samples, the track's of %d", errNoSegment, k, from, n, s.u)
		}
		if k < s.first {
			continue
		}
		if stop, err := t.awaitSegment(ctx, s, k); stop || err != nil {
			return err
		}
		if y, ok := t.Index(); ok && (y.Done() || y.Packets() > k) {
			return nil // the track's own packets are there: no one needs more
		}
		s.add(bytes.Clone(p), &t.segs)
	}
}

// copyStored fills segment s of a stored track with its own records from
// the track's packet s.first on, read from its blob at the block that
// holds that packet's record (the index gives its offset), the blocks
// before it not read: through the blob's Stream where it has one (an
// object store, fetching ranges ahead; closed when ctx ends, so that a
// read in progress returns), else by ReadAt, a block at a time. Each
// block is checked against its checksum before any of its records is
// taken, and each record against its index entry (blockReader,
// storedPackets, as the track's cache reads them), so that the segment's
// packets are the very bytes the track's cache will hold, and none that
// failed a check: a block that fails ends the segment with
// ErrCorruptTrack. It shares the track's blob (storedBlob), held open
// while it reads: after the track's Close, or the end of its cache's
// fill, it reads nothing and ends.
func (t *Track) copyStored(ctx context.Context, s *segment) error {
	st, b := t.segs.st, t.segs.blob
	off := st.recordAt(int64(s.first))
	blk := off / st.block
	r := &blockReader{st: st, f: b, next: blk, buf: make([]byte, min(st.block, max(st.data, 1)))}
	if rs := b.stream(st.dataAt+blk*st.block, st.data-blk*st.block); rs != nil {
		r.s = rs
		closeStream := sync.OnceFunc(func() { rs.Close() })
		stop := context.AfterFunc(ctx, closeStream)
		defer func() {
			stop()
			closeStream() // or waits for the AfterFunc's
		}()
	}
	if _, err := io.CopyN(io.Discard, r, off-blk*st.block); err != nil {
		return err
	}
	sp := &storedPackets{st: st, i: int64(s.first)}
	return t.copyPackets(ctx, s, s.first, func() ([]byte, error) { return sp.NextPacket(r) }, "stored track")
}

// locatePackets returns the packets of r, Ogg Opus or WebM (kind) read
// from its start, from one at or before the packet that starts at decoded
// sample want (the pre-skip, preSkip, included, as framed.Index counts),
// and the sample the first starts at: found without reading what comes
// before where r seeks (see copySegment), else from the first packet.
func locatePackets(kind codec.Kind, r io.Reader, want, preSkip int64) (func() ([]byte, error), int64, error) {
	pos := want // Ogg: counted as SeekOpus counts, with the pre-skip
	if kind == codec.KindWebM {
		// webm.Seek goes back by the track's seek pre-roll again: the
		// packets before want are dropped.
		pos = max(want-preSkip, 0)
	}
	d, at, _, err := locateDemuxer(kind, r, pos)
	if err != nil {
		return nil, 0, err
	}
	return func() ([]byte, error) { return d.NextPacket(r) }, at, nil
}

// yieldingSeeker is yielding's reader (see track.go) that can seek if src
// can: a seek that waits for the network (an HTTPSource's before its
// first read) gives the slot back meanwhile, as a read does.
func yieldingSeeker(src io.Reader, s *slot) io.Reader {
	y := &yieldReader{r: src, slot: s}
	if sk, ok := src.(io.Seeker); ok {
		return yieldReadSeeker{y, sk}
	}
	return y
}

type yieldReadSeeker struct {
	*yieldReader
	s io.Seeker
}

func (y yieldReadSeeker) Seek(offset int64, whence int) (int64, error) {
	if !y.slot.held {
		return y.s.Seek(offset, whence)
	}
	y.slot.give()
	n, err := y.s.Seek(offset, whence)
	if terr := y.slot.take(); terr != nil && err == nil {
		err = terr
	}
	return n, err
}

// seekPCM returns a decoder of r, a source of the given kind read from
// its start, that starts at or before source sample q (without decoding
// what comes before where it can), and the sample its output starts at:
// MP3 by a walk over its frame headers (mp3.Seek); WAV by byte, one seek
// past the whole frames before q where r seeks (wav.Seek), else they are
// read and dropped; FLAC by its seek table where r seeks and the stream
// has one (flac.Seek), else decoded from its start. e is the track's MP3
// decoder.
func seekPCM(kind codec.Kind, r io.Reader, q int64, e mp3.Engine) (catcher.Transform, int64, error) {
	switch kind {
	case codec.KindMP3:
		return mp3.Seek(r, q, mp3.WithEngine(e))
	case codec.KindWAV:
		return wav.Seek(r, q)
	case codec.KindFLAC:
		// A source that cannot seek (an HTTP source without ranges)
		// says so at the first Seek, with its offset unchanged.
		if rs, ok := r.(io.ReadSeeker); ok {
			if _, err := rs.Seek(0, io.SeekStart); err == nil {
				d, first, err := flac.Seek(rs, q)
				if !errors.Is(err, flac.ErrNoSeekTable) {
					return d, first, err
				}
				if _, err := rs.Seek(0, io.SeekStart); err != nil {
					return nil, 0, err
				}
			}
		}
		d := flac.NewDecoder()
		if _, err := d.ReadInfo(r); err != nil {
			return nil, 0, err
		}
		return d, 0, nil
	}
	return nil, 0, fmt.Errorf("%w for %v input", errNoSegment, kind)
}

func gcd64(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Players on segments.

// seekSegment moves the player to packet i of the track, played from
// segment s until the track's own encode is there; its first packet is
// a silence frame (a jump without a transition).
func (p *Player) seekSegment(s *segment, i int) {
	p.leaveSegment()
	_ = p.seekTo(i) // the cursor at the segment's next packet, and an ended player revived
	s.users.Add(1)
	p.seg, p.reset = s, true
	s.reach(i)
	p.seam = nil
}

// leaveSegment takes the player off its segment, if it is on one.
func (p *Player) leaveSegment() {
	if s := p.seg; s != nil {
		p.seg = nil
		p.t.leaveSegment(s)
	}
}

// segmentNext gives the player's next packet from its segment, and true;
// or false once the player has gone back onto the track's packets (the
// cursor is then at the packet to give, and a transition into it, if one
// could be made, under way).
func (p *Player) segmentNext() (Packet, error, bool) {
	s, i := p.seg, p.cur.Pos()
	x, _ := p.t.Index()
	if x.Done() && i >= x.Packets() {
		p.leaveSegment() // past the track's end: the cursor says so
		p.cur.Seek(i)
		return Packet{}, nil, false
	}
	if s.same && (x.Done() || i < x.Packets()) {
		// The track's own packet i is there, and it is the segment's (the
		// source's own bytes): back onto the track's packets, with no
		// transition, since nothing changes for the receiver.
		p.leaveSegment()
		p.cur.Seek(i)
		return Packet{}, nil, false
	}
	ahead := !s.same && (x.Done() || x.Packets() >= i+int(seamAhead/s.u)+2)
	data, ok, ended := s.packet(i)
	if ahead && (p.t.cfg.noSeams || int64(i-s.first)*s.u >= segBackTime || !ok) {
		p.leaveSegment()
		p.cur.Seek(i)
		if p.last == i-1 && !p.t.cfg.noSeams {
			p.seam = p.t.backFrom(s, x, i)
			// Without a transition, the track's packet i follows the
			// segment's audio, coded by another encoder: a jump without
			// a transition.
			p.reset = p.seam == nil
		}
		return Packet{}, nil, false
	}
	if !ok && ended && p.t.segs.st != nil && int64(i) >= p.t.segs.st.packets {
		// A stored track's end, which its cache, read at its pace, has
		// not reached: the player ends there (or loops), as at the end of
		// the track's own packets.
		p.leaveSegment()
		p.cur.Seek(i)
		if p.loops != 0 && p.loopBack() {
			return Packet{}, nil, false
		}
		var pk Packet
		err := p.endPacket(&pk, io.EOF)
		return pk, err, true
	}
	if !ok {
		if ended {
			// Failed short of i: the track's own packets, once encoded,
			// after a silence frame in place of the first (a jump
			// without a transition, as above).
			p.leaveSegment()
			p.cur.Seek(i)
			if !s.same { // the track's own bytes follow on from a copied segment's
				p.reset = p.last == i-1 && !p.t.cfg.noSeams
			}
			return Packet{}, nil, false
		}
		p.stats.Underruns++
		return Packet{}, ErrUnderrun, true
	}
	s.reach(i)
	out := Packet{Timestamp: p.ts, Samples: s.u, Position: int64(i)*s.u - x.PreSkip(), Data: data}
	p.cur.Seek(i + 1)
	p.ts += s.u
	if p.reset {
		p.reset = false
		out.Data, out.Silence = silenceOf(s.u), true
		p.last = seamFromSilence
		p.stats.Silence++
		return out, nil, true
	}
	p.last = i // the same audio as the track's packet i
	p.stats.Packets++
	return out, nil, true
}

// backFrom returns the transition from segment s, played to packet i-1,
// onto the track's packet i (encoded once per segment and packet, and
// lent to every player that goes back there), or nil if none can be made.
func (t *Track) backFrom(s *segment, x framed.Index, i int) *seam {
	s.mu.Lock()
	b := s.backs[i]
	made := b == nil
	if made {
		b = &seam{to: i, ready: make(chan struct{})}
		if s.backs == nil {
			s.backs = make(map[int]*seam)
		}
		s.backs[i] = b
	}
	s.mu.Unlock()
	if made {
		func() {
			defer close(b.ready) // even if the encoder panics
			if packets, err := t.encodeTransition(x, s.snapshot(), trackSpan{t, x}, i-1, i); err == nil {
				b.packets = packets
			}
		}()
	} else {
		<-b.ready
	}
	if len(b.packets) == 0 {
		return nil
	}
	return b
}
