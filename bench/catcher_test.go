package bench_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/iotest"
)

// streamTestSource is the source of the correctness tests: the benchmarks'
// 10 MiB, or 256 KiB with -short.
func streamTestSource() []byte {
	if testing.Short() {
		return randomBytes(256 << 10)
	}
	return streamSource()
}

// TestCatcherBenchImpls runs every implementation of BenchmarkCatcher once,
// cold and pre-filled, as the benchmark does, and checks that every reader
// reads exactly the source.
func TestCatcherBenchImpls(t *testing.T) {
	src := streamTestSource()
	for _, mode := range []string{"cold", "prefilled"} {
		for _, readers := range []int{1, 4, 64} {
			for _, size := range readSizes {
				for _, im := range streamImpls {
					name := fmt.Sprintf("%s/readers=%d/read=%s/impl=%s", mode, readers, sizeName(size), im.name)
					t.Run(name, func(t *testing.T) {
						runChecked(t, im.open(src, mode == "prefilled"), readers, size, src)
					})
				}
			}
		}
	}
}

// TestCatcherFinaliseConfigs checks the configurations of
// BenchmarkCatcherFinalise: sequential readers, cold and pre-filled, and
// random ReadAt.
func TestCatcherFinaliseConfigs(t *testing.T) {
	src := streamTestSource()
	offsets := randomOffsets(1000, len(src)-randomReadSize)
	for _, g := range growths {
		for _, f := range finals {
			opts := finaliseOpts(g.opts, f.opts)
			t.Run(fmt.Sprintf("growth=%s/final=%s", g.name, f.name), func(t *testing.T) {
				runChecked(t, openCatcher(src, false, opts...), 16, 1<<10, src)
				runChecked(t, openCatcher(src, true, opts...), 16, 32<<10, src)

				s := openCatcher(src, true, opts...).(catcherStream)
				defer s.close()
				if st := s.c.Stats(); f.name == "on" && st.Chunks != 1 {
					t.Errorf("finalised catcher holds %d chunks; want 1", st.Chunks)
				}
				buf := make([]byte, randomReadSize)
				for _, off := range offsets {
					n, err := s.c.ReadAt(buf, off)
					if n != len(buf) || err != nil {
						t.Fatalf("ReadAt(%d) = %d, %v; want %d, nil", off, n, err, len(buf))
					}
					if !bytes.Equal(buf, src[off:off+randomReadSize]) {
						t.Fatalf("ReadAt(%d): wrong bytes", off)
					}
				}
			})
		}
	}
}

// runChecked runs a team of readers on s, checking their bytes against src,
// and closes s.
func runChecked(t *testing.T, s sharedStream, readers, size int, src []byte) {
	t.Helper()
	defer s.close()
	tm := newTeam(readers, size, len(src))
	tm.want = src
	if err := tm.run(s); err != nil {
		t.Fatal(err)
	}
}

// TestNaiveBuffer checks the naive buffer with sources that return few
// bytes at a time or their last bytes together with io.EOF, and readers of
// random read sizes: no reader may see the end of the stream early.
func TestNaiveBuffer(t *testing.T) {
	src := randomBytes(300_001)
	sources := []struct {
		name string
		open func() io.Reader
	}{
		{"bytes", func() io.Reader { return bytes.NewReader(src) }},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(src)) }},
		{"dataerr", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(src)) }},
	}
	for _, tc := range sources {
		t.Run(tc.name, func(t *testing.T) {
			b := newNaiveBuffer(tc.open())
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(i), 0))
					r := b.newReader()
					var got []byte
					for {
						p := make([]byte, 1+rng.IntN(5000))
						n, err := r.Read(p)
						got = append(got, p[:n]...)
						if err == io.EOF {
							break
						}
						if err != nil {
							errs[i] = err
							return
						}
					}
					if !bytes.Equal(got, src) {
						errs[i] = fmt.Errorf("read %d bytes, not the source's %d", len(got), len(src))
					}
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
				}
			}
			if err := iotest.TestReader(newNaiveBuffer(tc.open()).newReader(), src); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestNoAllocsPerRead checks that a warm catcher Reader reads cached bytes
// without allocating, seeking back to the start at the end of the stream.
func TestNoAllocsPerRead(t *testing.T) {
	src := randomBytes(1 << 20)
	for _, g := range growths {
		for _, size := range readSizes {
			t.Run(fmt.Sprintf("growth=%s/read=%s", g.name, sizeName(size)), func(t *testing.T) {
				s := openCatcher(src, true, g.opts...)
				defer s.close()
				r := s.newReader().(io.ReadSeeker)
				buf := make([]byte, size)
				if _, err := drain(r, buf, src); err != nil { // warm the handle
					t.Fatal(err)
				}
				var err error
				allocs := testing.AllocsPerRun(10_000, func() {
					if e := warmRead(r, buf); e != nil {
						err = e
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				if allocs != 0 {
					t.Errorf("got %v allocations per warm Read; want 0", allocs)
				}
			})
		}
	}
}
