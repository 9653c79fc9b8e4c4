package catcher_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// TestStressManyReaders has many goroutines read one stream, from a source
// that hands out random short reads, each to the end with random read sizes,
// each byte checked at its offset; then half of them with WriteTo instead.
func TestStressManyReaders(t *testing.T) {
	readers, size := 256, 10<<20
	if testing.Short() {
		readers, size = 32, 1<<20
	}
	data := propData(size, 1)
	m := &propModel{data: data, end: int64(size), endErr: io.EOF}
	for _, writeTo := range []bool{false, true} {
		name := "Read"
		if writeTo {
			name = "half WriteTo"
		}
		t.Run(name, func(t *testing.T) {
			src := newPropSource(data, io.EOF, true, 64<<10, 2)
			c := catcher.New(src)
			t.Cleanup(func() { c.Close() })
			start := make(chan struct{})
			errs := make(chan error, readers)
			var wg sync.WaitGroup
			for i := range readers {
				wg.Go(func() {
					r := c.NewReader()
					defer r.Close()
					<-start
					if writeTo && i%2 == 1 {
						errs <- stressWriteTo(r, m)
					} else {
						errs <- stressRead(r, m, uint64(i))
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			st := c.Stats()
			if st.Len != int64(size) || !st.Finished || st.Err != nil || st.Waiting != 0 {
				t.Errorf("at the end: %+v; want %d bytes, finished, no error, none waiting", st, size)
			}
			if src.off != size {
				t.Errorf("the source handed out %d bytes; want %d", src.off, size)
			}
		})
	}
}

// stressRead reads r to its end with random read sizes, from 1 byte to
// 64 KiB, most of them small, comparing each read with the model.
func stressRead(r *catcher.Reader, m *propModel, seed uint64) error {
	rnd := rand.New(rand.NewPCG(seed, 1))
	p := make([]byte, 64<<10)
	var off int64
	for {
		k := 1 + rnd.IntN(1<<rnd.IntN(17))
		n, err := r.Read(p[:k])
		if d := m.diff(p[:n], off); d != "" {
			return fmt.Errorf("read of %d at %d: %s", k, off, d)
		}
		off += int64(n)
		if err == io.EOF {
			if off != m.end || r.Offset() != off {
				return fmt.Errorf("io.EOF at %d (Offset %d); want %d", off, r.Offset(), m.end)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read of %d at %d: %v", k, off, err)
		}
		if n == 0 {
			return fmt.Errorf("read of %d at %d: (0, nil)", k, off)
		}
	}
}

// stressWriteTo copies r to a writer that compares each byte with the model.
func stressWriteTo(r *catcher.Reader, m *propModel) error {
	cw := &propCheckWriter{m: m}
	n, err := io.Copy(cw, r)
	switch {
	case cw.bad != "":
		return fmt.Errorf("WriteTo: %s", cw.bad)
	case err != nil || n != m.end || cw.n != m.end:
		return fmt.Errorf("WriteTo: (%d, %v), %d bytes written; want (%d, nil)", n, err, cw.n, m.end)
	}
	return nil
}

// stressByteAt is the byte at off of the stream of stressFuncSource.
func stressByteAt(off int64) byte {
	x := uint64(off) * 0x9e3779b97f4a7c15
	x ^= x >> 29
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 32
	return byte(x)
}

// stressCheck reports the first byte of p that is not the stream's at off.
func stressCheck(p []byte, off int64) error {
	for i, b := range p {
		if want := stressByteAt(off + int64(i)); b != want {
			return fmt.Errorf("byte at %d is %#x; want %#x", off+int64(i), b, want)
		}
	}
	return nil
}

// stressFuncSource is a stream of size bytes made as it is read, each
// stressByteAt its offset, handed out in random short reads.
type stressFuncSource struct {
	size, off int64
	rnd       *rand.Rand
}

func (s *stressFuncSource) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	n := 1 + s.rnd.IntN(int(min(int64(len(p)), 8<<10, s.size-s.off)))
	for i := range p[:n] {
		p[i] = stressByteAt(s.off + int64(i))
	}
	s.off += int64(n)
	return n, nil
}

// TestStressWindowEviction has a fast reader read a windowed stream to its
// end while a slow one falls behind again and again: each time the slow
// reader gets ErrEvicted, with its offset left alone, and goes on from the
// oldest byte kept (or a little later), reading while the fast reader goes
// on. Every byte either reads is checked, and the memory held stays within
// the window and two chunks.
func TestStressWindowEviction(t *testing.T) {
	const (
		window   = 64 << 10
		maxChunk = window / 4 // chunks are capped at a quarter of the window
		slowRead = 2 << 10    // the largest read of the slow reader
	)
	size := int64(4 << 20)
	if testing.Short() {
		size = 1 << 20
	}
	src := &stressFuncSource{size: size, rnd: rand.New(rand.NewPCG(3, 4))}
	c := catcher.New(src, catcher.WithWindow(window))
	t.Cleanup(func() { c.Close() })

	// The slow reader sends the fast one offsets to reach; the fast one
	// answers on reached once it has (the slow one may have left), and
	// reads to the end once goTo is closed.
	goTo := make(chan int64)
	reached := make(chan struct{}, 1)
	var wg sync.WaitGroup
	var fastErr, slowErr error
	evictions := 0
	wg.Go(func() {
		defer close(reached)
		fastErr = func() error {
			r := c.NewReader()
			defer r.Close()
			rnd := rand.New(rand.NewPCG(5, 6))
			p := make([]byte, 32<<10)
			var off int64
			for {
				target, ok := <-goTo
				if !ok {
					target = size + 1 // to io.EOF
				}
				for off < target {
					n, err := r.Read(p[:1+rnd.IntN(len(p))])
					if err := stressCheck(p[:n], off); err != nil {
						return err
					}
					off += int64(n)
					st := c.Stats()
					held := st.Len - st.Oldest
					switch {
					case st.Allocated >= window+2*maxChunk:
						return fmt.Errorf("at %d: %d bytes allocated; want less than the window %d and two chunks of %d", off, st.Allocated, window, maxChunk)
					case st.Oldest > 0 && held < window:
						return fmt.Errorf("at %d: holds %d bytes from %d; want at least the window %d", off, held, st.Oldest, window)
					case held >= window+maxChunk:
						return fmt.Errorf("at %d: holds %d bytes; want less than the window %d and a chunk of %d", off, held, window, maxChunk)
					}
					if err == io.EOF && off == size {
						return nil
					}
					if err != nil {
						return fmt.Errorf("at %d: %v", off, err)
					}
				}
				reached <- struct{}{}
			}
		}()
	})
	wg.Go(func() {
		defer close(goTo)
		slowErr = func() error {
			r := c.NewReader()
			defer r.Close()
			rnd := rand.New(rand.NewPCG(7, 8))
			p := make([]byte, slowRead)
			// read reads once or, if the reader has fallen behind the
			// window, goes on from a little after the oldest byte kept.
			read := func() (bool, error) {
				for tries := 0; ; tries++ {
					off := r.Offset()
					n, err := r.Read(p[:1+rnd.IntN(len(p))])
					if err := stressCheck(p[:n], off); err != nil {
						return false, err
					}
					switch {
					case err == nil:
						return false, nil
					case err == io.EOF && off == size:
						return true, nil
					case !errors.Is(err, catcher.ErrEvicted) || tries == 1000:
						return false, fmt.Errorf("at %d (try %d): %v", off, tries, err)
					case r.Offset() != off:
						return false, fmt.Errorf("ErrEvicted moved the offset from %d to %d", off, r.Offset())
					}
					if _, err := r.Seek(c.Oldest()+rnd.Int64N(window/2), io.SeekStart); err != nil {
						return false, err
					}
				}
			}
			for {
				// Send the fast reader a window and a chunk past where
				// this one will be after three reads, and read meanwhile.
				target := r.Offset() + 3*slowRead + window + maxChunk
				if target >= size {
					break
				}
				goTo <- target
				for range 3 {
					if _, err := read(); err != nil {
						return err
					}
				}
				if _, ok := <-reached; !ok {
					return nil // the fast reader failed
				}
				// The bytes at this reader's offset are gone, unless it
				// was evicted and jumped ahead meanwhile.
				off := r.Offset()
				if off+window+maxChunk > target {
					continue
				}
				_, err := r.Read(p)
				if !errors.Is(err, catcher.ErrEvicted) {
					return fmt.Errorf("at %d with the fast reader past %d: got %v; want ErrEvicted", off, target, err)
				}
				if r.Offset() != off {
					return fmt.Errorf("ErrEvicted moved the offset from %d to %d", off, r.Offset())
				}
				evictions++
				if _, err := r.Seek(c.Oldest()+rnd.Int64N(window/2), io.SeekStart); err != nil {
					return err
				}
			}
			for {
				if end, err := read(); end || err != nil {
					return err
				}
			}
		}()
	})
	wg.Wait()
	if fastErr != nil {
		t.Errorf("fast reader: %v", fastErr)
	}
	if slowErr != nil {
		t.Errorf("slow reader: %v", slowErr)
	}
	t.Logf("the slow reader was evicted %d times", evictions)
	if want := int(size / (4 * window)); evictions < want {
		t.Errorf("the slow reader was evicted %d times; want at least %d", evictions, want)
	}
}

// TestStressStatsOneMoment checks that Stats describes one moment: polled
// while a stream ends with a source error, it never shows the stream
// unfinished with that error, nor finished short of its end.
func TestStressStatsOneMoment(t *testing.T) {
	const size = 64
	d := 2 * time.Second
	if testing.Short() {
		d = time.Second / 2
	}
	deadline := time.Now().Add(d)
	for round := uint64(0); time.Now().Before(deadline); round++ {
		src := newPropSource(propData(size, round), errPropSource, round%2 == 0, 7, round)
		c := catcher.New(src)
		stop := make(chan struct{})
		var bad *catcher.Stats
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				st := c.Stats()
				if st.Finished != (st.Err != nil) || (st.Finished && st.Len != size) {
					bad = &st
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
		err := c.Wait(context.Background())
		close(stop)
		wg.Wait()
		c.Close()
		if !errors.Is(err, errPropSource) {
			t.Fatalf("round %d: Wait: got %v; want %v", round, err, errPropSource)
		}
		if bad != nil {
			t.Fatalf("round %d: Stats() = %+v: Finished and Err from different moments", round, *bad)
		}
	}
}
