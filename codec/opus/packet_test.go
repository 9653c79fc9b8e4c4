package opus_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

func TestTOCConfigs(t *testing.T) {
	// RFC 6716, table 2: configuration number to mode, bandwidth, frame size.
	tests := []struct {
		config  int
		mode    opus.Mode
		bw      opus.Bandwidth
		samples int64
	}{
		{0, opus.ModeSILK, opus.Narrowband, 480},
		{3, opus.ModeSILK, opus.Narrowband, 2880},
		{5, opus.ModeSILK, opus.Mediumband, 960},
		{11, opus.ModeSILK, opus.Wideband, 2880},
		{12, opus.ModeHybrid, opus.SuperWideband, 480},
		{15, opus.ModeHybrid, opus.Fullband, 960},
		{16, opus.ModeCELT, opus.Narrowband, 120},
		{21, opus.ModeCELT, opus.Wideband, 240},
		{26, opus.ModeCELT, opus.SuperWideband, 480},
		{31, opus.ModeCELT, opus.Fullband, 960},
	}
	for _, tt := range tests {
		toc := opus.TOC(tt.config<<3 | 0x04 | 2)
		assert.Equal(t, tt.config, toc.Config())
		assert.Equal(t, tt.mode, toc.Mode(), "config %d", tt.config)
		assert.Equal(t, tt.bw, toc.Bandwidth(), "config %d", tt.config)
		assert.Equal(t, tt.samples, toc.FrameSamples(), "config %d", tt.config)
		assert.True(t, toc.Stereo())
		assert.Equal(t, 2, toc.Code())
	}
}

func TestParsePacket(t *testing.T) {
	const celt20 = 31 << 3 // CELT FB 20 ms, mono
	const celt25 = 28 << 3 // CELT FB 2.5 ms
	tests := []struct {
		name    string
		p       []byte
		frames  int
		sizes   []uint16
		padding int
		samples int64
	}{
		{"code 0", append([]byte{celt20}, make([]byte, 10)...), 1, []uint16{10}, 0, 960},
		{"code 0 empty frame", []byte{celt20}, 1, []uint16{0}, 0, 960},
		{"code 1", append([]byte{celt20 | 1}, make([]byte, 10)...), 2, []uint16{5, 5}, 0, 1920},
		{"code 2 short length", append([]byte{celt20 | 2, 3}, make([]byte, 10)...), 2, []uint16{3, 7}, 0, 1920},
		// 252 + 4*1 = 256: a two-byte length.
		{"code 2 long length", append([]byte{celt20 | 2, 252, 1}, make([]byte, 300)...), 2, []uint16{256, 44}, 0, 1920},
		{"code 3 CBR", append([]byte{celt20 | 3, 3}, make([]byte, 9)...), 3, []uint16{3, 3, 3}, 0, 2880},
		// VBR, padded: frame count byte 0xC2 (v, p, M=2); padding 255 then
		// 1 = 254+1 = 255 bytes; first frame 4 bytes; the rest is frame 2.
		{"code 3 VBR padded", append([]byte{celt20 | 3, 0xC2, 255, 1, 4}, make([]byte, 4+6+255)...), 2, []uint16{4, 6}, 255, 1920},
		{"code 3 48 frames of 2.5 ms", append([]byte{celt25 | 3, 48}, make([]byte, 48)...), 48, nil, 0, 5760},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi, err := opus.ParsePacket(tt.p)
			require.NoError(t, err)
			assert.Equal(t, tt.frames, pi.Frames)
			if tt.sizes != nil {
				assert.Equal(t, tt.sizes, pi.Sizes[:pi.Frames])
			}
			assert.Equal(t, tt.padding, pi.Padding)
			assert.Equal(t, tt.samples, pi.Samples)
		})
	}
}

func TestParsePacketInvalid(t *testing.T) {
	const celt20 = 31 << 3
	const silk60 = 3 << 3
	tests := []struct {
		name string
		p    []byte
	}{
		{"R1 empty", nil},
		{"R2 code 0 frame too long", append([]byte{celt20}, make([]byte, 1276)...)},
		{"R3 code 1 odd", append([]byte{celt20 | 1}, make([]byte, 3)...)},
		{"R4 code 2 no length", []byte{celt20 | 2}},
		{"R4 code 2 half a long length", []byte{celt20 | 2, 253}},
		{"R4 code 2 length past the end", []byte{celt20 | 2, 5, 1, 2}},
		{"R5 code 3 no count", []byte{celt20 | 3}},
		{"R5 code 3 zero frames", []byte{celt20 | 3, 0}},
		{"R5 code 3 over 120 ms", append([]byte{silk60 | 3, 3}, make([]byte, 3)...)},
		{"R6 code 3 CBR not a multiple", append([]byte{celt20 | 3, 2}, make([]byte, 3)...)},
		{"R6 code 3 CBR frame too long", append([]byte{celt20 | 3, 1}, make([]byte, 1276)...)},
		{"R7 code 3 VBR lengths past the end", append([]byte{celt20 | 3, 0x83, 200, 200}, make([]byte, 10)...)},
		{"code 3 padding past the end", append([]byte{celt20 | 3, 0x41, 20}, make([]byte, 5)...)},
		{"code 3 padding length runs off", []byte{celt20 | 3, 0x41, 255}},
		{"larger than MaxPacketSize", make([]byte, opus.MaxPacketSize+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := opus.ParsePacket(tt.p)
			assert.ErrorIs(t, err, opus.ErrCorruptPacket)
		})
	}
}

func TestMaxPacketSize(t *testing.T) {
	// The largest packet without padding: code 3, VBR, 48 frames of 2.5 ms,
	// each 1275 bytes (47 two-byte lengths: 1275 = 251 + 4*256).
	p := []byte{28<<3 | 3, 0x80 | 48}
	for range 47 {
		p = append(p, 255, 255) // 255 + 4*255 = 1275
	}
	p = append(p, make([]byte, 48*1275)...)
	require.Len(t, p, opus.MaxPacketSize)
	pi, err := opus.ParsePacket(p)
	require.NoError(t, err)
	assert.Equal(t, 48, pi.Frames)
	for i := range 48 {
		assert.EqualValues(t, 1275, pi.Sizes[i])
	}
}

func TestDuration(t *testing.T) {
	assert.Equal(t, 20*time.Millisecond, opus.Duration(960))
	assert.Equal(t, int64(960), opus.Samples(20*time.Millisecond))
	for _, n := range []int64{0, 1, 7, 47999, 48000, 1 << 40, -3} {
		assert.Equal(t, n, opus.Samples(opus.Duration(n)), "round trip of %d", n)
	}
}

func TestSilenceFrame(t *testing.T) {
	pi, err := opus.ParsePacket([]byte(opus.SilenceFrame))
	require.NoError(t, err)
	assert.Equal(t, int64(960), pi.Samples, "20 ms")
	assert.Equal(t, opus.ModeCELT, pi.TOC.Mode())
}
