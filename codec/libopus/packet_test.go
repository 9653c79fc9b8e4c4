package libopus_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// TestPacketDecoder decodes a track's packets one by one and gets what the
// stream decoder gets; bad packets are errors, and concealment fills.
func TestPacketDecoder(t *testing.T) {
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	c, stream, x := encode(t, pcm, f)
	want, _ := decode(t, stream, x, 2)

	d, err := libopus.NewPacketDecoder(2)
	require.NoError(t, err)
	assert.Equal(t, 2, d.Channels())
	var got bytes.Buffer
	cur := framed.NewCursor(c)
	for {
		p, err := cur.Next()
		if err != nil {
			break
		}
		s, err := d.Decode(p.Data)
		require.NoError(t, err)
		n, err := opus.PacketSamples(p.Data)
		require.NoError(t, err)
		require.Len(t, s, int(n)*2)
		for _, v := range s {
			got.Write(binary.LittleEndian.AppendUint16(nil, uint16(v)))
		}
	}
	skip := int(x.PreSkip()) * 4
	assert.Equal(t, want, got.Bytes()[skip:skip+len(want)], "the same samples as the stream decoder")

	_, err = d.Decode(nil)
	assert.ErrorIs(t, err, opus.ErrCorruptPacket)
	_, err = d.Decode([]byte{0xff, 0}) // code 3 with no frames
	assert.ErrorIs(t, err, opus.ErrCorruptPacket)
	s, err := d.Conceal(960)
	require.NoError(t, err)
	assert.Len(t, s, 1920)
	_, err = d.Conceal(0)
	assert.Error(t, err)
	_, err = libopus.NewPacketDecoder(3)
	assert.ErrorIs(t, err, transform.ErrFormat)
}
