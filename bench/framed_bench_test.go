package bench_test

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
)

// framedTrack loads the Ogg Opus fixture into a Catcher through a Framer:
// 151 packets of 20 ms.
func framedTrack(b *testing.B) *catcher.Catcher {
	b.Helper()
	c := catcher.New(bytes.NewReader(codecFile(b, "", "prog.opus")), catcher.WithTransform(framed.NewFramer(ogg.NewOpusDemuxer())))
	b.Cleanup(func() { c.Close() })
	if err := c.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c
}

// heapPer returns the heap bytes that each of n values made by make holds,
// measured with the values alive.
func heapPer(n int, make func() any) float64 {
	keep := make()
	held := []any{keep}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		held = append(held, make())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(held)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkFramedPacket reads one packet an operation from a loaded
// framed stream: impl=cursor is framed.Cursor, which lends the packet from
// the cache; impl=reader is framed.Reader over a catcher.Reader, which
// copies it into its own buffer (the way a listener read before the
// Cursor, then with a 61 KB buffer of its own). B/listener is the heap
// that one idle listener's position holds (a Cursor; a Reader with its
// catcher.Reader, after one packet), measured over 10,000 of them.
func BenchmarkFramedPacket(b *testing.B) {
	c := framedTrack(b)
	x, _, _ := catcher.StateOf[framed.Index](c)
	n := x.Packets()
	b.Run("impl=cursor", func(b *testing.B) {
		per := heapPer(10000, func() any { return framed.NewCursor(c) })
		cur := framed.NewCursor(c)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%n == 0 {
				cur.Seek(0)
			}
			if _, err := cur.Next(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(per, "B/listener")
	})
	b.Run("impl=reader", func(b *testing.B) {
		per := heapPer(10000, func() any {
			r := framed.NewReader(c.NewReader())
			if _, err := r.ReadPacket(); err != nil {
				b.Fatal(err)
			}
			return r
		})
		r := c.NewReader()
		pr := framed.NewReader(r)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%n == 0 {
				r.Seek(0, io.SeekStart)
			}
			if _, err := pr.ReadPacket(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(per, "B/listener")
	})
}
