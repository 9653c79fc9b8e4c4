package codec_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
)

// program returns the fixtures' program (testdata/README.md) at rate:
// channel 0 (440 Hz tone) or 1 (660 Hz tone), 3 s.
func program(rate, ch int) []float64 {
	f := []float64{440, 660}[ch]
	out := make([]float64, 3*rate)
	for i := range out {
		t := float64(i) / float64(rate)
		switch {
		case t < 0.5:
		case t < 1.5:
			out[i] = 0.5 * math.Sin(2*math.Pi*f*(t-0.5))
		case t < 2:
		default:
			tau := t - 2
			out[i] = 0.5 * math.Sin(2*math.Pi*(200*tau+1900*tau*tau))
		}
	}
	return out
}

// channel returns one channel of interleaved s16le PCM as floats.
func channel(pcm []byte, channels, ch int) []float64 {
	n := len(pcm) / 2 / channels
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(int16(binary.LittleEndian.Uint16(pcm[2*(i*channels+ch):]))) / 32768
	}
	return out
}

// bestLag returns the lag in [-max, max] at which got best matches ref over
// ref[from:to], and the normalised correlation there.
func bestLag(ref, got []float64, from, to, maxLag int) (int, float64) {
	best, lag := -2.0, 0
	for l := -maxLag; l <= maxLag; l++ {
		var s, e1, e2 float64
		for i := from; i < to; i++ {
			j := i + l
			if j < 0 || j >= len(got) {
				continue
			}
			s += ref[i] * got[j]
			e1 += ref[i] * ref[i]
			e2 += got[j] * got[j]
		}
		if c := s / math.Sqrt(e1*e2+1e-30); c > best {
			best, lag = c, l
		}
	}
	return lag, best
}

// rms is the root mean square of x[from:to].
func rms(x []float64, from, to int) float64 {
	var s float64
	for _, v := range x[from:to] {
		s += v * v
	}
	return math.Sqrt(s / float64(max(1, to-from)))
}

func decodeMP3(t testing.TB, r io.Reader) ([]byte, error) {
	t.Helper()
	return io.ReadAll(catcher.NewTransformReader(r, codec.NewMP3Decoder()))
}

func TestMP3Fixtures(t *testing.T) {
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
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := fixture(t, tt.file)
			d := codec.NewMP3Decoder()
			info, err := d.ReadInfo(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, tt.rate, info.SampleRate)
			assert.Equal(t, tt.channels, info.Channels)
			assert.Equal(t, tt.version, info.Version)
			assert.Equal(t, tt.vbr, info.VBR)
			assert.Equal(t, 576, info.EncoderDelay)
			assert.EqualValues(t, 3*tt.rate, info.Length)

			pcm, err := io.ReadAll(catcher.NewTransformReader(iotest.HalfReader(bytes.NewReader(data)), codec.NewMP3Decoder()))
			require.NoError(t, err)
			require.Len(t, pcm, 3*tt.rate*4, "exact length: 3 s of stereo s16")
			for ch := range 2 {
				refCh := ch
				if tt.channels == 1 {
					refCh = 0
				}
				ref := program(tt.rate, refCh)
				got := channel(pcm, 2, ch)
				// Aligned to the sample: the sweep matches best at lag 0.
				lag, corr := bestLag(ref, got, 2*tt.rate, 3*tt.rate, 8)
				assert.Equal(t, 0, lag, "channel %d", ch)
				assert.Greater(t, corr, 0.99, "channel %d", ch)
				lag, corr = bestLag(ref, got, tt.rate/2, 3*tt.rate/2, 2)
				assert.Equal(t, 0, lag, "tone of channel %d", ch)
				assert.Greater(t, corr, 0.99)
				// Silence where the program is silent (away from the edges,
				// where the codec's pre-echo spreads).
				assert.Less(t, rms(got, 2000, tt.rate/2-2000), 0.001, "leading silence")
				assert.Less(t, rms(got, 3*tt.rate/2+2000, 2*tt.rate-2000), 0.001, "middle silence")
			}
		})
	}
}

func TestMP3Truncated(t *testing.T) {
	clean, err := decodeMP3(t, bytes.NewReader(fixture(t, "prog_cbr128.mp3")))
	require.NoError(t, err)
	pcm, err := decodeMP3(t, bytes.NewReader(fixture(t, "truncated.mp3")))
	assert.ErrorIs(t, err, codec.ErrTruncated)
	// Every whole frame before the cut: (30001 - 417 (Info frame)) bytes
	// of 128 kbit/s frames (417.96 bytes each) is 70 whole frames.
	require.Len(t, pcm, 70*1152*4-(576+529)*4)
	assert.True(t, bytes.Equal(clean[:len(pcm)], pcm), "the decoded part matches the whole file's")
}

func TestMP3Garbage(t *testing.T) {
	clean, err := decodeMP3(t, bytes.NewReader(fixture(t, "prog_cbr128.mp3")))
	require.NoError(t, err)
	pcm, err := decodeMP3(t, bytes.NewReader(fixture(t, "garbage.mp3")))
	assert.ErrorIs(t, err, codec.ErrCorrupt)
	assert.NotErrorIs(t, err, codec.ErrTruncated)
	t.Log(err)
	// The damage starts at byte 20000, in frame 47 (417 + 46*418 = 19645
	// bytes before it): the 46 audio frames before it decode as in the clean
	// file.
	good := (46*1152 - 576 - 529) * 4
	require.Greater(t, len(pcm), good)
	assert.True(t, bytes.Equal(clean[:good], pcm[:good]), "before the damage")
	// 1500 bytes of damage take 4 or 5 frames; the rest is decoded and,
	// once the decoder has settled, identical to the clean file's end.
	lost := (len(clean) - len(pcm)) / 4
	assert.GreaterOrEqual(t, lost, 3*1152)
	assert.LessOrEqual(t, lost, 6*1152)
	tail := 44100 * 4
	assert.True(t, bytes.Equal(clean[len(clean)-tail:], pcm[len(pcm)-tail:]), "the last second")
}

func TestMP3BadInput(t *testing.T) {
	_, err := decodeMP3(t, bytes.NewReader(fixture(t, "empty.mp3")))
	assert.ErrorIs(t, err, codec.ErrTruncated)
	_, err = decodeMP3(t, bytes.NewReader(fixture(t, "notaudio.txt")))
	assert.ErrorIs(t, err, codec.ErrNotMP3)
	_, err = decodeMP3(t, bytes.NewReader(fixture(t, "prog.opus")))
	assert.ErrorIs(t, err, codec.ErrNotMP3)
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

func TestMP3DecoderPanicFenced(t *testing.T) {
	// The 22.05 kHz fixture with bytes changed in its frames' main data, so
	// that go-mp3 panics in its MPEG-2 scale-factor code (index out of
	// range) on the frame at offset 4596; the input is also cut inside a
	// frame. The panic is fenced, the frames before it decode as in the
	// clean file, decoding goes on after it.
	in := readSeed(t, "FuzzMP3/go-mp3-mpeg2-scalefactor-panic")
	pcm, err := decodeMP3(t, bytes.NewReader(in))
	assert.ErrorIs(t, err, codec.ErrDecoderPanic)
	assert.ErrorIs(t, err, codec.ErrCorrupt)
	assert.ErrorIs(t, err, codec.ErrTruncated)
	d := codec.NewMP3Decoder()
	clean, _ := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(fixture(t, "prog_22050_mono.mp3")[:4596]), d))
	require.NotEmpty(t, clean)
	// The frames before the one that panicked can differ only where the
	// changed bytes fell; the first 10 frames are untouched.
	n := (10*576 - 576 - 529) * 4
	assert.True(t, bytes.Equal(clean[:n], pcm[:n]))
	assert.Greater(t, len(pcm), len(clean), "frames after the panic are decoded too")
}
