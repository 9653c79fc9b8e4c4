package mp3_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// apeFooterOnly is an APEv2 tag without a header: one item, then the
// footer, whose size counts the item and the footer.
func apeFooterOnly() []byte {
	item := binary.LittleEndian.AppendUint32(nil, 5) // value length
	item = binary.LittleEndian.AppendUint32(item, 0) // flags
	item = append(item, "Title\x00Hello"...)
	f := []byte("APETAGEX")
	f = binary.LittleEndian.AppendUint32(f, 2000)                 // version
	f = binary.LittleEndian.AppendUint32(f, uint32(len(item)+32)) // size: items and footer
	f = binary.LittleEndian.AppendUint32(f, 1)                    // items
	f = binary.LittleEndian.AppendUint32(f, 0)                    // flags: a footer, no header
	f = append(f, make([]byte, 8)...)                             // reserved
	return append(item, f...)
}

// The last frame is kept whatever follows it, and what follows is damage
// only when it is neither zeros nor a tag.
func TestLastFrameKept(t *testing.T) {
	for _, e := range engines {
		t.Run(e.String(), func(t *testing.T) {
			clean := testutil.Fixture(t, "prog_cbr128.mp3")
			want, err := decodeMP3(t, bytes.NewReader(clean), mp3.WithEngine(e))
			require.NoError(t, err)
			require.Len(t, want, 132300*sampleBytes(e, 2))
			id3v1 := append([]byte("TAG"), make([]byte, 125)...)
			for _, tc := range []struct {
				name    string
				trailer []byte
				damaged bool
			}{
				{"100 zero bytes", make([]byte, 100), false},
				{"3 zero bytes", make([]byte, 3), false},
				{"an APE footer-only tag", apeFooterOnly(), false},
				{"an APE footer then ID3v1", append(apeFooterOnly(), id3v1...), false},
				{"zeros then ID3v1", append(make([]byte, 40), id3v1...), false},
				{"garbage", bytes.Repeat([]byte{0x5a, 0x13}, 50), true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got, err := decodeMP3(t, bytes.NewReader(append(bytes.Clone(clean), tc.trailer...)), mp3.WithEngine(e))
					if tc.damaged {
						assert.ErrorIs(t, err, mp3.ErrCorrupt)
					} else {
						assert.NoError(t, err)
					}
					require.Len(t, got, len(want), "every frame, exactly trimmed")
					assert.True(t, bytes.Equal(want, got))
				})
			}
		})
	}
}

// Without a LAME tag, the decoder's own delay is trimmed; the encoder's
// (576 samples, which only the tag records) stays.
func TestNoTag(t *testing.T) {
	for _, e := range engines {
		t.Run(e.String(), func(t *testing.T) {
			d := mp3.NewDecoder(mp3.WithEngine(e))
			c := catcher.New(bytes.NewReader(testutil.Fixture(t, "prog_notag.mp3")), catcher.WithTransform(d))
			defer c.Close()
			require.NoError(t, c.Load(context.Background()))
			info, _, ok := catcher.StateOf[mp3.Info](c)
			require.True(t, ok, "the Info is published")
			assert.Equal(t, int64(-1), info.Length, "length unknown")
			assert.Equal(t, int64(-1), info.EncoderDelay)
			assert.Equal(t, int64(-1), info.Frames)
			pcm, err := io.ReadAll(c.NewReader())
			require.NoError(t, err)
			f := d.Format()
			assert.Len(t, pcm, (116*1152-529)*f.BytesPerFrame(), "every frame less the decoder's delay")
			for ch := range 2 {
				ref := testutil.Program(44100, ch)
				got := testutil.Channel(pcm, f.Encoding, f.Channels, ch)[576:]
				lag, corr := testutil.BestLag(ref, got, 2*44100, 3*44100-2000, 8)
				assert.Equal(t, 0, lag, "channel %d starts exactly 576 samples late", ch)
				assert.Greater(t, corr, 0.99)
			}
		})
	}
}

// A Xing frame count of 0 is unknown, not an empty stream.
func TestXingZeroFrames(t *testing.T) {
	data := bytes.Clone(testutil.Fixture(t, "prog_22050_mono.mp3"))
	// MPEG-2 mono: 4 bytes of header, 9 of side information, "Info",
	// 4 bytes of flags, then the frame count.
	require.Equal(t, "Info", string(data[13:17]))
	binary.BigEndian.PutUint32(data[21:], 0)
	for _, e := range engines {
		d := mp3.NewDecoder(mp3.WithEngine(e))
		info, err := d.ReadInfo(bytes.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, int64(-1), info.Frames)
		assert.Equal(t, int64(-1), info.Length)
		pcm, err := decodeMP3(t, bytes.NewReader(data), mp3.WithEngine(e))
		require.NoError(t, err)
		assert.Len(t, pcm, 66150*sampleBytes(e, 1), "%v: the delay and the padding are still trimmed", e)
	}
}

// Padded MPEG-2 frames that go-mp3 mis-sizes are refused at once, with an
// error that names them, never decoded to silence (with go-mp3; the
// Native decoder decodes them: TestNativeMatchesFFmpeg).
func TestMisSizedMPEG2(t *testing.T) {
	pcm, err := decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "prog_22050_32k.mp3")), mp3.WithEngine(mp3.GoMP3))
	assert.ErrorIs(t, err, mp3.ErrUnsupported)
	assert.Contains(t, err.Error(), "22050 Hz and 32 kbit/s")
	assert.Empty(t, pcm)
}

// A tag that runs past the end of the input is a truncation.
func TestTagPastEnd(t *testing.T) {
	in := append([]byte("ID3\x03\x00\x00\x00\x10\x00\x00"), make([]byte, 100)...) // a 256 KiB tag
	_, err := decodeMP3(t, bytes.NewReader(in))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotErrorIs(t, err, mp3.ErrNotMP3)
}

// MPEG-2.5 is refused as unsupported by go-mp3; the Native decoder
// decodes it.
func TestMPEG25(t *testing.T) {
	// Two MPEG-2.5 Layer III frames, 8 kHz, 8 kbit/s: 72*8000/8000 = 72
	// bytes each.
	h := []byte{0xff, 0xe3, 0x18, 0xc4}
	f := append(h, make([]byte, 68)...)
	_, err := decodeMP3(t, bytes.NewReader(append(bytes.Clone(f), f...)), mp3.WithEngine(mp3.GoMP3))
	assert.ErrorIs(t, err, mp3.ErrUnsupported)
	pcm, err := decodeMP3(t, bytes.NewReader(append(bytes.Clone(f), f...)))
	require.NoError(t, err)
	// Two frames of 576 samples, mono (the header's mode bits are 11),
	// less the decoder's delay: silence, the frames being empty.
	assert.Len(t, pcm, (2*576-529)*4)
	assert.Equal(t, make([]byte, len(pcm)), pcm)
}

// The ID3v2 tag's title and artist are published in the Info.
func TestID3Text(t *testing.T) {
	d := mp3.NewDecoder()
	info, err := d.ReadInfo(bytes.NewReader(testutil.Fixture(t, "prog_id3.mp3")))
	require.NoError(t, err)
	assert.Equal(t, "Known Title", info.Title)
	assert.Equal(t, "Known Artist", info.Artist)
	info, err = mp3.NewDecoder().ReadInfo(bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3")))
	require.NoError(t, err)
	assert.Empty(t, info.Title)

	// UTF-16 with a BOM, ID3v2.4 syncsafe frame sizes, an extended header.
	frame := func(id string, body []byte) []byte {
		n := len(body)
		return append(append([]byte(id), byte(n>>21&0x7f), byte(n>>14&0x7f), byte(n>>7&0x7f), byte(n&0x7f), 0, 0), body...)
	}
	utf16le := []byte{1, 0xff, 0xfe, 'Z', 0, 0xfc, 0, 'r', 0, 'i', 0, 'c', 0, 'h', 0} // "Zürich"
	body := append([]byte{0, 0, 0, 6, 0, 0}, frame("TIT2", utf16le)...)               // a 6-byte extended header
	body = append(body, frame("TPE1", []byte("\x03Caf\xc3\xa9\x00"))...)
	n := len(body)
	tag := append([]byte{'I', 'D', '3', 4, 0, 0x40, byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}, body...)
	info, err = mp3.NewDecoder().ReadInfo(bytes.NewReader(append(tag, testutil.Fixture(t, "prog_cbr128.mp3")...)))
	require.NoError(t, err)
	assert.Equal(t, "Zürich", info.Title)
	assert.Equal(t, "Café", info.Artist)
}

// The Frames published place each frame: its header's offset (a CBR
// stream's, 417 or 418 bytes apart after the 417-byte Info frame) and the
// output sample it starts at, the trimmed delay (576 + 529) before the
// first; a byte inside a frame gives the next.
func TestFramesPlaced(t *testing.T) {
	c := catcher.New(bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3")), catcher.WithTransform(mp3.NewDecoder()))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	f, _, ok := catcher.StateOf[mp3.Frames](c)
	require.True(t, ok, "the Frames are published")
	require.GreaterOrEqual(t, f.Len(), 64)
	off, s, ok := f.At(0)
	require.True(t, ok)
	first := off // the oldest frame kept
	for {
		o, s2, ok := f.At(off + 1)
		if !ok {
			assert.Equal(t, int64(116-1), (s+1105)/1152, "the last frame's")
			break
		}
		assert.Contains(t, []int64{417, 418}, o-off, "frame after offset %d", off)
		assert.Equal(t, s+1152, s2)
		off, s = o, s2
	}
	assert.Equal(t, int64(0), (s+1105)%1152)
	o, _, _ := f.At(first - 1000)
	assert.Equal(t, first, o, "an offset older than those kept gives the oldest")
}
