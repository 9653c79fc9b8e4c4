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
// decoded and Opus-encoded inside one Catcher. The 48 kHz MP3 needs no
// resampling; "goroutines=1" runs both stages in the Catcher's fill (a
// Chain), "goroutines=2" gives each stage its own Catcher, so that decoding
// and encoding overlap on two cores.
func BenchmarkCodecTranscode(b *testing.B) {
	data := codecFile(b, "CODEC_BENCH_MP3_48K", "prog_48000.mp3")
	pcm, f := codecMP3(b, data)
	secs := float64(len(pcm)/f.BytesPerFrame()) / 48000
	want := -1
	check := func(b *testing.B, c *catcher.Catcher) {
		st, _ := c.State()
		var x codec.Index
		switch v := st.(type) {
		case []any:
			x = v[len(v)-1].(codec.Index)
		case codec.Index:
			x = v
		}
		if want < 0 {
			want = x.Len()
		}
		if x.Len() != want || x.Length != int64(len(pcm)/4) {
			b.Fatalf("%d packets, %d samples; want %d, %d", x.Len(), x.Length, want, len(pcm)/4)
		}
	}
	b.Run("goroutines=1", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for range b.N {
			enc, _ := codec.NewOpusEncoder(transform.Opus, codec.WithBitrate(128000))
			c := catcher.New(bytes.NewReader(data), catcher.WithTransform(catcher.Chain(codec.NewMP3Decoder(), codec.NewFramer(enc))))
			if err := c.Load(context.Background()); err != nil {
				b.Fatal(err)
			}
			check(b, c)
			c.Close()
		}
		reportRealtime(b, secs)
	})
	b.Run("goroutines=2", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for range b.N {
			enc, _ := codec.NewOpusEncoder(transform.Opus, codec.WithBitrate(128000))
			dec := catcher.New(bytes.NewReader(data), catcher.WithTransform(codec.NewMP3Decoder()))
			c := catcher.New(dec.NewReader(), catcher.WithTransform(codec.NewFramer(enc)))
			if err := c.Load(context.Background()); err != nil {
				b.Fatal(err)
			}
			check(b, c)
			c.Close()
			dec.Close()
		}
		reportRealtime(b, secs)
	})
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

