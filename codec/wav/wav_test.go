package wav_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

func TestFixtures(t *testing.T) {
	tests := []struct {
		file   string
		format transform.Format
		freqs  []float64
		length int64 // -1: streaming form
	}{
		{"tone1k_s16_48000_2.wav", transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}, []float64{1000, 1000}, 48000},
		{"tone_s16_44100_1.wav", transform.Format{Rate: 44100, Channels: 1, Encoding: transform.S16LE}, []float64{440}, 44100},
		{"tone_s24_48000_1.wav", transform.Format{Rate: 48000, Channels: 1, Encoding: transform.S24LE}, []float64{440}, 48000},
		{"tone_s24_44100_2.wav", transform.Format{Rate: 44100, Channels: 2, Encoding: transform.S24LE}, []float64{440, 660}, 44100},
		{"tone_f32_48000_2.wav", transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}, []float64{440, 660}, 48000},
		{"tone_f32_44100_1.wav", transform.Format{Rate: 44100, Channels: 1, Encoding: transform.F32LE}, []float64{440}, 44100},
		{"tone_u8_22050_1.wav", transform.Format{Rate: 22050, Channels: 1, Encoding: transform.S16LE}, []float64{440}, 22050},
		{"tone_f64_8000_2.wav", transform.Format{Rate: 8000, Channels: 2, Encoding: transform.F32LE}, []float64{440, 660}, 8000},
		{"pipe_s16_48000_1.wav", transform.Format{Rate: 48000, Channels: 1, Encoding: transform.S16LE}, []float64{440}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := testutil.Fixture(t, tt.file)
			d := wav.NewDecoder()
			r := iotest.HalfReader(bytes.NewReader(data))
			f, err := d.ReadHeader(r)
			require.NoError(t, err)
			assert.Equal(t, tt.format, f)
			assert.Equal(t, tt.length, d.Length())
			pcm, err := io.ReadAll(catcher.NewTransformReader(r, d))
			require.NoError(t, err)
			require.EqualValues(t, f.Bytes(int64(f.Rate)), len(pcm), "one second")
			x := testutil.Channel(pcm, f.Encoding, 1, 0) // interleaved, all channels
			tol := map[transform.Encoding]float64{transform.S16LE: 2.0 / 32768, transform.S24LE: 2.0 / 8388608, transform.F32LE: 1e-6}[f.Encoding]
			if strings.Contains(tt.file, "u8") {
				tol = 1.0 / 128
			}
			for i := 0; i < f.Rate; i++ {
				for ch, fr := range tt.freqs {
					want := 0.5 * math.Sin(2*math.Pi*fr*float64(i)/float64(f.Rate))
					if got := x[i*f.Channels+ch]; math.Abs(got-want) > tol {
						t.Fatalf("sample %d channel %d: got %v; want %v", i, ch, got, want)
					}
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	good := testutil.Fixture(t, "tone_s16_44100_1.wav")
	twelveBit := bytes.Clone(good)
	binary.LittleEndian.PutUint16(twelveBit[34:], 12) // bits per sample
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"not WAV", testutil.Fixture(t, "notaudio.txt"), wav.ErrNotWAV},
		{"MP3", testutil.Fixture(t, "prog_cbr128.mp3"), wav.ErrNotWAV},
		{"header cut", good[:30], io.ErrUnexpectedEOF},
		{"data cut", good[:len(good)-1000], io.ErrUnexpectedEOF},
		{"frame cut", good[:len(good)-1001], io.ErrUnexpectedEOF},
		{"12-bit", twelveBit, wav.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(tt.in), wav.NewDecoder()))
			assert.ErrorIs(t, err, tt.want)
			assert.Zero(t, len(pcm)%2, "whole frames only")
		})
	}
}

func TestWriteRoundTrip(t *testing.T) {
	for _, f := range []transform.Format{
		{Rate: 48000, Channels: 2, Encoding: transform.S16LE},
		{Rate: 8000, Channels: 1, Encoding: transform.S24LE},
		{Rate: 44100, Channels: 6, Encoding: transform.F32LE},
	} {
		t.Run(f.String(), func(t *testing.T) {
			pcm := make([]byte, f.Bytes(1001))
			for i := range pcm {
				pcm[i] = byte(i * 7)
			}
			if f.Encoding == transform.F32LE {
				for i := 0; i < len(pcm); i += 4 {
					binary.LittleEndian.PutUint32(pcm[i:], math.Float32bits(float32(i)/float32(len(pcm))))
				}
			}
			check := func(t *testing.T, file []byte, length int64) {
				d := wav.NewDecoder()
				got, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(file), d))
				require.NoError(t, err)
				assert.Equal(t, f, d.Format())
				assert.Equal(t, length, d.Length())
				assert.True(t, bytes.Equal(pcm, got))
			}
			// To a pipe: the streaming form.
			var buf bytes.Buffer
			w, err := wav.NewWriter(&buf, f)
			require.NoError(t, err)
			_, err = w.Write(pcm[:5])
			require.NoError(t, err)
			_, err = w.Write(pcm[5:])
			require.NoError(t, err)
			require.NoError(t, w.Close())
			check(t, buf.Bytes(), -1)
			// With the length known.
			buf.Reset()
			w, err = wav.NewWriter(&buf, f, wav.WithLength(1001))
			require.NoError(t, err)
			_, err = w.Write(pcm)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			check(t, buf.Bytes(), 1001)
			// To a file: the sizes are written at Close.
			file, err := os.Create(filepath.Join(t.TempDir(), "x.wav"))
			require.NoError(t, err)
			defer file.Close()
			w, err = wav.NewWriter(file, f)
			require.NoError(t, err)
			_, err = w.Write(pcm)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			b, err := os.ReadFile(file.Name())
			require.NoError(t, err)
			check(t, b, 1001)
		})
	}
}

func TestRaw(t *testing.T) {
	f := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S24LE}
	r, err := wav.NewRaw(f)
	require.NoError(t, err)
	in := make([]byte, 6*100+4)
	for i := range in {
		in[i] = byte(i)
	}
	out, err := io.ReadAll(catcher.NewTransformReader(iotest.OneByteReader(bytes.NewReader(in)), r))
	assert.ErrorIs(t, err, transform.ErrPartialFrame)
	assert.Equal(t, in[:600], out)
	_, err = wav.NewRaw(transform.Format{Rate: 48000})
	assert.ErrorIs(t, err, transform.ErrFormat)
}

// wavFile builds a WAV file by hand: a mono s16 format chunk at 8 kHz, a
// data chunk declaring size bytes and holding data, then trailing chunks.
func wavFile(size uint32, data []byte, trailer []byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)     // PCM
	b = binary.LittleEndian.AppendUint16(b, 1)     // channels
	b = binary.LittleEndian.AppendUint32(b, 8000)  // rate
	b = binary.LittleEndian.AppendUint32(b, 16000) // bytes a second
	b = binary.LittleEndian.AppendUint16(b, 2)     // block align
	b = binary.LittleEndian.AppendUint16(b, 16)    // bits
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, size)
	b = append(b, data...)
	b = append(b, trailer...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// A data chunk that is not whole frames gives its whole frames and an
// error; no byte after the data chunk is read as a sample.
func TestDataNotWholeFrames(t *testing.T) {
	list := append([]byte("LIST"), binary.LittleEndian.AppendUint32(nil, 100)...)
	list = append(list, bytes.Repeat([]byte{0x7f}, 100)...)
	data := []byte{1, 0, 2, 0, 3, 0} // 5 declared: two frames and a byte
	in := wavFile(5, data[:5], append([]byte{0}, list...))
	for name, src := range map[string]io.Reader{
		"whole":    bytes.NewReader(in),
		"one byte": iotest.OneByteReader(bytes.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			d := wav.NewDecoder()
			out, err := io.ReadAll(catcher.NewTransformReader(src, d))
			assert.ErrorIs(t, err, transform.ErrPartialFrame)
			assert.Equal(t, data[:4], out, "the two whole frames, nothing of the LIST chunk")
			assert.Equal(t, int64(2), d.Length())
		})
	}
	// The declared size bounds the read even when more follows.
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(wavFile(4, data, list)), wav.NewDecoder()))
	assert.NoError(t, err)
	assert.Equal(t, data[:4], out)
}

// The Info is published with the samples.
func TestInfoState(t *testing.T) {
	c := catcher.New(bytes.NewReader(testutil.Fixture(t, "tone_u8_22050_1.wav")), catcher.WithTransform(wav.NewDecoder()))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	info, n, ok := catcher.StateOf[wav.Info](c)
	require.True(t, ok)
	assert.Equal(t, wav.Info{Format: transform.Format{Rate: 22050, Channels: 1, Encoding: transform.S16LE}, Length: 22050, Bits: 8}, info)
	assert.Equal(t, int64(22050*2), n)
}

func TestWriterClose(t *testing.T) {
	var buf bytes.Buffer
	w, err := wav.NewWriter(&buf, transform.Format{Rate: 8000, Channels: 1}, wav.WithLength(10))
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 6))
	require.NoError(t, err)
	err = w.Close()
	assert.Error(t, err, "3 frames of the 10 announced")
	assert.Equal(t, err, w.Close(), "a second Close returns the same")
	_, err = w.Write(make([]byte, 2))
	assert.ErrorIs(t, err, wav.ErrClosed)
}
