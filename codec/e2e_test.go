package codec_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/transform"
)

// TestMP3OpusOggExact takes the 48 kHz MP3 through the whole path: MP3
// decoded and Opus-encoded inside one Catcher (a Chain), the framed packets
// written as Ogg Opus, read back, decoded. The length is exact to the
// sample at every stage and the audio stays aligned to the program.
func TestMP3OpusOggExact(t *testing.T) {
	enc, err := codec.NewOpusEncoder(transform.Opus, codec.WithBitrate(128000))
	require.NoError(t, err)
	// A live source: a pipe, which cannot seek.
	pr, pw := io.Pipe()
	go func() {
		_, err := pw.Write(fixture(t, "prog_48000.mp3"))
		pw.CloseWithError(err)
	}()
	c := catcher.New(pr, catcher.WithTransform(catcher.Chain(codec.NewMP3Decoder(), codec.NewFramer(enc))))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	x, _, _ := catcher.StateOf[codec.Index](c)
	assert.EqualValues(t, 144000, x.Length, "3 s at 48 kHz")
	assert.Equal(t, (144000+312+959)/960, x.Len())

	// To Ogg and back.
	ogg, _ := framedToOgg(t, c.NewReader(), x, 48000)
	c2, y := loadFramed(t, bytes.NewReader(ogg), codec.NewOggOpusDemuxer())
	assert.EqualValues(t, 144000, y.Length)
	framed, err := io.ReadAll(c2.NewReader())
	require.NoError(t, err)
	out, _ := decode(t, framed, y, 2)
	require.Len(t, out, 144000*4)
	for ch := range 2 {
		lag, corr := bestLag(program(48000, ch), channel(out, 2, ch), 96000, 144000, 8)
		assert.Equal(t, 0, lag, "channel %d aligned to the sample", ch)
		assert.Greater(t, corr, 0.98)
	}
}

func TestMP3DecoderInCatcher(t *testing.T) {
	// Many readers of one decode, at random read sizes: the same bytes.
	data := fixture(t, "prog_vbr.mp3")
	want, err := decodeMP3(t, bytes.NewReader(data))
	require.NoError(t, err)
	c := catcher.New(bytes.NewReader(data), catcher.WithTransform(codec.NewMP3Decoder()))
	defer c.Close()
	done := make(chan []byte, 4)
	for i := range 4 {
		go func() {
			r := c.NewReader()
			var got []byte
			buf := make([]byte, 1+i*997)
			for {
				n, err := r.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					break
				}
			}
			done <- got
		}()
	}
	for range 4 {
		assert.True(t, bytes.Equal(want, <-done))
	}
}

// TestMP3ResampleOpusOggExact is the whole path for the common case: a
// 44.1 kHz MP3 decoded, resampled to 48 kHz and Opus-encoded in one Catcher,
// written as Ogg Opus and read back. 132300 samples at 44.1 kHz are exactly
// 144000 at 48 kHz; the length is exact to the sample at every stage and the
// program stays aligned.
func TestMP3ResampleOpusOggExact(t *testing.T) {
	data := fixture(t, "prog_cbr128.mp3")
	src := bytes.NewReader(data)
	dec := codec.NewMP3Decoder()
	info, err := dec.ReadInfo(src) // the rate, before the chain is built
	require.NoError(t, err)
	require.Equal(t, 44100, info.SampleRate)
	rs, err := transform.NewResampler(dec.Format(), 48000, transform.High)
	require.NoError(t, err)
	enc, err := codec.NewOpusEncoder(rs.Out(), codec.WithBitrate(128000))
	require.NoError(t, err)
	c := catcher.New(src, catcher.WithTransform(catcher.Chain(dec, rs, codec.NewFramer(enc))))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	x, _, _ := catcher.StateOf[codec.Index](c)
	assert.EqualValues(t, 144000, x.Length, "3 s at 48 kHz, exactly")

	ogg, _ := framedToOgg(t, c.NewReader(), x, 44100)
	back := readOggOpus(t, bytes.NewReader(ogg))
	assert.EqualValues(t, 144000, back.length)
	c2, y := loadFramed(t, bytes.NewReader(ogg), codec.NewOggOpusDemuxer())
	framed, err := io.ReadAll(c2.NewReader())
	require.NoError(t, err)
	out, _ := decode(t, framed, y, 2)
	require.Len(t, out, 144000*4)
	for ch := range 2 {
		lag, corr := bestLag(program(48000, ch), channel(out, 2, ch), 96000, 144000, 8)
		assert.Equal(t, 0, lag, "channel %d aligned to the sample", ch)
		assert.Greater(t, corr, 0.98)
	}
}
