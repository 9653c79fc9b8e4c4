package bench_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// A whole Track's transcode, MP3 to 48 kHz Opus through NewTrack (128
// kbit/s, the Library's default, 20 ms frames), serial and pipelined
// (pipeline.WithPipelined), with each MP3 decoder, in a pool of GOMAXPROCS
// slots of the track's own. By default on the 3 s fixture;
// bench/transcode.sh points TRANSCODE_BENCH_MP3 at 3 minutes of
// music-like MP3 and runs these beside ffmpeg's transcode of the same
// file, in interleaved rounds:
//
//	TRANSCODE_BENCH_MP3=music.mp3 go test -run '^$' -bench '^BenchmarkTrackTranscode$/serial' -benchtime 1x -cpu 1 ./bench
//	TRANSCODE_BENCH_MP3=music.mp3 go test -run '^$' -bench '^BenchmarkTrackTranscode$/pipelined' -benchtime 1x -cpu 2 ./bench

// transcodeModes are the two ways a track transcodes, by name.
var transcodeModes = []struct {
	name string
	on   bool
}{{"serial", false}, {"pipelined", true}}

// BenchmarkTrackTranscode encodes the whole file an operation, until the
// track is done. It reports x-realtime (seconds of audio a second of wall
// time), cpu-ns/op (the process's CPU time, user and system, an
// operation: the collector's included) and cores (CPU time over wall
// time: about 1 serial, up to 2 pipelined on two free cores). A pipelined
// track runs pipelined only with GOMAXPROCS > 1 (-cpu 2); with -cpu 1 it
// is serial.
func BenchmarkTrackTranscode(b *testing.B) {
	data := codecFile(b, "TRANSCODE_BENCH_MP3", "prog_cbr128.mp3")
	for _, m := range transcodeModes {
		for _, e := range mp3Engines {
			b.Run(m.name+"/"+e.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				var secs float64
				cpu := cpuTime()
				for range b.N {
					tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithPool(pipeline.NewPool(0)),
						pipeline.WithMP3Engine(e.e), pipeline.WithPipelined(m.on))
					if err != nil {
						b.Fatal(err)
					}
					<-tr.Done()
					if err := tr.Err(); err != nil {
						b.Fatal(err)
					}
					d, _ := tr.Duration()
					secs = d.Seconds()
					tr.Close()
				}
				used := cpuTime() - cpu
				b.ReportMetric(float64(used)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(used)/float64(b.Elapsed()), "cores")
				reportRealtime(b, secs)
			})
		}
	}
}

// BenchmarkTrackTranscodeFirstPacket is the time from NewTrack to the
// first packet a listener gets, serial and pipelined, with mp3.Native, on
// the file of BenchmarkTrackTranscode. An operation makes one track of
// each, in turn (the serial first at even operations, the pipelined at
// odd), each closed after its first packet (a pipelined one's Close waits
// for its decoding goroutine), outside the time measured; it reports the
// median of each (serial-ns, pipelined-ns) and their ratio
// (pipelined/serial). Run with -cpu 2: with one, both are serial.
func BenchmarkTrackTranscodeFirstPacket(b *testing.B) {
	data := codecFile(b, "TRANSCODE_BENCH_MP3", "prog_cbr128.mp3")
	first := func(on bool) time.Duration {
		start := time.Now()
		tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithPool(pipeline.NewPool(0)), pipeline.WithPipelined(on))
		if err != nil {
			b.Fatal(err)
		}
		firstPacket(b, tr)
		d := time.Since(start)
		tr.Close()
		return d
	}
	var serial, piped []time.Duration
	for i := range b.N {
		if i%2 == 0 {
			serial = append(serial, first(false))
			piped = append(piped, first(true))
		} else {
			piped = append(piped, first(true))
			serial = append(serial, first(false))
		}
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	s, p := median(serial), median(piped)
	b.ReportMetric(s, "serial-ns")
	b.ReportMetric(p, "pipelined-ns")
	b.ReportMetric(p/s, "pipelined/serial")
}
