package catcher

import (
	"context"
	"fmt"
	"io"
	"math"
)

// Reader is a handle on a Catcher with its own offset. It implements
// io.Reader, io.Seeker, io.WriterTo and io.Closer. A Reader belongs to one
// goroutine at a time; use Clone or NewReader for others. Any number of
// Readers of one Catcher may be used in parallel.
//
// A Reader remembers the chunk it last read from, so a sequential read is
// O(1) wherever it is; after a seek the chunk is found in O(log chunks).
// Reading cached bytes takes no lock and, once the Reader is warm, allocates
// nothing.
type Reader struct {
	c   *Catcher
	off int64

	// view is the bytes of the chunk the last read ended in, as far as
	// they were published then: stream offsets [start, start+len(view)).
	// The chunk is ch, at index idx of its rope. n is the published length
	// when view was taken: while it is still the published length, nothing
	// has been added, evicted or closed since, so a read inside view is
	// served from it at once.
	view  []byte
	start int64
	n     int64
	ch    *chunk
	idx   int

	w      waiter // reused by every wait of this Reader
	closed bool
}

// Read reads up to len(p) bytes at the Reader's offset. It follows
// io.Reader: if any bytes are cached there it returns them at once (n > 0,
// nil), without waiting for more; otherwise it waits until some are, or the
// stream ends (0, io.EOF), or the stream failed there (0, the error). It
// does not keep p.
func (r *Reader) Read(p []byte) (int, error) {
	if n, ok := r.fast(p); ok {
		return n, nil
	}
	return r.read(context.Background(), p)
}

// ReadContext is Read with a context that ends a wait for bytes not yet
// cached: it then returns 0 and ctx's error, even while the source itself
// is blocked. Cached bytes are returned whatever the state of ctx.
func (r *Reader) ReadContext(ctx context.Context, p []byte) (int, error) {
	if n, ok := r.fast(p); ok {
		return n, nil
	}
	return r.read(ctx, p)
}

// fast serves a read from the view if it can.
func (r *Reader) fast(p []byte) (int, bool) {
	i := r.off - r.start
	if i < 0 || i >= int64(len(r.view)) || r.c.snap.Load().n != r.n {
		return 0, false
	}
	n := copy(p, r.view[i:])
	r.off += int64(n)
	return n, true
}

func (r *Reader) read(ctx context.Context, p []byte) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	s, err := r.snapshotAt(ctx)
	if err != nil {
		return 0, err
	}
	n, i := s.rope.copyAt(p, r.off, s.n, r.hint(s))
	r.off += int64(n)
	r.setView(s, i)
	return n, nil
}

// setView makes chunk i of s's rope the Reader's view.
func (r *Reader) setView(s *snapshot, i int) {
	ch := s.rope.chunks[i]
	r.ch, r.idx = ch, i
	r.view = ch.buf[:s.rope.end(i, s.n)-ch.start]
	r.start, r.n = ch.start, s.n
}

// snapshotAt returns a snapshot with at least one byte at r.off, waiting
// for it as needed, or the error a read at r.off must return.
func (r *Reader) snapshotAt(ctx context.Context) (*snapshot, error) {
	s := r.c.snap.Load()
	if r.off >= s.n && !s.done {
		var err error
		if s, err = r.c.wait(ctx, &r.w, r.off); err != nil {
			return nil, err
		}
	}
	if r.off >= s.n {
		if s.err == ErrClosed {
			r.dropView()
		}
		return nil, s.err
	}
	if old := s.rope.oldest(s.n); r.off < old {
		r.dropView()
		return nil, evicted(r.off, old)
	}
	return s, nil
}

// dropView forgets the Reader's chunk, so that a Reader that can no longer
// read it (after Close or eviction) does not keep its memory alive.
func (r *Reader) dropView() {
	r.view, r.ch, r.start, r.n, r.idx = nil, nil, 0, 0, 0
}

// hint returns the index in s's rope of the Reader's last chunk, or -1.
// Ropes only grow at the end between evictions, so the index holds while
// the chunk is still there.
func (r *Reader) hint(s *snapshot) int {
	if cs := s.rope.chunks; r.idx < len(cs) && cs[r.idx] == r.ch {
		return r.idx
	}
	return -1
}

// WriteTo writes the stream from the Reader's offset to its end into w,
// straight from the cache (w must not modify or keep the slices it is
// given, as io.Writer requires), waiting for bytes as needed. It returns the
// bytes written and nil at a clean end of stream, or the first error.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	if r.closed {
		return 0, ErrClosed
	}
	var total int64
	for {
		s, err := r.snapshotAt(context.Background())
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		i := s.rope.find(r.off, r.hint(s))
		for ; i < len(s.rope.chunks); i++ {
			ch := s.rope.chunks[i]
			seg := ch.buf[r.off-ch.start : s.rope.end(i, s.n)-ch.start]
			n, err := w.Write(seg)
			if n < 0 || n > len(seg) {
				n, err = 0, fmt.Errorf("%w: %T.Write returned %d for %d bytes", ErrBadSource, w, n, len(seg))
			}
			r.off += int64(n)
			total += int64(n)
			r.setView(s, i)
			if err == nil && n < len(seg) {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
		}
	}
}

// Seek sets the offset for the next Read, following io.Seeker. It does not
// read: reading then waits for the bytes. io.SeekEnd waits for the end of
// the stream (use Catcher.Wait first to bound that wait with a context).
// Seeking past the end is allowed; a resulting negative offset is
// ErrNegativeOffset and leaves the offset unchanged.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	if r.closed {
		return 0, ErrClosed
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = r.off
	case io.SeekEnd:
		s, err := r.c.waitGlobal(context.Background(), math.MaxInt64, false)
		if err == nil && s.err == ErrClosed {
			err = ErrClosed
		}
		if err != nil {
			return 0, err
		}
		base = s.n
	default:
		return 0, fmt.Errorf("%w: %d", ErrInvalidWhence, whence)
	}
	pos := base + offset
	if pos < 0 || (offset > 0 && pos < base) {
		return 0, fmt.Errorf("%w: %d from %d", ErrNegativeOffset, offset, base)
	}
	r.off = pos
	return pos, nil
}

// Offset returns the offset of the next Read.
func (r *Reader) Offset() int64 { return r.off }

// Buffered returns how many bytes can be read now without waiting: 0 when
// the Reader is at or past the cached length, or behind the window.
func (r *Reader) Buffered() int64 {
	s := r.c.snap.Load()
	if r.closed || r.off >= s.n || r.off < s.rope.oldest(s.n) {
		return 0
	}
	return s.n - r.off
}

// Ready returns a channel that is closed once a Read at the Reader's
// offset will not block. See Catcher.Ready.
func (r *Reader) Ready() <-chan struct{} { return r.c.Ready(r.off) }

// Clone returns a new Reader at the same offset.
func (r *Reader) Clone() *Reader {
	c := *r
	c.w = newReadWaiter()
	return &c
}

// Catcher returns the Catcher the Reader reads.
func (r *Reader) Catcher() *Catcher { return r.c }

// Close releases the Reader; later calls return ErrClosed. It does not
// close the Catcher. It returns nil.
func (r *Reader) Close() error {
	*r = Reader{c: r.c, off: r.off, closed: true}
	return nil
}
