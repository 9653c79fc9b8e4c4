package transform

import "math"

// EqualizerBands is the number of bands of the Equalizer.
const EqualizerBands = 15

// EqualizerCentres are the centres of the Equalizer's bands, in Hz:
// Lavalink's (and lavaplayer's), about two thirds of an octave apart, from
// 25 Hz to 16 kHz. The filters use their own copy.
var EqualizerCentres = eqCentres

var eqCentres = [EqualizerBands]float64{25, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10000, 16000}

// Limits of an Equalizer band's gain, as Lavalink defines them.
const (
	MinBandGain = -0.25
	MaxBandGain = 1
)

// equalizerQ is the quality factor of each band: that of a bandwidth of
// 2/3 of an octave between its -3 dB points, 1/(2 sinh(ln 2/3)).
var equalizerQ = 1 / (2 * math.Sinh(math.Ln2/3))

// EqualizerConfig is Lavalink's 15-band equalizer.
type EqualizerConfig struct {
	// Gains holds each band's gain, MinBandGain to MaxBandGain, as Lavalink
	// defines it: the band's centre frequency is multiplied by 1 + 4*gain,
	// so that 0 is no change, -0.25 mutes the centre, 0.25 doubles it
	// (+6 dB) and 1 multiplies it by 5 (+14 dB). The zero value is flat:
	// the filter is off.
	Gains [EqualizerBands]float64
}

// Validate returns an error wrapping ErrFilterParam if a gain is out of
// range.
func (c EqualizerConfig) Validate() error {
	for b, g := range c.Gains {
		if err := checkParam("equalizer", "band "+bandName(b), g, MinBandGain, MaxBandGain); err != nil {
			return err
		}
	}
	return nil
}

func bandName(b int) string {
	const digits = "0123456789"
	if b < 10 {
		return digits[b : b+1]
	}
	return "1" + digits[b-10:b-9]
}

// NewEqualizer returns a Filter that is Lavalink's equalizer: as in
// lavaplayer, the bands are band-pass filters in parallel, each
// multiplied by 4 times its gain and added to the input:
//
//	y = x + 4 * sum over bands of gain[b] * bandpass_b(x)
//
// Each band-pass is a biquad of the RBJ cookbook (constant 0 dB peak gain)
// centred on its frequency with a Q of 2.145, a bandwidth of 2/3 of an
// octave (narrower, in octaves, near the Nyquist frequency), computed for
// the format's rate. lavaplayer's table is for 48 kHz only; its bands up
// to 4 kHz agree with these within 0.5% (pole radius); its top bands are
// wider (Q 1.05 at 16 kHz). At a band's centre its band-pass has a gain of exactly 1 and
// no phase shift, so that a single band set to g multiplies its centre by
// 1 + 4g; a neighbouring band's centre (2/3 of an octave away) is moved
// by at most 2.1 dB when a band is set to 0.25 (+6 dB), 7.6 dB when set to
// 1 (+14 dB), as the package's tests measure. Bands set together sum their
// band-passes, which overlap. A band whose centre is at or above 0.9 times
// the Nyquist frequency (16 kHz below 35.6 kHz; 10 kHz at 22.05 kHz) is
// left out.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewEqualizer(f Format, c EqualizerConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newEqualizerStage(f, c)), nil
}

// eqBand is one band-pass: y = b0 (x - x2) - a1 y1 - a2 y2, scaled by k.
type eqBand struct {
	k, b0, a1, a2 float64
	state         [2][4]float64 // per channel: x1, x2, y1, y2
}

type equalizerStage struct {
	ch    int
	bands []eqBand // the bands whose gain is not 0
	acc   []float32
}

func newEqualizerStage(f Format, c EqualizerConfig) *equalizerStage {
	s := &equalizerStage{ch: f.Channels, acc: make([]float32, blockFrames*f.Channels)}
	rate := float64(f.Rate)
	for b, g := range c.Gains {
		f0 := eqCentres[b]
		if g == 0 || f0 >= 0.45*rate {
			continue
		}
		w0 := twoPi * f0 / rate
		alpha := math.Sin(w0) / (2 * equalizerQ)
		s.bands = append(s.bands, eqBand{
			k:  4 * g,
			b0: alpha / (1 + alpha),
			a1: -2 * math.Cos(w0) / (1 + alpha),
			a2: (1 - alpha) / (1 + alpha),
		})
	}
	return s
}

func (s *equalizerStage) run(buf []float32) {
	if len(s.bands) == 0 {
		return
	}
	acc := s.acc[:len(buf)]
	copy(acc, buf)
	for i := range s.bands {
		b := &s.bands[i]
		if s.ch == 2 {
			b.run2(acc, buf)
		} else {
			b.run1(acc, buf)
		}
	}
	copy(buf, acc)
}

func (b *eqBand) run1(acc, x []float32) {
	k, b0, a1, a2 := b.k, b.b0, b.a1, b.a2
	st := &b.state[0]
	x1, x2, y1, y2 := st[0], st[1], st[2], st[3]
	for i, v := range x {
		xv := float64(v)
		y := b0*(xv-x2) - a1*y1 - a2*y2
		x2, x1 = x1, xv
		y2, y1 = y1, y
		acc[i] += float32(k * y)
	}
	*st = [4]float64{x1, x2, y1, y2}
}

func (b *eqBand) run2(acc, x []float32) {
	k, b0, a1, a2 := b.k, b.b0, b.a1, b.a2
	l, r := &b.state[0], &b.state[1]
	lx1, lx2, ly1, ly2 := l[0], l[1], l[2], l[3]
	rx1, rx2, ry1, ry2 := r[0], r[1], r[2], r[3]
	for i := 0; i+2 <= len(x); i += 2 {
		xl, xr := float64(x[i]), float64(x[i+1])
		yl := b0*(xl-lx2) - a1*ly1 - a2*ly2
		yr := b0*(xr-rx2) - a1*ry1 - a2*ry2
		lx2, lx1, ly2, ly1 = lx1, xl, ly1, yl
		rx2, rx1, ry2, ry1 = rx1, xr, ry1, yr
		acc[i] += float32(k * yl)
		acc[i+1] += float32(k * yr)
	}
	*l = [4]float64{lx1, lx2, ly1, ly2}
	*r = [4]float64{rx1, rx2, ry1, ry2}
}
