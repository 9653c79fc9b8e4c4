package bench_test

// Benchmarks of the catcher (package catcher) against a naive shared buffer
// (naiveBuffer) and against the limit, every reader on its own bytes.Reader,
// in the same run, over a 10 MiB in-memory source. run.sh runs them and
// summarises the spread over runs; README.md has the results.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// readerCounts and readSizes span the scenarios of the catcher benchmarks.
var (
	readerCounts = []int{1, 4, 16, 64, 101}
	readSizes    = []int{1 << 10, 32 << 10}
)

// sizeName names a read size as in "1KiB".
func sizeName(n int) string {
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkCatcher measures readers of one shared stream, each reading all
// of it, for each implementation:
//
//   - cold: each operation makes a new shared stream over a bytes.Reader of
//     the source; the readers' demand fills it.
//   - prefilled: the shared stream is read in once before the timer
//     (Catcher.Load, or the naive buffer filled to its end); the readers
//     read cached bytes only.
//
// An operation starts one goroutine per reader, each reading a fresh handle
// to the end, and waits for them all; its bytes are the bytes all readers
// read. Starting the goroutines (at most 101 for at least 10 MiB read)
// costs well under 1% of an operation.
func BenchmarkCatcher(b *testing.B) {
	src := streamSource()
	for _, mode := range []string{"cold", "prefilled"} {
		for _, readers := range readerCounts {
			for _, size := range readSizes {
				for _, im := range streamImpls {
					name := fmt.Sprintf("%s/readers=%d/read=%s/impl=%s", mode, readers, sizeName(size), im.name)
					b.Run(name, func(b *testing.B) {
						benchTeam(b, src, readers, size, mode == "prefilled", im.open)
					})
				}
			}
		}
	}
}

// benchTeam is the body of a benchmark of readers each reading the whole
// stream: over one shared stream made before the timer (prefill), or over a
// new one per operation.
func benchTeam(b *testing.B, src []byte, readers, size int, prefill bool,
	open func([]byte, bool, ...catcher.Option) sharedStream, opts ...catcher.Option) {
	t := newTeam(readers, size, len(src))
	var s sharedStream
	if prefill {
		s = open(src, true, opts...)
		defer s.close()
	}
	b.SetBytes(int64(readers) * int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if !prefill {
			s = open(src, false, opts...)
		}
		if err := t.run(s); err != nil {
			b.Fatal(err)
		}
		if !prefill {
			s.close()
		}
	}
}

// BenchmarkCatcherWarmRead measures one Read of cached bytes by a single
// warm handle, which reads the pre-filled stream in a loop and seeks back to
// the start at its end. Its allocs/op is the allocations per Read.
func BenchmarkCatcherWarmRead(b *testing.B) {
	src := streamSource()
	for _, size := range readSizes {
		for _, im := range streamImpls {
			b.Run(fmt.Sprintf("read=%s/impl=%s", sizeName(size), im.name), func(b *testing.B) {
				s := im.open(src, true)
				defer s.close()
				r := s.newReader().(io.ReadSeeker)
				buf := make([]byte, size)
				if _, err := drain(r, buf, nil); err != nil { // warm the handle
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if err := warmRead(r, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// warmRead makes one Read of r, seeking back to the start at the end of the
// stream (and then reading).
func warmRead(r io.ReadSeeker, buf []byte) error {
	_, err := r.Read(buf)
	if err == io.EOF {
		if _, err = r.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err = r.Read(buf)
	}
	return err
}

// growths are the chunk growth strategies of the finalisation benchmarks:
// the default, Geometric(4 KiB, 1 MiB), which holds 10 MiB in 17 chunks, and
// a small constant one, 2560 chunks.
var growths = []struct {
	name string
	opts []catcher.Option
}{
	{"default", nil},
	{"const4KiB", []catcher.Option{catcher.WithGrowth(catcher.Constant(4096))}},
}

// finals are the catcher without and with WithFinalise.
var finals = []struct {
	name string
	opts []catcher.Option
}{
	{"off", nil},
	{"on", []catcher.Option{catcher.WithFinalise()}},
}

// finaliseOpts returns the options of a growth and a finalisation setting.
func finaliseOpts(g, f []catcher.Option) []catcher.Option {
	return append(append([]catcher.Option(nil), g...), f...)
}

const (
	// finaliseReaders is the number of readers of the sequential
	// finalisation benchmarks.
	finaliseReaders = 64
	// randomReadSize is the size of the random ReadAt calls.
	randomReadSize = 1 << 10
)

// BenchmarkCatcherFinalise measures whether WithFinalise pays, with each
// growth strategy:
//
//   - seq: 64 sequential readers of the pre-filled stream, as in
//     BenchmarkCatcher/prefilled.
//   - cold: the same from cold, as in BenchmarkCatcher/cold (default growth
//     only): the cost side, since the fill copies the whole stream once
//     more at its end when finalisation is on.
//   - readat: Catcher.ReadAt of 1 KiB at random offsets of the pre-filled
//     stream, from GOMAXPROCS goroutines sharing the operations. An
//     operation is one ReadAt; the offsets come from a table made before
//     the timer. (Not b.RunParallel: with it, runs of one configuration
//     split into a fast and a slow mode, one about twice the other, which
//     explicit goroutines mostly avoid; a likely cause is the testing.PB of
//     each goroutine, a small heap object written at every iteration,
//     sharing a cache line with the catcher's small objects.)
func BenchmarkCatcherFinalise(b *testing.B) {
	src := streamSource()
	for _, size := range readSizes {
		for _, g := range growths {
			for _, f := range finals {
				name := fmt.Sprintf("seq/readers=%d/read=%s/growth=%s/final=%s", finaliseReaders, sizeName(size), g.name, f.name)
				b.Run(name, func(b *testing.B) {
					benchTeam(b, src, finaliseReaders, size, true, openCatcher, finaliseOpts(g.opts, f.opts)...)
				})
			}
		}
	}
	for _, size := range readSizes {
		for _, f := range finals {
			name := fmt.Sprintf("cold/readers=%d/read=%s/growth=default/final=%s", finaliseReaders, sizeName(size), f.name)
			b.Run(name, func(b *testing.B) {
				benchTeam(b, src, finaliseReaders, size, false, openCatcher, f.opts...)
			})
		}
	}
	offsets := randomOffsets(1<<16, len(src)-randomReadSize)
	for _, g := range growths {
		for _, f := range finals {
			name := fmt.Sprintf("readat/read=%s/growth=%s/final=%s", sizeName(randomReadSize), g.name, f.name)
			b.Run(name, func(b *testing.B) {
				benchReadAt(b, src, offsets, finaliseOpts(g.opts, f.opts)...)
			})
		}
	}
}

func benchReadAt(b *testing.B, src []byte, offsets []int64, opts ...catcher.Option) {
	s := openCatcher(src, true, opts...).(catcherStream)
	defer s.close()
	procs := runtime.GOMAXPROCS(0)
	errs := make([]error, procs)
	b.SetBytes(randomReadSize)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range procs {
		wg.Go(func() {
			buf := make([]byte, randomReadSize)
			n := b.N / procs
			if g < b.N%procs {
				n++
			}
			i := g * 7919 // each goroutine from its own place in the table
			for range n {
				off := offsets[i%len(offsets)]
				i++
				if n, err := s.c.ReadAt(buf, off); n != len(buf) || err != nil {
					errs[g] = fmt.Errorf("ReadAt(%d) = %d, %v", off, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
}

// randomOffsets returns n offsets in [0, limit], the same for every call.
func randomOffsets(n, limit int) []int64 {
	r := rand.New(rand.NewPCG(1, 2))
	offs := make([]int64, n)
	for i := range offs {
		offs[i] = r.Int64N(int64(limit) + 1)
	}
	return offs
}
