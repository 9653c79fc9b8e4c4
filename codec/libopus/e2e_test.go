package libopus_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// track builds the whole path in one Catcher: the input decoded (and
// resampled) to 48 kHz stereo, Opus-encoded, framed.
func track(t testing.TB, src io.Reader, opts ...libopus.Option) *catcher.Catcher {
	t.Helper()
	dec, err := codec.NewDecoder(libopus.Format(2))
	require.NoError(t, err)
	enc, err := libopus.NewEncoder(libopus.Format(2), opts...)
	require.NoError(t, err)
	c := catcher.New(src, catcher.WithTransform(catcher.Chain(dec, framed.NewFramer(enc))))
	t.Cleanup(func() { c.Close() })
	return c
}

// MP3s at 48 and at 44.1 kHz through the whole path, from a pipe (a live
// source that cannot seek): decoded, resampled, Opus-encoded in one
// Catcher, written as Ogg Opus, read back and decoded. The length is exact
// to the sample at every stage and the program stays aligned.
func TestMP3OpusOggExact(t *testing.T) {
	for _, file := range []string{"prog_48000.mp3", "prog_cbr128.mp3", "prog_vbr.mp3"} {
		t.Run(file, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				_, err := pw.Write(testutil.Fixture(t, file))
				pw.CloseWithError(err)
			}()
			c := track(t, pr, libopus.WithBitrate(128000))
			require.NoError(t, c.Load(context.Background()))
			x, _, _ := catcher.StateOf[framed.Index](c)
			assert.EqualValues(t, 144000, x.DurationSamples(), "3 s at 48 kHz")
			assert.Equal(t, (144000+312+959)/960, x.Packets())
			_, _, ok := catcher.StateOf[mp3.Info](c)
			assert.True(t, ok, "the decoder's facts are published with the packets")

			file, _ := testutil.FramedToOgg(t, c, 44100)
			c2, y := loadOgg(t, file)
			assert.EqualValues(t, 144000, y.DurationSamples())
			stream, err := io.ReadAll(c2.NewReader())
			require.NoError(t, err)
			out, _ := decode(t, stream, y, 2)
			require.Len(t, out, 144000*4)
			for ch := range 2 {
				lag, corr := testutil.BestLag(testutil.Program(48000, ch), channel(out, 2, ch), 96000, 144000, 8)
				assert.Equal(t, 0, lag, "channel %d aligned to the sample", ch)
				assert.Greater(t, corr, 0.98)
			}
		})
	}
}

// Many readers of one decode, at random read sizes: the same bytes.
func TestMP3DecoderInCatcher(t *testing.T) {
	data := testutil.Fixture(t, "prog_vbr.mp3")
	want, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), mp3.NewDecoder()))
	require.NoError(t, err)
	c := catcher.New(bytes.NewReader(data), catcher.WithTransform(mp3.NewDecoder()))
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

// Stats.Resident counts the encoder, the decoder and the resampler while
// the track encodes, and only the chunks and the Index once it is done.
func TestTrackResidentBytes(t *testing.T) {
	pr, pw := io.Pipe()
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	c := track(t, pr)
	go pw.Write(data[:20000])
	cur := framed.NewCursor(c)
	_, err := cur.NextContext(context.Background())
	require.NoError(t, err)
	st := c.Stats()
	assert.Greater(t, st.Resident-st.Allocated, int64(100<<10), "decoder, resampler and encoder are counted while they run")
	go func() {
		pw.Write(data[20000:])
		pw.Close()
	}()
	require.NoError(t, c.Wait(context.Background()))
	st = c.Stats()
	x, _, _ := catcher.StateOf[framed.Index](c)
	assert.Equal(t, st.Allocated+x.Size(), st.Resident, "the chunks and the Index, nothing else")
}
