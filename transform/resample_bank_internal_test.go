package transform

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Resamplers of one ratio and preset share one filter bank; the cache
// keeps the maxBanks used last, so a ratio not used since is made anew,
// equal to what it was.
func TestResamplerBanksShared(t *testing.T) {
	mk := func(in, out int, q Quality) *Resampler {
		r, err := NewResampler(Format{Rate: in, Channels: 2, Encoding: S16LE}, out, q)
		require.NoError(t, err)
		return r
	}
	a, b := mk(44100, 48000, Medium), mk(88200, 96000, Medium) // one ratio, 147:160
	require.NotEmpty(t, a.bank)
	assert.Same(t, &a.bank[0], &b.bank[0], "one bank for one ratio and preset")
	c := mk(44100, 48000, High)
	assert.NotSame(t, &a.bank[0], &c.bank[0], "another preset, another bank")

	for i := range maxBanks { // other ratios push 147:160 at Medium out
		mk(8000+1000*i, 48000, Medium)
	}
	d := mk(44100, 48000, Medium)
	assert.NotSame(t, &a.bank[0], &d.bank[0], "made anew once dropped")
	assert.Equal(t, a.bank, d.bank, "and the same")
	assert.Same(t, &d.bank[0], &mk(44100, 48000, Medium).bank[0])
}
