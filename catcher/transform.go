package catcher

import (
	"fmt"
	"io"
	"sync/atomic"
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

// Sizer is implemented by a Transform, or a state, that reports the memory
// it holds, in bytes, so that Stats.Resident counts it: buffers, decoder
// state, tables. The Catcher asks a Transform after each fill step, and a
// state once the stream has ended and the transform is released. Size must
// be cheap and must not block.
type Sizer interface {
	Size() int64
}

// sizeOf returns v's Size if it is a Sizer, else 0; a panic counts as 0.
func sizeOf(v any) (n int64) {
	s, ok := v.(Sizer)
	if !ok {
		return 0
	}
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	return max(s.Size(), 0)
}

// progresser is implemented by the composite transforms of this package:
// a count of the input their inner stages have consumed, so that a stage
// that consumes buffered input and writes nothing yet is not taken for one
// that makes no progress.
type progresser interface {
	progress() int64
}

func progressOf(t Transform) int64 {
	if p, ok := t.(progresser); ok {
		return p.progress()
	}
	return 0
}

// Chain returns a Transform that runs ts in order, each reading the output of
// the one before it; the first reads the source. Its MinSpace is the last
// stage's. Its State, if any stage is a Stater, is a ChainState; StateOf
// finds a stage's state by its type. It is a Sizer if any stage is.
func Chain(ts ...Transform) Transform {
	if len(ts) == 0 {
		panic("catcher: Chain of no transforms")
	}
	for _, t := range ts {
		checkMinSpace(t)
	}
	return &chain{stages: ts}
}

// ChainState is the State of a Chain: each stage's state, in the order of
// the stages, nil for a stage that is not a Stater. Only the last stage's
// state describes exactly the bytes published; an earlier stage's state
// describes its own output, which may run ahead of them (by what the
// stages after it hold in their buffers).
type ChainState []any

// Size is the sum of the stages' states' sizes (see Sizer).
func (cs ChainState) Size() int64 {
	var n int64
	for _, s := range cs {
		n += sizeOf(s)
	}
	return n
}

type chain struct {
	stages []Transform
	src    io.Reader          // the src the readers below were built on
	inner  []*TransformReader // readers of all stages but the last
	last   countingReader     // output of all stages but the last, as the last stage reads it
}

func (c *chain) MinSpace() int { return c.stages[len(c.stages)-1].MinSpace() }

func (c *chain) Transform(dst []byte, src io.Reader) (int, error) {
	if c.inner == nil || c.src != src {
		c.src = src
		c.inner = c.inner[:0]
		r := src
		for _, t := range c.stages[:len(c.stages)-1] {
			tr := NewTransformReader(r, t)
			c.inner = append(c.inner, tr)
			r = tr
		}
		c.last = countingReader{r: r, n: c.last.n}
	}
	return c.stages[len(c.stages)-1].Transform(dst, &c.last)
}

// progress counts the input the stages have consumed, each from the one
// before it (the first from the source), and their own inner progress.
// Only its changes matter.
func (c *chain) progress() int64 {
	n := c.last.n
	for _, tr := range c.inner {
		n += tr.src.n + progressOf(tr.t)
	}
	return n
}

func (c *chain) State() any {
	var st ChainState
	for i, t := range c.stages {
		if s, ok := t.(Stater); ok {
			if st == nil {
				st = make(ChainState, len(c.stages))
			}
			st[i] = s.State()
		}
	}
	if st == nil {
		return nil
	}
	return st
}

func (c *chain) Size() int64 {
	var n int64
	for _, t := range c.stages {
		n += sizeOf(t)
	}
	for _, tr := range c.inner {
		n += int64(cap(tr.buf))
	}
	return n
}

// Annotate returns t with v published beside its state: its State is the
// ChainState{v, t's state}, so that StateOf finds either, and it is t in
// every other way. v must never change afterwards. It suits what is known
// of a stream once, such as the format a decoder found.
func Annotate(t Transform, v any) Transform {
	checkMinSpace(t)
	return &annotated{t: t, v: v}
}

type annotated struct {
	t Transform
	v any
}

func (a *annotated) MinSpace() int { return a.t.MinSpace() }
func (a *annotated) Transform(dst []byte, src io.Reader) (int, error) {
	return a.t.Transform(dst, src)
}
func (a *annotated) progress() int64 { return progressOf(a.t) }
func (a *annotated) Size() int64     { return sizeOf(a.t) }
func (a *annotated) State() any {
	var st any
	if s, ok := a.t.(Stater); ok {
		st = s.State()
	}
	return ChainState{a.v, st}
}

// Deferred returns a Transform that is built inside the fill, from the
// source, on its first call: build reads what it needs first (a header, the
// first frame) and returns the transform that goes on, and the reader that
// transform reads from: src itself, or a reader that gives back what build
// read before the rest of src (io.MultiReader). So a decoder that needs
// the stream's format before it can set up its resampler never reads the
// source in New, which returns at once.
//
// minSpace is the built transform's MinSpace, declared beforehand: the
// Catcher needs it at New. The built transform's own MinSpace must not be
// larger; if it is, the stream ends with ErrBadSource. A build error ends
// the stream with that error. State, Size and progress are the built
// transform's (nil and 0 before it is built). It panics if minSpace < 1 or
// build is nil.
func Deferred(minSpace int, build func(src io.Reader) (Transform, io.Reader, error)) Transform {
	if minSpace < 1 || build == nil {
		panic(fmt.Sprintf("catcher: Deferred(%d, %p): need minSpace >= 1 and a build function", minSpace, build))
	}
	return &deferred{minSpace: minSpace, build: build}
}

type deferred struct {
	minSpace int
	build    func(io.Reader) (Transform, io.Reader, error)
	t        Transform
	in       countingReader // what t reads
	err      error          // the build's error, sticky
}

func (d *deferred) MinSpace() int { return d.minSpace }

func (d *deferred) Transform(dst []byte, src io.Reader) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.t == nil {
		t, in, err := d.build(src)
		switch {
		case err != nil:
			d.err = err
		case t == nil:
			d.err = fmt.Errorf("%w: Deferred build returned no transform", ErrBadSource)
		case t.MinSpace() > d.minSpace || t.MinSpace() < 1:
			d.err = fmt.Errorf("%w: built %T has MinSpace %d, Deferred declared %d", ErrBadSource, t, t.MinSpace(), d.minSpace)
		}
		if d.err != nil {
			return 0, d.err
		}
		if in == nil {
			in = src
		}
		d.t, d.in = t, countingReader{r: in}
		return 0, nil // built: that is progress if build read anything
	}
	return d.t.Transform(dst, &d.in)
}

// progress counts the build once, then what the built transform reads.
func (d *deferred) progress() int64 {
	if d.t == nil {
		return 0
	}
	return 1 + d.in.n + progressOf(d.t)
}

func (d *deferred) State() any {
	if st, ok := d.t.(Stater); ok {
		return st.State()
	}
	return nil
}

func (d *deferred) Size() int64 { return sizeOf(d.t) }

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
		n, err, _ := callTransform(tr.t, dst, &tr.src, &tr.empty)
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
// broken reports a broken contract or a panic: the output is refused.
func callTransform(t Transform, dst []byte, src *countingReader, empty *int) (n int, err error, broken bool) {
	before := src.n + progressOf(t)
	defer func() {
		if r := recover(); r != nil {
			n, err, broken = 0, fmt.Errorf("%w: %T panicked: %v", ErrBadSource, t, r), true
		}
	}()
	n, err = t.Transform(dst, src)
	if n < 0 || n > len(dst) {
		return 0, fmt.Errorf("%w: %T wrote %d bytes into %d", ErrBadSource, t, n, len(dst)), true
	}
	if n == 0 && err == nil {
		if src.n+progressOf(t) == before {
			*empty++
			if *empty >= maxEmpty {
				return 0, io.ErrNoProgress, false
			}
		} else {
			*empty = 0
		}
		return 0, nil, false
	}
	*empty = 0
	return n, err, false
}

// countingReader counts the bytes read through it. If stop is set, no Read
// starts once it is true.
type countingReader struct {
	r    io.Reader
	n    int64
	stop *atomic.Bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.stop != nil && c.stop.Load() {
		return 0, ErrClosed
	}
	n, err := c.r.Read(p)
	if n < 0 || n > len(p) {
		return 0, fmt.Errorf("%w: %T.Read returned %d for %d bytes", ErrBadSource, c.r, n, len(p))
	}
	c.n += int64(n)
	return n, err
}
