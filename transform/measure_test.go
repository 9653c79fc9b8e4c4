package transform_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The measurements (tone, channel, snr, amplitude, rms, db) are those of
// internal/testutil, for float PCM.
var (
	tone      = testutil.Tone
	snr       = testutil.SineSNR
	amplitude = testutil.Amplitude
	rms       = testutil.RMS
	db        = testutil.DB
)

// channel returns channel c of f32le frames of channels samples.
func channel(b []byte, channels, c int) []float64 {
	return testutil.Channel(b, transform.F32LE, channels, c)
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
