package transform_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

func TestMix(t *testing.T) {
	mono := func(e transform.Encoding) transform.Format {
		return transform.Format{Rate: 8000, Channels: 1, Encoding: e}
	}
	stereo := func(e transform.Encoding) transform.Format {
		return transform.Format{Rate: 8000, Channels: 2, Encoding: e}
	}
	tests := []struct {
		name     string
		mix      func() (*transform.Mix, error)
		in, want []byte
	}{
		{"mono to stereo s16", func() (*transform.Mix, error) { return transform.MonoToStereo(mono(transform.S16LE)) },
			s16(1, -2, 32767, -32768),
			s16(1, 1, -2, -2, 32767, 32767, -32768, -32768)},
		{"stereo to mono s16 averages, ties to even", func() (*transform.Mix, error) { return transform.StereoToMono(stereo(transform.S16LE)) },
			s16(100, 300, 1, 2, 3, 2, 32767, 32767, -32768, -32768, 32767, -32768),
			s16(200, 2, 2, 32767, -32768, 0)},
		{"stereo to mono s24", func() (*transform.Mix, error) { return transform.StereoToMono(stereo(transform.S24LE)) },
			s24(0x7fffff, 0x7fffff, 10, -30),
			s24(0x7fffff, -10)},
		{"stereo to mono f32", func() (*transform.Mix, error) { return transform.StereoToMono(stereo(transform.F32LE)) },
			f32(0.5, 0.25, 1, -1, math.NaN(), 0.5),
			f32(0.375, 0, 0)},
		{"3 to 2 by matrix, clipped", func() (*transform.Mix, error) {
			return transform.NewMix(transform.Format{Rate: 8000, Channels: 3}, [][]float64{{1, 0, 0.5}, {0, 1, 0.5}})
		},
			s16(100, 200, 1000, 30000, 0, 10000),
			s16(600, 700, 32767, 5000)},
		{"swap", func() (*transform.Mix, error) {
			return transform.NewMix(stereo(transform.S16LE), [][]float64{{0, 1}, {1, 0}})
		},
			s16(1, 2, 3, 4), s16(2, 1, 4, 3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.mix()
			require.NoError(t, err)
			assert.Equal(t, m.Out().BytesPerFrame(), m.MinSpace())
			got, err := run(m, tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMixErrors(t *testing.T) {
	tests := []struct {
		name string
		mix  func() (*transform.Mix, error)
	}{
		{"mono to stereo of stereo", func() (*transform.Mix, error) {
			return transform.MonoToStereo(transform.Format{Rate: 44100, Channels: 2})
		}},
		{"stereo to mono of mono", func() (*transform.Mix, error) {
			return transform.StereoToMono(transform.Format{Rate: 8000, Channels: 1})
		}},
		{"no rows", func() (*transform.Mix, error) {
			return transform.NewMix(transform.Format{Rate: 44100, Channels: 2}, nil)
		}},
		{"short row", func() (*transform.Mix, error) {
			return transform.NewMix(transform.Format{Rate: 44100, Channels: 2}, [][]float64{{1}})
		}},
		{"NaN weight", func() (*transform.Mix, error) {
			return transform.NewMix(transform.Format{Rate: 44100, Channels: 2}, [][]float64{{1, math.NaN()}})
		}},
		{"bad format", func() (*transform.Mix, error) { return transform.NewMix(transform.Format{}, [][]float64{{1}}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.mix()
			assert.ErrorIs(t, err, transform.ErrFormat)
		})
	}
}
