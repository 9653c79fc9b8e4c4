package codec_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

var opusIn = transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}

// refusing is a source that fails the test if it is read.
type refusing struct{ t *testing.T }

func (r refusing) Read([]byte) (int, error) {
	r.t.Error("the source was read")
	return 0, io.EOF
}

func TestDecoderReadsNothingInNew(t *testing.T) {
	d, err := codec.NewDecoder(opusIn)
	require.NoError(t, err)
	c := catcher.New(refusing{t}, catcher.WithTransform(d))
	require.NoError(t, c.Close())
}

// A 44.1 kHz MP3 becomes 48 kHz PCM, exactly 3 s long and aligned to the
// program; the source (the default MP3 decoder's float32 stereo) and the
// decoder's facts are published.
func TestDecodeMP3To48k(t *testing.T) {
	d, err := codec.NewDecoder(opusIn)
	require.NoError(t, err)
	c := catcher.New(iotest.HalfReader(bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3"))), catcher.WithTransform(d))
	defer c.Close()
	pcm, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	require.Len(t, pcm, 144000*4, "132300 samples at 44.1 kHz are 144000 at 48 kHz")
	for ch := range 2 {
		lag, corr := testutil.BestLag(testutil.Program(48000, ch), testutil.Channel(pcm, transform.S16LE, 2, ch), 96000, 140000, 8)
		assert.Equal(t, 0, lag, "channel %d", ch)
		assert.Greater(t, corr, 0.99)
	}
	src, _, ok := catcher.StateOf[codec.Source](c)
	require.True(t, ok)
	assert.Equal(t, codec.Source{Kind: codec.KindMP3, Format: transform.Format{Rate: 44100, Channels: 2, Encoding: transform.F32LE}}, src)
	info, _, ok := catcher.StateOf[mp3.Info](c)
	require.True(t, ok)
	assert.Equal(t, int64(132300), info.Length)
}

// With the Native MP3 decoder (the default), MP3s decode to 48 kHz PCM as
// with go-mp3: a stereo and a mono one (its float32 mono output made
// stereo), exactly 3 s long and aligned to the program; and MPEG-2.5,
// which go-mp3 refuses.
func TestDecodeMP3Native(t *testing.T) {
	for _, tt := range []struct {
		file     string
		channels int
	}{{"prog_cbr128.mp3", 2}, {"prog_22050_mono.mp3", 1}} {
		t.Run(tt.file, func(t *testing.T) {
			d, err := codec.NewDecoder(opusIn, codec.WithMP3Engine(mp3.Native))
			require.NoError(t, err)
			c := catcher.New(iotest.HalfReader(bytes.NewReader(testutil.Fixture(t, tt.file))), catcher.WithTransform(d))
			defer c.Close()
			pcm, err := io.ReadAll(c.NewReader())
			require.NoError(t, err)
			require.Len(t, pcm, 144000*4)
			for ch := range 2 {
				lag, corr := testutil.BestLag(testutil.Program(48000, ch%tt.channels), testutil.Channel(pcm, transform.S16LE, 2, ch), 96000, 140000, 8)
				assert.Equal(t, 0, lag, "channel %d", ch)
				assert.Greater(t, corr, 0.99)
			}
			src, _, ok := catcher.StateOf[codec.Source](c)
			require.True(t, ok)
			assert.Equal(t, transform.Format{Rate: src.Format.Rate, Channels: tt.channels, Encoding: transform.F32LE}, src.Format)
		})
	}
	t.Run("prog_8000_mono.mp3", func(t *testing.T) {
		data := testutil.Fixture(t, "prog_8000_mono.mp3")
		d, err := codec.NewDecoder(opusIn, codec.WithMP3Engine(mp3.GoMP3))
		require.NoError(t, err)
		_, err = io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), d))
		require.ErrorIs(t, err, codec.ErrUnsupported, "go-mp3 does not decode MPEG-2.5")
		d, err = codec.NewDecoder(opusIn)
		require.NoError(t, err)
		pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), d))
		require.NoError(t, err)
		// No LAME tag: the encoder's 576 samples of delay stay (and its
		// padding), 44 frames of 576 samples less the decoder's 529.
		require.InDelta(t, (44*576-529)*6, len(pcm)/4, 6, "samples at 48 kHz")
		got := testutil.Channel(pcm, transform.S16LE, 2, 0)
		lag, corr := testutil.BestLag(testutil.Program(48000, 0), got[576*6:], 96000, 140000, 8)
		assert.Equal(t, 0, lag)
		assert.Greater(t, corr, 0.9)
	})
}

func TestDecodeWAV(t *testing.T) {
	for _, tc := range []struct {
		file   string
		frames int
	}{
		{"tone_s16_44100_1.wav", 48000}, // mono to stereo, 44.1 to 48 kHz
		{"tone_u8_22050_1.wav", 48000},  // u8 to s16, mono to stereo, 22.05 to 48 kHz
		{"tone_f64_8000_2.wav", 48000},
		{"tone1k_s16_48000_2.wav", 48000}, // as it is
	} {
		t.Run(tc.file, func(t *testing.T) {
			d, err := codec.NewDecoder(opusIn)
			require.NoError(t, err)
			c := catcher.New(bytes.NewReader(testutil.Fixture(t, tc.file)), catcher.WithTransform(d))
			defer c.Close()
			pcm, err := io.ReadAll(c.NewReader())
			require.NoError(t, err)
			assert.Len(t, pcm, tc.frames*4)
			_, _, ok := catcher.StateOf[wav.Info](c)
			assert.True(t, ok)
			freq := 440.0
			if tc.file[:6] == "tone1k" {
				freq = 1000
			}
			left := testutil.Channel(pcm, transform.S16LE, 2, 0)
			assert.InDelta(t, 0.5, testutil.Amplitude(left, 48000, freq, 4800, 43200), 0.02)
		})
	}
}

// FLAC of every depth becomes 48 kHz stereo s16: as long as the
// STREAMINFO says, resampled (ceil(n*48000/rate) samples).
func TestDecodeFLAC(t *testing.T) {
	for _, tc := range []struct {
		file  string
		from  transform.Format
		input int64
	}{
		{"tone_s16_44100_1.flac", transform.Format{Rate: 44100, Channels: 1, Encoding: transform.S16LE}, 11025},
		{"tone_s24_44100_2.flac", transform.Format{Rate: 44100, Channels: 2, Encoding: transform.S24LE}, 4410},
		{"tone_u8_22050_1.flac", transform.Format{Rate: 22050, Channels: 1, Encoding: transform.S16LE}, 5512},
		{"tone1k_s16_48000_2.flac", transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}, 12000},
		{"tone1k_s16_48000_2_noseek.flac", transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}, 12000},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d, err := codec.NewDecoder(opusIn)
			require.NoError(t, err)
			c := catcher.New(iotest.HalfReader(bytes.NewReader(testutil.Fixture(t, tc.file))), catcher.WithTransform(d))
			defer c.Close()
			pcm, err := io.ReadAll(c.NewReader())
			require.NoError(t, err)
			want := (tc.input*48000 + int64(tc.from.Rate) - 1) / int64(tc.from.Rate)
			assert.EqualValues(t, want*4, len(pcm))
			src, _, ok := catcher.StateOf[codec.Source](c)
			require.True(t, ok)
			assert.Equal(t, codec.Source{Kind: codec.KindFLAC, Format: tc.from}, src)
			info, _, ok := catcher.StateOf[flac.Info](c)
			require.True(t, ok)
			assert.Equal(t, tc.input, info.Length)
			if tc.from == opusIn { // as it is: the WAV's samples
				w, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(testutil.Fixture(t, "tone1k_s16_48000_2.wav")), wav.NewDecoder()))
				require.NoError(t, err)
				assert.True(t, bytes.Equal(w[:len(pcm)], pcm))
			}
		})
	}
}

// TestDecodeFLACAfterLargeTag: a FLAC file whose ID3v2 tag (cover art) is
// larger than DetectSize is decoded as FLAC, to the same PCM as without it.
func TestDecodeFLACAfterLargeTag(t *testing.T) {
	fl := testutil.Fixture(t, "tone_s16_44100_1.flac")
	decode := func(in []byte) []byte {
		d, err := codec.NewDecoder(opusIn)
		require.NoError(t, err)
		c := catcher.New(iotest.HalfReader(bytes.NewReader(in)), catcher.WithTransform(d))
		defer c.Close()
		pcm, err := io.ReadAll(c.NewReader())
		require.NoError(t, err)
		return pcm
	}
	want := decode(fl)
	got := decode(append(id3v2(200<<10), fl...))
	assert.True(t, bytes.Equal(want, got), "%d bytes of PCM, want %d", len(got), len(want))
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want error
		opts []codec.DecodeOption
	}{
		{"prog.opus", codec.ErrUnsupported, nil},
		{"notaudio.txt", codec.ErrUnknownFormat, nil},
		{"empty.mp3", io.ErrUnexpectedEOF, nil},
		// Padded MPEG-2 frames go-mp3 mis-sizes (the Native decoder
		// decodes them).
		{"prog_22050_32k.mp3", mp3.ErrUnsupported, []codec.DecodeOption{codec.WithMP3Engine(mp3.GoMP3)}},
	} {
		d, err := codec.NewDecoder(opusIn, tc.opts...)
		require.NoError(t, err)
		c := catcher.New(bytes.NewReader(testutil.Fixture(t, tc.file)), catcher.WithTransform(d))
		assert.ErrorIs(t, c.Load(context.Background()), tc.want, tc.file)
		c.Close()
	}
	_, err := codec.NewDecoder(transform.Format{Channels: 2})
	assert.ErrorIs(t, err, transform.ErrFormat, "no rate")
}

// Raw PCM, stated, is converted like any other input.
func TestDecodeRaw(t *testing.T) {
	in := transform.Format{Rate: 24000, Channels: 1, Encoding: transform.F32LE}
	d, err := codec.NewDecoder(opusIn, codec.WithRawInput(in))
	require.NoError(t, err)
	c := catcher.New(bytes.NewReader(testutil.Tone(24000, 1, 24000, 1000, 0.5)), catcher.WithTransform(d))
	defer c.Close()
	pcm, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Len(t, pcm, 48000*4, "one second at 48 kHz, stereo s16")
	src, _, _ := catcher.StateOf[codec.Source](c)
	assert.Equal(t, codec.Source{Kind: codec.KindRaw, Format: in}, src)
	_, err = codec.NewDecoder(opusIn, codec.WithRawInput(transform.Format{Channels: 1}))
	assert.ErrorIs(t, err, transform.ErrFormat)
}
