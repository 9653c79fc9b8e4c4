package codec_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/transform"
)

// samples decodes interleaved PCM of encoding e to floats at full scale 1.
func samples(pcm []byte, e transform.Encoding) []float64 {
	switch e {
	case transform.S16LE:
		out := make([]float64, len(pcm)/2)
		for i := range out {
			out[i] = float64(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) / 32768
		}
		return out
	case transform.S24LE:
		out := make([]float64, len(pcm)/3)
		for i := range out {
			v := int32(uint32(pcm[3*i])<<8|uint32(pcm[3*i+1])<<16|uint32(pcm[3*i+2])<<24) >> 8
			out[i] = float64(v) / 8388608
		}
		return out
	default:
		out := make([]float64, len(pcm)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(pcm[4*i:])))
		}
		return out
	}
}

func TestWAVFixtures(t *testing.T) {
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
		{"pipe_s16_48000_1.wav", transform.Format{Rate: 48000, Channels: 1, Encoding: transform.S16LE}, []float64{440}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := fixture(t, tt.file)
			d := codec.NewWAVDecoder()
			r := iotest.HalfReader(bytes.NewReader(data))
			f, err := d.ReadHeader(r)
			require.NoError(t, err)
			assert.Equal(t, tt.format, f)
			assert.Equal(t, tt.length, d.Length())
			pcm, err := io.ReadAll(catcher.NewTransformReader(r, d))
			require.NoError(t, err)
			require.EqualValues(t, f.Bytes(int64(f.Rate)), len(pcm), "one second")
			x := samples(pcm, f.Encoding)
			tol := map[transform.Encoding]float64{transform.S16LE: 2.0 / 32768, transform.S24LE: 2.0 / 8388608, transform.F32LE: 1e-6}[f.Encoding]
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

func TestWAVErrors(t *testing.T) {
	good := fixture(t, "tone_s16_44100_1.wav")
	eightBit := bytes.Clone(good)
	binary.LittleEndian.PutUint16(eightBit[34:], 8) // bits per sample
	binary.LittleEndian.PutUint16(eightBit[32:], 1) // block align
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, codec.ErrTruncated},
		{"not WAV", fixture(t, "notaudio.txt"), codec.ErrNotWAV},
		{"MP3", fixture(t, "prog_cbr128.mp3"), codec.ErrNotWAV},
		{"header cut", good[:30], codec.ErrTruncated},
		{"data cut", good[:len(good)-1000], codec.ErrTruncated},
		{"frame cut", good[:len(good)-1001], codec.ErrTruncated},
		{"8-bit", eightBit, codec.ErrUnsupportedWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(tt.in), codec.NewWAVDecoder()))
			assert.ErrorIs(t, err, tt.want)
			assert.Zero(t, len(pcm)%2, "whole frames only")
		})
	}
}

func TestWAVWriteRoundTrip(t *testing.T) {
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
				d := codec.NewWAVDecoder()
				got, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(file), d))
				require.NoError(t, err)
				assert.Equal(t, f, d.Format())
				assert.Equal(t, length, d.Length())
				assert.True(t, bytes.Equal(pcm, got))
			}
			// To a pipe: the streaming form.
			var buf bytes.Buffer
			w, err := codec.NewWAVWriter(&buf, f, -1)
			require.NoError(t, err)
			_, err = w.Write(pcm[:5])
			require.NoError(t, err)
			_, err = w.Write(pcm[5:])
			require.NoError(t, err)
			require.NoError(t, w.Close())
			check(t, buf.Bytes(), -1)
			// With the length known.
			buf.Reset()
			w, err = codec.NewWAVWriter(&buf, f, 1001)
			require.NoError(t, err)
			_, err = w.Write(pcm)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			check(t, buf.Bytes(), 1001)
			// To a file: the sizes are written at Close.
			file, err := os.Create(filepath.Join(t.TempDir(), "x.wav"))
			require.NoError(t, err)
			defer file.Close()
			w, err = codec.NewWAVWriter(file, f, -1)
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

func TestRawPCM(t *testing.T) {
	f := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S24LE}
	r, err := codec.NewRawPCM(f)
	require.NoError(t, err)
	in := make([]byte, 6*100+4)
	for i := range in {
		in[i] = byte(i)
	}
	out, err := io.ReadAll(catcher.NewTransformReader(iotest.OneByteReader(bytes.NewReader(in)), r))
	assert.ErrorIs(t, err, codec.ErrTruncated)
	assert.Equal(t, in[:600], out)
	_, err = codec.NewRawPCM(transform.Format{Rate: 48000})
	assert.ErrorIs(t, err, transform.ErrFormat)
}
