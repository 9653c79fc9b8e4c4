package transform

import (
	"fmt"
	"io"
	"math"
)

// Gain is a Transform that multiplies every sample by a constant factor;
// the format stays. Results beyond full scale are clipped: to the integer
// range for S16LE and S24LE, to [-1, 1] for F32LE (where NaN input becomes
// 0). Integer results are rounded to the nearest step (ties to even). It is
// not safe for concurrent use.
type Gain struct {
	format Format
	gain   float64
	f      framer
}

// DB returns the linear factor of a gain of db decibels: 10^(db/20).
func DB(db float64) float64 { return math.Pow(10, db/20) }

// NewGain returns a Gain by the linear factor gain (use DB for a gain in
// decibels). It returns an error wrapping ErrFormat if f is not valid or
// gain is negative, infinite or NaN.
func NewGain(f Format, gain float64) (*Gain, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if !(gain >= 0) || math.IsInf(gain, 1) {
		return nil, fmt.Errorf("%w: gain %v", ErrFormat, gain)
	}
	n := f.BytesPerFrame()
	return &Gain{format: f, gain: gain, f: newFramer(n, n)}, nil
}

// Format returns the format of the input and of the output.
func (g *Gain) Format() Format { return g.format }

// Factor returns the linear gain.
func (g *Gain) Factor() float64 { return g.gain }

// MinSpace is one frame.
func (g *Gain) MinSpace() int { return g.f.out }

// Size is the memory the Gain holds (see catcher.Sizer).
func (g *Gain) Size() int64 { return int64(cap(g.f.buf)) }

// Transform reads frames from src and writes them, scaled, into dst,
// following the catcher.Transform contract. Input that ends inside a frame
// ends the stream with an error wrapping ErrPartialFrame, after the whole
// frames.
func (g *Gain) Transform(dst []byte, src io.Reader) (int, error) {
	return g.f.step(dst, src, g)
}

func (g *Gain) process(dst, src []byte) {
	e := g.format.Encoding
	switch e {
	case S16LE:
		for i := 0; i+2 <= len(src); i += 2 {
			putS16(dst[i:], quantize(float64(getS16(src[i:]))*g.gain, -scale16, scale16-1))
		}
	case S24LE:
		for i := 0; i+3 <= len(src); i += 3 {
			putS24(dst[i:], quantize(float64(getS24(src[i:]))*g.gain, -scale24, scale24-1))
		}
	default:
		for i := 0; i+4 <= len(src); i += 4 {
			putF32(dst[i:], float32(clipUnit(float64(getF32(src[i:]))*g.gain)))
		}
	}
}
