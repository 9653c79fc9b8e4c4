package mp3

import (
	"fmt"
	"io"
)

// seekRing is how many frames before the one a seek starts at are kept to
// warm the decoder up: enough to refill the largest bit reservoir (511
// bytes) at the lowest bitrate of MPEG-1 (104-byte frames), and the frame
// that primes the synthesis filter's overlap.
const seekRing = 8

// Seek returns a decoder of the MP3 stream src that decodes from the
// frame whose output holds sample (counted as a Decoder reading src from
// its start counts its output: after the start delay it trims), and the
// sample at which its output starts: that frame's first, or 0. Its output
// from there is the whole stream's, sample for sample (to the end
// trimming), so that a decoder started mid-stream and one that read
// everything agree on the position of every sample.
//
// Seek reads src from its start, walking the frames without decoding them
// (a 4-minute file at 128 kbit/s is 4 MB of reading, a few milliseconds
// from a disk; over a network, the download up to sample). It then
// decodes the frames before the one it starts at, and drops their output,
// so that the bit reservoir and the synthesis filter hold what they would
// in continuous play: as many frames as the reservoir needs (three at
// least: two are not enough for MPEG-2's 576-sample frames; eight at
// most). The decoder reads src from there with Transform.
//
// The options are NewDecoder's.
//
// Errors: ReadInfo's; a sample at or past the end of the stream, an
// error wrapping io.EOF; the walk's (a damaged or truncated stream).
func Seek(src io.Reader, sample int64, opts ...Option) (*Decoder, int64, error) {
	d := NewDecoder(opts...)
	if _, err := d.ReadInfo(src); err != nil {
		return nil, 0, err
	}
	skip := d.skip
	f := *d.pending
	d.pending = nil
	spf := int64(f.h.samples())
	target := max(0, sample+skip) / spf // the frame whose raw output holds sample
	var (
		ring [seekRing]frame
		bufs [seekRing][maxFrame]byte
	)
	keep := func(n int64, f frame) {
		k := n % seekRing
		ring[k] = frame{h: f.h, off: f.off, data: bufs[k][:copy(bufs[k][:], f.data)]}
	}
	keep(0, f)
	for n := int64(1); n <= target; n++ {
		var err error
		if f, err = d.nextAudio(); err != nil {
			if err == io.EOF {
				return nil, 0, fmt.Errorf("mp3: seek to sample %d past the end of %d frames: %w", sample, n, io.EOF)
			}
			return nil, 0, err
		}
		if len(d.damage) > 0 {
			return nil, 0, fmt.Errorf("%w: %v, before the sample sought", ErrCorrupt, d.damage)
		}
		keep(n, f)
	}
	// The warm-up: three frames before the target frame (the overlap of
	// the synthesis filter and of the IMDCT), and before them as many as
	// the reservoir of the target and of the two frames before it (whose
	// granules reach into the target's output through the filter banks)
	// reaches back into.
	first := max(target-3, 0)
	if target >= 3 {
		need, own := 0, 0 // bytes needed before frame target-2; main data from target-2 on
		for j := target - 2; j <= target; j++ {
			f := ring[j%seekRing]
			need = max(need, f.h.mainDataBegin(f.data)-own)
			own += f.h.mainDataSize()
		}
		have := 0
		for first = target - 2; first > 0 && target-first < seekRing-1 && have < need; {
			first--
			have += ring[first%seekRing].h.mainDataSize()
		}
		first = min(first, target-3)
	}
	d.frames = first
	d.skip, d.samples = 0, first*spf-skip
	for n := first; n < target; n++ {
		d.decode(ring[n%seekRing])
	}
	d.out, d.outR = d.out[:0], 0
	// From the target frame on, output as the whole stream's: from raw
	// sample target*spf, less the start delay where it falls inside.
	start := target*spf - skip
	d.skip, d.samples = max(0, -start), max(0, start)
	t := ring[target%seekRing]
	d.pending = &frame{h: t.h, off: t.off, data: d.pendBuf[:copy(d.pendBuf[:], t.data)]}
	d.frames = target
	return d, max(0, start), nil
}
