package transform

import "math"

// Limits of the karaoke's, distortion's and low-pass's parameters.
const (
	// MaxKaraokeHz bounds the Karaoke's FilterBand and FilterWidth, in Hz.
	MaxKaraokeHz = 20000
	// MaxDistortionParam bounds the magnitude of each Distortion
	// parameter.
	MaxDistortionParam = 100
	// MaxSmoothing is the largest LowPass smoothing.
	MaxSmoothing = 10000
)

// KaraokeConfig is Lavalink's karaoke: the centre of a stereo mix (where
// voices usually are) is removed, except in one band, which is kept as
// mono.
type KaraokeConfig struct {
	// Level is how much of the centre is removed, 0 to 1. 0 is no effect
	// (the filter is off); Lavalink's default is 1.
	Level float64
	// MonoLevel is how much of the band is put back, 0 to 1. Lavalink's
	// default is 1.
	MonoLevel float64
	// FilterBand is the centre of the band kept, in Hz, 0 to MaxKaraokeHz.
	// Lavalink's default is 220.
	FilterBand float64
	// FilterWidth is the band's width, in Hz, 0 to MaxKaraokeHz. Lavalink's
	// default is 100.
	FilterWidth float64
}

// Validate returns an error wrapping ErrFilterParam if a parameter is out
// of range.
func (c KaraokeConfig) Validate() error {
	for _, p := range []struct {
		name   string
		v, max float64
	}{{"level", c.Level, 1}, {"monoLevel", c.MonoLevel, 1}, {"filterBand", c.FilterBand, MaxKaraokeHz}, {"filterWidth", c.FilterWidth, MaxKaraokeHz}} {
		if err := checkParam("karaoke", p.name, p.v, 0, p.max); err != nil {
			return err
		}
	}
	return nil
}

// NewKaraoke returns a Filter that, as Lavalink's karaoke does, writes
//
//	L' = L - Level*R + o
//	R' = R - Level*L + o
//	o  = Level * MonoLevel * band((L+R)/2)
//
// where band is a two-pole resonator at FilterBand with a bandwidth of
// FilterWidth (poles at radius exp(-pi FilterWidth/rate)), normalised to a
// gain near 1 at its peak. A sound panned to the centre (L = R) is removed
// outside the band at Level 1; one panned to a side is kept. Mono passes
// unchanged.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewKaraoke(f Format, c KaraokeConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newKaraokeStage(f, c)...), nil
}

type karaokeStage struct {
	level, mono float64
	a, b, c     float64 // the resonator: y = a x - b y1 - c y2
	y1, y2      float64
}

func newKaraokeStage(f Format, k KaraokeConfig) []stage {
	if f.Channels != 2 {
		return nil
	}
	rate := float64(f.Rate)
	c := math.Exp(-twoPi * k.FilterWidth / rate)
	b := -4 * c / (1 + c) * math.Cos(twoPi*k.FilterBand/rate)
	a := math.Sqrt(max(0, 1-b*b/(4*c))) * (1 - c)
	return []stage{&karaokeStage{level: k.Level, mono: k.Level * k.MonoLevel, a: a, b: b, c: c}}
}

func (s *karaokeStage) run(buf []float32) {
	y1, y2 := s.y1, s.y2
	for i := 0; i+2 <= len(buf); i += 2 {
		l, r := float64(buf[i]), float64(buf[i+1])
		y := s.a*(l+r)/2 - s.b*y1 - s.c*y2
		y2, y1 = y1, y
		o := y * s.mono
		buf[i] = float32(l - r*s.level + o)
		buf[i+1] = float32(r - l*s.level + o)
	}
	s.y1, s.y2 = y1, y2
}

// DistortionConfig is Lavalink's distortion: each sample x becomes
//
//	Offset + Scale * (SinOffset + sin(x*SinScale))
//	               * (CosOffset + cos(x*CosScale))
//	               * (TanOffset + tan(x*TanScale))
//
// clipped to full scale. Each parameter's magnitude is at most
// MaxDistortionParam. Lavalink's defaults are 0 for the offsets and 1 for
// the scales, at which the filter is off (the formula is not the identity
// there; Lavalink leaves it out).
type DistortionConfig struct {
	SinOffset, SinScale float64
	CosOffset, CosScale float64
	TanOffset, TanScale float64
	Offset, Scale       float64
}

// DefaultDistortion is Lavalink's default distortion, at which the filter is
// off.
var DefaultDistortion = DistortionConfig{SinScale: 1, CosScale: 1, TanScale: 1, Scale: 1}

func (c DistortionConfig) params() [8]float64 {
	return [8]float64{c.SinOffset, c.SinScale, c.CosOffset, c.CosScale, c.TanOffset, c.TanScale, c.Offset, c.Scale}
}

var distortionNames = [8]string{"sinOffset", "sinScale", "cosOffset", "cosScale", "tanOffset", "tanScale", "offset", "scale"}

// Validate returns an error wrapping ErrFilterParam if a parameter is out
// of range.
func (c DistortionConfig) Validate() error {
	for i, v := range c.params() {
		if err := checkParam("distortion", distortionNames[i], v, -MaxDistortionParam, MaxDistortionParam); err != nil {
			return err
		}
	}
	return nil
}

// NewDistortion returns a Filter that applies c's formula to every sample,
// in float64 (its sine, cosine and tangent within 1e-15 of the math
// package's); the result is clipped to full scale (NaN, which tan's poles
// times 0 could make, as 0), so that the output is finite and bounded
// whatever the parameters.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewDistortion(f Format, c DistortionConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, &distortionStage{c}), nil
}

type distortionStage struct{ c DistortionConfig }

func (s *distortionStage) run(buf []float32) {
	c := &s.c
	for i, v := range buf {
		x := float64(v)
		y := c.Offset + c.Scale*(c.SinOffset+fastSin(x*c.SinScale))*
			(c.CosOffset+fastCos(x*c.CosScale))*(c.TanOffset+fastTan(x*c.TanScale))
		buf[i] = float32(clipUnit(y))
	}
}

// ChannelMixConfig is Lavalink's channel mix: each output channel is a
// weighted sum of the input's two. Each weight is 0 to 1. The identity
// (1, 0, 0, 1) is Lavalink's default, at which the filter is off.
type ChannelMixConfig struct {
	LeftToLeft, LeftToRight, RightToLeft, RightToRight float64
}

// DefaultChannelMix is the identity mix, Lavalink's default.
var DefaultChannelMix = ChannelMixConfig{LeftToLeft: 1, RightToRight: 1}

func (c ChannelMixConfig) params() [4]float64 {
	return [4]float64{c.LeftToLeft, c.LeftToRight, c.RightToLeft, c.RightToRight}
}

var channelMixNames = [4]string{"leftToLeft", "leftToRight", "rightToLeft", "rightToRight"}

// Validate returns an error wrapping ErrFilterParam if a weight is out of
// range.
func (c ChannelMixConfig) Validate() error {
	for i, v := range c.params() {
		if err := checkParam("channelMix", channelMixNames[i], v, 0, 1); err != nil {
			return err
		}
	}
	return nil
}

// NewChannelMix returns a Filter that writes L' = LeftToLeft*L +
// RightToLeft*R and R' = LeftToRight*L + RightToRight*R, in float64 (so
// that weights of 0 and 1 are exact). Mono passes unchanged.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewChannelMix(f Format, c ChannelMixConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newChannelMixStage(f, c)...), nil
}

type channelMixStage struct{ c ChannelMixConfig }

func newChannelMixStage(f Format, c ChannelMixConfig) []stage {
	if f.Channels != 2 {
		return nil
	}
	return []stage{&channelMixStage{c}}
}

func (s *channelMixStage) run(buf []float32) {
	c := &s.c
	for i := 0; i+2 <= len(buf); i += 2 {
		l, r := float64(buf[i]), float64(buf[i+1])
		buf[i] = float32(c.LeftToLeft*l + c.RightToLeft*r)
		buf[i+1] = float32(c.LeftToRight*l + c.RightToRight*r)
	}
}

// LowPassConfig is Lavalink's low-pass: a one-pole smoothing.
type LowPassConfig struct {
	// Smoothing is 1 to MaxSmoothing: each output moves 1/Smoothing of the
	// way from the last output to the input, a one-pole low-pass whose -3
	// dB point is near rate/(2 pi Smoothing) (382 Hz for 20 at 48 kHz). 1
	// is no effect (Lavalink leaves the filter out at 1 or less); Lavalink's
	// default is 20.
	Smoothing float64
}

// Validate returns an error wrapping ErrFilterParam if the smoothing is out
// of range.
func (c LowPassConfig) Validate() error {
	return checkParam("lowPass", "smoothing", c.Smoothing, 1, MaxSmoothing)
}

// NewLowPass returns a Filter that computes, in each channel,
// y += (x - y)/Smoothing, y starting at the first input sample, as
// Lavalink's low-pass does.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewLowPass(f Format, c LowPassConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newLowPassStage(f, c)), nil
}

type lowPassStage struct {
	ch      int
	k       float64 // 1/Smoothing
	y       [2]float64
	started bool
}

func newLowPassStage(f Format, c LowPassConfig) *lowPassStage {
	return &lowPassStage{ch: f.Channels, k: 1 / c.Smoothing}
}

func (s *lowPassStage) run(buf []float32) {
	ch := s.ch
	if len(buf) < ch {
		return
	}
	if !s.started {
		for c := range ch {
			s.y[c] = float64(buf[c])
		}
		s.started = true
	}
	for c := range ch {
		y, k := s.y[c], s.k
		for i := c; i < len(buf); i += ch {
			y += (float64(buf[i]) - y) * k
			buf[i] = float32(y)
		}
		s.y[c] = y
	}
}
