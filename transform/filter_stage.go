package transform

import (
	"fmt"
	"io"
	"math"
)

// stage is one filter of Lavalink's set, run in place over float frames:
// buf holds whole interleaved frames of the channels the stage was made
// for. Its state carries from one call to the next, so that its output
// does not depend on how the stream is cut into calls. A stage allocates
// nothing once made, and keeps every sample it writes finite.
type stage interface {
	run(buf []float32)
}

// checkFilterFormat returns nil if f is a format the filters accept: F32LE,
// one or two channels, a known rate.
func checkFilterFormat(f Format) error {
	if err := f.Validate(); err != nil {
		return err
	}
	switch {
	case f.Encoding != F32LE:
		return fmt.Errorf("%w: filters take f32le, not %s", ErrFormat, f.Encoding)
	case f.Channels > 2:
		return fmt.Errorf("%w: filters take mono or stereo, not %d channels", ErrFormat, f.Channels)
	case f.Rate == 0:
		return fmt.Errorf("%w: filters need the rate", ErrFormat)
	}
	return nil
}

// checkParam returns an error wrapping ErrFilterParam unless lo <= v <= hi
// (so that NaN is refused).
func checkParam(filter, name string, v, lo, hi float64) error {
	if !(v >= lo && v <= hi) {
		return fmt.Errorf("%w: %s %s is %v (want %v to %v)", ErrFilterParam, filter, name, v, lo, hi)
	}
	return nil
}

// checkParamOpen is checkParam for lo < v <= hi.
func checkParamOpen(filter, name string, v, lo, hi float64) error {
	if !(v > lo && v <= hi) {
		return fmt.Errorf("%w: %s %s is %v (want above %v, at most %v)", ErrFilterParam, filter, name, v, lo, hi)
	}
	return nil
}

// decodeFilterIn reads f32le samples from src into dst, NaN as 0 and
// clipped to full scale, [-1, 1].
func decodeFilterIn(dst []float32, src []byte) {
	for i := range dst {
		x := getF32(src[4*i:])
		switch {
		case x != x:
			x = 0
		case x > 1:
			x = 1
		case x < -1:
			x = -1
		}
		dst[i] = x
	}
}

// encodeFilterOut writes samples as f32le, clipped to full scale (NaN, which
// no stage writes, as 0).
func encodeFilterOut(dst []byte, src []float32) {
	for i, x := range src {
		switch {
		case x != x:
			x = 0
		case x > 1:
			x = 1
		case x < -1:
			x = -1
		}
		putF32(dst[4*i:], x)
	}
}

// Filter is a Transform that runs filters of Lavalink's set over F32LE
// PCM, mono or stereo, each input frame making one output frame: one
// filter as made by NewVolume, NewEqualizer and the others, or the filters
// of a Chain without a timescale. The format stays.
//
// Input samples are read with NaN as 0 and clipped to full scale, [-1, 1];
// the filters compute in float and output is clipped to full scale. It is
// not safe for concurrent use.
type Filter struct {
	format Format
	stages []stage
	x      []float32 // one block of frames, scratch
	f      framer
}

func newFilter(f Format, stages ...stage) *Filter {
	n := f.BytesPerFrame()
	return &Filter{format: f, stages: stages, x: make([]float32, blockFrames*f.Channels), f: newFramer(n, n)}
}

// Format returns the format of the input and of the output.
func (p *Filter) Format() Format { return p.format }

// OutFrames returns n: a Filter writes one frame for each frame it reads.
func (p *Filter) OutFrames(n int64) int64 { return n }

// MinSpace is one frame.
func (p *Filter) MinSpace() int { return p.f.out }

// Size is the memory the Filter holds (see catcher.Sizer).
func (p *Filter) Size() int64 { return int64(cap(p.f.buf) + 4*cap(p.x)) }

// Transform reads frames from src and writes them, filtered, into dst,
// following the catcher.Transform contract. Input that ends inside a frame
// ends the stream with an error wrapping ErrPartialFrame, after the whole
// frames.
func (p *Filter) Transform(dst []byte, src io.Reader) (int, error) {
	return p.f.step(dst, src, p)
}

func (p *Filter) process(dst, src []byte) {
	x := p.x[:len(src)/4]
	decodeFilterIn(x, src)
	for _, s := range p.stages {
		s.run(x)
	}
	encodeFilterOut(dst, x)
}

// finite returns v, or 0 if v is NaN or infinite.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
