package transform

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// MaxRatio bounds the ratio between the input and output rates of a
// Resampler, either way.
const MaxRatio = 256

// inBlock is the most input frames a Resampler reads in one call.
const inBlock = 4096

// Resampler is a Transform that changes the sample rate of a stream with a
// band-limited (windowed-sinc, polyphase) filter; channels and encoding
// stay. It is not safe for concurrent use.
//
// Output frame k is the input's value at time k/outRate: the filter's delay
// is compensated, and the stream is flushed at its end, so n input frames
// give exactly ceil(n*outRate/inRate) output frames (OutFrames), the first
// aligned with the first input frame. The input before its start and after
// its end is taken as silence.
//
// The filter is computed in float32, in AVX2 and FMA vector instructions
// on amd64 machines that have them (not with the build tag purego). Those
// round differently, so that output can differ in its last bits from one
// machine to another, never from one run to another on a machine. Integer
// output is rounded to the nearest step and clipped; float output is not
// clipped (a band-limited signal may exceed its samples' peak). Float input
// samples are read with NaN as 0 and clipped to plus or minus 2^20, so that
// no input overflows the filter.
//
// For a rate ratio out/in that reduces to L/M (by their greatest common
// divisor), time steps exactly by M/L input frames, and the filter bank has
// one phase for each of the L output phases when that bank is small enough
// (at most 2 MiB); otherwise the coefficients are interpolated linearly
// between the phases of a finer bank (64, 256 or 1024 phases for Fast,
// Medium and High).
type Resampler struct {
	in, out   Format
	q         Quality
	inFrame   int // bytes per input frame
	outFrame  int // bytes per output frame
	taps      int // taps per phase; a multiple of 4
	half      int // taps/2
	exact     bool
	phases    int       // phases in bank (plus one when interpolated)
	bank      []float32 // the filter bank: phase p is bank[p*taps:][:taps]
	coef      []float32 // interpolated phase, scratch
	l, mq, mr int64     // time steps by M/L = mq + mr/l input frames

	// n0 + frac/l is the time of the next output, in input frames.
	n0, frac int64

	// hist[c][i] is channel c of input frame base+i, for i < fill. It
	// starts with taps/2-1 frames of silence, and ends with taps/2 more
	// once the input has ended.
	hist [][]float32
	base int64
	fill int

	raw     []byte // input bytes; raw[:rawHave] is a partial frame
	rawHave int
	frames  int64 // whole input frames read
	eof     bool  // the input has ended (hist is padded)
	end     error // what to return after the last output: io.EOF or why it ended
	done    bool  // end has been returned
}

// NewResampler returns a Resampler from in to the rate outRate, with the
// preset q. It returns an error wrapping ErrFormat if in is not valid, its
// rate is unknown, outRate is out of range, the ratio exceeds MaxRatio, or
// q is unknown.
func NewResampler(in Format, outRate int, q Quality) (*Resampler, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	switch {
	case in.Rate == 0:
		return nil, fmt.Errorf("%w: resampling needs the input rate", ErrFormat)
	case outRate < 1 || outRate > MaxRate:
		return nil, fmt.Errorf("%w: output rate %d Hz (want 1 to %d)", ErrFormat, outRate, MaxRate)
	case in.Rate > outRate*MaxRatio || outRate > in.Rate*MaxRatio:
		return nil, fmt.Errorf("%w: ratio %d:%d beyond %d", ErrFormat, outRate, in.Rate, MaxRatio)
	case q < 0 || q > High:
		return nil, fmt.Errorf("%w: unknown quality %d", ErrFormat, int(q))
	}
	if q == 0 {
		q = Medium
	}
	p := presets[q]
	g := gcd(in.Rate, outRate)
	l, m := int64(outRate/g), int64(in.Rate/g)

	s := min(1, float64(outRate)/float64(in.Rate)) // cutoff as a fraction of the input Nyquist
	taps := int(math.Ceil(float64(p.taps)/s/4)) * 4
	out := in
	out.Rate = outRate
	r := &Resampler{
		in: in, out: out, q: q,
		inFrame: in.BytesPerFrame(), outFrame: out.BytesPerFrame(),
		taps: taps, half: taps / 2,
		l: l, mq: m / l, mr: m % l,
	}
	r.exact = l*int64(taps) <= maxBank
	r.phases = int(l)
	if !r.exact {
		r.phases = p.phases
		r.coef = make([]float32, taps)
	}
	r.bank = banks.get(bankKey{l: l, m: m, q: q}, func() []float32 {
		return makeBank(newKernel(s, r.half, p.beta), taps, r.phases, !r.exact)
	})

	size := taps + inBlock + r.half
	store := make([]float32, in.Channels*size)
	r.hist = make([][]float32, in.Channels)
	for c := range r.hist {
		r.hist[c] = store[c*size : (c+1)*size : (c+1)*size]
	}
	r.base = int64(1 - r.half)
	r.fill = r.half - 1
	r.raw = make([]byte, inBlock*r.inFrame)
	return r, nil
}

// bankKey names a filter bank: the reduced ratio L/M and the preset fix
// everything it is made from.
type bankKey struct {
	l, m int64
	q    Quality
}

// maxBanks is how many filter banks bankCache keeps.
const maxBanks = 8

// bankCache keeps the filter banks made last, so that the Resamplers of
// one ratio and preset (every 44.1 kHz track a Library encodes to 48
// kHz) share one bank, read-only, instead of each computing its own
// (120 KiB to 2 MiB). It keeps at most maxBanks, the least recently used
// dropped first (a Resampler that has one keeps it), so that streams of
// many odd rates cannot make it grow.
type bankCache struct {
	mu   sync.Mutex
	keys [maxBanks]bankKey
	vals [maxBanks][]float32 // most recently used first; nil past the end
}

var banks bankCache

// get returns the bank of k, made by build if the cache does not have it.
func (c *bankCache) get(k bankKey, build func() []float32) []float32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < maxBanks && c.vals[i] != nil && c.keys[i] != k {
		i++
	}
	var b []float32
	if i < maxBanks && c.vals[i] != nil {
		b = c.vals[i]
	} else {
		b = build() // under the lock: two Resamplers of one key make it once
		i = min(i, maxBanks-1)
	}
	copy(c.keys[1:i+1], c.keys[:i])
	copy(c.vals[1:i+1], c.vals[:i])
	c.keys[0], c.vals[0] = k, b
	return b
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// In returns the input format.
func (r *Resampler) In() Format { return r.in }

// Out returns the output format: the input's with the new rate.
func (r *Resampler) Out() Format { return r.out }

// Quality returns the preset.
func (r *Resampler) Quality() Quality { return r.q }

// Taps returns the number of filter taps per output sample (per channel).
func (r *Resampler) Taps() int { return r.taps }

// OutFrames returns the number of frames the Resampler writes for n input
// frames: ceil(n*outRate/inRate).
func (r *Resampler) OutFrames(n int64) int64 {
	m := r.mq*r.l + r.mr
	return n/m*r.l + (n%m*r.l+m-1)/m
}

// MinSpace is one output frame.
func (r *Resampler) MinSpace() int { return r.outFrame }

// Size is the memory the Resampler holds, its filter bank above all (up
// to 2 MiB, shared with the Resamplers of the same ratio and preset, and
// counted by each; see catcher.Sizer).
func (r *Resampler) Size() int64 {
	n := int64(4*(cap(r.bank)+cap(r.coef)) + cap(r.raw))
	for _, h := range r.hist {
		n += int64(4 * cap(h))
	}
	return n
}

// Transform reads frames of r.In() from src and writes the resampled frames
// of r.Out() into dst, following the catcher.Transform contract: it writes
// what the input read so far allows, reading from src at most once a call;
// at the end of src it writes the rest (the filter's tail) and returns
// io.EOF. Input that ends inside a frame ends the stream, after the output
// of the whole frames, with an error wrapping ErrPartialFrame; a source
// error ends it at once.
func (r *Resampler) Transform(dst []byte, src io.Reader) (int, error) {
	if r.done {
		return 0, r.end
	}
	max := len(dst) / r.outFrame
	if max == 0 {
		return 0, shortDst(len(dst), r.outFrame)
	}
	n := r.produce(dst, max)
	if n == 0 && !r.eof {
		if err := r.read(src); err != nil {
			r.done, r.end = true, err
			return 0, err
		}
		n = r.produce(dst, max)
	}
	if r.eof && r.n0 >= r.frames {
		r.done = true
		return n * r.outFrame, r.end
	}
	return n * r.outFrame, nil
}

// read drops the history the next output no longer needs and reads one
// block of input into hist. At the end of the input it pads hist with
// silence. It returns the source's error other than io.EOF.
func (r *Resampler) read(src io.Reader) error {
	if drop := min(int(r.n0+1-int64(r.half)-r.base), r.fill); drop > 0 {
		for _, h := range r.hist {
			copy(h, h[drop:r.fill])
		}
		r.fill -= drop
		r.base += int64(drop)
	}
	frames := min(len(r.hist[0])-r.fill-r.half, inBlock)
	want := frames * r.inFrame
	k, err := src.Read(r.raw[r.rawHave:want])
	if k < 0 || k > want-r.rawHave {
		k, err = 0, badCount(k, want-r.rawHave)
	}
	total := r.rawHave + k
	whole := total / r.inFrame
	r.decode(r.raw[:whole*r.inFrame])
	r.rawHave = copy(r.raw, r.raw[whole*r.inFrame:total])
	if err == nil {
		return nil
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	for _, h := range r.hist {
		clear(h[r.fill : r.fill+r.half])
	}
	r.fill += r.half
	r.eof, r.end = true, io.EOF
	if r.rawHave > 0 {
		r.end = partialFrame(r.rawHave, r.inFrame)
	}
	return nil
}

// decode appends the whole frames in b to hist.
func (r *Resampler) decode(b []byte) {
	n := len(b) / r.inFrame
	chans := len(r.hist)
	for c, h := range r.hist {
		h = h[r.fill : r.fill+n]
		switch r.in.Encoding {
		case S16LE:
			for i := range h {
				h[i] = float32(getS16(b[2*(i*chans+c):])) * (1.0 / scale16)
			}
		case S24LE:
			for i := range h {
				h[i] = float32(getS24(b[3*(i*chans+c):])) * (1.0 / scale24)
			}
		default:
			for i := range h {
				h[i] = saneIn(getF32(b[4*(i*chans+c):]))
			}
		}
	}
	r.fill += n
	r.frames += int64(n)
}

// produce writes up to max output frames into dst, as many as the history
// allows, and returns how many it wrote.
func (r *Resampler) produce(dst []byte, max int) int {
	if stereoFloatPath && len(r.hist) == 2 && r.exact && r.out.Encoding == F32LE {
		return r.produceStereoFloat(dst, max)
	}
	return r.produceAny(dst, max)
}

// stereoFloatPath says whether produce takes produceStereoFloat where it
// can (tests turn it off to compare).
var stereoFloatPath = true

// produceStereoFloat is produceAny for the common case, a track's: stereo
// float output from an exact bank. It computes the same sums and writes
// the same bytes, with the phase, the two windows and the output taken
// without a call or a switch a frame.
func (r *Resampler) produceStereoFloat(dst []byte, max int) int {
	half := int64(r.half)
	limit := r.base + int64(r.fill) - half
	first := 1 - half - r.base
	n0, frac := r.n0, r.frac
	l, mq, mr := r.l, r.mq, r.mr
	t := r.taps
	bank, h0, h1 := r.bank, r.hist[0], r.hist[1]
	dst = dst[:8*max]
	n := 0
	// Two outputs at a time while there is room for both, their sums
	// overlapping (dot2PairVector); the last one alone.
	for useVector && n+1 < max {
		n1, frac1 := advance(n0, frac, mq, mr, l)
		if n1 >= limit {
			break
		}
		s0, s1 := int(n0+first), int(n1+first)
		p0, p1 := int(frac)*t, int(frac1)*t
		y0, y1, z0, z1 := dot2PairVector(bank[p0:p0+t], h0[s0:s0+t], h1[s0:s0+t], bank[p1:p1+t], h0[s1:s1+t], h1[s1:s1+t])
		o := dst[8*n : 8*n+16]
		putF32(o, y0)
		putF32(o[4:], y1)
		putF32(o[8:], z0)
		putF32(o[12:], z1)
		n += 2
		n0, frac = advance(n1, frac1, mq, mr, l)
	}
	for ; n < max && n0 < limit; n++ {
		start := int(n0 + first)
		p := int(frac) * t
		c, a, b := bank[p:p+t], h0[start:start+t], h1[start:start+t]
		var y0, y1 float32
		if useVector { // dot2's choice, without its call: t is a multiple of 4
			y0, y1 = dot2Vector(c, a, b)
		} else {
			y0, y1 = dot2Go(c, a, b)
		}
		o := dst[8*n : 8*n+8]
		putF32(o, y0)
		putF32(o[4:], y1)
		n0, frac = advance(n0, frac, mq, mr, l)
	}
	r.n0, r.frac = n0, frac
	return n
}

// produceAny is produce for every format and bank.
func (r *Resampler) produceAny(dst []byte, max int) int {
	// Output at n0 needs input frames up to n0+half; hist ends at
	// base+fill. Once the input has ended, that is exactly the last
	// output's bound, frames.
	half := int64(r.half)
	limit := r.base + int64(r.fill) - half
	first := 1 - half - r.base // index in hist of the window of n0 is n0+first
	n0, frac := r.n0, r.frac
	l, mq, mr := r.l, r.mq, r.mr
	of, bs := r.outFrame, r.out.Encoding.BytesPerSample()
	n := 0
	if len(r.hist) == 2 {
		h0, h1 := r.hist[0], r.hist[1]
		for ; n < max && n0 < limit; n++ {
			start := int(n0 + first)
			y0, y1 := dot2(r.phase(frac), h0[start:], h1[start:])
			o := dst[n*of : n*of+of]
			r.put(o, y0)
			r.put(o[bs:], y1)
			n0, frac = advance(n0, frac, mq, mr, l)
		}
	} else {
		for ; n < max && n0 < limit; n++ {
			start := int(n0 + first)
			c := r.phase(frac)
			o := dst[n*of : n*of+of]
			for ch, h := range r.hist {
				r.put(o[ch*bs:], dot(c, h[start:]))
			}
			n0, frac = advance(n0, frac, mq, mr, l)
		}
	}
	r.n0, r.frac = n0, frac
	return n
}

// advance is the input position one output frame after (n0, frac): mq
// frames and mr/l of a frame on.
func advance(n0, frac, mq, mr, l int64) (int64, int64) {
	n0, frac = n0+mq, frac+mr
	if frac >= l {
		frac -= l
		n0++
	}
	return n0, frac
}

// phase returns the coefficients for an output at frac/l past an input
// frame.
func (r *Resampler) phase(frac int64) []float32 {
	t := r.taps
	if r.exact {
		p := int(frac)
		return r.bank[p*t : p*t+t]
	}
	pos := float64(frac) * float64(r.phases) / float64(r.l)
	p := int(pos)
	lerp(r.coef, r.bank[p*t:p*t+t], r.bank[p*t+t:p*t+2*t], float32(pos-float64(p)))
	return r.coef
}

// put stores one output sample in the output encoding.
func (r *Resampler) put(b []byte, y float32) {
	switch r.out.Encoding {
	case S16LE:
		putS16(b, quantize(float64(y)*scale16, -scale16, scale16-1))
	case S24LE:
		putS24(b, quantize(float64(y)*scale24, -scale24, scale24-1))
	default:
		putF32(b, y)
	}
}
