package transform_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

func TestFormatSizes(t *testing.T) {
	tests := []struct {
		f     transform.Format
		frame int
		str   string
	}{
		{transform.Format{Rate: 44100, Channels: 2}, 4, "44100 Hz, 2 ch, s16le"},
		{transform.Format{Rate: 48000, Channels: 1, Encoding: transform.S24LE}, 3, "48000 Hz, 1 ch, s24le"},
		{transform.Format{Rate: 96000, Channels: 6, Encoding: transform.F32LE}, 24, "96000 Hz, 6 ch, f32le"},
		{transform.Format{Channels: 2}, 4, "0 Hz, 2 ch, s16le"},
	}
	for _, tc := range tests {
		t.Run(tc.str, func(t *testing.T) {
			assert.Equal(t, tc.frame, tc.f.BytesPerFrame())
			assert.Equal(t, int64(10*tc.frame), tc.f.Bytes(10))
			assert.Equal(t, tc.str, tc.f.String())
			assert.NoError(t, tc.f.Validate())
		})
	}
	assert.Equal(t, "Encoding(9)", transform.Encoding(9).String())
	assert.Zero(t, transform.Encoding(9).BytesPerSample())
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		rate   int
		frames int64
		d      time.Duration
	}{
		{48000, 0, 0},
		{48000, 48000, time.Second},
		{48000, 960, 20 * time.Millisecond},
		{44100, 1, 22676 * time.Nanosecond}, // 22675.73 ns, rounded up
		{44100, 44100 * 3600, time.Hour},
		{44100, -1, -22676 * time.Nanosecond},
		{8000, 1 << 40, 137438953472 * time.Millisecond}, // 4.4 years: no overflow
		{0, 1000, 0}, // unknown rate
	}
	for _, tc := range tests {
		f := transform.Format{Rate: tc.rate, Channels: 1}
		assert.Equal(t, tc.d, f.Duration(tc.frames), "Duration(%d) at %d Hz", tc.frames, tc.rate)
		if tc.rate > 0 {
			assert.Equal(t, tc.frames, f.Frames(tc.d), "Frames(%v) at %d Hz", tc.d, tc.rate)
		}
	}
	f := transform.Format{Rate: 44100, Channels: 2}
	assert.Equal(t, int64(0), f.Frames(22675*time.Nanosecond), "a frame not yet whole")
	assert.Equal(t, int64(882), f.Frames(20*time.Millisecond))
	assert.Equal(t, int64(0), transform.Format{Channels: 1}.Frames(time.Second))
	for _, rate := range []int{8000, 11025, 22050, 44100, 48000, 88200, 96000, 192000, 352800, transform.MaxRate} {
		f := transform.Format{Rate: rate, Channels: 1}
		for n := int64(0); n < 3*int64(rate); n += 997 {
			require.Equal(t, n, f.Frames(f.Duration(n)), "Frames(Duration(%d)) at %d Hz", n, rate)
		}
	}
}

func TestFormatValidate(t *testing.T) {
	tests := []struct {
		name string
		f    transform.Format
		want string
	}{
		{"no channels", transform.Format{Rate: 48000}, "0 channels"},
		{"too many channels", transform.Format{Rate: 48000, Channels: transform.MaxChannels + 1}, "65 channels"},
		{"negative rate", transform.Format{Rate: -1, Channels: 1}, "rate -1"},
		{"rate too high", transform.Format{Rate: transform.MaxRate + 1, Channels: 1}, "rate 4194305"},
		{"unknown encoding", transform.Format{Rate: 48000, Channels: 1, Encoding: 3}, "unknown encoding 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Validate()
			require.ErrorIs(t, err, transform.ErrFormat)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
