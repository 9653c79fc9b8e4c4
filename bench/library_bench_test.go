package bench_test

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// libraryKeys is how many tracks the Get benchmarks' library holds.
const libraryKeys = 64

// naiveLRU is the cache a first design reaches for: one mutex over a map
// and a list kept in order of use, with a reference count.
type naiveLRU struct {
	mu    sync.Mutex
	items map[pipeline.Key]*list.Element
	order *list.List
}

type naiveItem struct {
	key   pipeline.Key
	track *pipeline.Track
	refs  int
}

func (c *naiveLRU) get(k pipeline.Key) *naiveItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.items[k]
	if el == nil {
		return nil
	}
	c.order.MoveToFront(el)
	it := el.Value.(*naiveItem)
	it.refs++
	return it
}

func (c *naiveLRU) release(it *naiveItem) {
	c.mu.Lock()
	it.refs--
	c.mu.Unlock()
}

// BenchmarkLibraryGet is a Get of a track in memory and the Release of its
// hold, by 1, 16 and 256 goroutines at once over 64 tracks; beside it the
// same with a mutex-guarded LRU map (naive) and a plain map read with no
// lock at all (the limit: what a lookup costs).
func BenchmarkLibraryGet(b *testing.B) {
	tr := loadedTrack(b)
	lib := pipeline.NewLibrary(pipeline.WithOpener(func(context.Context, string) (io.Reader, error) {
		return bytes.NewReader(codecFile(b, "", "prog_48000.mp3")), nil
	}))
	defer lib.Close()
	keys := make([]pipeline.Key, libraryKeys)
	naive := &naiveLRU{items: map[pipeline.Key]*list.Element{}, order: list.New()}
	plain := map[pipeline.Key]*pipeline.Track{}
	ctx := context.Background()
	for i := range keys {
		keys[i] = pipeline.Key{Source: fmt.Sprintf("track-%d", i), Bitrate: 128000, Frame: 20 * time.Millisecond, Channels: 2, Quality: transform.High}
		h, err := lib.Get(ctx, keys[i])
		if err != nil {
			b.Fatal(err)
		}
		<-h.Track().Done()
		h.Release()
		naive.items[keys[i]] = naive.order.PushFront(&naiveItem{key: keys[i], track: tr})
		plain[keys[i]] = tr
	}
	impls := []struct {
		name string
		get  func(k pipeline.Key) *pipeline.Track
	}{
		{"library", func(k pipeline.Key) *pipeline.Track {
			h, err := lib.Get(ctx, k)
			if err != nil {
				panic(err)
			}
			t := h.Track()
			h.Release()
			return t
		}},
		{"naive", func(k pipeline.Key) *pipeline.Track {
			it := naive.get(k)
			naive.release(it)
			return it.track
		}},
		{"map", func(k pipeline.Key) *pipeline.Track { return plain[k] }},
	}
	for _, g := range []int{1, 16, 256} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("goroutines=%d/impl=%s", g, impl.name), func(b *testing.B) {
				b.ReportAllocs()
				if g == 1 {
					i := 0
					for b.Loop() {
						if impl.get(keys[i%libraryKeys]) == nil {
							b.Fatal("no track")
						}
						i++
					}
					return
				}
				b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					i := 0
					for pb.Next() {
						if impl.get(keys[i%libraryKeys]) == nil {
							panic("no track")
						}
						i += 7
					}
				})
			})
		}
	}
}

// BenchmarkTimeToFirstPacket is the time from a Get to the first packet
// of a track: in memory already; read from a DirStore by a Library that
// has just started (the file checked whole first); encoded afresh from
// its source (an MP3 of 3 s; a WAV of 4 minutes at 44.1 kHz, resampled).
func BenchmarkTimeToFirstPacket(b *testing.B) {
	long := testutil.Tone(44100, 2, 44100*240, 440, 0.5)
	sources := map[string][]byte{
		"mp3-3s":   codecFile(b, "", "prog_48000.mp3"),
		"raw-4min": long,
	}
	open := func(_ context.Context, s string) (io.Reader, error) { return bytes.NewReader(sources[s]), nil }
	ctx := context.Background()
	first := func(b *testing.B, lib *pipeline.Library, key pipeline.Key) {
		p, err := lib.Play(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		for {
			if _, err := p.Next(); err == nil {
				return
			} else if err != pipeline.ErrUnderrun {
				b.Fatal(err)
			}
			runtime.Gosched()
		}
	}
	for _, src := range []string{"mp3-3s", "raw-4min"} {
		key := pipeline.Key{Source: src}
		var opts []pipeline.LibraryOption
		if src == "raw-4min" {
			opts = append(opts, pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 44100, Channels: 2})))
		}
		opts = append(opts, pipeline.WithOpener(open))
		dir := b.TempDir()
		store, err := pipeline.NewDirStore(dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		// The stored copy, and a library holding the track in memory.
		warm := pipeline.NewLibrary(append(opts, pipeline.WithStore(store))...)
		h, err := warm.Get(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		<-h.Track().Done()
		h.Release()
		for warm.Stats().Writes == 0 {
			time.Sleep(time.Millisecond)
		}
		size := store.Bytes()

		b.Run(fmt.Sprintf("track=%s/from=memory", src), func(b *testing.B) {
			for b.Loop() {
				first(b, warm, key)
			}
		})
		b.Run(fmt.Sprintf("track=%s/from=store", src), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				s, err := pipeline.NewDirStore(dir, 0)
				if err != nil {
					b.Fatal(err)
				}
				lib := pipeline.NewLibrary(append(opts, pipeline.WithStore(s))...)
				first(b, lib, key)
				if lib.Stats().DiskHits != 1 {
					b.Fatal("not read from the store")
				}
				lib.Close()
			}
		})
		b.Run(fmt.Sprintf("track=%s/from=encode", src), func(b *testing.B) {
			for b.Loop() {
				lib := pipeline.NewLibrary(opts...)
				first(b, lib, key)
				lib.Close()
			}
		})
		warm.Close()
	}
}
