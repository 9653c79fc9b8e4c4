package transform_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

// frames returns f32le frames whose channels are the given signals.
func frames(chans ...[]float64) []byte {
	n := len(chans[0])
	b := make([]byte, 4*len(chans)*n)
	for i := range n {
		for c, x := range chans {
			binary.LittleEndian.PutUint32(b[4*(i*len(chans)+c):], math.Float32bits(float32(x[i])))
		}
	}
	return b
}

// add returns the sum of signals of one length.
func add(xs ...[]float64) []float64 {
	y := make([]float64, len(xs[0]))
	for _, x := range xs {
		for i, v := range x {
			y[i] += v
		}
	}
	return y
}

// upCrossings returns the times, in frames, interpolated, at which x[from:to]
// crosses 0 upwards.
func upCrossings(x []float64, from, to int) []float64 {
	var ts []float64
	for i := max(from, 1); i < to; i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			ts = append(ts, float64(i-1)+x[i-1]/(x[i-1]-x[i]))
		}
	}
	return ts
}

// frequency is the mean frequency of x[from:to] in Hz, from its upward zero
// crossings.
func frequency(x []float64, rate, from, to int) float64 {
	ts := upCrossings(x, from, to)
	if len(ts) < 2 {
		return 0
	}
	return float64(len(ts)-1) * float64(rate) / (ts[len(ts)-1] - ts[0])
}

func TestVolumeLinear(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    transform.Format
		gain float64
		amp  float64
	}{
		{"0.5 stereo", stereo48, 0.5, 1},
		{"0 mono", mono22, 0, 1},
		{"1.2 below full scale stereo", stereo48, 1.2, 0.8},
		{"5 below full scale mono", mono22, 5, 0.19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := transform.NewVolume(tc.f, transform.VolumeConfig{Volume: tc.gain})
			require.NoError(t, err)
			in := tone(tc.f.Rate, tc.f.Channels, 20000, 997, tc.amp)
			out := runAll(t, v, in)
			require.Len(t, out, len(in))
			for i := 0; i < len(in); i += 4 {
				x := math.Float32frombits(binary.LittleEndian.Uint32(in[i:]))
				want := float32(float64(x) * tc.gain)
				got := math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))
				if got != want {
					t.Fatalf("sample %d: got %v; want %v times %v = %v", i/4, got, x, tc.gain, want)
				}
			}
		})
	}
}

func TestVolumeLimiter(t *testing.T) {
	const rate = 48000
	v, err := transform.NewVolume(stereo48, transform.VolumeConfig{Volume: 5})
	require.NoError(t, err)
	x := sine(rate, rate, 1000, 1)
	out := runAll(t, v, frames(x, x))
	for c := range 2 {
		y := channel(out, 2, c)
		peak := 0.0
		for _, s := range y {
			peak = max(peak, math.Abs(s))
		}
		assert.LessOrEqual(t, peak, 1.0, "channel %d never exceeds full scale", c)
		amp := amplitude(y, rate, 1000, rate/10, rate)
		assert.InDelta(t, 0, db(amp), 0.2, "channel %d: limited to full scale: %.3f", c, amp)
		// A clipped sine (5 times full scale) is far from a sine; the
		// limiter's output is close to one.
		assert.Greater(t, snr(y, rate, 1000, amp, 0, rate/10, rate), 40.0, "channel %d: not clipped", c)
	}

	// After the loud part the gain comes back: 0.15 times 5 is below full
	// scale, exactly linear once the envelope has decayed.
	quiet := sine(rate, rate, 1000, 0.15)
	out = runAll(t, must(transform.NewVolume(stereo48, transform.VolumeConfig{Volume: 5})), frames(append(x, quiet...), append(x, quiet...)))
	y := channel(out, 2, 0)[rate:]
	assert.Less(t, db(amplitude(y, rate, 1000, 0, rate/100)/0.75), -1.0, "still limited just after the loud part")
	for i := rate / 2; i < rate; i++ {
		require.Equal(t, float32(float64(float32(quiet[i]))*5), float32(y[i]), "frame %d of the quiet part", i)
	}
}

func TestEqualizerBands(t *testing.T) {
	const rate, n = 48000, 72000
	from := 24000
	gainAt := func(t *testing.T, eq transform.EqualizerConfig, freq float64) float64 {
		f, err := transform.NewEqualizer(transform.Format{Rate: rate, Channels: 1, Encoding: transform.F32LE}, eq)
		require.NoError(t, err)
		out := runAll(t, f, frames(sine(rate, n, freq, 0.1)))
		return db(amplitude(channel(out, 1, 0), rate, freq, from, n) / 0.1)
	}
	for b, f0 := range transform.EqualizerCentres {
		t.Run(fmt.Sprintf("band %d %v Hz", b, f0), func(t *testing.T) {
			for _, g := range []float64{0.25, 1, -0.1} {
				var eq transform.EqualizerConfig
				eq.Gains[b] = g
				want := db(1 + 4*g)
				got := gainAt(t, eq, f0)
				assert.InDelta(t, want, got, 0.05, "gain %v at the centre: got %.3f dB; want %.3f", g, got, want)
				for _, nb := range []int{b - 1, b + 1} {
					if nb < 0 || nb >= transform.EqualizerBands {
						continue
					}
					side := gainAt(t, eq, transform.EqualizerCentres[nb])
					assert.Less(t, math.Abs(side), 0.6*math.Abs(want), "gain %v at band %d: %.3f dB", g, nb, side)
				}
			}
			var eq transform.EqualizerConfig
			eq.Gains[b] = -0.25
			assert.Less(t, gainAt(t, eq, f0), -40.0, "-0.25 mutes the centre")
		})
	}
	t.Run("flat", func(t *testing.T) {
		assert.InDelta(t, 0, gainAt(t, transform.EqualizerConfig{}, 1000), 1e-6)
	})
}

func TestTimescale(t *testing.T) {
	const rate = 48000
	for _, c := range []transform.TimescaleConfig{
		{Speed: 1.25, Pitch: 1.25, Rate: 1},
		{Speed: 1.5, Pitch: 1, Rate: 1},
		{Speed: 0.7, Pitch: 1, Rate: 1},
		{Speed: 1, Pitch: 1.5, Rate: 1},
		{Speed: 1, Pitch: 0.8, Rate: 1},
		{Speed: 1, Pitch: 1, Rate: 1.25},
		{Speed: 1, Pitch: 1, Rate: 0.8},
		{Speed: 1.2, Pitch: 0.9, Rate: 1.1},
		{Speed: 0.5, Pitch: 2, Rate: 0.75},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			ts, err := transform.NewTimescale(stereo48, c)
			require.NoError(t, err)
			n := 4 * rate
			x := sine(rate, n, 440, 0.5)
			out := runAll(t, ts, frames(x, x))
			y := channel(out, 2, 0)

			speed := float64(n) / float64(len(y))
			assert.InDelta(t, c.Speed*c.Rate, speed, 1e-3, "speed: input length over output length")
			m := len(y)
			f := frequency(y, rate, m/5, 4*m/5)
			assert.InEpsilon(t, 440*c.Pitch*c.Rate, f, 1e-3, "pitch: measured %.2f Hz", f)
			amp := amplitude(y, rate, f, m/5, 4*m/5)
			assert.InDelta(t, 0, db(amp/0.5), 0.3, "level kept: %.3f", amp)
			// Windows spliced out of phase would leave a sine far from one
			// (near 0 dB); spliced at whole frames, as near in phase as
			// those allow, they leave more than 30 dB.
			fit := fitSNR(y, rate, f, m/5, 4*m/5)
			assert.Greater(t, fit, 30.0, "a sine still")

			// Tempo, measured on the sound: the onsets of bursts of a tone
			// come 1/(Speed*Rate) as far apart.
			const every = rate * 3 / 10
			bursts := make([]float64, 4*rate)
			for i := range bursts {
				if i%every < rate/20 {
					bursts[i] = 0.5 * math.Sin(2*math.Pi*660*float64(i)/rate)
				}
			}
			ts, err = transform.NewTimescale(stereo48, c)
			require.NoError(t, err)
			y = channel(runAll(t, ts, frames(bursts, bursts)), 2, 0)
			on := onsets(y, rate)
			require.GreaterOrEqual(t, len(on), 10, "onsets at %v", on)
			spacing := (on[len(on)-1] - on[0]) / float64(len(on)-1)
			assert.InEpsilon(t, float64(every)/(c.Speed*c.Rate), spacing, 0.005, "onsets %v", on)
			t.Logf("pitch %.4f (want %.4f), tempo %.4f (want %.4f), level %.2f dB, sine fit %.1f dB", f/440, c.Pitch*c.Rate,
				float64(every)/spacing, c.Speed*c.Rate, db(amp/0.5), fit)
		})
	}
}

// fitSNR is the ratio in dB of y[from:to] to its difference from the sine
// of freq Hz that best fits it (least squares over sine and cosine).
func fitSNR(y []float64, rate int, freq float64, from, to int) float64 {
	var ss, cc, sc, ys, yc float64
	for k := from; k < to; k++ {
		s, c := math.Sincos(2 * math.Pi * freq * float64(k) / float64(rate))
		ss, cc, sc, ys, yc = ss+s*s, cc+c*c, sc+s*c, ys+y[k]*s, yc+y[k]*c
	}
	det := ss*cc - sc*sc
	a, b := (ys*cc-yc*sc)/det, (yc*ss-ys*sc)/det
	var sig, noise float64
	for k := from; k < to; k++ {
		s, c := math.Sincos(2 * math.Pi * freq * float64(k) / float64(rate))
		sig += y[k] * y[k]
		e := y[k] - a*s - b*c
		noise += e * e
	}
	return 10 * math.Log10(sig/noise)
}

// onsets returns the frames at which y's envelope (over 2 ms) rises above
// 0.1 after 20 ms below it.
func onsets(y []float64, rate int) []float64 {
	win := rate / 500
	var on []float64
	quiet := 0
	for i := 0; i+win <= len(y); i += win {
		peak := 0.0
		for _, v := range y[i : i+win] {
			peak = max(peak, math.Abs(v))
		}
		if peak > 0.1 {
			if quiet >= 10 {
				on = append(on, float64(i))
			}
			quiet = 0
		} else {
			quiet++
		}
	}
	return on
}

// envelope returns the amplitude of y's freq Hz tone in blocks of block
// frames, and the blocks' centres.
func envelope(y []float64, rate int, freq float64, block int) (env, at []float64) {
	for i := 0; i+block <= len(y); i += block {
		env = append(env, amplitude(y, rate, freq, i, i+block))
		at = append(at, (float64(i)+float64(block-1)/2)/float64(rate))
	}
	return env, at
}

// riseRate returns how often, per unit of at, env rises through its mean,
// from the first such rise to the last.
func riseRate(env, at []float64) float64 {
	var mean float64
	for _, v := range env {
		mean += v / float64(len(env))
	}
	var rises []float64
	for i := 1; i < len(env); i++ {
		if env[i-1] < mean && env[i] >= mean {
			rises = append(rises, at[i-1]+(at[i]-at[i-1])*(mean-env[i-1])/(env[i]-env[i-1]))
		}
	}
	if len(rises) < 2 {
		return 0
	}
	return float64(len(rises)-1) / (rises[len(rises)-1] - rises[0])
}

func TestTremolo(t *testing.T) {
	const rate = 48000
	f, err := transform.NewTremolo(stereo48, transform.TremoloConfig{Frequency: 4, Depth: 0.6})
	require.NoError(t, err)
	x := sine(rate, 2*rate, 1000, 0.5)
	out := runAll(t, f, frames(x, x))
	for c := range 2 {
		env, at := envelope(channel(out, 2, c), rate, 1000, rate/100)
		lo, hi := slicesMinMax(env)
		assert.InDelta(t, 0.6, 1-lo/hi, 0.01, "depth: trough %.4f, peak %.4f", lo, hi)
		assert.InDelta(t, 0.5, hi, 0.005, "the peak is the input's level")
		assert.InEpsilon(t, 4, riseRate(env, at), 0.01, "frequency")
		for i, a := range env {
			want := 0.5 * (1 - 0.3 + 0.3*math.Sin(2*math.Pi*4*at[i]))
			require.InDelta(t, want, a, 0.005, "block %d at %.3f s", i, at[i])
		}
	}
}

func slicesMinMax(x []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

func TestRotation(t *testing.T) {
	const rate = 48000
	f, err := transform.NewRotation(stereo48, transform.RotationConfig{RotationHz: 0.5})
	require.NoError(t, err)
	x := sine(rate, 6*rate, 1000, 0.8)
	out := runAll(t, f, frames(x, x))
	l, at := envelope(channel(out, 2, 0), rate, 1000, rate/100)
	r, _ := envelope(channel(out, 2, 1), rate, 1000, rate/100)
	assert.InEpsilon(t, 0.5, riseRate(l, at), 0.01, "a turn every 2 s")
	assert.InEpsilon(t, 0.5, riseRate(r, at), 0.01, "a turn every 2 s")
	for i := range l {
		s := math.Sin(2 * math.Pi * 0.5 * at[i])
		require.InDelta(t, 0.8*(1+s)/2, l[i], 0.005, "left at %.3f s", at[i])
		require.InDelta(t, 0.8*(1-s)/2, r[i], 0.005, "right at %.3f s", at[i])
	}

	mono, err := transform.NewRotation(mono22, transform.RotationConfig{RotationHz: 0.5})
	require.NoError(t, err)
	in := frames(sine(22050, 1000, 1000, 0.8))
	assert.Equal(t, in, runAll(t, mono, in), "mono passes unchanged")
}

func TestKaraoke(t *testing.T) {
	const rate, n = 48000, 48000
	k, err := transform.NewKaraoke(stereo48, transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100})
	require.NoError(t, err)
	centre := sine(rate, n, 1000, 0.4)
	bass := sine(rate, n, 220, 0.2)
	side := sine(rate, n, 3000, 0.3)
	out := runAll(t, k, frames(add(centre, bass, side), add(centre, bass)))
	l, r := channel(out, 2, 0), channel(out, 2, 1)
	from := n / 4
	for c, y := range [][]float64{l, r} {
		assert.Less(t, db(amplitude(y, rate, 1000, from, n)/0.4), -20.0, "channel %d: the centre is removed", c)
		assert.InDelta(t, 0, db(amplitude(y, rate, 3000, from, n)/0.3), 0.5, "channel %d: the side is kept", c)
		assert.InDelta(t, 0, db(amplitude(y, rate, 220, from, n)/0.2), 1.0, "channel %d: the centre's band is kept", c)
	}

	mono, err := transform.NewKaraoke(mono22, transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 220, FilterWidth: 100})
	require.NoError(t, err)
	in := frames(sine(22050, 1000, 1000, 0.8))
	assert.Equal(t, in, runAll(t, mono, in), "mono passes unchanged")
}

func TestVibrato(t *testing.T) {
	const rate = 48000
	f, err := transform.NewVibrato(stereo48, transform.VibratoConfig{Frequency: 5, Depth: 1})
	require.NoError(t, err)
	x := sine(rate, 2*rate, 1000, 0.5)
	y := channel(runAll(t, f, frames(x, x)), 2, 1)
	// The instantaneous frequency, one value a cycle, swings by
	// 1000 Hz * 2 ms * pi * 5 Hz = 31.4 Hz either way, 5 times a second.
	ts := upCrossings(y, rate/10, 2*rate)
	inst := make([]float64, len(ts)-1)
	for i := range inst {
		inst[i] = rate / (ts[i+1] - ts[i])
	}
	lo, hi := slicesMinMax(inst)
	assert.InDelta(t, 1000+31.4, hi, 1.5, "highest")
	assert.InDelta(t, 1000-31.4, lo, 1.5, "lowest")
	at := make([]float64, len(inst))
	for i := range at {
		at[i] = ts[i] / rate
	}
	assert.InEpsilon(t, 5, riseRate(inst, at), 0.01, "the swing's frequency")
	assert.InDelta(t, 0, db(amplitude(y, rate, 1000, rate/10, rate/10+rate/1000)/0.5), 0.5, "level kept")
}

func TestChannelMix(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l, r := make([]float64, 5000), make([]float64, 5000)
	for i := range l {
		l[i], r[i] = rng.Float64()-0.5, rng.Float64()-0.5
	}
	in := frames(l, r)
	for _, m := range []transform.ChannelMixConfig{
		transform.DefaultChannelMix,
		{LeftToRight: 1, RightToLeft: 1},
		{LeftToLeft: 0.5, LeftToRight: 0.5, RightToLeft: 0.5, RightToRight: 0.5},
		{LeftToLeft: 1, LeftToRight: 1},
		{LeftToLeft: 0.25, RightToLeft: 0.75, RightToRight: 0.1},
	} {
		t.Run(fmt.Sprintf("%+v", m), func(t *testing.T) {
			f, err := transform.NewChannelMix(stereo48, m)
			require.NoError(t, err)
			out := runAll(t, f, in)
			gl, gr := channel(out, 2, 0), channel(out, 2, 1)
			for i := range l {
				x, y := float64(float32(l[i])), float64(float32(r[i]))
				require.Equal(t, float64(float32(m.LeftToLeft*x+m.RightToLeft*y)), gl[i], "left %d", i)
				require.Equal(t, float64(float32(m.LeftToRight*x+m.RightToRight*y)), gr[i], "right %d", i)
			}
		})
	}
}

func TestLowPass(t *testing.T) {
	const rate, n = 48000, 48000
	for _, s := range []float64{2, 20, 100} {
		t.Run(fmt.Sprint(s), func(t *testing.T) {
			var gains []float64
			for _, freq := range []float64{100, 5000} {
				f, err := transform.NewLowPass(stereo48, transform.LowPassConfig{Smoothing: s})
				require.NoError(t, err)
				x := sine(rate, n, freq, 0.5)
				y := channel(runAll(t, f, frames(x, x)), 2, 0)
				got := db(amplitude(y, rate, freq, n/2, n) / 0.5)
				// y += (x-y)/s is the one-pole k/(1-(1-k)z^-1), k = 1/s.
				k, w := 1/s, 2*math.Pi*freq/rate
				want := db(k / math.Hypot(1-(1-k)*math.Cos(w), (1-k)*math.Sin(w)))
				assert.InDelta(t, want, got, 0.05, "%v Hz: got %.3f dB; want %.3f", freq, got, want)
				gains = append(gains, got)
			}
			assert.Greater(t, gains[0]-gains[1], 1.0, "the high tone is the more attenuated")
		})
	}
}

func TestDistortion(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float64, 20000)
	for i := range x {
		x[i] = (rng.Float64()*2 - 1) * 1.5 // beyond full scale too
	}
	x[0], x[1], x[2] = math.NaN(), math.Inf(1), math.Inf(-1)
	in := frames(x)
	mono := transform.Format{Rate: 48000, Channels: 1, Encoding: transform.F32LE}
	configs := []transform.DistortionConfig{
		{SinOffset: 0.1, SinScale: 2, CosOffset: 0.2, CosScale: 1.5, TanOffset: 0.3, TanScale: 0.7, Offset: 0.05, Scale: 0.9},
		{SinScale: 100, CosScale: 100, TanScale: 100, Scale: 100, TanOffset: -100, SinOffset: 100, CosOffset: -100, Offset: 100},
		{TanScale: math.Pi / 2, TanOffset: 1, CosScale: 1, SinScale: 1, Scale: 1},
	}
	for i, c := range configs {
		f, err := transform.NewDistortion(mono, c)
		require.NoError(t, err)
		y := channel(runAll(t, f, in), 1, 0)
		require.Len(t, y, len(x))
		for j, v := range y {
			require.False(t, math.IsNaN(v) || v > 1 || v < -1, "config %d sample %d: %v", i, j, v)
			if i == 0 && j > 2 {
				s := math.Max(-1, math.Min(1, float64(float32(x[j]))))
				want := c.Offset + c.Scale*(c.SinOffset+math.Sin(s*c.SinScale))*
					(c.CosOffset+math.Cos(s*c.CosScale))*(c.TanOffset+math.Tan(s*c.TanScale))
				require.InDelta(t, math.Max(-1, math.Min(1, want)), v, 1e-6, "sample %d", j)
			}
		}
	}
}

func TestFilterParams(t *testing.T) {
	tests := []struct {
		name string
		make func() error
		msg  string
	}{
		{"volume above 5", func() error {
			_, err := transform.NewVolume(stereo48, transform.VolumeConfig{Volume: 5.01})
			return err
		}, "volume volume is 5.01 (want 0 to 5)"},
		{"volume negative", func() error { _, err := transform.NewVolume(stereo48, transform.VolumeConfig{Volume: -1}); return err }, "volume volume is -1"},
		{"volume NaN", func() error {
			_, err := transform.NewVolume(stereo48, transform.VolumeConfig{Volume: math.NaN()})
			return err
		}, "volume volume is NaN"},
		{"band gain below", func() error {
			_, err := transform.NewEqualizer(stereo48, transform.EqualizerConfig{Gains: [15]float64{12: -0.3}})
			return err
		}, "equalizer band 12 is -0.3 (want -0.25 to 1)"},
		{"band gain above", func() error {
			_, err := transform.NewEqualizer(stereo48, transform.EqualizerConfig{Gains: [15]float64{0: 1.5}})
			return err
		}, "equalizer band 0 is 1.5"},
		{"timescale speed 0", func() error {
			_, err := transform.NewTimescale(stereo48, transform.TimescaleConfig{Speed: 0, Pitch: 1, Rate: 1})
			return err
		}, "timescale speed is 0 (want 0.25 to 4)"},
		{"timescale rate", func() error {
			_, err := transform.NewTimescale(stereo48, transform.TimescaleConfig{Speed: 1, Pitch: 1, Rate: 4.5})
			return err
		}, "timescale rate is 4.5"},
		{"tremolo frequency 0", func() error {
			_, err := transform.NewTremolo(stereo48, transform.TremoloConfig{Frequency: 0, Depth: 0.5})
			return err
		}, "tremolo frequency is 0 (want above 0, at most 100)"},
		{"tremolo depth", func() error {
			_, err := transform.NewTremolo(stereo48, transform.TremoloConfig{Frequency: 2, Depth: 1.1})
			return err
		}, "tremolo depth is 1.1 (want 0 to 1)"},
		{"vibrato frequency", func() error {
			_, err := transform.NewVibrato(stereo48, transform.VibratoConfig{Frequency: 15, Depth: 0.5})
			return err
		}, "vibrato frequency is 15 (want above 0, at most 14)"},
		{"rotation", func() error {
			_, err := transform.NewRotation(stereo48, transform.RotationConfig{RotationHz: -1})
			return err
		}, "rotation rotationHz is -1"},
		{"karaoke band", func() error {
			_, err := transform.NewKaraoke(stereo48, transform.KaraokeConfig{Level: 1, MonoLevel: 1, FilterBand: 30000, FilterWidth: 100})
			return err
		}, "karaoke filterBand is 30000 (want 0 to 20000)"},
		{"distortion infinite", func() error {
			_, err := transform.NewDistortion(stereo48, transform.DistortionConfig{TanScale: math.Inf(1)})
			return err
		}, "distortion tanScale is +Inf (want -100 to 100)"},
		{"channel mix", func() error {
			_, err := transform.NewChannelMix(stereo48, transform.ChannelMixConfig{LeftToRight: 2})
			return err
		}, "channelMix leftToRight is 2 (want 0 to 1)"},
		{"low-pass", func() error {
			_, err := transform.NewLowPass(stereo48, transform.LowPassConfig{Smoothing: 0.5})
			return err
		}, "lowPass smoothing is 0.5 (want 1 to 10000)"},
		{"chain", func() error {
			_, err := transform.NewChainFilter(stereo48, transform.Chain{Vibrato: &transform.VibratoConfig{Frequency: 2, Depth: -0.5}})
			return err
		}, "vibrato depth is -0.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make()
			require.ErrorIs(t, err, transform.ErrFilterParam)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestFilterFormats(t *testing.T) {
	for _, f := range []transform.Format{
		{Rate: 48000, Channels: 2},
		{Rate: 48000, Channels: 2, Encoding: transform.S24LE},
		{Rate: 48000, Channels: 3, Encoding: transform.F32LE},
		{Rate: 0, Channels: 2, Encoding: transform.F32LE},
		{Rate: 48000, Channels: 0, Encoding: transform.F32LE},
	} {
		t.Run(f.String(), func(t *testing.T) {
			_, err := transform.NewVolume(f, transform.VolumeConfig{Volume: 1})
			assert.ErrorIs(t, err, transform.ErrFormat)
			_, err = transform.NewTimescale(f, transform.DefaultTimescale)
			assert.ErrorIs(t, err, transform.ErrFormat)
			_, err = transform.NewChainFilter(f, transform.Chain{})
			assert.ErrorIs(t, err, transform.ErrFormat)
		})
	}
}

// TestChainOrder checks that a ChainFilter applies its filters in
// Lavalink's order, as the separate filters in that order do: distortion
// and volume, for one, do not commute.
func TestChainOrder(t *testing.T) {
	const rate = 48000
	x := add(sine(rate, 30000, 300, 0.2), sine(rate, 30000, 2000, 0.1))
	in := frames(x, sine(rate, 30000, 500, 0.25))
	dist := transform.DistortionConfig{SinScale: 2, CosScale: 1, TanOffset: 1, TanScale: 0.5, Scale: 0.8}
	c := transform.Chain{
		Volume:     &transform.VolumeConfig{Volume: 0.7},
		Distortion: &dist,
		LowPass:    &transform.LowPassConfig{Smoothing: 4},
		Tremolo:    &transform.TremoloConfig{Frequency: 3, Depth: 0.5},
		Equalizer:  &transform.EqualizerConfig{Gains: [15]float64{5: 0.1, 9: -0.1}},
	}
	cf, err := transform.NewChainFilter(stereo48, c)
	require.NoError(t, err)
	got := runAll(t, cf, in)
	want := runAll(t, catcher.Chain(
		must(transform.NewLowPass(stereo48, *c.LowPass)),
		must(transform.NewDistortion(stereo48, dist)),
		must(transform.NewTremolo(stereo48, *c.Tremolo)),
		must(transform.NewEqualizer(stereo48, *c.Equalizer)),
		must(transform.NewVolume(stereo48, *c.Volume)),
	), in)
	require.Equal(t, want, got)
	wrong := runAll(t, catcher.Chain(
		must(transform.NewVolume(stereo48, *c.Volume)),
		must(transform.NewLowPass(stereo48, *c.LowPass)),
		must(transform.NewDistortion(stereo48, dist)),
		must(transform.NewTremolo(stereo48, *c.Tremolo)),
		must(transform.NewEqualizer(stereo48, *c.Equalizer)),
	), in)
	require.NotEqual(t, wrong, got, "the order matters")

	// With a timescale, the filters before it run on its input and those
	// after it on its output.
	c.Timescale = &transform.TimescaleConfig{Speed: 1.1, Pitch: 1.2, Rate: 0.9}
	cf, err = transform.NewChainFilter(stereo48, c)
	require.NoError(t, err)
	got = runAll(t, cf, in)
	want = runAll(t, catcher.Chain(
		must(transform.NewLowPass(stereo48, *c.LowPass)),
		must(transform.NewDistortion(stereo48, dist)),
		must(transform.NewTremolo(stereo48, *c.Tremolo)),
		must(transform.NewTimescale(stereo48, *c.Timescale)),
		must(transform.NewEqualizer(stereo48, *c.Equalizer)),
		must(transform.NewVolume(stereo48, *c.Volume)),
	), in)
	require.Len(t, got, int(cf.OutFrames(30000))*8)
	require.Equal(t, want, got)
}
