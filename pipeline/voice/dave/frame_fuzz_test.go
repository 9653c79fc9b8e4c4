package dave_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// FuzzULEB128 checks that whatever the ULEB128 reader accepts is the
// minimal encoding of its value within 32 bits: encoding the value again
// gives back the bytes read.
func FuzzULEB128(f *testing.F) {
	for _, s := range [][]byte{{0x00}, {0x01}, {0x80, 0x01}, {0x80, 0x80, 0x80, 0x08}, {0xff, 0xff, 0xff, 0xff, 0x0f}, {0x80, 0x00}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := dave.ReadULEB128(b, 32)
		if err != nil {
			require.ErrorIs(t, err, dave.ErrFrameMalformed)
			return
		}
		require.LessOrEqual(t, v, uint64(1<<32-1))
		require.True(t, bytes.Equal(b[:n], dave.AppendULEB128(nil, v)), "%x read as %#x", b[:n], v)
	})
}
