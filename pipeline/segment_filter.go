package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Segments of filtered tracks.
//
// A filtered track's packets are its source's audio as its filters make
// it (see WithFilters): decoded, resampled to 48 kHz float, filtered,
// encoded. A segment of it is made the same way from the target on, the
// filters' state fresh: an encoded segment (MP3, WAV, FLAC input) reads
// its source from the 48 kHz sample whose filtered audio comes filterWarm
// samples before the encoder's first input, filters it with a new
// ChainFilter, and drops what the filters put out before that input, so
// that an equalizer's or a low-pass's state has settled and a timescale
// has made a few of its windows; the encoder is fed from there as for an
// unfiltered track, its packets on the track's grid.
//
// With a timescale, a position p of the filtered audio is where the
// ChainFilter's output reaches p: the source's 48 kHz sample n for which
// OutFrames(n) first reaches p (sourceFrames), about p·speed·rate (the
// Timescale's output lasts 1/(speed·rate) of its input). A fresh
// Timescale started at n puts out its first sample at OutFrames(n), and
// goes on from there at the track's rate; its windows are placed from its
// own start, not the track's, so that its audio is the track's within a
// time-stretch's choices, not sample for sample (the way back onto the
// track is a transition, as for any encoded segment). Time-varying
// filters (tremolo, vibrato, rotation) start their cycle at the segment's
// start: their phase is not the track's there.
//
// Ogg Opus and WebM input with filters, which the track decodes (libopus)
// and encodes again, makes encoded segments too, not copied ones (its
// own packets are the unfiltered audio): the source's packets found from
// a decoder's pre-roll before the filters' start, by page or by Cues
// where the source seeks (as a copied segment's are), else read from the
// first; decoded, filtered and encoded (encodeOpusSegment). A stored
// filtered track's segments are its own records, copied, as any stored
// track's: they are the filtered packets.

// filterWarm is the filtered audio (samples at 48 kHz) that a filtered
// segment's filters put out before its encoder's first input, dropped:
// 100 ms, for their state to settle.
const filterWarm = 4800

// filteredInput is how a filtered segment's encoder input is made: the
// source's 48 kHz float audio from sample from, through a fresh chain of
// the track's filters, whose first output sample is the filtered
// audio's sample out.
type filteredInput struct {
	format transform.Format // F32LE at 48 kHz, the track's channels: the filters' input and output
	cf     *transform.ChainFilter
	from   int64 // the 48 kHz source sample the filters start at
	out    int64 // the filtered audio's sample their first output is
}

// newFilteredInput returns the filtered input of a segment of the track
// whose encoder's first input is the filtered audio's sample start.
func (t *Track) newFilteredInput(start int64) (*filteredInput, error) {
	f := transform.Format{Rate: opus.SampleRate, Channels: t.cfg.channels, Encoding: transform.F32LE}
	cf, err := transform.NewChainFilter(f, t.cfg.filters)
	if err != nil {
		return nil, err
	}
	from := sourceFrames(cf, max(start-filterWarm, 0))
	return &filteredInput{format: f, cf: cf, from: from, out: cf.OutFrames(from)}, nil
}

// reader returns in, the source's audio as fi.format from fi.from on,
// filtered and converted to S16LE (dithered, as the track's own encode
// does), from the filtered audio's sample start on.
func (fi *filteredInput) reader(in io.Reader, start int64) (io.Reader, error) {
	if start < fi.out {
		return nil, fmt.Errorf("%w: the filters' output starts at %d, after the encoder's input at %d", errNoSegment, fi.out, start)
	}
	to16, err := transform.NewConvert(fi.format, transform.S16LE, transform.WithDither(1))
	if err != nil {
		return nil, err
	}
	r := catcher.NewTransformReader(catcher.NewTransformReader(in, fi.cf), to16)
	if _, err := io.CopyN(io.Discard, r, (start-fi.out)*int64(2*fi.format.Channels)); err != nil {
		return nil, err
	}
	return r, nil
}

// frameCounter is what sourceFrames asks of a filter: how many frames it
// puts out for n frames in (transform.ChainFilter's OutFrames).
type frameCounter interface{ OutFrames(n int64) int64 }

// sourceFrames returns the least n for which f.OutFrames(n) >= out: the
// input sample whose output is at out.
func sourceFrames(f frameCounter, out int64) int64 {
	if out <= 0 {
		return 0
	}
	lo, hi := int64(0), out
	for f.OutFrames(hi) < out {
		lo, hi = hi+1, 2*hi+1
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if f.OutFrames(mid) >= out {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// chainScale is a chain's timescale as positions see it: nil for a chain
// without one (positions are the source's).
func chainScale(chain string) (frameCounter, error) {
	c, err := transform.ParseChain(chain)
	if err != nil || c.Timescale == nil {
		return nil, err
	}
	return transform.NewChainFilter(transform.Format{Rate: opus.SampleRate, Channels: 2, Encoding: transform.F32LE},
		transform.Chain{Timescale: c.Timescale})
}

// scalePosition returns pos, a position (samples at 48 kHz) in the audio
// as chain from makes it, as a position in the audio as chain to makes
// it: the same place in the music. Without a timescale on either side it
// is pos; with one, pos goes back to the source's sample whose filtered
// audio is at pos (sourceFrames) and forward through the other's
// OutFrames. Chains ParseChain refuses count as none.
func scalePosition(from, to string, pos int64) int64 {
	if pos <= 0 {
		return 0
	}
	a, _ := chainScale(from)
	b, _ := chainScale(to)
	if a != nil {
		pos = sourceFrames(a, pos)
	}
	if b != nil {
		pos = b.OutFrames(pos)
	}
	return pos
}

// encodeOpusSegment encodes segment s of a filtered track of Ogg Opus or
// WebM input (kind), whose index was x when it was asked for: its source
// opened again, its packets from twice the decoder's pre-roll before the
// filters' start on (locateDemuxer), decoded with libopus (the stream's
// pre-skip honoured, as the track's fill decodes it), filtered
// (filteredInput) and encoded as an MP3's segment is.
func (t *Track) encodeOpusSegment(ctx context.Context, s *segment, x framed.Index, kind codec.Kind) error {
	enc, err := t.segmentEncoder(x)
	if err != nil {
		return err
	}
	start := int64(s.first-segWarm) * s.u
	fi, err := t.newFilteredInput(start)
	if err != nil {
		return err
	}
	r, closeSource, err := t.openSegmentSource(ctx)
	if err != nil {
		return err
	}
	defer closeSource()
	sl := &slot{pool: t.cfg.pool, ctx: ctx, urgent: func() bool { return true }}
	r = yieldingSeeker(r, sl)
	d, at, found, err := locateDemuxer(kind, r, max(fi.from-2*opus.PreRoll, 0))
	if err != nil {
		return err
	}
	pd, err := newPacketDecoder(t.cfg.channels)
	if err != nil {
		return err
	}
	// The decoded audio from the filters' start: the demuxer's first
	// packet starts at sample at of the decoded stream, the pre-skip
	// included; one read from the first has the pre-skip dropped by
	// opusPCM, and fi.from samples to drop after it.
	o := &opusPCM{src: d, dec: pd, ch: t.cfg.channels, skip: -1, end: -1}
	drop := fi.from
	if found {
		if o.skip, drop = fi.from+d.PreSkip()-at, 0; o.skip < 0 {
			return fmt.Errorf("%w: the %v source's packets found start at sample %d, after %d", errNoSegment, kind, at, fi.from+d.PreSkip())
		}
	}
	toF, err := transform.NewConvert(pcmFormat(t.cfg.channels), transform.F32LE)
	if err != nil {
		return err
	}
	var in io.Reader = catcher.NewTransformReader(catcher.NewTransformReader(r, o), toF)
	if _, err := io.CopyN(io.Discard, in, drop*int64(fi.format.BytesPerFrame())); err != nil {
		return err
	}
	if in, err = fi.reader(in, start); err != nil {
		return err
	}
	return t.encodeSegmentPackets(ctx, s, enc, sl, in)
}

// locateDemuxer returns a demuxer of r, Ogg Opus or WebM (kind) read from
// its start, whose first packet starts at or before position pos (after
// the pre-skip), found without reading what comes before where r seeks
// (Ogg: by page, ogg.SeekOpus; WebM: by Cues, webm.Seek, which goes back
// by its seek pre-roll again), with the sample that packet starts at (the
// pre-skip included) and found; else (r does not seek, a WebM file
// without Cues) a demuxer of r from its first packet, found false.
func locateDemuxer(kind codec.Kind, r io.Reader, pos int64) (d framed.PacketSource, at int64, found bool, err error) {
	rs, seeks := r.(io.ReadSeeker)
	if seeks {
		// A source that cannot seek (an HTTP source without ranges) says
		// so at the first Seek, with its offset unchanged.
		_, err := rs.Seek(0, io.SeekStart)
		seeks = err == nil
	}
	switch kind {
	case codec.KindOggOpus:
		if seeks {
			// pos counted as SeekOpus counts, with the pre-skip: a
			// packet at or before it is at or before pos after it.
			d, at, err := ogg.SeekOpus(rs, pos)
			return d, at, err == nil, err
		}
		return ogg.NewOpusDemuxer(), 0, false, nil
	case codec.KindWebM:
		if seeks {
			d, at, err := webm.Seek(rs, opus.Duration(pos))
			if err == nil {
				return d, at, true, nil
			}
			if !errors.Is(err, webm.ErrNoCues) {
				return nil, 0, false, err
			}
			if _, err := rs.Seek(0, io.SeekStart); err != nil {
				return nil, 0, false, err
			}
		}
		return webm.NewOpusDemuxer(), 0, false, nil
	}
	return nil, 0, false, fmt.Errorf("%w for %v input", errNoSegment, kind)
}
