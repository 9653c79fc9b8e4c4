package bench

// Benchmarks of the transform package's filters (Lavalink's set): each
// filter on 48 kHz stereo f32le, in times real time on one core (seconds
// of input filtered per second, on the one goroutine that runs it).
//
//	go test -run '^$' -bench Filter -benchmem -cpu 1 -count 6 ./bench

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/streamcatcher/streamcatcher/transform"
)

const filterRate = 48000

var filterFormat = transform.Format{Rate: filterRate, Channels: 2, Encoding: transform.F32LE}

// filterInput is the filters' input: 10 s of the music-like signal of
// transformInput (a chord of slowly gliding partials over noise), made at
// 48 kHz, the same on every run.
var filterInput = sync.OnceValue(func() []byte {
	const frames = 10 * filterRate
	b := make([]byte, 8*frames)
	rng := rand.New(rand.NewPCG(48000, 2))
	partials := []float64{110, 220, 277.2, 329.6, 440, 880, 1760, 3520, 7040, 14080}
	for i := range frames {
		t := float64(i) / filterRate
		for c := range 2 {
			v := 0.05 * (rng.Float64()*2 - 1)
			for k, f := range partials {
				f *= 1 + 0.01*math.Sin(2*math.Pi*0.1*t+float64(k+c))
				v += 0.08 / float64(k+1) * math.Sin(2*math.Pi*f*t+float64(c))
			}
			binary.LittleEndian.PutUint32(b[8*i+4*c:], math.Float32bits(float32(v)))
		}
	}
	return b
})

// countingLoop is a loop that counts the bytes read from it.
type countingLoop struct {
	loop
	n int64
}

func (c *countingLoop) Read(p []byte) (int, error) {
	n, err := c.loop.Read(p)
	c.n += int64(n)
	return n, err
}

// benchFilter runs t (made once; each operation continues its stream) for
// one second of input per operation.
func benchFilter(b *testing.B, t pcmTransform) {
	src := &countingLoop{loop: loop{b: filterInput()}}
	dst := make([]byte, 64<<10)
	perOp := int64(filterRate * filterFormat.BytesPerFrame())
	b.SetBytes(perOp)
	b.ReportAllocs()
	// Past the start, where a filter may have less to do.
	for src.n < perOp {
		if _, err := t.Transform(dst, src); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	target := src.n
	for range b.N {
		target += perOp
		for src.n < target {
			if _, err := t.Transform(dst, src); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
}

// filterCases are the benchmarks' filters: each of Lavalink's set at a
// setting that does its full work (every equalizer band set), a chain of
// them all, with and without a timescale.
func filterCases() []struct {
	name string
	make func() (pcmTransform, error)
} {
	f := filterFormat
	eq := transform.EqualizerConfig{Gains: [15]float64{0.2, 0.15, 0.1, 0.05, 0, -0.05, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, 0.3}}
	all := func(ts *transform.TimescaleConfig) transform.Chain {
		return transform.Chain{
			LowPass:    &transform.LowPassConfig{Smoothing: 20},
			ChannelMix: &transform.ChannelMixConfig{LeftToLeft: 0.8, LeftToRight: 0.2, RightToLeft: 0.2, RightToRight: 0.8},
			Rotation:   &transform.RotationConfig{RotationHz: 0.2},
			Distortion: &transform.DistortionConfig{SinScale: 1.2, CosScale: 0.5, TanOffset: 1, TanScale: 0.3, Scale: 1},
			Vibrato:    &transform.VibratoConfig{Frequency: 2, Depth: 0.5},
			Tremolo:    &transform.TremoloConfig{Frequency: 2, Depth: 0.5},
			Timescale:  ts,
			Karaoke:    &transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100},
			Equalizer:  &eq,
			Volume:     &transform.VolumeConfig{Volume: 2},
		}
	}
	type c = struct {
		name string
		make func() (pcmTransform, error)
	}
	return []c{
		{"volume-0.8", func() (pcmTransform, error) { return transform.NewVolume(f, transform.VolumeConfig{Volume: 0.8}) }},
		{"volume-3-limited", func() (pcmTransform, error) { return transform.NewVolume(f, transform.VolumeConfig{Volume: 3}) }},
		{"equalizer-15-bands", func() (pcmTransform, error) { return transform.NewEqualizer(f, eq) }},
		{"timescale-nightcore", func() (pcmTransform, error) {
			return transform.NewTimescale(f, transform.TimescaleConfig{Speed: 1.25, Pitch: 1.25, Rate: 1})
		}},
		{"timescale-speed-1.5", func() (pcmTransform, error) {
			return transform.NewTimescale(f, transform.TimescaleConfig{Speed: 1.5, Pitch: 1, Rate: 1})
		}},
		{"timescale-pitch-0.8", func() (pcmTransform, error) {
			return transform.NewTimescale(f, transform.TimescaleConfig{Speed: 1, Pitch: 0.8, Rate: 1})
		}},
		{"timescale-rate-0.8", func() (pcmTransform, error) {
			return transform.NewTimescale(f, transform.TimescaleConfig{Speed: 1, Pitch: 1, Rate: 0.8})
		}},
		{"tremolo", func() (pcmTransform, error) {
			return transform.NewTremolo(f, transform.TremoloConfig{Frequency: 2, Depth: 0.5})
		}},
		{"vibrato", func() (pcmTransform, error) {
			return transform.NewVibrato(f, transform.VibratoConfig{Frequency: 2, Depth: 0.5})
		}},
		{"rotation", func() (pcmTransform, error) {
			return transform.NewRotation(f, transform.RotationConfig{RotationHz: 0.2})
		}},
		{"karaoke", func() (pcmTransform, error) {
			return transform.NewKaraoke(f, transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100})
		}},
		{"distortion", func() (pcmTransform, error) {
			return transform.NewDistortion(f, transform.DistortionConfig{SinScale: 1.2, CosScale: 0.5, TanOffset: 1, TanScale: 0.3, Scale: 1})
		}},
		{"channel-mix", func() (pcmTransform, error) {
			return transform.NewChannelMix(f, transform.ChannelMixConfig{LeftToLeft: 0.8, LeftToRight: 0.2, RightToLeft: 0.2, RightToRight: 0.8})
		}},
		{"low-pass", func() (pcmTransform, error) { return transform.NewLowPass(f, transform.LowPassConfig{Smoothing: 20}) }},
		{"chain-all-but-timescale", func() (pcmTransform, error) { return transform.NewChainFilter(f, all(nil)) }},
		{"chain-all-nightcore", func() (pcmTransform, error) {
			return transform.NewChainFilter(f, all(&transform.TimescaleConfig{Speed: 1.25, Pitch: 1.25, Rate: 1}))
		}},
	}
}

func BenchmarkFilter(b *testing.B) {
	for _, c := range filterCases() {
		b.Run(c.name, func(b *testing.B) {
			t, err := c.make()
			if err != nil {
				b.Fatal(err)
			}
			benchFilter(b, t)
		})
	}
}
