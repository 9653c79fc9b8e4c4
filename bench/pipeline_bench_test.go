package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// firstPacket waits for a track's first packet.
func firstPacket(b *testing.B, tr *pipeline.Track) {
	if _, err := tr.NewCursor().NextContext(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkTrackFirstPacket is the time from NewTrack to the first packet
// a listener gets, for each input format (the 3 s fixtures), and for a
// track already encoded (a new cursor on it).
func BenchmarkTrackFirstPacket(b *testing.B) {
	for _, f := range []struct{ name, file string }{
		{"mp3-44k", "prog_cbr128.mp3"},
		{"mp3-48k", "prog_48000.mp3"},
		{"wav", "tone_s16_44100_1.wav"},
		{"ogg-opus", "prog.opus"},
	} {
		data := codecFile(b, "", f.file)
		b.Run("input="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithPool(pipeline.NewPool(1)))
				if err != nil {
					b.Fatal(err)
				}
				firstPacket(b, tr)
				tr.Close()
			}
		})
	}
	b.Run("input=cached", func(b *testing.B) {
		tr, err := pipeline.NewTrack(bytes.NewReader(codecFile(b, "", "prog_cbr128.mp3")))
		if err != nil {
			b.Fatal(err)
		}
		defer tr.Close()
		<-tr.Done()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			firstPacket(b, tr)
		}
	})
}

// BenchmarkTrackListeners plays a track to N listeners: impl=shared
// encodes it once into a Track and N cursors read every packet;
// impl=per-listener encodes it N times, one Track a listener (what a
// player per listener, with its own decoder and encoder, costs). One
// operation is the whole track for all N listeners; B/op is the memory
// allocated.
func BenchmarkTrackListeners(b *testing.B) {
	data := codecFile(b, "", "prog_cbr128.mp3")
	read := func(b *testing.B, tr *pipeline.Track) {
		cur := tr.NewCursor()
		for {
			_, err := cur.NextContext(context.Background())
			if err == io.EOF {
				return
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	}
	for _, n := range []int{1, 10, 100} {
		if testing.Short() && n == 100 {
			continue
		}
		b.Run(fmt.Sprintf("listeners=%d/impl=shared", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				tr, err := pipeline.NewTrack(bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				for range n {
					wg.Add(1)
					go func() { defer wg.Done(); read(b, tr) }()
				}
				wg.Wait()
				tr.Close()
			}
		})
		b.Run(fmt.Sprintf("listeners=%d/impl=per-listener", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				var wg sync.WaitGroup
				for range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						tr, err := pipeline.NewTrack(bytes.NewReader(data))
						if err != nil {
							b.Error(err)
							return
						}
						read(b, tr)
						tr.Close()
					}()
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkPoolSaturated is the time to the first packet of a track a
// listener asks for while the pool's slots are all taken by tracks being
// preloaded (four 30 s tracks on a pool of one slot).
func BenchmarkPoolSaturated(b *testing.B) {
	pool := pipeline.NewPool(1)
	f := transform.Format{Rate: 48000, Channels: 2}
	long := make([]byte, 30*48000*4)
	var busy []*pipeline.Track
	for range 4 {
		tr, err := pipeline.NewTrack(&looping{data: long}, pipeline.WithPool(pool), pipeline.WithRawPCM(f))
		if err != nil {
			b.Fatal(err)
		}
		busy = append(busy, tr)
	}
	defer func() {
		for _, tr := range busy {
			tr.Close()
		}
	}()
	for pool.Stats().Waiting < 3 {
		time.Sleep(time.Millisecond)
	}
	short := make([]byte, 48000*4)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tr, err := pipeline.NewTrack(bytes.NewReader(short), pipeline.WithPool(pool), pipeline.WithRawPCM(f))
		if err != nil {
			b.Fatal(err)
		}
		firstPacket(b, tr)
		tr.Close()
	}
	b.StopTimer()
	if pool.Stats().Waiting < 3 {
		b.Fatal("the pool was not saturated")
	}
}

// looping reads data over and over: an endless source.
type looping struct {
	data []byte
	off  int
}

func (l *looping) Read(p []byte) (int, error) {
	if l.off == len(l.data) {
		l.off = 0
	}
	n := copy(p, l.data[l.off:])
	l.off += n
	return n, nil
}

// BenchmarkSeam is the cost of a player's jumps to places no player has
// jumped to from there before: seeks that encode the seam's transition
// (seams=on, the default), beside the same seeks without transitions
// (seams=off, what a receiver then hears as a click). An iteration is two
// jumps, to a packet and back to another, each a seam not met before (the
// track is made anew, off the clock, every 143 iterations).
func BenchmarkSeam(b *testing.B) {
	data := codecFile(b, "", "prog_48000.mp3")
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("seams=%v", map[bool]string{true: "on", false: "off"}[on]), func(b *testing.B) {
			b.ReportAllocs()
			var tr *pipeline.Track
			fresh := func() {
				if tr != nil {
					tr.Close()
				}
				var err error
				tr, err = pipeline.NewTrack(bytes.NewReader(data), pipeline.WithSeams(on))
				if err != nil {
					b.Fatal(err)
				}
				<-tr.Done()
			}
			fresh()
			defer func() { tr.Close() }()
			p := tr.NewPlayer()
			b.ResetTimer()
			for i := range b.N {
				if i%143 == 0 && i > 0 {
					b.StopTimer()
					p.Close()
					fresh() // a new track: no seam cached
					p = tr.NewPlayer()
					b.StartTimer()
				}
				from, to := 10+10*(i%13), 5+12*(i/13%11)
				if err := p.Seek(context.Background(), time.Duration(from)*20*time.Millisecond); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Next(); err != nil {
					b.Fatal(err)
				}
				if err := p.Seek(context.Background(), time.Duration(to)*20*time.Millisecond); err != nil {
					b.Fatal(err)
				}
				if _, err := p.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
