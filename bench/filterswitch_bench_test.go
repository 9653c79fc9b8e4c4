package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// BenchmarkFilterChange is the time from a Queue's SetFilters, three
// minutes into a four-minute MP3 that it plays (encoded whole), to the
// first packet of the filtered variant, the queue driven in real time (a
// Next every 20 ms, as a Scheduler does; the first right after the
// command). segment: the variant (a new chain each time: volume 0.501,
// 0.502, ...) has just started (its source's first 200 KB read, the rest
// held back), so the queue switches on a segment encoded from the place
// (the variant's first packet, the frame walk over the reopened file, the
// filters' and encoder's start), a silence frame in place of its first
// packet. encoded: the variant (volume 0.5) is encoded whole, so the
// queue switches at once, through a transition encoded from the old
// variant's audio into the new one's. Reported: the median to the packet
// at which the switch is made (ms/switch-median; a silence frame or the
// transition's first packet), and to the first packet of the variant's
// own audio (ms/audio-median: one packet later on a segment). The goal is
// under 100 ms. The queue's Next calls come every 20 ms, so the figures
// are those of the packet boundary at which the change is made.
func BenchmarkFilterChange(b *testing.B) {
	data := bytes.Repeat(testutil.Fixture(b, "prog_notag.mp3"), 81) // about 4 minutes
	b.Run("segment", func(b *testing.B) { filterChange(b, data, false) })
	b.Run("encoded", func(b *testing.B) { filterChange(b, data, true) })
}

func filterChange(b *testing.B, data []byte, encoded bool) {
	var (
		mu       sync.Mutex
		holdNext bool
		helds    []chan struct{}
	)
	open := func(context.Context, string) (io.Reader, error) {
		mu.Lock()
		defer mu.Unlock()
		r := bytes.NewReader(data)
		if !holdNext {
			return r, nil
		}
		holdNext = false // the variant's load; its segment's reopen reads all
		held := make(chan struct{})
		helds = append(helds, held)
		return io.MultiReader(io.LimitReader(r, 200<<10), &heldSource{r: r, open: held}), nil
	}
	lib := pipeline.NewLibrary(pipeline.WithOpener(open))
	defer func() {
		mu.Lock()
		for _, h := range helds {
			close(h)
		}
		mu.Unlock()
		lib.Close()
	}()
	plain := pipeline.Key{Source: "long"}
	keys := []pipeline.Key{plain}
	if encoded {
		keys = append(keys, pipeline.Key{Source: "long", Filters: "volume:volume=0.5"})
	}
	for _, k := range keys {
		h, err := lib.Get(context.Background(), k)
		if err != nil {
			b.Fatal(err)
		}
		defer h.Release()
		<-h.Track().Done()
		if err := h.Track().Err(); err != nil {
			b.Fatal(err)
		}
	}
	var switched atomic.Bool
	q := pipeline.NewQueue(lib, pipeline.WithEventFunc(func(e pipeline.Event) {
		if e.Kind == pipeline.EventFilters {
			switched.Store(true)
		}
	}))
	defer q.Close()
	id := q.Enqueue(plain)
	next := func() pipeline.Packet {
		for {
			pk, err := q.Next()
			if err == nil {
				return pk
			}
			if err != pipeline.ErrUnderrun {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	next()
	var toSwitch, toAudio []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// Back to the unfiltered track, three minutes in.
		switched.Store(false)
		if err := q.SetFilters(""); err != nil {
			b.Fatal(err)
		}
		for !switched.Load() {
			next()
		}
		q.Seek(id, 3*time.Minute)
		for range 10 { // past the seek's transition: a switch within one has none of its own
			next()
		}
		// The last variant's segment, left by its player, encodes on to
		// ten seconds past the place (segLead) on the pool's slots: done
		// by now, so that each change is measured alone.
		time.Sleep(500 * time.Millisecond)
		chain := "volume:volume=0.5"
		if !encoded {
			chain = fmt.Sprintf("volume:volume=%g", 0.5+float64(i+1)/1000)
			mu.Lock()
			holdNext = true
			mu.Unlock()
		}
		switched.Store(false)
		start := time.Now()
		if err := q.SetFilters(chain); err != nil {
			b.Fatal(err)
		}
		deadline := start
		var sw time.Duration
		for {
			pk, err := q.Next()
			if err != nil && err != pipeline.ErrUnderrun {
				b.Fatal(err)
			}
			if err == nil && switched.Load() {
				if sw == 0 {
					sw = time.Since(start)
				}
				if !pk.Silence {
					toSwitch, toAudio = append(toSwitch, sw), append(toAudio, time.Since(start))
					break
				}
			}
			deadline = deadline.Add(20 * time.Millisecond)
			time.Sleep(time.Until(deadline))
		}
	}
	slices.Sort(toSwitch)
	slices.Sort(toAudio)
	b.ReportMetric(float64(toSwitch[len(toSwitch)/2])/1e6, "ms/switch-median")
	b.ReportMetric(float64(toAudio[len(toAudio)/2])/1e6, "ms/audio-median")
	b.ReportMetric(float64(toAudio[0])/1e6, "ms/audio-min")
	b.ReportMetric(float64(toAudio[len(toAudio)-1])/1e6, "ms/audio-max")
}
