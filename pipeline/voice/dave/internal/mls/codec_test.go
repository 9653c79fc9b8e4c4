package mls_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestDeserializationVectors decodes every vlbytes header of
// deserialization.json and encodes its length back.
func TestDeserializationVectors(t *testing.T) {
	var vectors []struct {
		Header hexBytes `json:"vlbytes_header"`
		Length uint64   `json:"length"`
	}
	loadVectors(t, "deserialization.json", &vectors)
	require.NotEmpty(t, vectors)
	for i, v := range vectors {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, n, err := mls.ReadVarint(v.Header)
			require.NoError(t, err)
			assert.Equal(t, v.Length, got)
			assert.Equal(t, len(v.Header), n)
			enc, ok := mls.AppendVarint(nil, v.Length)
			require.True(t, ok)
			assert.Equal(t, []byte(v.Header), enc)
		})
	}
	t.Logf("%d vectors", len(vectors))
}

func TestVarintRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"prefix 11", []byte{0xc0, 0, 0, 0, 0, 0, 0, 0}},
		{"2 bytes for 63", []byte{0x40, 0x3f}},
		{"4 bytes for 16383", []byte{0x80, 0x00, 0x3f, 0xff}},
		{"2-byte cut short", []byte{0x40}},
		{"4-byte cut short", []byte{0x80, 0, 0x40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := mls.ReadVarint(tc.in)
			assert.ErrorIs(t, err, mls.ErrMalformed)
		})
	}
	_, ok := mls.AppendVarint(nil, 1<<30)
	assert.False(t, ok, "2^30 has no varint")
}

// TestVectorLengthBounded checks that a vector announcing more bytes than
// follow is refused before anything is read from it, naming the field.
func TestVectorLengthBounded(t *testing.T) {
	// Credential: credential_type = basic (00 01), identity<V> announcing
	// 2^30-1 bytes (bf ff ff ff) and carrying 2.
	b := []byte{0x00, 0x01, 0xbf, 0xff, 0xff, 0xff, 'h', 'i'}
	var c mls.Credential
	err := c.Unmarshal(b)
	require.ErrorIs(t, err, mls.ErrMalformed)
	assert.Contains(t, err.Error(), "identity")
	assert.True(t, errors.Is(err, mls.ErrMalformed))
}

func TestOptionalPresenceOctet(t *testing.T) {
	// GroupSecrets: joiner_secret<V> of 1 byte (01 aa), the presence
	// octet of path_secret (02, invalid), a path_secret<V> of 1 byte
	// (01 bb), no PSKs (00).
	b := []byte{0x01, 0xaa, 0x02, 0x01, 0xbb, 0x00}
	var gs mls.GroupSecrets
	err := gs.Unmarshal(b)
	require.ErrorIs(t, err, mls.ErrMalformed)
	assert.Contains(t, err.Error(), "path_secret")
	b[2] = 0x01
	require.NoError(t, gs.Unmarshal(b))
	assert.Equal(t, []byte{0xbb}, gs.PathSecret)
}

func TestTrailingBytes(t *testing.T) {
	// Credential basic with identity "hi", then one byte too many.
	b := []byte{0x00, 0x01, 0x02, 'h', 'i', 0x00}
	var c mls.Credential
	assert.ErrorIs(t, c.Unmarshal(b), mls.ErrMalformed)
	require.NoError(t, c.Unmarshal(b[:5]))
	assert.Equal(t, []byte("hi"), c.Identity)
}
