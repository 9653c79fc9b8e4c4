package transform_test

import (
	"io"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

// framesOut adapts a filter that says how many frames it writes.
type framesOut struct {
	t catcher.Transform
	n func(int64) int64
}

func (f framesOut) Transform(dst []byte, src io.Reader) (int, error) { return f.t.Transform(dst, src) }
func (f framesOut) MinSpace() int                                    { return f.t.MinSpace() }
func (f framesOut) outFrames(n int64) int64                          { return f.n(n) }

var (
	stereo48 = transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}
	mono22   = transform.Format{Rate: 22050, Channels: 1, Encoding: transform.F32LE}
)

// everyFilter is a chain with a filter of every kind, the timescale among
// them.
func everyFilter(ts *transform.TimescaleConfig) transform.Chain {
	return transform.Chain{
		LowPass:    &transform.LowPassConfig{Smoothing: 3},
		ChannelMix: &transform.ChannelMixConfig{LeftToLeft: 0.8, LeftToRight: 0.2, RightToLeft: 0.3, RightToRight: 0.7},
		Rotation:   &transform.RotationConfig{RotationHz: 0.2},
		Distortion: &transform.DistortionConfig{SinScale: 1.2, CosOffset: 0.1, CosScale: 0.5, TanOffset: 1, TanScale: 0.3, Scale: 1.5},
		Vibrato:    &transform.VibratoConfig{Frequency: 4, Depth: 0.7},
		Tremolo:    &transform.TremoloConfig{Frequency: 3, Depth: 0.4},
		Timescale:  ts,
		Karaoke:    &transform.KaraokeConfig{Level: 0.9, MonoLevel: 0.8, FilterBand: 220, FilterWidth: 100},
		Equalizer:  &transform.EqualizerConfig{Gains: [15]float64{0.2, 0.15, 0.1, 0, -0.1, 0, 0, 0.3, 0, 0, -0.2, 0, 0.5, 0, 1}},
		Volume:     &transform.VolumeConfig{Volume: 2.5},
	}
}

// filterSubjects lists each filter over stereo at 48 kHz and mono at
// 22.05 kHz, the timescale over settings that take different paths, and
// chains with and without a timescale.
func filterSubjects() []subject {
	var ss []subject
	one := func(name string, f transform.Format, mk func(transform.Format) (*transform.Filter, error)) {
		for _, f := range []transform.Format{f, mono22} {
			ss = append(ss, subject{name + " " + f.String(), f.BytesPerFrame(), func() pcm {
				return framesOut{must(mk(f)), func(n int64) int64 { return n }}
			}})
		}
	}
	one("volume 3", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewVolume(f, transform.VolumeConfig{Volume: 3})
	})
	one("volume 0.5", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewVolume(f, transform.VolumeConfig{Volume: 0.5})
	})
	one("equalizer", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewEqualizer(f, *everyFilter(nil).Equalizer)
	})
	one("tremolo", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewTremolo(f, transform.TremoloConfig{Frequency: 5, Depth: 0.8})
	})
	one("vibrato", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewVibrato(f, transform.VibratoConfig{Frequency: 14, Depth: 1})
	})
	one("rotation", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewRotation(f, transform.RotationConfig{RotationHz: 2})
	})
	one("karaoke", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewKaraoke(f, transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100})
	})
	one("distortion", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewDistortion(f, transform.DistortionConfig{SinScale: 100, CosOffset: -100, CosScale: 50, TanScale: 100, TanOffset: 3, Scale: 100, Offset: -0.5})
	})
	one("channel mix", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewChannelMix(f, transform.ChannelMixConfig{LeftToLeft: 0.5, LeftToRight: 0.5, RightToLeft: 0.5, RightToRight: 0.5})
	})
	one("low-pass", stereo48, func(f transform.Format) (*transform.Filter, error) {
		return transform.NewLowPass(f, transform.LowPassConfig{Smoothing: 20})
	})
	timescales := []struct {
		name string
		f    transform.Format
		c    transform.TimescaleConfig
	}{
		{"nightcore", stereo48, transform.TimescaleConfig{Speed: 1.25, Pitch: 1.25, Rate: 1}},
		{"speed 1.5", stereo48, transform.TimescaleConfig{Speed: 1.5, Pitch: 1, Rate: 1}},
		{"speed 0.25", mono22, transform.TimescaleConfig{Speed: 0.25, Pitch: 1, Rate: 1}},
		{"pitch 0.8", stereo48, transform.TimescaleConfig{Speed: 1, Pitch: 0.8, Rate: 1}},
		{"rate 1.1", mono22, transform.TimescaleConfig{Speed: 1, Pitch: 1, Rate: 1.1}},
		{"all", stereo48, transform.TimescaleConfig{Speed: 4, Pitch: 0.3, Rate: 0.7}},
		{"none", stereo48, transform.DefaultTimescale},
	}
	for _, tc := range timescales {
		ss = append(ss, subject{"timescale " + tc.name + " " + tc.f.String(), tc.f.BytesPerFrame(), func() pcm {
			t := must(transform.NewTimescale(tc.f, tc.c))
			return framesOut{t, t.OutFrames}
		}})
	}
	chains := []struct {
		name string
		f    transform.Format
		c    transform.Chain
	}{
		{"every filter", stereo48, everyFilter(&transform.TimescaleConfig{Speed: 1.1, Pitch: 1.2, Rate: 0.9})},
		{"every filter mono", mono22, everyFilter(&transform.TimescaleConfig{Speed: 0.8, Pitch: 1, Rate: 1})},
		{"no timescale", stereo48, everyFilter(nil)},
		{"empty", stereo48, transform.Chain{}},
	}
	for _, tc := range chains {
		ss = append(ss, subject{"chain " + tc.name, tc.f.BytesPerFrame(), func() pcm {
			c := must(transform.NewChainFilter(tc.f, tc.c))
			return framesOut{c, c.OutFrames}
		}})
	}
	return ss
}
