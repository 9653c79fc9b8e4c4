package bench_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The codec benchmarks report speed as "x-realtime": seconds of audio
// processed per second of wall time. By default they use the 3-second
// fixtures; bench/codec.sh points CODEC_BENCH_MP3 (44.1 kHz) and
// CODEC_BENCH_MP3_48K (48 kHz) at longer files it makes, the same ones it
// gives ffmpeg. Run them with -cpu 1 for figures on one core.

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
	d := codec.NewMP3Decoder()
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), d))
	if err != nil {
		b.Fatal(err)
	}
	return pcm, d.Format()
}

// reportRealtime reports audio seconds per wall second.
func reportRealtime(b *testing.B, audioSeconds float64) {
	b.ReportMetric(audioSeconds*float64(b.N)/b.Elapsed().Seconds(), "x-realtime")
}

func BenchmarkCodecMP3Decode(b *testing.B) {
	data := codecFile(b, "CODEC_BENCH_MP3", "prog_cbr128.mp3")
	pcm, f := codecMP3(b, data)
	secs := float64(len(pcm)/f.BytesPerFrame()) / float64(f.Rate)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := catcher.NewTransformReader(bytes.NewReader(data), codec.NewMP3Decoder())
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
	}
	reportRealtime(b, secs)
}

func BenchmarkCodecOpusEncode(b *testing.B) {
	pcm, f := codecMP3(b, codecFile(b, "CODEC_BENCH_MP3_48K", "prog_48000.mp3"))
	secs := float64(len(pcm)/f.BytesPerFrame()) / 48000
	buf := make([]byte, codec.MaxRecordSize)
	b.SetBytes(int64(len(pcm)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		enc, err := codec.NewOpusEncoder(f, codec.WithBitrate(128000))
		if err != nil {
			b.Fatal(err)
		}
		r := catcher.NewTransformReader(bytes.NewReader(pcm), codec.NewFramer(enc))
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf); err != nil {
			b.Fatal(err)
		}
	}
	reportRealtime(b, secs)
}

// BenchmarkCodecTranscode is the whole path of a track into a cache: MP3
// decoded, resampled to 48 kHz if needed (the 44.1 kHz file, with
// transform.Medium) and Opus-encoded at 128 kbit/s. "goroutines=1" runs
// every stage in one Catcher's fill (a Chain); "goroutines=2" gives the
// decoder its own Catcher, so that decoding overlaps resampling and
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
		// stages returns the decoder (its rate read) and the stages after it.
		stages := func(b *testing.B, src io.Reader) (*codec.MP3Decoder, []catcher.Transform) {
			dec := codec.NewMP3Decoder()
			if _, err := dec.ReadInfo(src); err != nil {
				b.Fatal(err)
			}
			var rest []catcher.Transform
			if dec.Format().Rate != 48000 {
				rs, err := transform.NewResampler(dec.Format(), 48000, transform.Medium)
				if err != nil {
					b.Fatal(err)
				}
				rest = append(rest, rs)
			}
			enc, err := codec.NewOpusEncoder(transform.Opus, codec.WithBitrate(128000))
			if err != nil {
				b.Fatal(err)
			}
			return dec, append(rest, codec.NewFramer(enc))
		}
		check := func(b *testing.B, c *catcher.Catcher) {
			x, _, _ := catcher.StateOf[codec.Index](c)
			if want < 0 {
				want = x.Length
			}
			if x.Length != want || x.Length < int64(secs*48000)-1 {
				b.Fatalf("%d samples; want %d", x.Length, want)
			}
		}
		b.Run(file.name+"/goroutines=1", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				src := bytes.NewReader(data)
				dec, rest := stages(b, src)
				c := catcher.New(src, catcher.WithTransform(catcher.Chain(append([]catcher.Transform{dec}, rest...)...)))
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
				src := bytes.NewReader(data)
				dec, rest := stages(b, src)
				// Preloaded, so that the decoder runs ahead rather than
				// one step at a time on demand.
				d := catcher.New(src, catcher.WithTransform(dec), catcher.WithPreload())
				var t catcher.Transform = rest[0]
				if len(rest) > 1 {
					t = catcher.Chain(rest...)
				}
				c := catcher.New(d.NewReader(), catcher.WithTransform(t))
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

// BenchmarkCodecParallelTracks encodes one track per core at once: the
// throughput of the machine, as a Library loading several tracks sees it.
func BenchmarkCodecParallelTracks(b *testing.B) {
	data := codecFile(b, "CODEC_BENCH_MP3_48K", "prog_48000.mp3")
	pcm, f := codecMP3(b, data)
	secs := float64(len(pcm)/f.BytesPerFrame()) / 48000
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			enc, _ := codec.NewOpusEncoder(transform.Opus, codec.WithBitrate(128000))
			c := catcher.New(bytes.NewReader(data), catcher.WithTransform(catcher.Chain(codec.NewMP3Decoder(), codec.NewFramer(enc))))
			if err := c.Load(context.Background()); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
	reportRealtime(b, secs)
}
