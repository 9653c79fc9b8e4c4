package wav_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// countingSeeker is a bytes.Reader that counts the bytes read from it.
type countingSeeker struct {
	*bytes.Reader
	read int64
}

func (c *countingSeeker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += int64(n)
	return n, err
}

// Seek's output from frame k is the whole decode's from k, whether the
// source seeks (then the frames before k are not read) or not (read and
// dropped), for stored encodings output as they are and converted (u8,
// f64), and for the streaming form.
func TestSeek(t *testing.T) {
	for _, file := range []string{"tone_s16_44100_1.wav", "tone_s24_44100_2.wav", "tone_u8_22050_1.wav", "tone_f64_8000_2.wav", "pipe_s16_48000_1.wav"} {
		data := testutil.Fixture(t, file)
		d := wav.NewDecoder()
		whole, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), d))
		require.NoError(t, err)
		fb := d.Format().BytesPerFrame()
		frames := int64(len(whole) / fb)
		for _, k := range []int64{0, 1, 777, frames / 2, frames - 1, frames} {
			for _, seeks := range []bool{true, false} {
				c := &countingSeeker{Reader: bytes.NewReader(data)}
				var src io.Reader = c
				if !seeks {
					src = struct{ io.Reader }{c} // no Seek
				}
				d, first, err := wav.Seek(src, k)
				require.NoError(t, err, "%s: frame %d", file, k)
				assert.Equal(t, k, first)
				got, err := io.ReadAll(catcher.NewTransformReader(src, d))
				require.NoError(t, err, "%s: frame %d", file, k)
				if !assert.Equal(t, whole[k*int64(fb):], got, "%s from frame %d (seeks: %v)", file, k, seeks) {
					continue
				}
				info, ok := d.State().(wav.Info)
				require.True(t, ok)
				inFrame := int64(info.Format.Channels * info.Bits / 8) // as stored
				if seeks {
					assert.GreaterOrEqual(t, int64(len(data))-c.read, k*inFrame, "%s: the frames before %d are not read", file, k)
				}
			}
		}
	}
}

// A frame past the declared end is an error wrapping io.EOF; a source
// that ends before the frame, io.ErrUnexpectedEOF.
func TestSeekPastEnd(t *testing.T) {
	data := testutil.Fixture(t, "tone_s16_44100_1.wav")
	_, _, err := wav.Seek(bytes.NewReader(data), 44101)
	assert.ErrorIs(t, err, io.EOF)
	pipe := testutil.Fixture(t, "pipe_s16_48000_1.wav")
	_, _, err = wav.Seek(struct{ io.Reader }{bytes.NewReader(pipe)}, 48001)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}
