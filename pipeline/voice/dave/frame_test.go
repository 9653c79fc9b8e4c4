package dave_test

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// TestULEB128KnownAnswers checks the codec against the whitepaper's
// examples, both ways.
func TestULEB128KnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		v   uint64
		hex string
	}{
		{0, "00"},
		{1, "01"},
		{127, "7f"},
		{128, "8001"},
		{1 << 24, "80808008"},
		{1<<32 - 1, "ffffffff0f"},
	} {
		t.Run(tc.hex, func(t *testing.T) {
			assert.Equal(t, tc.hex, hex.EncodeToString(dave.AppendULEB128(nil, tc.v)))
			v, n, err := dave.ReadULEB128(append(unhex(t, tc.hex), 0xaa), 32)
			require.NoError(t, err)
			assert.Equal(t, tc.v, v)
			assert.Equal(t, len(tc.hex)/2, n)
		})
	}
}

// TestULEB128Refused checks that the reader refuses what is not one
// minimal ULEB128 of at most 32 bits.
func TestULEB128Refused(t *testing.T) {
	for name, in := range map[string]string{
		"empty":           "",
		"runs past":       "8080",
		"not minimal":     "8000",
		"not minimal 2":   "ff00",
		"33 bits":         "8080808010",
		"six bytes":       "808080808001",
		"continued fifth": "ffffffff8f01",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := dave.ReadULEB128(unhex(t, in), 32)
			assert.ErrorIs(t, err, dave.ErrFrameMalformed)
		})
	}
}

// TestULEB128RoundTrip checks every size class of 32-bit values.
func TestULEB128RoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xfffffff, 0x10000000, 0xffffffff} {
		b := dave.AppendULEB128(nil, v)
		got, n, err := dave.ReadULEB128(b, 32)
		require.NoError(t, err, "%#x", v)
		assert.Equal(t, v, got)
		assert.Equal(t, len(b), n)
	}
}

// TestULEB128MatchesUvarint checks the codec against encoding/binary's
// uvarint, which is the same encoding.
func TestULEB128MatchesUvarint(t *testing.T) {
	for v := uint64(1); v < 1<<32; v = v*3 + 1 {
		assert.Equal(t, binary.AppendUvarint(nil, v), dave.AppendULEB128(nil, v), "%#x", v)
	}
}

// TestWrapGeneration checks how the 8 bits of generation in a nonce are
// read against the oldest generation kept: at or after it, wrapping every
// 256.
func TestWrapGeneration(t *testing.T) {
	for _, tc := range []struct{ oldest, low, want uint32 }{
		{0, 0, 0},
		{0, 5, 5},
		{255, 255, 255},
		{255, 0, 256},
		{256, 0, 256},
		{256, 255, 511},
		{300, 44, 300},
		{300, 50, 306},
		{300, 10, 522},
	} {
		assert.Equal(t, tc.want, dave.WrapGeneration(tc.oldest, tc.low), "oldest %d, low %d", tc.oldest, tc.low)
	}
}
