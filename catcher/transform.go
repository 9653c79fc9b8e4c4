package catcher

import (
	"fmt"
	"io"
)

// Transform is a stateful stream transform whose output the Catcher caches:
// it runs once, inside the fill, however many readers there are.
//
// Transform reads what it needs from src and writes its output into dst.
// len(dst) is at least MinSpace(). Every call from one Catcher passes the
// same src. The legal returns are:
//
//   - n > 0, err == nil: wrote dst[:n]; call again for more.
//   - n == 0, err == nil: wrote nothing yet; it consumed input (a header, a
//     frame that produced no output) and needs more. Call again. A transform
//     that returns this many times in a row without reading from src is
//     stopped with io.ErrNoProgress.
//   - n >= 0, err == io.EOF: wrote dst[:n] and the stream has ended; it is
//     not called again.
//   - n >= 0, any other error: wrote dst[:n], which is kept, then failed;
//     readers get err once they reach the end of the kept bytes. It is not
//     called again.
//
// Transform must not keep dst after it returns, and must write only dst[:n].
// n outside [0, len(dst)] is a broken contract, reported as ErrBadSource.
// A transform is driven by one goroutine at a time; it need not be safe for
// concurrent use.
type Transform interface {
	Transform(dst []byte, src io.Reader) (n int, err error)

	// MinSpace is the smallest dst the transform accepts: its largest
	// indivisible unit of output (a whole frame), so that no unit is split
	// across two chunks of the cache. It must be at least 1 and must not
	// change.
	MinSpace() int
}

// Stater is implemented by a Transform whose state readers may inspect, such
// as the packet index of a framer. After each call that writes bytes or ends
// the stream, the Catcher calls State and publishes its result atomically
// together with the new length: Catcher.State returns the state that
// describes exactly the bytes published, without a lock, during the fill
// and after it.
//
// The value returned must never be changed afterwards: return a copy, or a
// view that later calls only extend (a slice header over an append-only
// slice is fine).
type Stater interface {
	State() any
}

// maxEmpty bounds the calls in a row that return nothing and read nothing
// before a fill gives up with io.ErrNoProgress (as bufio does).
const maxEmpty = 100

// Chain returns a Transform that runs ts in order, each reading the output of
// the one before it; the first reads the source. Its MinSpace is the last
// stage's. Its State, if any stage is a Stater, is a []any with each stage's
// state (nil for stages that are not).
func Chain(ts ...Transform) Transform {
	if len(ts) == 0 {
		panic("catcher: Chain of no transforms")
	}
	for _, t := range ts {
		checkMinSpace(t)
	}
	return &chain{stages: ts}
}

type chain struct {
	stages []Transform
	src    io.Reader // the src the readers below were built on
	last   io.Reader // output of all stages but the last
}

func (c *chain) MinSpace() int { return c.stages[len(c.stages)-1].MinSpace() }

func (c *chain) Transform(dst []byte, src io.Reader) (int, error) {
	if c.last == nil || c.src != src {
		c.src = src
		r := src
		for _, t := range c.stages[:len(c.stages)-1] {
			r = NewTransformReader(r, t)
		}
		c.last = r
	}
	return c.stages[len(c.stages)-1].Transform(dst, c.last)
}

func (c *chain) State() any {
	var st []any
	for i, t := range c.stages {
		if s, ok := t.(Stater); ok {
			if st == nil {
				st = make([]any, len(c.stages))
			}
			st[i] = s.State()
		}
	}
	if st == nil {
		return nil
	}
	return st
}

func checkMinSpace(t Transform) int {
	m := t.MinSpace()
	if m < 1 {
		panic(fmt.Sprintf("catcher: %T.MinSpace() = %d < 1", t, m))
	}
	return m
}

// TransformReader runs a Transform as a plain io.Reader, without a cache.
// It is not safe for concurrent use.
type TransformReader struct {
	t     Transform
	src   countingReader
	buf   []byte // holds a unit of output that did not fit in p
	r, w  int    // buf[r:w] is pending output
	err   error  // sticky, returned once buf is drained
	empty int    // consecutive calls with no output and no input
}

// NewTransformReader returns a reader of t's output over src.
func NewTransformReader(src io.Reader, t Transform) *TransformReader {
	checkMinSpace(t)
	return &TransformReader{t: t, src: countingReader{r: src}}
}

// Read reads t's output into p. It follows io.Reader's contract; when p is
// smaller than the transform's MinSpace, output goes through an internal
// buffer of that size.
func (tr *TransformReader) Read(p []byte) (int, error) {
	for {
		if tr.r < tr.w {
			n := copy(p, tr.buf[tr.r:tr.w])
			tr.r += n
			return n, nil
		}
		if tr.err != nil {
			return 0, tr.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		dst := p
		direct := len(p) >= tr.t.MinSpace()
		if !direct {
			if tr.buf == nil {
				tr.buf = make([]byte, tr.t.MinSpace())
			}
			dst = tr.buf
		}
		n, err := callTransform(tr.t, dst, &tr.src, &tr.empty)
		if err != nil {
			tr.err = err
		}
		if direct {
			if n > 0 {
				return n, nil
			}
			if err != nil {
				return 0, err
			}
			continue
		}
		tr.r, tr.w = 0, n
	}
}

// callTransform makes one call to t, turning a broken contract or a panic
// into an error and counting calls that make no progress.
func callTransform(t Transform, dst []byte, src *countingReader, empty *int) (n int, err error) {
	before := src.n
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, fmt.Errorf("%w: %T panicked: %v", ErrBadSource, t, r)
		}
	}()
	n, err = t.Transform(dst, src)
	if n < 0 || n > len(dst) {
		return 0, fmt.Errorf("%w: %T wrote %d bytes into %d", ErrBadSource, t, n, len(dst))
	}
	if n == 0 && err == nil {
		if src.n == before {
			*empty++
			if *empty >= maxEmpty {
				return 0, io.ErrNoProgress
			}
		} else {
			*empty = 0
		}
		return 0, nil
	}
	*empty = 0
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("%w: %T.Read returned %d for %d bytes", ErrBadSource, c.r, n, len(p))
	}
	c.n += int64(n)
	return n, err
}
