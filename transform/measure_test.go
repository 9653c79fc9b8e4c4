package transform_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

// tone returns frames of a sine of freq Hz and peak amp at rate, in every
// channel of f32le frames (channel c is shifted by c radians, so that a
// mix-up of channels shows).
func tone(rate, channels, frames int, freq, amp float64) []byte {
	b := make([]byte, 4*channels*frames)
	for i := range frames {
		for c := range channels {
			v := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)+float64(c))
			binary.LittleEndian.PutUint32(b[4*(i*channels+c):], math.Float32bits(float32(v)))
		}
	}
	return b
}

// channel returns channel c of f32le frames of channels samples.
func channel(b []byte, channels, c int) []float64 {
	out := make([]float64, len(b)/4/channels)
	for i := range out {
		out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i*channels+c):])))
	}
	return out
}

// resampleTone resamples channels of a tone of freq Hz and peak amp, lasting
// frames input frames, and returns the output's channels.
func resampleTone(t testing.TB, q transform.Quality, inRate, outRate, channels, frames int, freq, amp float64) [][]float64 {
	t.Helper()
	r, err := transform.NewResampler(transform.Format{Rate: inRate, Channels: channels, Encoding: transform.F32LE}, outRate, q)
	require.NoError(t, err)
	out := runAll(t, r, tone(inRate, channels, frames, freq, amp))
	require.Len(t, out, int(r.OutFrames(int64(frames)))*4*channels)
	chans := make([][]float64, channels)
	for c := range chans {
		chans[c] = channel(out, channels, c)
	}
	return chans
}

// snr is the ratio in dB of a sine of freq Hz, peak amp and phase ph,
// sampled at rate, to its difference from y, over y[from:to].
func snr(y []float64, rate int, freq, amp, ph float64, from, to int) float64 {
	var sig, noise float64
	for k := from; k < to; k++ {
		want := amp * math.Sin(2*math.Pi*freq*float64(k)/float64(rate)+ph)
		sig += want * want
		noise += (y[k] - want) * (y[k] - want)
	}
	return 10 * math.Log10(sig/noise)
}

// amplitude is the peak amplitude of the sine of freq Hz that best fits
// y[from:to] (least squares over sine and cosine).
func amplitude(y []float64, rate int, freq float64, from, to int) float64 {
	var ss, cc, sc, ys, yc float64
	for k := from; k < to; k++ {
		w := 2 * math.Pi * freq * float64(k) / float64(rate)
		s, c := math.Sin(w), math.Cos(w)
		ss += s * s
		cc += c * c
		sc += s * c
		ys += y[k] * s
		yc += y[k] * c
	}
	det := ss*cc - sc*sc
	a := (ys*cc - yc*sc) / det
	b := (yc*ss - ys*sc) / det
	return math.Hypot(a, b)
}

// rms is the root mean square of y[from:to].
func rms(y []float64, from, to int) float64 {
	var s float64
	for _, v := range y[from:to] {
		s += v * v
	}
	return math.Sqrt(s / float64(to-from))
}

func db(x float64) float64 { return 20 * math.Log10(x) }
