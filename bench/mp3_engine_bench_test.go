package bench_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
)

// The MP3 decoders side by side: go-mp3 (16-bit stereo out) and the
// package's own (mp3.Native, float32 in the stream's channels), on the
// same file, alone and through a whole transcode to 48 kHz Opus. On the
// files bench/codec.sh makes, beside its ffmpeg figures for the same
// files (`ffmpeg -threads 1 -i prog44100.mp3 -f null -`, and the
// transcode with `-ar 48000 -c:a libopus -b:a 128k -f ogg /dev/null`):
//
//	CODEC_BENCH_MP3=prog44100.mp3 go test -run '^$' -bench '^BenchmarkMP3Engine' -benchtime 1x -cpu 1 -count 5 ./bench
//
// bench/mp3.sh runs the decode beside ffmpeg's on 3 minutes of music-like
// audio, in interleaved rounds.

// mp3Engines are the decoders compared, by name.
var mp3Engines = []struct {
	name string
	e    mp3.Engine
}{{"go-mp3", mp3.GoMP3}, {"native", mp3.Native}}

// BenchmarkMP3EngineDecode decodes a whole MP3 an operation with each
// decoder (benchDecode): x-realtime is seconds of audio per second;
// cpu-ns/op the process's CPU time (user and system, the collector's
// included) an operation, which other load on the machine disturbs less
// than the wall time (bench/mp3.sh sets it beside ffmpeg's).
func BenchmarkMP3EngineDecode(b *testing.B) {
	data := codecFile(b, "CODEC_BENCH_MP3", "prog_cbr128.mp3")
	for _, e := range mp3Engines {
		b.Run(e.name, func(b *testing.B) {
			var cpu time.Duration
			made := 0
			benchDecode(b, data, func() *mp3.Decoder {
				if made++; made == 2 {
					cpu = cpuTime() // the timed loop's first (the first is the setup's)
				}
				return mp3.NewDecoder(mp3.WithEngine(e.e))
			})
			if cpu > 0 {
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkMP3EngineTranscode is BenchmarkCodecTranscode's one-goroutine
// path (decode, resample to 48 kHz with transform.High, encode Opus at
// 128 kbit/s into a cache) with each decoder.
func BenchmarkMP3EngineTranscode(b *testing.B) {
	data := codecFile(b, "CODEC_BENCH_MP3", "prog_cbr128.mp3")
	pcm, f := codecMP3(b, data)
	secs := float64(len(pcm)/f.BytesPerFrame()) / float64(f.Rate)
	for _, e := range mp3Engines {
		b.Run(e.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				dec, err := codec.NewDecoder(libopus.Format(2), codec.WithMP3Engine(e.e))
				if err != nil {
					b.Fatal(err)
				}
				enc, err := libopus.NewEncoder(libopus.Format(2), libopus.WithBitrate(128000))
				if err != nil {
					b.Fatal(err)
				}
				c := catcher.New(bytes.NewReader(data), catcher.WithTransform(catcher.Chain(dec, framed.NewFramer(enc))))
				if err := c.Load(context.Background()); err != nil {
					b.Fatal(err)
				}
				if x, _, _ := catcher.StateOf[framed.Index](c); x.DurationSamples() < int64(secs*48000)-1 {
					b.Fatalf("%d samples of %g s", x.DurationSamples(), secs)
				}
				c.Close()
			}
			reportRealtime(b, secs)
		})
	}
}
