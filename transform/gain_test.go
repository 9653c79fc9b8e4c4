package transform_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

func TestGain(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		enc      transform.Encoding
		gain     float64
		in, want []byte
	}{
		{"s16 halved, ties to even", transform.S16LE, 0.5,
			s16(1000, -1000, 3, 5, -3, 32767, -32768),
			s16(500, -500, 2, 2, -2, 16384, -16384)},
		{"s16 doubled, clipped", transform.S16LE, 2,
			s16(1000, 16384, -16385, 20000),
			s16(2000, 32767, -32768, 32767)},
		{"s16 unity", transform.S16LE, 1,
			s16(1, -1, 32767, -32768), s16(1, -1, 32767, -32768)},
		{"s16 silenced", transform.S16LE, 0,
			s16(1, -1, 32767, -32768), s16(0, 0, 0, 0)},
		{"s24 doubled, clipped", transform.S24LE, 2,
			s24(0x100000, 0x400000, -0x400001),
			s24(0x200000, 0x7fffff, -0x800000)},
		{"f32 by 6.02 dB, clipped to [-1, 1], NaN to 0", transform.F32LE, 2,
			f32(0.25, -0.25, 0.75, -3, nan),
			f32(0.5, -0.5, 1, -1, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := transform.NewGain(transform.Format{Rate: 44100, Channels: 1, Encoding: tc.enc}, tc.gain)
			require.NoError(t, err)
			assert.Equal(t, tc.enc.BytesPerSample(), g.MinSpace())
			got, err := run(g, tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestDB(t *testing.T) {
	assert.InDelta(t, 1, transform.DB(0), 1e-15)
	assert.InDelta(t, 0.5011872336, transform.DB(-6), 1e-9)
	assert.InDelta(t, 10, transform.DB(20), 1e-12)
	g, err := transform.NewGain(transform.Format{Rate: 44100, Channels: 2}, transform.DB(-20))
	require.NoError(t, err)
	assert.InDelta(t, 0.1, g.Factor(), 1e-15)
	got, err := run(g, s16(10000, -10000))
	require.NoError(t, err)
	assert.Equal(t, s16(1000, -1000), got)
}

func TestGainErrors(t *testing.T) {
	for _, gain := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := transform.NewGain(transform.Format{Rate: 44100, Channels: 2}, gain)
		assert.ErrorIs(t, err, transform.ErrFormat, "gain %v", gain)
	}
	_, err := transform.NewGain(transform.Format{}, 1)
	assert.ErrorIs(t, err, transform.ErrFormat)
}
