package mls_test

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// FuzzMLSMessage checks that decoding is canonical: whatever decodes
// encodes back to the same bytes, so a signature or reference computed
// over a re-encoding covers what was received.
func FuzzMLSMessage(f *testing.F) {
	b, err := hex.DecodeString(discordAppend)
	require.NoError(f, err)
	f.Add(b[2:]) // the MLSMessage after its varint length
	f.Add([]byte{0x00, 0x01, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<16 {
			return
		}
		var m mls.MLSMessage
		if m.Unmarshal(in) != nil {
			return
		}
		out, err := m.Marshal()
		require.NoError(t, err)
		assert.Equal(t, in, out)
	})
}
