package transform_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The targets of the High preset, measured on float output.
func TestHighPreset(t *testing.T) {
	t.Run("1 kHz from 44.1 kHz to 48 kHz, against the ideal sine", func(t *testing.T) {
		y := resampleTone(t, transform.High, 44100, 48000, 2, 44100, 1000, 0.5)
		for c := range y {
			s := snr(y[c], 48000, 1000, 0.5, float64(c), 2000, 46000)
			assert.GreaterOrEqual(t, s, 100.0, "channel %d: SNR %.1f dB", c, s)
		}
	})
	t.Run("passband from 44.1 kHz to 48 kHz, to 20 kHz", func(t *testing.T) {
		for _, f := range []float64{20, 100, 1000, 5000, 10000, 15000, 18000, 19000, 19500, 20000} {
			y := resampleTone(t, transform.High, 44100, 48000, 1, 22050, f, 0.5)
			g := db(amplitude(y[0], 48000, f, 1000, 23000) / 0.5)
			assert.InDelta(t, 0, g, 0.001, "gain at %v Hz: %.5f dB", f, g)
		}
	})
	t.Run("stopband from 48 kHz to 16 kHz, from 8.8 kHz", func(t *testing.T) {
		step := 100.0
		if testing.Short() {
			step = 700
		}
		for f := 8800.0; f < 24000; f += step {
			y := resampleTone(t, transform.High, 48000, 16000, 1, 12000, f, 0.5)
			a := db(rms(y[0], 500, 3500) / (0.5 / math.Sqrt2))
			assert.LessOrEqual(t, a, -100.0, "a tone at %v Hz comes out at %.1f dB", f, a)
		}
	})
}

// figures are a preset's measured quality, as the package doc's table
// gives them.
type figures struct {
	ripple    float64 // largest gain error in the passband, dB (44.1 to 48 kHz)
	rejection float64 // smallest attenuation of tones in the stopband, dB (48 to 16 kHz)
	snr       float64 // of a 1 kHz sine against the ideal sine, dB (44.1 to 48 kHz)
}

// resampleFunc resamples one channel of float samples.
type resampleFunc func(t testing.TB, inRate, outRate int, x []float64) []float64

func withPreset(q transform.Quality) resampleFunc {
	return func(t testing.TB, inRate, outRate int, x []float64) []float64 {
		r, err := transform.NewResampler(transform.Format{Rate: inRate, Channels: 1, Encoding: transform.F32LE}, outRate, q)
		require.NoError(t, err)
		return channel(runAll(t, r, f32(x...)), 1, 0)
	}
}

// linear is the naive resampler the presets are measured beside: linear
// interpolation between the two input samples around each output time.
func linear(_ testing.TB, inRate, outRate int, x []float64) []float64 {
	n := (len(x)*outRate + inRate - 1) / inRate
	y := make([]float64, n)
	at := func(i int) float64 {
		if i < len(x) {
			return x[i]
		}
		return 0
	}
	for k := range y {
		i, f := k*inRate/outRate, float64(k*inRate%outRate)/float64(outRate)
		y[k] = at(i) + f*(at(i+1)-at(i))
	}
	return y
}

func sine(rate, frames int, freq, amp float64) []float64 {
	x := make([]float64, frames)
	for i := range x {
		x[i] = amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
	}
	return x
}

// measure takes a resampler's figures: ripple over sines from 20 Hz to
// pass times 22.05 kHz at 44.1 to 48 kHz, rejection of sines from stop
// times 8 kHz up to 24 kHz at 48 to 16 kHz, and the SNR of a 1 kHz sine.
func measure(t testing.TB, rs resampleFunc, pass, stop float64) figures {
	var fig figures
	step := 250.0
	if testing.Short() {
		step = 2000
	}
	freqs := []float64{20, 50, 100, 200, 500}
	for f := 1000.0; f < pass*22050; f += step {
		freqs = append(freqs, f)
	}
	freqs = append(freqs, pass*22050)
	for _, f := range freqs {
		y := rs(t, 44100, 48000, sine(44100, 22050, f, 0.5))
		g := db(amplitude(y, 48000, f, 1000, 23000) / 0.5)
		fig.ripple = max(fig.ripple, math.Abs(g))
	}
	fig.rejection = math.Inf(1)
	step = 50
	if testing.Short() {
		step = 450
	}
	for f := stop * 8000; f < 24000; f += step {
		y := rs(t, 48000, 16000, sine(48000, 12000, f, 0.5))
		fig.rejection = min(fig.rejection, -db(rms(y, 500, 3500)/(0.5/math.Sqrt2)))
	}
	y := rs(t, 44100, 48000, sine(44100, 44100, 1000, 0.5))
	fig.snr = snr(y, 48000, 1000, 0.5, 0, 2000, 46000)
	return fig
}

// TestPresetFigures measures each preset, and the linear interpolation
// beside them, as the package doc's table reports them, and checks the
// table's figures hold (each measured figure at least as good).
func TestPresetFigures(t *testing.T) {
	tests := []struct {
		name       string
		rs         resampleFunc
		pass, stop float64 // band edges measured, as fractions of Nyquist
		doc        figures // as the table gives them
	}{
		{"fast", withPreset(transform.Fast), 0.70, 1.24, figures{0.006, 62, 72}},
		{"medium", withPreset(transform.Medium), 0.85, 1.15, figures{0.0004, 91, 96}},
		{"high", withPreset(transform.High), 0.907, 1.09, figures{0.00005, 101, 128}},
		{"linear", linear, 0.907, 1.1, figures{6.4, -0.1, 54}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := measure(t, tc.rs, tc.pass, tc.stop)
			t.Logf("%s: passband to %.3f of Nyquist within %.6f dB; rejection from %.3f: %.1f dB; SNR at 1 kHz %.1f dB",
				tc.name, tc.pass, got.ripple, tc.stop, got.rejection, got.snr)
			assert.LessOrEqual(t, got.ripple, tc.doc.ripple, "ripple")
			assert.GreaterOrEqual(t, got.rejection, tc.doc.rejection, "rejection")
			assert.GreaterOrEqual(t, got.snr, tc.doc.snr, "SNR")
		})
	}
}

// Every required ratio, in every preset: the exact length, and a 1 kHz sine
// that lines up with the ideal one at the output rate.
func TestResampleRatios(t *testing.T) {
	minSNR := map[transform.Quality]float64{transform.Fast: 60, transform.Medium: 90, transform.High: 110}
	ratios := [][2]int{{44100, 48000}, {22050, 48000}, {48000, 16000}, {8000, 48000}, {96000, 48000},
		{48000, 44100}, {11025, 48000}, {48000, 8000}, {44100, 48001}, {48000, 44099}, {32000, 32000}}
	for _, q := range []transform.Quality{transform.Fast, transform.Medium, transform.High} {
		for _, rt := range ratios {
			in, out := rt[0], rt[1]
			t.Run(fmt.Sprintf("%v %d to %d", q, in, out), func(t *testing.T) {
				y := resampleTone(t, q, in, out, 2, in/2, 1000, 0.5)
				require.Len(t, y[0], (in/2*out+in-1)/in)
				skip := out / 50
				for c := range y {
					s := snr(y[c], out, 1000, 0.5, float64(c), skip, len(y[c])-skip)
					assert.GreaterOrEqual(t, s, minSNR[q], "channel %d", c)
				}
			})
		}
	}
}

func TestResampleOutFrames(t *testing.T) {
	for _, rt := range [][2]int{{44100, 48000}, {48000, 16000}, {8000, 48000}, {96000, 48000}, {44100, 48001}, {7, 5}} {
		in, out := rt[0], rt[1]
		r, err := transform.NewResampler(transform.Format{Rate: in, Channels: 1}, out, transform.Fast)
		require.NoError(t, err)
		for n := range int64(300) {
			want := (n*int64(out) + int64(in) - 1) / int64(in)
			require.Equal(t, want, r.OutFrames(n), "%d to %d, %d frames", in, out, n)
		}
		for _, n := range []int{0, 1, 2, 3, 47, 48, 49, 1000, 4095, 4096, 4097, 20000} {
			r, err := transform.NewResampler(transform.Format{Rate: in, Channels: 1}, out, transform.Fast)
			require.NoError(t, err)
			got := runAll(t, r, make([]byte, 2*n))
			assert.Len(t, got, 2*int(r.OutFrames(int64(n))), "%d to %d, %d frames", in, out, n)
		}
	}
}

// An upsampler by a whole factor passes the input samples through at the
// output times that fall on them: the filter is not delayed.
func TestResampleAlignment(t *testing.T) {
	x := make([]float64, 200)
	x[0], x[1], x[57], x[199] = 0.5, -0.25, 0.75, -0.5 // impulses, at the ends too
	for _, q := range []transform.Quality{transform.Fast, transform.Medium, transform.High} {
		y := withPreset(q)(t, 8000, 48000, x)
		require.Len(t, y, 6*len(x))
		for i, v := range x {
			assert.InDelta(t, v, y[6*i], 1e-7, "%v: output %d, at input %d", q, 6*i, i)
		}
	}
}

// A constant comes out constant: each phase of the filter has a gain of
// exactly 1 at DC.
func TestResampleDC(t *testing.T) {
	x := make([]float64, 20000)
	for i := range x {
		x[i] = 0.5
	}
	for _, q := range []transform.Quality{transform.Fast, transform.Medium, transform.High} {
		for _, rt := range [][2]int{{44100, 48000}, {48000, 16000}, {44100, 48001}} {
			y := withPreset(q)(t, rt[0], rt[1], x)
			for k := 1000; k < len(y)-1000; k++ {
				require.InDelta(t, 0.5, y[k], 2e-6, "%v %v: output %d", q, rt, k)
			}
		}
	}
}

// Integer input and output go through the same float filter: the result
// is the float result rounded.
func TestResampleEncodings(t *testing.T) {
	x := sine(44100, 5000, 3000, 0.9)
	ref := withPreset(transform.High)(t, 44100, 48000, x)
	for _, enc := range []transform.Encoding{transform.S16LE, transform.S24LE} {
		t.Run(enc.String(), func(t *testing.T) {
			f := transform.Format{Rate: 44100, Channels: 1, Encoding: transform.F32LE}
			toInt := must(transform.NewConvert(f, enc))
			in := runAll(t, toInt, f32(x...))
			f.Encoding = enc
			r := must(transform.NewResampler(f, 48000, transform.High))
			assert.Equal(t, enc, r.Out().Encoding)
			toFloat := must(transform.NewConvert(r.Out(), transform.F32LE))
			y := channel(runAll(t, toFloat, runAll(t, r, in)), 1, 0)
			require.Len(t, y, len(ref))
			step := 1.0 / 32768
			if enc == transform.S24LE {
				step = 1.0 / 8388608
			}
			// Quantizing the input adds up to half a step through a filter
			// of gain about 1; rounding the output, half a step. Each of the
			// two float32 filters compared rounds its sum, of products near
			// 1, by up to about 2^-22 (two steps of 24 bits), whichever
			// order its additions take.
			tol := 1.5*step + 2*0x1p-22
			for k := range y {
				require.InDelta(t, ref[k], y[k], tol, "output %d", k)
			}
		})
	}
}

func TestResampleSameRate(t *testing.T) {
	in := noise(4*5000, 21)
	r := must(transform.NewResampler(transform.Format{Rate: 48000, Channels: 2}, 48000, transform.High))
	assert.Equal(t, in, runAll(t, r, in), "s16 through the filter at the same rate is unchanged")
}

// A chain that a decoder's output goes through: 44.1 kHz s16 stereo to
// 48 kHz, in float, dithered back to 16 bits, cached once for many readers.
func TestResampleChain(t *testing.T) {
	in := runAll(t, must(transform.NewConvert(transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}, transform.S16LE)),
		tone(44100, 2, 44100, 440, 0.5))
	toFloat := func() catcher.Transform {
		return must(transform.NewConvert(transform.Format{Rate: 44100, Channels: 2}, transform.F32LE))
	}
	rs := func() catcher.Transform {
		return must(transform.NewResampler(transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}, 48000, transform.High))
	}
	to16 := func() catcher.Transform {
		return must(transform.NewConvert(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}, transform.S16LE, transform.WithDither(1)))
	}
	want := runAll(t, to16(), runAll(t, rs(), runAll(t, toFloat(), in)))
	require.Len(t, want, 48000*4)

	c := catcher.New(bytes.NewReader(in), catcher.WithTransform(catcher.Chain(toFloat(), rs(), to16())))
	defer c.Close()
	for range 3 {
		got, err := io.ReadAll(c.NewReader())
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

func TestResamplerErrors(t *testing.T) {
	tests := []struct {
		name string
		in   transform.Format
		out  int
		q    transform.Quality
	}{
		{"unknown input rate", transform.Format{Channels: 2}, 48000, transform.High},
		{"no output rate", transform.Format{Rate: 44100, Channels: 2}, 0, transform.High},
		{"output rate too high", transform.Format{Rate: 44100, Channels: 2}, transform.MaxRate + 1, transform.High},
		{"ratio too high", transform.Format{Rate: 300000, Channels: 1}, 1000, transform.High},
		{"ratio too low", transform.Format{Rate: 100, Channels: 1}, 30000, transform.High},
		{"unknown quality", transform.Format{Rate: 44100, Channels: 2}, 48000, 4},
		{"bad format", transform.Format{Rate: 44100}, 48000, transform.High},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transform.NewResampler(tc.in, tc.out, tc.q)
			assert.ErrorIs(t, err, transform.ErrFormat)
		})
	}
}

func TestQuality(t *testing.T) {
	r := must(transform.NewResampler(transform.Format{Rate: 44100, Channels: 2}, 48000, 0))
	assert.Equal(t, transform.Medium, r.Quality(), "the zero Quality is Medium")
	assert.Equal(t, "high", transform.High.String())
	assert.Equal(t, "Quality(9)", transform.Quality(9).String())
	taps := map[transform.Quality]int{transform.Fast: 16, transform.Medium: 40, transform.High: 76}
	for q, n := range taps {
		assert.Equal(t, n, must(transform.NewResampler(transform.Format{Rate: 44100, Channels: 2}, 48000, q)).Taps(), "%v upsampling", q)
		assert.Equal(t, 3*n, must(transform.NewResampler(transform.Format{Rate: 48000, Channels: 2}, 16000, q)).Taps(), "%v downsampling by 3", q)
	}
}
