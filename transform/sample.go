package transform

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// Full scale of the integer encodings: a sample v stands for v/scale.
const (
	scale16 = 1 << 15
	scale24 = 1 << 23
)

func getS16(b []byte) int32 { return int32(int16(binary.LittleEndian.Uint16(b))) }

func getS24(b []byte) int32 {
	_ = b[2]
	return int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
}

func getF32(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

func putS16(b []byte, v int32) { binary.LittleEndian.PutUint16(b, uint16(v)) }

func putS24(b []byte, v int32) {
	_ = b[2]
	b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16)
}

func putF32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }

// quantize rounds x, in units of the integer encoding's step, to the nearest
// integer (ties to even) and clips it to [lo, hi]; NaN becomes 0. Within
// the range, x is rounded by adding and taking away 1.5*2^52, which leaves
// no bits below the units (the addition rounds as the machine does, to the
// nearest, ties to even): math.RoundToEven without its call, exact for
// |x| < 2^51, as every int32 is.
func quantize(x float64, lo, hi int32) int32 {
	const magic = 1.5 * (1 << 52)
	switch {
	case x != x: // NaN
		return 0
	case x >= float64(hi):
		return hi
	case x <= float64(lo):
		return lo
	}
	return int32(float64(x+magic) - magic)
}

// clipUnit clips x to the float full scale [-1, 1]; NaN becomes 0.
func clipUnit(x float64) float64 {
	switch {
	case x != x:
		return 0
	case x > 1:
		return 1
	case x < -1:
		return -1
	}
	return x
}

// maxFloatIn bounds float input samples of the resampler: far beyond full
// scale, yet small enough that no sum of its filter overflows.
const maxFloatIn = 1 << 20

// saneIn returns x clipped to [-maxFloatIn, maxFloatIn], or 0 if x is NaN.
func saneIn(x float32) float32 {
	switch {
	case x != x:
		return 0
	case x > maxFloatIn:
		return maxFloatIn
	case x < -maxFloatIn:
		return -maxFloatIn
	}
	return x
}

// readSample returns the sample at b as a float in full scale.
func readSample(e Encoding, b []byte) float64 {
	switch e {
	case S16LE:
		return float64(getS16(b)) / scale16
	case S24LE:
		return float64(getS24(b)) / scale24
	default:
		return float64(getF32(b))
	}
}

// writeSample stores x, in full scale, at b: rounded and clipped to the
// integer encodings, clipped to [-1, 1] for F32LE.
func writeSample(e Encoding, b []byte, x float64) {
	switch e {
	case S16LE:
		putS16(b, quantize(x*scale16, -scale16, scale16-1))
	case S24LE:
		putS24(b, quantize(x*scale24, -scale24, scale24-1))
	default:
		putF32(b, float32(clipUnit(x)))
	}
}

// tpdf is a triangular-PDF dither source: each value is the difference of
// two uniform values, in (-1, 1) steps of the output. Its generator is
// seeded, so that a stream dithered twice comes out the same. It draws its
// values a block at a time, ahead of their use, so that next is cheap
// enough to be inlined; the values and their order are the generator's.
type tpdf struct {
	rng  rand.PCG
	buf  [tpdfBlock]float64
	used int // buf[used:] are the values to give next
}

// tpdfBlock is the number of dither values drawn at a time.
const tpdfBlock = 64

func newTPDF(seed uint64) tpdf {
	return tpdf{rng: *rand.NewPCG(seed, 0x5eed_d17e_7a11_0b17), used: tpdfBlock}
}

// next returns the next dither value.
func (t *tpdf) next() float64 {
	if t.used == tpdfBlock {
		t.draw()
	}
	v := t.buf[t.used]
	t.used++
	return v
}

// draw fills buf with the generator's next values.
func (t *tpdf) draw() {
	for i := range t.buf {
		u := t.rng.Uint64()
		// Through int64, which both halves fit: the same values,
		// converted without the branch of a uint64's conversion.
		t.buf[i] = (float64(int64(u>>32)) - float64(int64(u&0xffff_ffff))) * (1.0 / (1 << 32))
	}
	t.used = 0
}
