package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// loadedTrack is the 3 s MP3 fixture as a finished Track.
func loadedTrack(b *testing.B) *pipeline.Track {
	b.Helper()
	tr, err := pipeline.NewTrack(bytes.NewReader(codecFile(b, "", "prog_48000.mp3")))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	<-tr.Done()
	return tr
}

// BenchmarkListenerPacket is the cost of giving one listener one packet.
// impl=scheduler: one operation is a deadline of a Scheduler's shard (on
// a fake clock) serving N listeners of one shared track, each callback
// copying its packet; ns/listener is the time per listener per packet,
// B/listener the heap one listener holds (its Player and Listener).
// impl=transcode is what a design that decodes and encodes per listener
// pays per listener per packet: one 20 ms packet decoded from MP3 and
// encoded to Opus an operation.
func BenchmarkListenerPacket(b *testing.B) {
	tr := loadedTrack(b)
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("listeners=%d/impl=scheduler", n), func(b *testing.B) {
			clock := pipeline.NewFakeClock(time.Unix(0, 0))
			s := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
			defer s.Close()
			ctx := context.Background()
			clock.BlockUntilWaiting(ctx, 1)
			buf := make([]byte, 4096)
			send := func(p pipeline.Packet) error { copy(buf, p.Data); return nil }
			per := heapPer(n, func() any {
				p := tr.NewPlayer()
				p.Loop(-1)
				return s.Add(p, send)
			})
			// The first deadline takes them in.
			clock.Advance(20 * time.Millisecond)
			clock.BlockUntilWaiting(ctx, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				clock.Advance(20 * time.Millisecond)
				clock.BlockUntilWaiting(ctx, 1)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/listener")
			b.ReportMetric(per, "B/listener")
			st := s.Stats()[0]
			if st.Underruns > 0 || st.Resyncs > 0 {
				b.Fatalf("underruns %d, resyncs %d", st.Underruns, st.Resyncs)
			}
		})
	}
	b.Run("impl=transcode", func(b *testing.B) {
		data := codecFile(b, "", "prog_48000.mp3")
		dec, err := codec.NewDecoder(libopus.Format(2))
		if err != nil {
			b.Fatal(err)
		}
		enc, err := libopus.NewEncoder(libopus.Format(2), libopus.WithBitrate(128000))
		if err != nil {
			b.Fatal(err)
		}
		r := framed.NewReader(catcher.NewTransformReader(&looping{data: data}, catcher.Chain(dec, framed.NewFramer(enc))))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := r.ReadPacket(); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	})
}
