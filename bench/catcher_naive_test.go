package bench_test

import (
	"errors"
	"io"
	"slices"
	"sync"
)

// naiveStep is how many bytes the naive buffer reads from its source at a
// time.
const naiveStep = 32 << 10

// naiveBuffer is the obvious shared stream cache: a byte slice behind a
// sync.RWMutex, filled on demand. A reader of filled bytes takes the read
// lock to copy; a reader that needs bytes beyond the filled ones takes the
// write lock and reads more from the source, naiveStep bytes at a time,
// holding the lock across the source's Read. The slice grows by append, so
// it is moved as it grows.
//
// It is correct: a reader decides between "bytes here", "end of stream" and
// "fill more" from the length and the end, read under one hold of the lock,
// so it never sees the end of the stream while bytes it has not read remain
// (the false end of stream of the Rust crate's naive baseline).
//
// All methods are safe for concurrent use.
type naiveBuffer struct {
	mu  sync.RWMutex // guards the fields below
	src io.Reader    // read only with mu held for writing
	buf []byte       // the filled bytes
	err error        // non-nil once the source has ended: io.EOF or its error
}

func newNaiveBuffer(src io.Reader) *naiveBuffer { return &naiveBuffer{src: src} }

// readAt copies bytes at off into p, filling from the source as needed. It
// returns n > 0 and nil, or 0 and the source's final error at its end.
func (b *naiveBuffer) readAt(p []byte, off int) (int, error) {
	for {
		b.mu.RLock()
		if off < len(b.buf) {
			n := copy(p, b.buf[off:])
			b.mu.RUnlock()
			return n, nil
		}
		err := b.err // read under the same hold as len(b.buf)
		b.mu.RUnlock()
		if err != nil {
			return 0, err
		}
		b.fill(off)
	}
}

// fill reads from the source until the byte at off is filled or the source
// has ended.
func (b *naiveBuffer) fill(off int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Another reader may have filled it while this one waited for the lock.
	for off >= len(b.buf) && b.err == nil {
		b.buf = slices.Grow(b.buf, naiveStep)
		n, err := b.src.Read(b.buf[len(b.buf) : len(b.buf)+naiveStep])
		b.buf = b.buf[:len(b.buf)+n]
		if err != nil {
			b.err = err
		}
	}
}

// load fills the whole stream.
func (b *naiveBuffer) load() { b.fill(int(^uint(0) >> 1)) }

// newReader returns a handle at offset 0.
func (b *naiveBuffer) newReader() *naiveReader { return &naiveReader{b: b} }

// naiveReader is a handle on a naiveBuffer with its own offset. It
// implements io.Reader and io.Seeker. It belongs to one goroutine.
type naiveReader struct {
	b   *naiveBuffer
	off int
}

func (r *naiveReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.b.readAt(p, r.off)
	r.off += n
	return n, err
}

// Seek sets the offset of the next Read. io.SeekEnd fills the whole stream
// first.
func (r *naiveReader) Seek(offset int64, whence int) (int64, error) {
	var base int
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = r.off
	case io.SeekEnd:
		r.b.load()
		r.b.mu.RLock()
		base = len(r.b.buf)
		r.b.mu.RUnlock()
	default:
		return 0, errors.New("naiveReader: bad whence")
	}
	pos := int64(base) + offset
	if pos < 0 {
		return 0, errors.New("naiveReader: negative position")
	}
	r.off = int(pos)
	return pos, nil
}
