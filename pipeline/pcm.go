package pipeline

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// PCMReader reads a Track as PCM, for consumers that want samples (local
// playback, mixing): the track's Opus packets decoded from any position,
// the pre-roll of RFC 7845 done (decoding starts 80 ms before the
// position and that output is dropped, so the decoder has converged by
// it) and the pre-skip and end trimming honoured. A read ahead of the
// encoding waits for it. Each PCMReader decodes for itself (tens of
// kilobytes of state); the track is still encoded once.
//
// A PCMReader belongs to one goroutine at a time.
type PCMReader struct {
	t   *Track
	f   transform.Format
	q   transform.Quality
	ctx context.Context
	pos int64 // the position at the last seek, at 48 kHz

	// The decoding chain from pos, and its output: pending is decoded
	// and not yet returned; read is what was returned since pos; total is
	// the output's exact length once known (the track finished), or -1.
	r       io.Reader
	cr      *catcher.Reader
	pending []byte
	read    int64
	total   int64
	err     error // the chain's end, once it has ended
	closed  bool
}

// PCMOption configures a PCMReader.
type PCMOption func(*PCMReader)

// WithPCMFormat sets the output's format: 48000 Hz (the default) or any
// other rate, which is then resampled (with the track's resampler
// preset); 1 or 2 channels (the track's by default); S16LE (the default)
// or F32LE.
func WithPCMFormat(f transform.Format) PCMOption { return func(r *PCMReader) { r.f = f } }

// WithPCMContext sets a context that ends a read waiting for the encoding.
func WithPCMContext(ctx context.Context) PCMOption { return func(r *PCMReader) { r.ctx = ctx } }

// NewPCMReader returns a reader of the track's samples from its start.
// Errors (a format it cannot give) wrap transform.ErrFormat.
func (t *Track) NewPCMReader(opts ...PCMOption) (*PCMReader, error) {
	r := &PCMReader{t: t, f: pcmFormat(t.cfg.channels), q: t.cfg.quality, ctx: context.Background(), total: -1}
	for _, o := range opts {
		o(r)
	}
	if err := r.f.Validate(); err != nil {
		return nil, err
	}
	if r.f.Rate == 0 || r.f.Channels > 2 || r.f.Encoding == transform.S24LE {
		return nil, fmt.Errorf("%w: PCM of a track is 1 or 2 channels, s16le or f32le, at a known rate, not %v", transform.ErrFormat, r.f)
	}
	return r, nil
}

// Format returns the output's format.
func (r *PCMReader) Format() transform.Format { return r.f }

// Seek sets the position of the next read to d from the track's start
// (after the pre-skip). A position past a finished track's end reads
// io.EOF; one past what is encoded waits for the encoding.
func (r *PCMReader) Seek(d time.Duration) {
	r.SeekSample(opus.Samples(max(d, 0)))
}

// SeekSample is Seek to sample n at 48 kHz.
func (r *PCMReader) SeekSample(n int64) {
	r.drop()
	r.pos = max(n, 0)
}

// Position returns the position of the next sample read, from the track's
// start.
func (r *PCMReader) Position() time.Duration {
	return opus.Duration(r.pos + r.read*opus.SampleRate/int64(r.f.Rate))
}

// drop forgets the decoding chain, to be built again at the position.
func (r *PCMReader) drop() {
	r.r, r.pending, r.read, r.total, r.err = nil, r.pending[:0], 0, -1, nil
	if r.cr != nil {
		r.cr.Close()
		r.cr = nil
	}
}

// holdback is how many samples at 48 kHz the reader keeps back while the
// length of a track it encodes is unknown: the most that its end trimming
// can cut (a packet of 120 ms, the encoder's pre-skip and padding).
const holdback = opus.MaxPacketSamples + 960 + 312

// oggHoldback is the same for Ogg Opus input, framed as it is, whose end
// trimming cuts within its last page: a second (what opusenc and
// libopusenc put on a page at most) and a packet. An Ogg file with longer
// pages, trimmed by more than that, can be read past its true end while
// it is being loaded; read after the load, it is exact. WebM input takes
// it too: its DiscardPadding trims its last block, which muxers write
// with one packet.
const oggHoldback = opus.SampleRate + opus.MaxPacketSamples

// Read reads samples: whole frames of Format. It follows io.Reader. While
// the track is being encoded, the last 140 ms decoded are kept back until
// the track's exact end is known.
func (r *PCMReader) Read(p []byte) (int, error) {
	bpf := r.f.BytesPerFrame()
	switch {
	case r.closed:
		return 0, errReaderClosed
	case len(p) < bpf:
		return 0, io.ErrShortBuffer
	}
	if r.r == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	for {
		have := int64(len(r.pending) / bpf)
		allowed := have
		switch {
		case r.total >= 0:
			allowed = max(0, min(have, r.total-r.read))
		case r.err == nil:
			allowed = max(0, have-r.outFrames(r.holdback()))
		}
		if allowed > 0 || r.err != nil {
			n := copy(p[:len(p)/bpf*bpf], r.pending[:allowed*int64(bpf)])
			r.pending = r.pending[:copy(r.pending, r.pending[n:])]
			r.read += int64(n / bpf)
			if n > 0 {
				return n, nil
			}
			return 0, r.err
		}
		if err := r.decodeMore(); err != nil {
			return 0, err
		}
	}
}

// decodeMore appends the chain's next output to pending; at its end it
// learns the exact total, if the track finished.
func (r *PCMReader) decodeMore() error {
	const chunk = 16 << 10
	if cap(r.pending)-len(r.pending) < chunk {
		r.pending = append(make([]byte, 0, len(r.pending)+4*chunk), r.pending...)
	}
	n, err := r.r.Read(r.pending[len(r.pending) : len(r.pending)+chunk])
	r.pending = r.pending[:len(r.pending)+n]
	if err == nil {
		return nil
	}
	r.err = err
	if r.total < 0 {
		// The framed stream ended, so the track did: its index is final.
		// A track that ended with an error has a length too, never more
		// than its packets give, and exact where its source knew it (the
		// first link of a chained Ogg file, ended by ogg.ErrChained).
		if x, ok := r.t.Index(); ok && (x.Done() || err != io.EOF && r.t.c.Finished()) {
			r.total = r.outFrames(max(0, x.DurationSamples()-r.pos))
		}
	}
	return nil
}

func (r *PCMReader) holdback() int64 {
	if src, _, ok := catcher.StateOf[codec.Source](r.t.c); ok && (src.Kind == codec.KindOggOpus || src.Kind == codec.KindWebM) {
		return oggHoldback
	}
	return holdback
}

// outFrames is the output frames of n samples at 48 kHz.
func (r *PCMReader) outFrames(n int64) int64 {
	return (n*int64(r.f.Rate) + opus.SampleRate - 1) / opus.SampleRate
}

// open builds the decoding chain at the position: the packet to start
// from, with the pre-roll, found in the index (waiting for it as needed).
func (r *PCMReader) open() error {
	c := r.t.c
	var x framed.Index
	for {
		var ok bool
		x, _, ok = catcher.StateOf[framed.Index](c)
		i, _ := x.DecodeFrom(r.pos)
		if ok && (i < x.Packets() || x.Done()) {
			break
		}
		if c.Finished() {
			if err := c.Err(); err != nil {
				return err
			}
			break
		}
		if err := c.WaitFor(r.ctx, x.End()); err != nil {
			return err
		}
	}
	i, drop := x.DecodeFrom(r.pos)
	if i >= x.Packets() {
		r.r = eofReader{}
		return nil
	}
	if x.First() > 0 && r.pos+x.PreSkip() < x.Entry(x.First()).Start {
		return fmt.Errorf("%w: position %v, the oldest kept %v", catcher.ErrEvicted, opus.Duration(r.pos),
			opus.Duration(x.Entry(x.First()).Start-x.PreSkip()))
	}
	length := int64(-1)
	if x.Done() {
		length = max(0, x.DurationSamples()-r.pos)
		r.total = r.outFrames(length)
	}
	dec, err := newDecoder(r.f.Channels, drop, length)
	if err != nil {
		return err
	}
	cr := c.NewReader()
	if _, err := cr.Seek(x.Entry(i).Offset, io.SeekStart); err != nil {
		return err
	}
	var src io.Reader = ctxReader{r.ctx, cr}
	stages := []catcher.Transform{dec}
	f48 := pcmFormat(r.f.Channels)
	if r.f.Rate != opus.SampleRate {
		toF, _ := transform.NewConvert(f48, transform.F32LE)
		rs, err := transform.NewResampler(toF.Out(), r.f.Rate, r.q)
		if err != nil {
			cr.Close()
			return err
		}
		stages = append(stages, toF, rs)
		if r.f.Encoding == transform.S16LE {
			to16, _ := transform.NewConvert(rs.Out(), transform.S16LE, transform.WithDither(1))
			stages = append(stages, to16)
		}
	} else if r.f.Encoding == transform.F32LE {
		toF, _ := transform.NewConvert(f48, transform.F32LE)
		stages = append(stages, toF)
	}
	r.cr = cr
	r.r = catcher.NewTransformReader(src, catcher.Chain(stages...))
	return nil
}

// Close releases the reader; later Reads return an error wrapping
// ErrClosed.
func (r *PCMReader) Close() error {
	r.drop()
	r.closed = true
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// ctxReader reads a catcher.Reader with a context.
type ctxReader struct {
	ctx context.Context
	r   *catcher.Reader
}

func (c ctxReader) Read(p []byte) (int, error) { return c.r.ReadContext(c.ctx, p) }
