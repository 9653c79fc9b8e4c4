package transform

import (
	"fmt"
	"io"
	"math"
)

// Convert is a Transform that changes the sample encoding of a stream; the
// rate and channels stay. It is not safe for concurrent use.
//
// Integer to wider integer or to float is exact. Float to integer scales by
// the full scale (32768 or 8388608), rounds to the nearest step (ties to
// even) and clips to the range; NaN becomes 0. S24LE to S16LE rounds the
// same way. With WithDither, a reduction to S16LE adds TPDF dither before
// rounding to every sample that is not already a step of the output. A conversion to the same encoding copies.
type Convert struct {
	in, out Format
	f       framer
	dither  bool
	tpdf    tpdf
}

// A ConvertOption configures a Convert at NewConvert.
type ConvertOption func(*convertConfig)

type convertConfig struct {
	dither bool
	seed   uint64
}

// WithDither adds triangular (TPDF) dither of plus or minus one step when
// the output is S16LE and the input is S24LE or F32LE; it has no effect on
// other conversions. A sample that is already a 16-bit step (0, digital
// silence, among them) is not dithered: it has no error to spread, and
// silence stays silent. The dither's generator is seeded with seed, so the
// output is the same on every run and whatever the read sizes.
func WithDither(seed uint64) ConvertOption {
	return func(c *convertConfig) { c.dither, c.seed = true, seed }
}

// NewConvert returns a Convert from in to the encoding to. It returns an
// error wrapping ErrFormat if in is not valid or to is unknown.
func NewConvert(in Format, to Encoding, opts ...ConvertOption) (*Convert, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if !to.valid() {
		return nil, fmt.Errorf("%w: unknown encoding %d", ErrFormat, uint8(to))
	}
	var cfg convertConfig
	for _, o := range opts {
		o(&cfg)
	}
	out := in
	out.Encoding = to
	c := &Convert{in: in, out: out, f: newFramer(in.BytesPerFrame(), out.BytesPerFrame())}
	if cfg.dither && to == S16LE && in.Encoding != S16LE {
		c.dither, c.tpdf = true, newTPDF(cfg.seed)
	}
	return c, nil
}

// In returns the input format.
func (c *Convert) In() Format { return c.in }

// Out returns the output format.
func (c *Convert) Out() Format { return c.out }

// MinSpace is one output frame.
func (c *Convert) MinSpace() int { return c.f.out }

// Size is the memory the Convert holds, for catcher.Stats (see
// catcher.Sizer).
func (c *Convert) Size() int64 { return int64(cap(c.f.buf)) }

// Transform reads frames of c.In() from src and writes them as c.Out() into
// dst, following the catcher.Transform contract. Input that ends inside a
// frame ends the stream with an error wrapping ErrPartialFrame, after the
// whole frames.
func (c *Convert) Transform(dst []byte, src io.Reader) (int, error) {
	return c.f.step(dst, src, c)
}

func (c *Convert) process(dst, src []byte) {
	from, to := c.in.Encoding, c.out.Encoding
	ib, ob := from.BytesPerSample(), to.BytesPerSample()
	n := len(src) / ib
	switch {
	case from == to:
		copy(dst, src)
	case from == S16LE && to == S24LE:
		for i := range n {
			putS24(dst[3*i:], getS16(src[2*i:])<<8)
		}
	case from == S16LE && to == F32LE:
		for i := range n {
			putF32(dst[4*i:], float32(getS16(src[2*i:]))*(1.0/scale16))
		}
	case from == S24LE && to == F32LE:
		for i := range n {
			putF32(dst[4*i:], float32(getS24(src[3*i:]))*(1.0/scale24))
		}
	case from == S24LE && to == S16LE && !c.dither:
		for i := range n {
			putS16(dst[2*i:], roundShift8(getS24(src[3*i:])))
		}
	case from == F32LE && to == S16LE:
		var t *tpdf
		if c.dither {
			t = &c.tpdf
		}
		f32ToS16(dst[:2*n], src[:4*n], t)
	default: // to an integer from a wider one or from float
		lo, hi, scale := int32(-scale16), int32(scale16-1), float64(scale16)
		if to == S24LE {
			lo, hi, scale = -scale24, scale24-1, scale24
		}
		for i := range n {
			x := readSample(from, src[ib*i:]) * scale
			if c.dither && !isStep(x) {
				// A sample that is already a step (digital
				// silence among them) has no rounding error to
				// decorrelate: it stays exact.
				x += c.tpdf.next()
			}
			v := quantize(x, lo, hi)
			if to == S24LE {
				putS24(dst[ob*i:], v)
			} else {
				putS16(dst[ob*i:], v)
			}
		}
	}
}

// roundShift8 is v/256 rounded to the nearest integer (ties to even) and
// clipped to 16 bits.
func roundShift8(v int32) int32 {
	q, r := v>>8, v&0xff
	if r > 0x80 || (r == 0x80 && q&1 == 1) {
		q++
	}
	return min(q, math.MaxInt16)
}

// f32ToS16 is the conversion of F32LE samples to S16LE (the general case
// of process, written for this pair): len(dst)/2 samples. If t is not
// nil, its TPDF dither is added to every sample that is not already a
// step, as process does: the same samples dithered, by the same values in
// the same order.
func f32ToS16(dst, src []byte, t *tpdf) {
	n := len(dst) / 2
	src = src[:4*n]
	for i := range n {
		x := float64(getF32(src[4*i:])) * scale16
		if t != nil && !isStep(x) {
			x += t.next()
		}
		putS16(dst[2*i:], quantize(x, -scale16, scale16-1))
	}
}

// isStep reports whether x is an integer: x == math.Trunc(x), inlined. A
// float64 of magnitude 2^52 or more is one (infinities included); NaN is
// not.
func isStep(x float64) bool {
	return math.Abs(x) >= 1<<52 || float64(int64(x)) == x
}
