package bench_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The codec benchmarks report speed as "x-realtime": seconds of audio
// processed per second of wall time. By default they use the 3-second
// fixtures; bench/codec.sh points CODEC_BENCH_MP3 (44.1 kHz) and
// CODEC_BENCH_MP3_48K (48 kHz) and CODEC_BENCH_FLAC (44.1 kHz, 16-bit) at
// longer files it makes, the same ones it gives ffmpeg. Run them with
// -cpu 1 for figures on one core.

func codecFile(b *testing.B, env, name string) []byte {
	b.Helper()
	path := os.Getenv(env)
	if path == "" {
		path = filepath.Join("..", "testdata", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// codecMP3 decodes an MP3 fully and returns its PCM and format.
func codecMP3(b *testing.B, data []byte) ([]byte, transform.Format) {
	b.Helper()
	return decodeAll(b, data, mp3.NewDecoder())
}

// decoder is a codec's decoder: a Transform that says its output's format.
type decoder interface {
	catcher.Transform
	Format() transform.Format
}

// decodeAll decodes data fully with d and returns its PCM and format.
func decodeAll(b *testing.B, data []byte, d decoder) ([]byte, transform.Format) {
	b.Helper()
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), d))
	if err != nil {
		b.Fatal(err)
	}
	return pcm, d.Format()
}

// toS16 returns pcm as s16le (the encoder's input), rounded and
// clipped, if it is f32le (our MP3 decoder's output), with its format.
func toS16(pcm []byte, f transform.Format) ([]byte, transform.Format) {
	if f.Encoding != transform.F32LE {
		return pcm, f
	}
	out := make([]byte, len(pcm)/2)
	for i := 0; i+4 <= len(pcm); i += 4 {
		v := float64(math.Float32frombits(binary.LittleEndian.Uint32(pcm[i:]))) * 32767
		binary.LittleEndian.PutUint16(out[i/2:], uint16(int16(max(-32768, min(32767, math.Round(v))))))
	}
	f.Encoding = transform.S16LE
	return out, f
}

// reportRealtime reports audio seconds per wall second.
func reportRealtime(b *testing.B, audioSeconds float64) {
	b.ReportMetric(audioSeconds*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
}

// benchDecode decodes data whole an operation, with a decoder newDecoder
// makes each time: x-realtime is seconds of decoded output per second,
// MB/s the PCM output's.
func benchDecode[D decoder](b *testing.B, data []byte, newDecoder func() D) {
	pcm, f := decodeAll(b, data, newDecoder())
	secs := float64(len(pcm)/f.BytesPerFrame()) / float64(f.Rate)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(pcm)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := catcher.NewTransformReader(bytes.NewReader(data), newDecoder())
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
	}
	reportRealtime(b, secs)
}

// BenchmarkCodecMP3Decode decodes a whole MP3 an operation (benchDecode).
func BenchmarkCodecMP3Decode(b *testing.B) {
	benchDecode(b, codecFile(b, "CODEC_BENCH_MP3", "prog_cbr128.mp3"), func() *mp3.Decoder { return mp3.NewDecoder() })
}

// BenchmarkCodecFLACDecode decodes a whole FLAC an operation (benchDecode).
func BenchmarkCodecFLACDecode(b *testing.B) {
	benchDecode(b, codecFile(b, "CODEC_BENCH_FLAC", "tone1k_s16_48000_2.flac"), flac.NewDecoder)
}

// loopPCM reads pcm over and over.
type loopPCM struct {
	pcm []byte
	off int
}

func (l *loopPCM) Read(p []byte) (int, error) {
	if l.off == len(l.pcm) {
		l.off = 0
	}
	n := copy(p, l.pcm[l.off:])
	l.off += n
	return n, nil
}

// BenchmarkCodecOpusEncode is Opus encoding alone: one 20 ms frame of
// stereo PCM an operation, by one encoder made before the timer (no
// framing, no parsing).
func BenchmarkCodecOpusEncode(b *testing.B) {
	pcm, f := toS16(codecMP3(b, codecFile(b, "CODEC_BENCH_MP3_48K", "prog_48000.mp3")))
	enc, err := libopus.NewEncoder(f, libopus.WithBitrate(128000))
	if err != nil {
		b.Fatal(err)
	}
	src := &loopPCM{pcm: pcm[:len(pcm)/3840*3840]}
	b.SetBytes(3840)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := enc.NextPacket(src); err != nil {
			b.Fatal(err)
		}
	}
	reportRealtime(b, 0.020)
}

// BenchmarkCodecTranscode is the whole path of a track into a cache: MP3
// decoded, resampled to 48 kHz if needed (the 44.1 kHz file, with
// transform.High) and Opus-encoded at 128 kbit/s. "goroutines=1" runs
// every stage in one Catcher's fill (a Chain); "goroutines=2" gives the
// decoder and resampler their own Catcher, so that decoding overlaps
// encoding on two cores (its Catcher preloads: it decodes ahead in the
// background while the second Catcher's fill encodes).
func BenchmarkCodecTranscode(b *testing.B) {
	for _, file := range []struct{ name, env, fixture string }{
		{"mp3=48k", "CODEC_BENCH_MP3_48K", "prog_48000.mp3"},
		{"mp3=44k", "CODEC_BENCH_MP3", "prog_cbr128.mp3"},
	} {
		data := codecFile(b, file.env, file.fixture)
		pcm, f := codecMP3(b, data)
		secs := float64(len(pcm)/f.BytesPerFrame()) / float64(f.Rate)
		want := int64(-1)
		stages := func(b *testing.B) (catcher.Transform, catcher.Transform) {
			dec, err := codec.NewDecoder(libopus.Format(2))
			if err != nil {
				b.Fatal(err)
			}
			enc, err := libopus.NewEncoder(libopus.Format(2), libopus.WithBitrate(128000))
			if err != nil {
				b.Fatal(err)
			}
			return dec, framed.NewFramer(enc)
		}
		check := func(b *testing.B, c *catcher.Catcher) {
			x, _, _ := catcher.StateOf[framed.Index](c)
			if want < 0 {
				want = x.DurationSamples()
			}
			if x.DurationSamples() != want || x.DurationSamples() < int64(secs*48000)-1 {
				b.Fatalf("%d samples; want %d", x.DurationSamples(), want)
			}
		}
		b.Run(file.name+"/goroutines=1", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				dec, fr := stages(b)
				c := catcher.New(bytes.NewReader(data), catcher.WithTransform(catcher.Chain(dec, fr)))
				if err := c.Load(context.Background()); err != nil {
					b.Fatal(err)
				}
				check(b, c)
				c.Close()
			}
			reportRealtime(b, secs)
		})
		b.Run(file.name+"/goroutines=2", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				dec, fr := stages(b)
				// Preloaded, so that the decoder runs ahead rather than
				// one step at a time on demand.
				d := catcher.New(bytes.NewReader(data), catcher.WithTransform(dec), catcher.WithPreload())
				c := catcher.New(d.NewReader(), catcher.WithTransform(fr))
				if err := c.Load(context.Background()); err != nil {
					b.Fatal(err)
				}
				check(b, c)
				c.Close()
				d.Close()
			}
			reportRealtime(b, secs)
		})
	}
}
