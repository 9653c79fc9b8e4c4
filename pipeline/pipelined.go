package pipeline

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// A pipelined transcode runs a track's decoding on a goroutine of its
// own, beside the track's fill, which encodes: so a track that decodes
// and encodes (MP3, FLAC, WAV, raw PCM, filtered Ogg Opus or WebM) uses
// two cores where it has them.
//
//	source ──> decode goroutine ──> queue of pipeFrames ──> fill: the Opus
//	           (decoder, resampler,  PCM buffers, handed     encoder, the
//	           filters, dither)      back when encoded        Framer, the cache
//
// The encoder reads the same PCM, byte for byte and in reads of the same
// sizes, as it reads from the decoding chain when the track runs serially,
// so its packets are the same bytes. A source's error comes after the PCM
// decoded before it, where the encoder meets it serially. The buffers are
// made once: nothing is allocated per frame that the serial transcode
// does not allocate too (the decoding chain's state, taken with each
// buffer).
//
// A track is pipelined if WithPipelined allows it (the default), it is
// neither live nor paced (those encode in real time: a second core would
// wait), GOMAXPROCS is more than 1, and its Pool has two slots free, no
// track waiting, when the input turns out to need decoding. Each side then
// takes a slot of the pool for each of its steps (a buffer decoded, a
// packet encoded) and gives it back after, as a serial track does for a
// packet, so the pool still bounds the whole, and a track that a listener
// waits on still goes first: when slots are short, the two sides go by
// turns. Neither side holds a slot while it waits for the other, nor while
// the source's Read blocks.
//
// The first buffer, one frame, is decoded by the fill itself, as serially,
// so the first packet comes no later; the decode goroutine starts after
// that packet is out.
//
// The decoding reads the source itself, not through the cache (whose fill
// counts what it reads), by way of a handoff reader switched at build.
// Track.Close waits for the decode goroutine: it ends at the track's
// cancel (a wait for a slot or for a free buffer), or when its source
// Read returns, which the cache's Close makes it do by closing the source
// (the stall watchdog's Close does at once, whatever the source).

// pipeFrames is the number of PCM buffers between the two sides: one the
// decoding fills, one the encoder reads, and two queued, enough to cover
// the jitter of one side's steps against the other's.
const pipeFrames = 4

// pipeSpan is the audio a buffer holds, in whole frames (at least one):
// three 20 ms frames, so that a hand-over's cost (the decode goroutine's
// wake, once the queue is full, at each buffer the encoder gives back) is
// spread over a few hundred microseconds of decoding. The first buffer,
// decoded by the fill, holds one frame.
const pipeSpan = 60 * time.Millisecond

// WithPipelined allows (the default) or forbids a pipelined transcode of
// the track: its decoding, resampling and filters on a goroutine of their
// own, its encoding in its fill, when more than one core is free (see
// Pool). Its packets are the same bytes either way. A pipelined track
// takes about the same CPU in all when the machine has a core free for
// it, in less time (the decoding is about a quarter of an MP3 track's
// work: bench/README.md, "Transcode"); on a machine whose other work
// leaves no core free, it takes more CPU and no less time. Forbid it to
// keep each track on one core at a time (a service that encodes many
// tracks at once gains nothing from it), or to compare the two.
func WithPipelined(on bool) TrackOption { return func(c *trackConfig) { c.noPipeline = !on } }

// pipelines reports whether the track, whose input is decoded and encoded,
// runs its transcode pipelined (see the top of this file).
func (t *Track) pipelines() bool {
	return !t.cfg.noPipeline && t.cfg.live == 0 && pacingOf(t.cfg) == nil &&
		runtime.GOMAXPROCS(0) > 1 && t.cfg.pool.spare()
}

// handoff is the reader a track's decoding reads its input through: the
// fill's reader (the cache's) while the input is detected, then, for a
// pipelined transcode, the track's source itself (Track.src), which the
// decode goroutine may read. It is switched by the fill, before the
// goroutine starts.
type handoff struct{ r io.Reader }

func (h *handoff) Read(p []byte) (int, error) { return h.r.Read(p) }

// pcmBuffer is one buffer of PCM handed from the decoding to the encoder.
type pcmBuffer struct {
	buf   []byte
	n     int   // bytes of PCM in buf
	err   error // after buf[:n]: the decoding's end (io.EOF) or error; nil if it goes on
	state any   // the decoding chain's state after it
	size  int64 // the decoding chain's memory after it (catcher.Sizer)
}

// pipelined is the Transform of a pipelined transcode: the decoding
// stages (pre) on the decode goroutine, the encoder's Framer (last) in
// the fill. Its State is a catcher.ChainState of the decoding's (as of the
// latest buffer the encoder has taken, ahead of the packets as a Chain's
// earlier stage is) and the Framer's.
//
// The fields under "fill" are the fill's alone; "decoder", the decode
// goroutine's (the fill's until it starts); the channels hand the buffers
// over, each owned by one side at a time.
type pipelined struct {
	t          *Track
	pre        catcher.Transform // the decoding stages (a Chain of them if more than one)
	last       catcher.Transform // the Framer of the encoder's packets
	frameBytes int               // PCM the encoder reads for a packet
	bufBytes   int               // the size of each buffer: whole frames
	in         io.Reader         // pre's input (set before the first Transform)

	full chan *pcmBuffer // decoded, in order; its capacity holds every buffer, so a send never blocks
	free chan *pcmBuffer // read by the encoder, to be filled again
	ctx  context.Context // the track's: Close ends every wait
	done <-chan struct{} // the cache's Done: the stream ended (the fill's error, MaxBytes) or closed

	// decoder
	rd   io.Reader // pre run over in
	slot slot      // the decode goroutine's slot of the pool

	// fill
	started  bool       // the decode goroutine runs
	cur      *pcmBuffer // the buffer the encoder reads; nil before the first and after the last
	end      error      // the decoding's end or error, once the encoder has read to it
	r        int        // cur.buf[r:cur.n] is not read yet
	preState any
	preSize  int64
}

// newPipelined returns the pipelined transcode of t: pre decodes the
// input into the encoder's PCM, last frames the encoder's packets.
func (t *Track) newPipelined(pre []catcher.Transform, last catcher.Transform) *pipelined {
	frameBytes := int(opus.Samples(t.cfg.frame)) * t.cfg.channels * 2
	per := max(1, int(pipeSpan/t.cfg.frame))
	dec := pre[0]
	if len(pre) > 1 {
		dec = catcher.Chain(pre...)
	}
	p := &pipelined{
		t: t, pre: dec, last: last, frameBytes: frameBytes, bufBytes: per * frameBytes,
		full: make(chan *pcmBuffer, pipeFrames), free: make(chan *pcmBuffer, pipeFrames),
		ctx: t.ctx, done: t.c.Done(),
		slot: slot{pool: t.cfg.pool, ctx: t.ctx, urgent: t.urgent},
	}
	for range pipeFrames {
		p.free <- getPCMBuffer(p.bufBytes)
	}
	return p
}

// spareMax bounds the bytes of PCM buffers kept for the transcodes to
// come: two tracks' at 48 kHz stereo.
const spareMax = 2 * pipeFrames * 11520

// spare keeps the buffers of the pipelined transcodes that have ended,
// up to spareMax bytes, for those that start, so that a track's buffers
// are not garbage. (A sync.Pool would drop them at each collection, and
// a track's encode makes one.)
var spare struct {
	mu    sync.Mutex // guards bufs and bytes
	bufs  []*pcmBuffer
	bytes int
}

// getPCMBuffer returns a buffer of n bytes: a spare one if one is that
// large.
func getPCMBuffer(n int) *pcmBuffer {
	spare.mu.Lock()
	for i := len(spare.bufs) - 1; i >= 0; i-- {
		if f := spare.bufs[i]; cap(f.buf) >= n {
			spare.bufs = append(spare.bufs[:i], spare.bufs[i+1:]...)
			spare.bytes -= cap(f.buf)
			spare.mu.Unlock()
			f.buf = f.buf[:n]
			return f
		}
	}
	spare.mu.Unlock()
	return &pcmBuffer{buf: make([]byte, n)}
}

// putPCMBuffer keeps f, if there is room, for getPCMBuffer.
func putPCMBuffer(f *pcmBuffer) {
	*f = pcmBuffer{buf: f.buf}
	spare.mu.Lock()
	defer spare.mu.Unlock()
	if spare.bytes+cap(f.buf) <= spareMax {
		spare.bufs = append(spare.bufs, f)
		spare.bytes += cap(f.buf)
	}
}

// release gives the buffers back (putPCMBuffer) once the decoding has
// ended: the encoder has read its last buffer, after which the decode
// goroutine touches none.
func (p *pipelined) release() {
	for {
		select {
		case f := <-p.free:
			putPCMBuffer(f)
		default:
			putPCMBuffer(p.cur)
			p.cur = nil
			return
		}
	}
}

// MinSpace is the Framer's.
func (p *pipelined) MinSpace() int { return p.last.MinSpace() }

// Transform writes the encoder's next packet, as a record, into dst,
// following the catcher.Transform contract (the Framer's).
func (p *pipelined) Transform(dst []byte, _ io.Reader) (int, error) {
	return p.last.Transform(dst, (*pipeReader)(p))
}

// State is the decoding's state beside the Framer's (see pipelined).
func (p *pipelined) State() any {
	var last any
	if s, ok := p.last.(catcher.Stater); ok {
		last = s.State()
	}
	return catcher.ChainState{p.preState, last}
}

// Size is the memory of the two sides and of the buffers between them
// (see catcher.Sizer).
func (p *pipelined) Size() int64 {
	n := p.preSize + int64(pipeFrames*p.bufBytes)
	if s, ok := p.last.(catcher.Sizer); ok {
		n += s.Size()
	}
	return n
}

// pipeReader is the encoder's input: the decoded PCM, buffer after
// buffer. Only the fill reads it.
type pipeReader pipelined

func (pr *pipeReader) Read(b []byte) (int, error) {
	p := (*pipelined)(pr)
	if p.end != nil {
		return 0, p.end
	}
	for p.cur == nil || p.r == p.cur.n {
		if p.cur != nil {
			if p.cur.err != nil {
				p.end = p.cur.err
				p.release()
				return 0, p.end
			}
			p.free <- p.cur // never blocks: there is room for every buffer
			p.cur = nil
		}
		f, err := p.next()
		if err != nil {
			return 0, err
		}
		p.cur, p.r, p.preState, p.preSize = f, 0, f.state, f.size
	}
	n := copy(b, p.cur.buf[p.r:p.cur.n])
	p.r += n
	return n, nil
}

// next returns the next buffer of PCM: decoded here if it is the first,
// else by the decode goroutine, waited for without the fill's slot. The
// goroutine starts at the second, once the first packet is out: so it
// takes no core from the first packet's encoding, nor from the listener
// it wakes.
func (p *pipelined) next() (*pcmBuffer, error) {
	if p.rd == nil {
		f := <-p.free
		p.rd = catcher.NewTransformReader(p.in, p.pre)
		p.decode(f, p.frameBytes) // one frame: the first packet waits for no more
		return f, nil
	}
	if !p.started {
		p.start()
	}
	select {
	case f := <-p.full:
		return f, nil
	default:
	}
	enc := &p.t.slot
	held := enc.held
	if held {
		enc.give()
	}
	var f *pcmBuffer
	var err error
	select {
	case f = <-p.full:
	case <-p.ctx.Done():
		err = p.ctx.Err()
	case <-p.done:
		err = catcher.ErrClosed
	}
	if held {
		if terr := enc.take(); terr != nil && err == nil {
			err = terr
		}
	}
	return f, err
}

// start starts the decode goroutine; the source's reads yield its slot
// from now on, not the fill's.
func (p *pipelined) start() {
	p.started = true
	p.t.src.slot = &p.slot
	p.t.pipes.Add(1)
	p.t.piped.Store(true)
	go p.run()
}

// run is the decode goroutine: it fills each free buffer in turn, in a
// slot of the pool, until the decoding ends or fails, the track is
// closed, or its stream has ended (the encoder's error, MaxBytes).
func (p *pipelined) run() {
	defer p.t.pipes.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.done:
			return
		default:
		}
		var f *pcmBuffer
		select {
		case f = <-p.free:
		case <-p.ctx.Done():
			return
		case <-p.done:
			return
		}
		if err := p.slot.take(); err != nil {
			return // closed: the fill's wait ends with the track's cancel
		}
		p.decode(f, len(f.buf))
		p.slot.give()
		end := f.err != nil
		p.full <- f // never blocks: there is room for every buffer
		if end {
			return // and touches no buffer again (see release)
		}
	}
}

// decode fills f with up to n bytes (whole frames) from the decoding
// chain, a frame's bytes at a time, as the encoder reads them when serial
// (so the chain makes the same calls and the same PCM), up to the chain's
// end or error; then it takes the chain's state and size.
func (p *pipelined) decode(f *pcmBuffer, n int) {
	f.n, f.err = 0, nil
	for f.n < n && f.err == nil {
		end := f.n + p.frameBytes - f.n%p.frameBytes
		k, err := p.rd.Read(f.buf[f.n:end])
		f.n += k
		f.err = err
	}
	f.state, f.size = nil, 0
	if s, ok := p.pre.(catcher.Stater); ok {
		st, err := safeState(s)
		if err != nil && f.err == nil {
			f.err = err
		}
		f.state = st
	}
	if s, ok := p.pre.(catcher.Sizer); ok {
		f.size = s.Size()
	}
}

// safeState returns s.State(), turning a panic into an error, as the
// cache does for the transform it runs.
func safeState(s catcher.Stater) (st any, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = nil, fmt.Errorf("%w: %T.State panicked: %v", catcher.ErrBadSource, s, r)
		}
	}()
	return s.State(), nil
}
