package mp3_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

func decodeMP3(t testing.TB, r io.Reader, opts ...mp3.Option) ([]byte, error) {
	t.Helper()
	return io.ReadAll(catcher.NewTransformReader(r, mp3.NewDecoder(opts...)))
}

// engines are the Layer III decoders the tests that hold for both run on.
var engines = []mp3.Engine{mp3.GoMP3, mp3.Native}

// sampleBytes is the size of a sample of every channel of an engine's
// output for a stream of nch channels.
func sampleBytes(e mp3.Engine, nch int) int {
	if e == mp3.Native {
		return 4 * nch
	}
	return 4
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		file     string
		rate     int
		channels int
		version  int
		vbr      bool
	}{
		{"prog_cbr128.mp3", 44100, 2, 1, false},
		{"prog_vbr.mp3", 44100, 2, 1, true},
		{"prog_id3.mp3", 44100, 2, 1, false},
		{"prog_22050_mono.mp3", 22050, 1, 2, false},
		{"prog_48000.mp3", 48000, 2, 1, false},
		{"prog_crc.mp3", 44100, 2, 1, false},
	}
	for _, e := range engines {
		for _, tt := range tests {
			t.Run(e.String()+"/"+tt.file, func(t *testing.T) {
				data := testutil.Fixture(t, tt.file)
				d := mp3.NewDecoder(mp3.WithEngine(e))
				info, err := d.ReadInfo(bytes.NewReader(data))
				require.NoError(t, err)
				assert.Equal(t, tt.rate, info.SampleRate)
				assert.Equal(t, tt.channels, info.Channels)
				assert.Equal(t, tt.version, info.Version)
				assert.Equal(t, tt.vbr, info.VBR)
				assert.Equal(t, int64(576), info.EncoderDelay)
				assert.EqualValues(t, 3*tt.rate, info.Length)

				pcm, err := io.ReadAll(catcher.NewTransformReader(iotest.HalfReader(bytes.NewReader(data)), mp3.NewDecoder(mp3.WithEngine(e))))
				require.NoError(t, err)
				// go-mp3: stereo s16, a mono file duplicated; Native:
				// float32 in the file's channels.
				f := d.Format()
				require.Len(t, pcm, 3*tt.rate*f.BytesPerFrame(), "exact length: 3 s of %v", f)
				for ch := range f.Channels {
					refCh := ch
					if tt.channels == 1 {
						refCh = 0
					}
					ref := testutil.Program(tt.rate, refCh)
					got := testutil.Channel(pcm, f.Encoding, f.Channels, ch)
					// Aligned to the sample: the sweep matches best at lag 0.
					lag, corr := testutil.BestLag(ref, got, 2*tt.rate, 3*tt.rate, 8)
					assert.Equal(t, 0, lag, "channel %d", ch)
					assert.Greater(t, corr, 0.99, "channel %d", ch)
					lag, corr = testutil.BestLag(ref, got, tt.rate/2, 3*tt.rate/2, 2)
					assert.Equal(t, 0, lag, "tone of channel %d", ch)
					assert.Greater(t, corr, 0.99)
					// Silence where the program is silent (away from the edges,
					// where the codec's pre-echo spreads).
					assert.Less(t, testutil.RMS(got, 2000, tt.rate/2-2000), 0.001, "leading silence")
					assert.Less(t, testutil.RMS(got, 3*tt.rate/2+2000, 2*tt.rate-2000), 0.001, "middle silence")
				}
			})
		}
	}
}

func TestTruncated(t *testing.T) {
	for _, e := range engines {
		t.Run(e.String(), func(t *testing.T) {
			sb := sampleBytes(e, 2)
			clean, err := decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3")), mp3.WithEngine(e))
			require.NoError(t, err)
			pcm, err := decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "truncated.mp3")), mp3.WithEngine(e))
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			// Every whole frame before the cut: (30001 - 417 (Info frame))
			// bytes of 128 kbit/s frames (417.96 bytes each) is 70 whole
			// frames.
			require.Len(t, pcm, (70*1152-576-529)*sb)
			assert.True(t, bytes.Equal(clean[:len(pcm)], pcm), "the decoded part matches the whole file's")
		})
	}
}

func TestGarbage(t *testing.T) {
	for _, e := range engines {
		t.Run(e.String(), func(t *testing.T) {
			sb := sampleBytes(e, 2)
			clean, err := decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3")), mp3.WithEngine(e))
			require.NoError(t, err)
			pcm, err := decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "garbage.mp3")), mp3.WithEngine(e))
			assert.ErrorIs(t, err, mp3.ErrCorrupt)
			assert.NotErrorIs(t, err, io.ErrUnexpectedEOF)
			t.Log(err)
			// The damage starts at byte 20000, in frame 47 (417 + 46*418 =
			// 19645 bytes before it): the 46 audio frames before it decode
			// as in the clean file.
			good := (46*1152 - 576 - 529) * sb
			require.Greater(t, len(pcm), good)
			assert.True(t, bytes.Equal(clean[:good], pcm[:good]), "before the damage")
			// 1500 bytes of damage take 4 or 5 frames; the rest is decoded
			// and, once the decoder has settled, identical to the clean
			// file's end.
			lost := (len(clean) - len(pcm)) / sb
			assert.GreaterOrEqual(t, lost, 3*1152)
			assert.LessOrEqual(t, lost, 6*1152)
			tail := 44100 * sb
			assert.True(t, bytes.Equal(clean[len(clean)-tail:], pcm[len(pcm)-tail:]), "the last second")
		})
	}
}

func TestBadInput(t *testing.T) {
	_, err := decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "empty.mp3")))
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "notaudio.txt")))
	assert.ErrorIs(t, err, mp3.ErrNotMP3)
	_, err = decodeMP3(t, bytes.NewReader(testutil.Fixture(t, "prog.opus")))
	assert.ErrorIs(t, err, mp3.ErrNotMP3)
}

// readSeed reads a []byte fuzz seed from testdata/fuzz.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", path))
	require.NoError(t, err)
	lines := strings.SplitN(string(b), "\n", 3)
	require.Len(t, lines, 3)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	require.NoError(t, err)
	return []byte(s)
}

// go-mp3's panics are fenced.
func TestDecoderPanicFenced(t *testing.T) {
	// The 22.05 kHz fixture with bytes changed in its frames' main data, so
	// that go-mp3 panics in its MPEG-2 scale-factor code (index out of
	// range) on the frame at offset 4596; the input is also cut inside a
	// frame. The panic is fenced, the frames before it decode as in the
	// clean file, decoding goes on after it.
	in := readSeed(t, "FuzzMP3/go-mp3-mpeg2-scalefactor-panic")
	pcm, err := decodeMP3(t, bytes.NewReader(in), mp3.WithEngine(mp3.GoMP3))
	assert.ErrorIs(t, err, mp3.ErrDecoderPanic)
	assert.ErrorIs(t, err, mp3.ErrCorrupt)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	d := mp3.NewDecoder(mp3.WithEngine(mp3.GoMP3))
	clean, _ := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(testutil.Fixture(t, "prog_22050_mono.mp3")[:4596]), d))
	require.NotEmpty(t, clean)
	// The frames before the one that panicked can differ only where the
	// changed bytes fell; the first 10 frames are untouched.
	n := (10*576 - 576 - 529) * 4
	assert.True(t, bytes.Equal(clean[:n], pcm[:n]))
	assert.Greater(t, len(pcm), len(clean), "frames after the panic are decoded too")
}
