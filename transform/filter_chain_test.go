package transform_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

func TestChainString(t *testing.T) {
	tests := []struct {
		name string
		c    transform.Chain
		want string
	}{
		{"none", transform.Chain{}, ""},
		{"filters at their off settings", transform.Chain{
			Volume:     &transform.VolumeConfig{Volume: 1},
			Equalizer:  &transform.EqualizerConfig{},
			Timescale:  &transform.DefaultTimescale,
			Tremolo:    &transform.TremoloConfig{Frequency: 3},
			Vibrato:    &transform.VibratoConfig{Frequency: 3},
			Rotation:   &transform.RotationConfig{},
			Karaoke:    &transform.KaraokeConfig{MonoLevel: 0.5},
			Distortion: &transform.DistortionConfig{SinScale: 1, CosScale: 1, TanScale: 1, Scale: 1},
			ChannelMix: &transform.DefaultChannelMix,
			LowPass:    &transform.LowPassConfig{Smoothing: 1},
		}, ""},
		{"nightcore", transform.Chain{
			Volume:    &transform.VolumeConfig{Volume: 0.8},
			Timescale: &transform.TimescaleConfig{Speed: 1.25, Pitch: 1.25, Rate: 1},
		}, "timescale:speed=1.25,pitch=1.25;volume:volume=0.8"},
		{"defaults", transform.Chain{
			Karaoke: &transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100},
			Tremolo: &transform.TremoloConfig{Frequency: 2, Depth: 0.5},
			LowPass: &transform.LowPassConfig{Smoothing: 20},
		}, "lowPass;tremolo;karaoke"},
		{"bands", transform.Chain{Equalizer: &transform.EqualizerConfig{Gains: [15]float64{3: 0.25, 14: -0.1}}},
			"equalizer:3=0.25,14=-0.1"},
		{"negative zero", transform.Chain{Distortion: &transform.DistortionConfig{SinOffset: math.Copysign(0, -1), CosScale: 1, TanScale: 1, Scale: 1}},
			"distortion:sinScale=0"},
		{"every filter, in Lavalink's order", everyFilter(&transform.TimescaleConfig{Speed: 1, Pitch: 1.5, Rate: 0.75}),
			"lowPass:smoothing=3;channelMix:leftToLeft=0.8,leftToRight=0.2,rightToLeft=0.3,rightToRight=0.7;rotation:rotationHz=0.2;" +
				"distortion:sinScale=1.2,cosOffset=0.1,cosScale=0.5,tanOffset=1,tanScale=0.3,scale=1.5;vibrato:frequency=4,depth=0.7;" +
				"tremolo:frequency=3,depth=0.4;timescale:pitch=1.5,rate=0.75;karaoke:level=0.9,monoLevel=0.8;" +
				"equalizer:0=0.2,1=0.15,2=0.1,4=-0.1,7=0.3,10=-0.2,12=0.5,14=1;volume:volume=2.5"},
		{"small and exact numbers", transform.Chain{Volume: &transform.VolumeConfig{Volume: 1e-7}, Rotation: &transform.RotationConfig{RotationHz: math.Nextafter(0.3, 1)}},
			"rotation:rotationHz=0.30000000000000004;volume:volume=1e-07"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.c.Validate())
			assert.Equal(t, tc.want, tc.c.String())
			p, err := transform.ParseChain(tc.want)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.String(), "read back")
		})
	}
}

func TestParseChainSpellings(t *testing.T) {
	tests := []struct{ in, want string }{
		{"volume:volume=0.80;timescale:rate=1,pitch=1.25,speed=1.250", "timescale:speed=1.25,pitch=1.25;volume:volume=0.8"},
		{"tremolo:depth=0,frequency=9;volume:volume=1", ""},
		{"karaoke:level=1,filterBand=220.0", "karaoke"},
		{"equalizer:14=+1,0=-0,3=25e-2", "equalizer:3=0.25,14=1"},
		{"channelMix:leftToLeft=1", ""},
		{"distortion:sinOffset=-0.0,sinScale=-0", "distortion:sinScale=0"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			c, err := transform.ParseChain(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.String())
			canon, err := transform.ParseChain(tc.want)
			require.NoError(t, err)
			assert.Equal(t, canon, c, "one chain, one value")
		})
	}
}

func TestParseChainErrors(t *testing.T) {
	for _, tc := range []struct{ in, msg string }{
		{"echo", `unknown filter "echo"`},
		{"Volume:volume=2", `unknown filter "Volume"`},
		{";", `unknown filter ""`},
		{"volume:gain=2", `volume has no parameter "gain=2"`},
		{"volume:", `volume has no parameter ""`},
		{"volume:volume", `volume has no parameter "volume"`},
		{"volume:volume=2;volume:volume=3", "filter volume given twice"},
		{"tremolo:depth=0.1,depth=0.2", "tremolo depth given twice"},
		{"volume:volume=two", `volume volume: "two" is not a number`},
		{"volume:volume=6", "volume volume is 6 (want 0 to 5)"},
		{"volume:volume=NaN", "volume volume is NaN"},
		{"volume:volume=Inf", "volume volume is +Inf"},
		{"timescale:speed=0", "timescale speed is 0 (want 0.25 to 4)"},
		{"equalizer:15=0.1", `equalizer has no parameter "15=0.1"`},
		{"equalizer:2=-0.5", "equalizer band 2 is -0.5"},
		{"tremolo:frequency=0,depth=0", "tremolo frequency is 0"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := transform.ParseChain(tc.in)
			require.ErrorIs(t, err, transform.ErrFilterParam)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// randomChain returns a valid chain with each filter present or not, each
// parameter at its default or at another value.
func randomChain(rng *rand.Rand) transform.Chain {
	pick := func(def float64, vals ...float64) float64 {
		if rng.IntN(3) == 0 {
			return def
		}
		return vals[rng.IntN(len(vals))]
	}
	maybe := func() bool { return rng.IntN(2) == 0 }
	var c transform.Chain
	if maybe() {
		c.LowPass = &transform.LowPassConfig{Smoothing: pick(20, 1, 2.5, 100)}
	}
	if maybe() {
		c.ChannelMix = &transform.ChannelMixConfig{pick(1, 0, 0.5), pick(0, 1, 0.25), pick(0, 1, 0.3), pick(1, 0, 0.7)}
	}
	if maybe() {
		c.Rotation = &transform.RotationConfig{RotationHz: pick(0, 0.2, 1)}
	}
	if maybe() {
		c.Distortion = &transform.DistortionConfig{pick(0, 0.5), pick(1, 2), pick(0, -1), pick(1, 3), pick(0, 0.1), pick(1, 0.5), pick(0, 0.2), pick(1, 0.9)}
	}
	if maybe() {
		c.Vibrato = &transform.VibratoConfig{Frequency: pick(2, 14, 0.5), Depth: pick(0.5, 0, 1)}
	}
	if maybe() {
		c.Tremolo = &transform.TremoloConfig{Frequency: pick(2, 10), Depth: pick(0.5, 0, 0.9)}
	}
	if maybe() {
		c.Timescale = &transform.TimescaleConfig{pick(1, 1.25, 0.8), pick(1, 1.1), pick(1, 0.9, 2)}
	}
	if maybe() {
		c.Karaoke = &transform.KaraokeConfig{pick(1, 0, 0.5), pick(1, 0.3), pick(220, 500), pick(100, 50)}
	}
	if maybe() {
		c.Equalizer = new(transform.EqualizerConfig)
		for b := range c.Equalizer.Gains {
			c.Equalizer.Gains[b] = pick(0, -0.25, 0.1, 1)
		}
	}
	if maybe() {
		c.Volume = &transform.VolumeConfig{Volume: pick(1, 0.5, 3)}
	}
	return c
}

func TestChainRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	in := noise(8*2000, 9)
	for i := range 200 {
		c := randomChain(rng)
		require.NoError(t, c.Validate())
		s := c.String()
		p, err := transform.ParseChain(s)
		require.NoError(t, err, "chain %d: %q", i, s)
		require.Equal(t, s, p.String(), "chain %d", i)
		if i%20 == 0 {
			// The chain read back filters as the chain written.
			want := runAll(t, must(transform.NewChainFilter(stereo48, c)), in)
			got := runAll(t, must(transform.NewChainFilter(stereo48, p)), in)
			require.Equal(t, want, got, "chain %d: %q", i, s)
		}
	}
}

// FuzzParseChain reads arbitrary strings as chains: none may panic; a chain
// read must encode to a string that reads back to the same chain and
// encodes again to itself, and must make a ChainFilter.
func FuzzParseChain(f *testing.F) {
	f.Add("")
	f.Add("timescale:speed=1.25,pitch=1.25;volume:volume=0.8")
	f.Add("karaoke;lowPass;tremolo:depth=0")
	f.Add("equalizer:0=0.2,14=-0.25,7=1e-3")
	f.Add("distortion:sinOffset=-0,scale=100;channelMix:rightToLeft=0x1p-2")
	f.Add(everyFilter(&transform.TimescaleConfig{Speed: 2, Pitch: 0.5, Rate: 1}).String())
	f.Fuzz(func(t *testing.T, s string) {
		c, err := transform.ParseChain(s)
		if err != nil {
			require.ErrorIs(t, err, transform.ErrFilterParam)
			return
		}
		enc := c.String()
		back, err := transform.ParseChain(enc)
		require.NoError(t, err, "%q encoded as %q", s, enc)
		require.Equal(t, c, back, "%q encoded as %q", s, enc)
		require.Equal(t, enc, back.String())
		_, err = transform.NewChainFilter(stereo48, c)
		require.NoError(t, err)
	})
}
