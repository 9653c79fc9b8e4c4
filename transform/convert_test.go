package transform_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

func TestConvert(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name     string
		from, to transform.Encoding
		in, want []byte
	}{
		{"s16 to f32", transform.S16LE, transform.F32LE,
			s16(0, 16384, 32767, -32768, -1),
			f32(0, 0.5, 32767.0/32768, -1, -1.0/32768)},
		{"s16 to s24", transform.S16LE, transform.S24LE,
			s16(0x1234, -1, -32768),
			s24(0x123400, -256, -0x800000)},
		{"s24 to f32", transform.S24LE, transform.F32LE,
			s24(0x400000, 0x7fffff, -0x800000, 1),
			f32(0.5, 8388607.0/8388608, -1, 1.0/8388608)},
		{"s24 to s16 rounds to nearest, ties to even", transform.S24LE, transform.S16LE,
			s24(0x80, 0x180, 0x17f, 0x181, -0x80, -0x180, -0x17f, 0x1234ab),
			s16(0, 2, 1, 2, 0, -2, -1, 0x1235)},
		{"s24 to s16 clips", transform.S24LE, transform.S16LE,
			s24(0x7fffff, 0x7fff80, -0x800000),
			s16(32767, 32767, -32768)},
		{"f32 to s16 rounds and clips", transform.F32LE, transform.S16LE,
			f32(0.5, -0.5, 1.5/32768, 2.5/32768, 0.4/32768, -1, 1, 2, -2, inf, -inf, nan),
			s16(16384, -16384, 2, 2, 0, -32768, 32767, 32767, -32768, 32767, -32768, 0)},
		{"f32 to s24", transform.F32LE, transform.S24LE,
			f32(0.5, -1, 1, 1.0/8388608, nan),
			s24(0x400000, -0x800000, 0x7fffff, 1, 0)},
		{"same encoding copies", transform.F32LE, transform.F32LE,
			f32(0.25, 7, nan), f32(0.25, 7, nan)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := transform.NewConvert(transform.Format{Rate: 48000, Channels: 1, Encoding: tc.from}, tc.to)
			require.NoError(t, err)
			assert.Equal(t, tc.to, c.Out().Encoding)
			assert.Equal(t, tc.to.BytesPerSample(), c.MinSpace())
			got, err := run(c, tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestConvertRoundTrips(t *testing.T) {
	all16 := make([]int, 65536)
	for i := range all16 {
		all16[i] = i - 32768
	}
	in := s16(all16...)
	for _, mid := range []transform.Encoding{transform.S24LE, transform.F32LE} {
		t.Run("s16 via "+mid.String(), func(t *testing.T) {
			f := transform.Format{Rate: 8000, Channels: 2}
			there, err := transform.NewConvert(f, mid)
			require.NoError(t, err)
			back, err := transform.NewConvert(there.Out(), transform.S16LE)
			require.NoError(t, err)
			assert.Equal(t, in, runAll(t, back, runAll(t, there, in)))
		})
	}
	t.Run("s24 via f32", func(t *testing.T) {
		in := noise(3*10000, 7)
		f := transform.Format{Rate: 8000, Channels: 1, Encoding: transform.S24LE}
		there, err := transform.NewConvert(f, transform.F32LE)
		require.NoError(t, err)
		back, err := transform.NewConvert(there.Out(), transform.S24LE)
		require.NoError(t, err)
		assert.Equal(t, in, runAll(t, back, runAll(t, there, in)))
	})
}

func TestConvertDither(t *testing.T) {
	// A constant a quarter of a 16-bit step above 100 steps: rounding alone
	// gives 100 every time; dither gives values around it whose mean is
	// the input.
	const n = 100_000
	const x = 100.25
	v := make([]float64, n)
	for i := range v {
		v[i] = x / 32768
	}
	in := f32(v...)
	f := transform.Format{Rate: 48000, Channels: 1, Encoding: transform.F32LE}

	plain, err := transform.NewConvert(f, transform.S16LE)
	require.NoError(t, err)
	assert.Equal(t, s16(repeat(100, n)...), runAll(t, plain, in))

	dither := func(seed uint64) []byte {
		c, err := transform.NewConvert(f, transform.S16LE, transform.WithDither(seed))
		require.NoError(t, err)
		return runAll(t, c, in)
	}
	a := dither(1)
	assert.Equal(t, a, dither(1), "same seed, same output")
	assert.NotEqual(t, a, dither(2), "another seed, other output")

	var sum float64
	for i := range n {
		s := float64(int16(binary.LittleEndian.Uint16(a[2*i:])))
		require.InDelta(t, x, s, 1.5, "TPDF dither and rounding move a sample by less than 1.5 steps")
		sum += s
	}
	assert.InDelta(t, x, sum/n, 0.01, "the mean of dithered samples is the input")
}

// Samples that are already 16-bit steps, digital silence among them, are
// not dithered: silence stays silent (an Opus encoder then codes it in
// a few bytes), and float made from 16-bit samples comes back exact,
// while the samples between steps around them are still dithered.
func TestConvertDitherLeavesSteps(t *testing.T) {
	const n = 10_000
	v := make([]float64, 3*n)
	for i := range n {
		v[i] = 0                                // silence
		v[n+i] = float64(int16(i*7919)) / 32768 // steps
		v[2*n+i] = 100.25 / 32768               // between steps
	}
	f := transform.Format{Rate: 48000, Channels: 1, Encoding: transform.F32LE}
	c, err := transform.NewConvert(f, transform.S16LE, transform.WithDither(3))
	require.NoError(t, err)
	out := runAll(t, c, f32(v...))
	s := func(i int) int16 { return int16(binary.LittleEndian.Uint16(out[2*i:])) }
	for i := range n {
		require.Zero(t, s(i), "silence, sample %d", i)
		require.Equal(t, int16(i*7919), s(n+i), "a step, sample %d", i)
	}
	seen := map[int16]bool{}
	for i := range n {
		seen[s(2*n+i)] = true
	}
	assert.Greater(t, len(seen), 1, "the samples between steps are dithered")
}

func TestConvertDitherOnlyReducesTo16(t *testing.T) {
	in := noise(2*3*500, 3)
	for _, tc := range []struct{ from, to transform.Encoding }{
		{transform.S16LE, transform.S16LE},
		{transform.S16LE, transform.S24LE},
		{transform.S16LE, transform.F32LE},
		{transform.S24LE, transform.F32LE},
		{transform.F32LE, transform.S24LE},
	} {
		f := transform.Format{Rate: 48000, Channels: 2, Encoding: tc.from}
		plain, err := transform.NewConvert(f, tc.to)
		require.NoError(t, err)
		dithered, err := transform.NewConvert(f, tc.to, transform.WithDither(9))
		require.NoError(t, err)
		assert.Equal(t, runAll(t, plain, in), runAll(t, dithered, in), "%v to %v", tc.from, tc.to)
	}
}

func TestConvertErrors(t *testing.T) {
	_, err := transform.NewConvert(transform.Format{Rate: 48000}, transform.F32LE)
	assert.ErrorIs(t, err, transform.ErrFormat)
	_, err = transform.NewConvert(transform.Format{Rate: 48000, Channels: 2}, 7)
	assert.ErrorIs(t, err, transform.ErrFormat)
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}
