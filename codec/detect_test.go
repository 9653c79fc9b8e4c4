package codec_test

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

func TestDetectFixtures(t *testing.T) {
	tests := []struct {
		file string
		kind codec.Kind
		err  error
	}{
		{"prog_cbr128.mp3", codec.KindMP3, nil},
		{"prog_vbr.mp3", codec.KindMP3, nil},
		{"prog_id3.mp3", codec.KindMP3, nil},
		{"prog_22050_mono.mp3", codec.KindMP3, nil},
		{"truncated.mp3", codec.KindMP3, nil},
		{"garbage.mp3", codec.KindMP3, nil},
		{"prog.opus", codec.KindOggOpus, nil},
		{"tone_s24_44100_2.wav", codec.KindWAV, nil},
		{"pipe_s16_48000_1.wav", codec.KindWAV, nil},
		{"prog_crc.mp3", codec.KindMP3, nil},
		{"prog_notag.mp3", codec.KindMP3, nil},
		{"prog_2500us.opus", codec.KindOggOpus, nil},
		{"tone_u8_22050_1.wav", codec.KindWAV, nil},
		{"tone_s16_44100_1.flac", codec.KindFLAC, nil},
		{"tone_s24_44100_2.flac", codec.KindFLAC, nil},
		{"tone1k_s16_48000_2_noseek.flac", codec.KindFLAC, nil},
		{"prog.webm", codec.KindWebM, nil},
		{"prog_mono_pipe.webm", codec.KindWebM, nil},
		{"prog_unknownsize.webm", codec.KindWebM, nil},
		{"prog_laced.mka", codec.KindWebM, nil},
		{"prog_vorbis.webm", codec.KindWebM, nil}, // the demuxer refuses it
		{"empty.mp3", codec.KindUnknown, io.ErrUnexpectedEOF},
		{"notaudio.txt", codec.KindUnknown, codec.ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := testutil.Fixture(t, tt.file)
			k, r, err := codec.DetectReader(iotest.HalfReader(bytes.NewReader(data)))
			assert.Equal(t, tt.kind, k)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
			} else {
				require.NoError(t, err)
			}
			all, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, data, all, "the reader gives back the whole input")
			assert.NoError(t, r.Close())
		})
	}
}

func TestDetectOther(t *testing.T) {
	// An MP3 without its Xing frame, starting after some junk.
	mp3 := testutil.Fixture(t, "prog_cbr128.mp3")
	k, err := codec.Detect(append([]byte("junk"), mp3[417:]...))
	require.NoError(t, err)
	assert.Equal(t, codec.KindMP3, k)
	// Ogg that is not Opus.
	var buf bytes.Buffer
	w := ogg.NewWriter(&buf, 1)
	require.NoError(t, w.WritePacket([]byte("\x01vorbis"), 0))
	require.NoError(t, w.Close())
	_, err = codec.Detect(buf.Bytes())
	assert.ErrorIs(t, err, codec.ErrUnsupported)
	assert.Equal(t, "Ogg Opus", codec.KindOggOpus.String())
	assert.Equal(t, "webm", codec.KindWebM.String())
	// EBML headers: another DocType; none (Matroska, the default); cut
	// short; a DocType after another child.
	for _, c := range []struct {
		head []byte
		kind codec.Kind
	}{
		{[]byte("\x1a\x45\xdf\xa3\x87\x42\x82\x84mkvx"), codec.KindUnknown},
		{[]byte("\x1a\x45\xdf\xa3\x80"), codec.KindWebM},
		{[]byte("\x1a\x45\xdf\xa3\x88\x42\x82\x84web"), codec.KindUnknown},
		{[]byte("\x1a\x45\xdf\xa3\x8b\x42\x86\x81\x01\x42\x82\x84webm"), codec.KindWebM},
		{[]byte("\x1a\x45\xdf\xa3\x00"), codec.KindUnknown},
	} {
		k, err := codec.Detect(c.head)
		assert.Equal(t, c.kind, k, "% x", c.head)
		if c.kind == codec.KindUnknown {
			assert.ErrorIs(t, err, codec.ErrUnknownFormat, "% x", c.head)
		}
	}
	// MPEG-2.5, which go-mp3 refuses, is not called MP3.
	f := append([]byte{0xff, 0xe3, 0x18, 0xc4}, make([]byte, 68)...)
	k, err = codec.Detect(append(bytes.Clone(f), f...))
	assert.ErrorIs(t, err, codec.ErrUnsupported)
	assert.ErrorIs(t, err, codec.ErrMPEG25)
	assert.Equal(t, codec.KindUnknown, k)
}

// DetectReader keeps the source's Close.
func TestDetectReaderCloses(t *testing.T) {
	src := &closer{Reader: bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3"))}
	_, r, err := codec.DetectReader(src)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.True(t, src.closed)
}

type closer struct {
	io.Reader
	closed bool
}

func (c *closer) Close() error {
	c.closed = true
	return nil
}

// id3v2 returns an ID3v2.4 tag of n bytes of padding after its header.
func id3v2(n int) []byte {
	return append([]byte{'I', 'D', '3', 4, 0, 0, byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}, make([]byte, n)...)
}

func TestDetectFLAC(t *testing.T) {
	fl := testutil.Fixture(t, "tone_s16_44100_1.flac")
	mp3 := testutil.Fixture(t, "prog_cbr128.mp3")
	footer := id3v2(100)
	footer[5] |= 0x10 // a 10-byte footer after the tag
	footer = append(footer, "3DI\x04\x00\x10\x00\x00\x00\x64"...)
	for _, tc := range []struct {
		name string
		head []byte
		want codec.Kind
	}{
		{"marker", fl, codec.KindFLAC},
		{"marker only", []byte("fLaC"), codec.KindFLAC},
		{"ID3v2 then FLAC", append(id3v2(500), fl...), codec.KindFLAC},
		{"ID3v2 with a footer then FLAC", append(footer, fl...), codec.KindFLAC},
		{"ID3v2 then MP3", append(id3v2(500), mp3...), codec.KindMP3},
		{"ID3v2 longer than the head then FLAC", append(id3v2(300<<10), fl...), codec.KindFLAC},
		{"ID3v2 longer than the head then MP3", append(id3v2(300<<10), mp3...), codec.KindMP3},
		{"ID3v2 cut short", id3v2(300 << 10)[:20<<10], codec.KindMP3},
		{"ID3v2 size not synchsafe", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x80"), fl...), codec.KindMP3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, r, err := codec.DetectReader(iotest.HalfReader(bytes.NewReader(tc.head)))
			require.NoError(t, err)
			assert.Equal(t, tc.want, k)
			all, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, tc.head, all)
		})
	}
	assert.Equal(t, "FLAC", codec.KindFLAC.String())
	k, err := codec.Detect(append(id3v2(codec.DetectSize), fl...)[:codec.DetectSize])
	require.NoError(t, err)
	assert.Equal(t, codec.KindMP3, k, "Detect alone: a tag that ends beyond its head is an MP3's")
	_, err = codec.Detect([]byte("fLa"))
	assert.ErrorIs(t, err, codec.ErrUnknownFormat, "a cut marker")
}

func TestContentTypeKind(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want codec.Kind
	}{
		{"audio/flac", codec.KindFLAC},
		{"audio/x-flac", codec.KindFLAC},
		{"Audio/FLAC; charset=binary", codec.KindFLAC},
		{"audio/mpeg", codec.KindMP3},
		{"audio/mp3", codec.KindMP3},
		{"audio/wav", codec.KindWAV},
		{"audio/x-wav", codec.KindWAV},
		{"audio/vnd.wave", codec.KindWAV},
		{"audio/opus", codec.KindOggOpus},
		{`audio/ogg; codecs="opus"`, codec.KindOggOpus},
		{"audio/ogg; codecs=opus", codec.KindOggOpus},
		{"audio/ogg", codec.KindUnknown},
		{"audio/ogg; codecs=vorbis", codec.KindUnknown},
		{"audio/webm", codec.KindWebM},
		{"video/webm", codec.KindWebM},
		{`audio/webm; codecs="opus"`, codec.KindWebM},
		{`video/webm; codecs="vp9, opus"`, codec.KindWebM},
		{"audio/webm; codecs=vorbis", codec.KindUnknown},
		{"audio/x-matroska", codec.KindWebM},
		{"video/x-matroska", codec.KindWebM},
		{"audio/matroska", codec.KindWebM},
		{"application/octet-stream", codec.KindUnknown},
		{"text/html; charset=utf-8", codec.KindUnknown},
		{"", codec.KindUnknown},
		{";;;", codec.KindUnknown},
	} {
		assert.Equal(t, tc.want, codec.ContentTypeKind(tc.ct), "%q", tc.ct)
	}
}
