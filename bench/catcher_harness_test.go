package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// streamSize is the length of the catcher benchmarks' in-memory source:
// 10 MiB.
const streamSize = 10 << 20

// randomBytes returns n pseudo-random bytes, the same for every call, so
// that a byte read at the wrong offset shows.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{'s', 't', 'r', 'e', 'a', 'm'})
	r.Read(b)
	return b
}

// streamSource is the 10 MiB source, made once.
var streamSource = sync.OnceValue(func() []byte { return randomBytes(streamSize) })

// sharedStream is one stream as the readers of a benchmark see it.
type sharedStream interface {
	// newReader returns a handle at offset 0, for one goroutine.
	newReader() io.Reader
	// close releases the stream after an operation (cold) or after the
	// benchmark (pre-filled).
	close()
}

// streamImpl is one implementation of a shared stream over an in-memory
// source.
type streamImpl struct {
	name string
	// open makes a shared stream over src. With prefill, the whole stream
	// is read in before it returns; without, the readers' demand fills it.
	open func(src []byte, prefill bool, opts ...catcher.Option) sharedStream
}

// streamImpls are the implementations compared, the catcher first: benchstat
// compares the columns with the first one it sees.
var streamImpls = []streamImpl{
	{"catcher", openCatcher},
	{"naive", openNaive},
	{"bytesreader", openBytesReaders},
}

type catcherStream struct{ c *catcher.Catcher }

func openCatcher(src []byte, prefill bool, opts ...catcher.Option) sharedStream {
	c := catcher.New(bytes.NewReader(src), opts...)
	if prefill {
		if err := c.Load(context.Background()); err != nil {
			panic(err)
		}
	}
	return catcherStream{c}
}

func (s catcherStream) newReader() io.Reader { return s.c.NewReader() }
func (s catcherStream) close()               { s.c.Close() }

type naiveStream struct{ b *naiveBuffer }

func openNaive(src []byte, prefill bool, _ ...catcher.Option) sharedStream {
	b := newNaiveBuffer(bytes.NewReader(src))
	if prefill {
		b.load()
	}
	return naiveStream{b}
}

func (s naiveStream) newReader() io.Reader { return s.b.newReader() }
func (s naiveStream) close()               {}

// bytesReaders is the limit: every reader on its own bytes.Reader over the
// same bytes, nothing shared. Cold and pre-filled are the same for it.
type bytesReaders struct{ src []byte }

func openBytesReaders(src []byte, _ bool, _ ...catcher.Option) sharedStream {
	return bytesReaders{src}
}

func (s bytesReaders) newReader() io.Reader { return bytes.NewReader(s.src) }
func (s bytesReaders) close()               {}

// drain reads r to its end with buf and returns the bytes read. A non-nil
// want is the stream r must yield; every read is checked against it.
func drain(r io.Reader, buf, want []byte) (int, error) {
	total := 0
	for {
		n, err := r.Read(buf)
		if n < 0 || n > len(buf) {
			return total, fmt.Errorf("Read returned %d for %d bytes", n, len(buf))
		}
		if want != nil {
			if total+n > len(want) {
				return total, fmt.Errorf("read %d bytes past the end at %d", total+n-len(want), total)
			}
			if !bytes.Equal(buf[:n], want[total:total+n]) {
				return total, fmt.Errorf("wrong bytes in [%d, %d)", total, total+n)
			}
		}
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// team is the readers of one operation: one goroutine each, started for the
// operation, each reading a fresh handle to the end of the stream. The
// buffers and error slots are made once, so that an operation allocates
// only what the implementation and the goroutines do.
type team struct {
	bufs [][]byte
	errs []error
	want []byte // when non-nil, every reader's bytes are checked against it
	size int    // the stream's length
}

func newTeam(readers, readSize, size int) *team {
	t := &team{bufs: make([][]byte, readers), errs: make([]error, readers), size: size}
	for i := range t.bufs {
		t.bufs[i] = make([]byte, readSize)
	}
	return t
}

// run starts the readers on s and waits for all of them. It returns the
// first reader's error, or an error if a reader did not read the whole
// stream.
func (t *team) run(s sharedStream) error {
	var wg sync.WaitGroup
	for i := range t.bufs {
		wg.Go(func() {
			n, err := drain(s.newReader(), t.bufs[i], t.want)
			if err == nil && n != t.size {
				err = fmt.Errorf("read %d bytes of %d", n, t.size)
			}
			t.errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range t.errs {
		if err != nil {
			return fmt.Errorf("reader %d: %w", i, err)
		}
	}
	return nil
}
