package catcher_test

// Shared by the property, fuzz and stress tests: a source with random short
// reads, a model of the stream a Catcher must show, and the operations run
// against a Catcher with the check of each result against the model.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// errPropSource is the error a failing test source returns after its bytes.
var errPropSource = errors.New("test source failed")

// propReadyTimeout bounds the wait for a Ready channel. The sources of these
// tests never block, so a channel that takes this long will never close.
const propReadyTimeout = 20 * time.Second

// propData returns n pseudo-random bytes determined by seed, so that a byte
// read at the wrong offset shows.
func propData(n int, seed uint64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// propSource hands out data in random short counts, sometimes none, and
// then its end: io.EOF or a failure, either alone or, if withLast, together
// with the last bytes (as iotest.DataErrReader does). It is not safe for
// concurrent use: the Catcher reads it from one fill goroutine at a time,
// and the race detector reports any overlap.
type propSource struct {
	data     []byte
	end      error // io.EOF, or the failure returned after data
	withLast bool  // return end with the last bytes
	maxRead  int   // the largest count of one Read, at least 1
	rnd      *rand.Rand
	off      int
}

func newPropSource(data []byte, end error, withLast bool, maxRead int, seed uint64) *propSource {
	return &propSource{
		data: data, end: end, withLast: withLast, maxRead: max(maxRead, 1),
		rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

func (s *propSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.off >= len(s.data) {
		return 0, s.end
	}
	if s.rnd.IntN(16) == 0 {
		return 0, nil // io.Reader allows it; the Catcher must call again
	}
	n := 1 + s.rnd.IntN(min(len(p), s.maxRead, len(s.data)-s.off))
	copy(p, s.data[s.off:s.off+n])
	s.off += n
	if s.off == len(s.data) && s.withLast {
		return n, s.end
	}
	return n, nil
}

// propConfig is one configuration of a Catcher and its source.
type propConfig struct {
	srcLen   int
	dataSeed uint64
	srcSeed  uint64
	maxRead  int   // largest count of one source Read
	withLast bool  // the source returns its end with its last bytes
	failAt   int   // the source fails after this many bytes; -1: it ends cleanly after srcLen
	maxBytes int64 // WithMaxBytes; 0: none
	growth   int   // 0 default, 1 Constant, 2 Linear, 3 Geometric
	start    int   // growth start (1..)
	gmax     int   // growth max (>= start)
	hint     int64 // WithLengthHint; 0: none
	window   int64 // WithWindow; 0: none
	finalise bool
	preload  bool
}

func (cfg propConfig) String() string {
	return fmt.Sprintf("src %d bytes (reads <= %d, end with last %v, fail at %d), growth %v, hint %d, max %d, window %d, finalise %v, preload %v",
		cfg.srcLen, cfg.maxRead, cfg.withLast, cfg.failAt, cfg.growthOf(), cfg.hint, cfg.maxBytes, cfg.window, cfg.finalise, cfg.preload)
}

func (cfg propConfig) growthOf() catcher.Growth {
	switch cfg.growth {
	case 1:
		return catcher.Constant(cfg.start)
	case 2:
		return catcher.Linear(cfg.start, cfg.gmax)
	case 3:
		return catcher.Geometric(cfg.start, cfg.gmax)
	}
	return catcher.Growth{}
}

func (cfg propConfig) options() []catcher.Option {
	var opts []catcher.Option
	if cfg.growth != 0 {
		opts = append(opts, catcher.WithGrowth(cfg.growthOf()))
	}
	if cfg.hint > 0 {
		opts = append(opts, catcher.WithLengthHint(cfg.hint))
	}
	if cfg.maxBytes > 0 {
		opts = append(opts, catcher.WithMaxBytes(cfg.maxBytes))
	}
	if cfg.window > 0 {
		opts = append(opts, catcher.WithWindow(cfg.window))
	}
	if cfg.finalise {
		opts = append(opts, catcher.WithFinalise())
	}
	if cfg.preload {
		opts = append(opts, catcher.WithPreload())
	}
	return opts
}

// newEnv builds the source, the Catcher and the model of cfg. The caller
// closes env.c.
func (cfg propConfig) newEnv() *propEnv {
	data := propData(cfg.srcLen, cfg.dataSeed)
	srcData, end := data, error(io.EOF)
	if cfg.failAt >= 0 {
		srcData, end = data[:cfg.failAt], errPropSource
	}
	src := newPropSource(srcData, end, cfg.withLast, cfg.maxRead, cfg.srcSeed)
	m := propModel{data: data, end: int64(len(srcData)), endErr: end, window: cfg.window, finalise: cfg.finalise}
	if cfg.maxBytes > 0 && m.end > cfg.maxBytes {
		m.end, m.endErr = cfg.maxBytes, catcher.ErrTooLong
	}
	if cfg.window > 0 {
		m.maxChunk = max(cfg.window/4, 1)
	} else {
		m.maxChunk = int64(cfg.growthOf().Max())
		if cfg.hint > 0 {
			m.maxChunk = max(m.maxChunk, min(cfg.hint, 64<<20))
		}
	}
	return &propEnv{c: catcher.New(src, cfg.options()...), m: m, src: src}
}

// propModel is what a Catcher must show: data[:end], then endErr.
type propModel struct {
	data     []byte // the source's bytes; at least end of them
	end      int64  // where the stream ends
	endErr   error  // at end: io.EOF, errPropSource or catcher.ErrTooLong
	window   int64  // WithWindow, or 0
	finalise bool
	maxChunk int64 // the largest chunk the configuration allocates
}

// isEnd reports whether err is what a read at the end must return: io.EOF
// itself (as io.Reader requires), the source's error itself, or an error
// that wraps ErrTooLong.
func (m *propModel) isEnd(err error) bool {
	if m.endErr == catcher.ErrTooLong {
		return errors.Is(err, catcher.ErrTooLong)
	}
	return err == m.endErr
}

// diff describes how p differs from the stream at off, or returns "".
func (m *propModel) diff(p []byte, off int64) string {
	if len(p) == 0 {
		return ""
	}
	if off < 0 || off+int64(len(p)) > m.end {
		return fmt.Sprintf("%d bytes at %d run past the end at %d", len(p), off, m.end)
	}
	want := m.data[off : off+int64(len(p))]
	if bytes.Equal(p, want) {
		return ""
	}
	i := 0
	for p[i] == want[i] {
		i++
	}
	return fmt.Sprintf("byte at %d is %#x; want %#x", off+int64(i), p[i], want[i])
}

// propEnv is a Catcher under test and its model. Its methods may be called
// from many goroutines, each with its own propWorker.
type propEnv struct {
	c   *catcher.Catcher
	m   propModel
	src *propSource

	closeStarted atomic.Bool // set just before c.Close is called
	closeDone    atomic.Bool // set once c.Close has returned

	mu   sync.Mutex
	errs []string // guarded by mu
}

func (e *propEnv) failf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) < 10 {
		e.errs = append(e.errs, fmt.Sprintf(format, args...))
	}
}

// failures returns the failures recorded, one a line, or "".
func (e *propEnv) failures() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.errs, "\n")
}

// close closes the Catcher, as the operation propClose does.
func (e *propEnv) close() {
	e.closeStarted.Store(true)
	if err := e.c.Close(); err != nil {
		e.failf("Close: got %v; want nil", err)
	}
	e.closeDone.Store(true)
}

// checkEvicted checks that an ErrEvicted at off was due: off is before the
// window (which only moves forward).
func (e *propEnv) checkEvicted(what string, off int64) {
	if e.m.window == 0 {
		e.failf("%s: ErrEvicted without a window", what)
		return
	}
	old := e.c.Oldest()
	if !e.closeStarted.Load() && off >= old {
		e.failf("%s: ErrEvicted at %d, but the oldest byte kept is %d", what, off, old)
	}
}

// checkClosed checks that an ErrClosed was due.
func (e *propEnv) checkClosed(what string) {
	if !e.closeStarted.Load() {
		e.failf("%s: ErrClosed before Close", what)
	}
}

// propOpKind is an operation of the property and fuzz tests.
type propOpKind uint8

const (
	propRead        propOpKind = iota // Read, or ReadContext (see propOp.ctx) of size bytes
	propSeek                          // Seek(off, whence)
	propClone                         // Clone the handle; the clone is a new handle
	propNewReader                     // NewReader: a new handle at 0
	propReadAt                        // Catcher.ReadAt of size bytes at off
	propWriteTo                       // WriteTo a writer that checks every byte
	propBuffered                      // Buffered
	propReady                         // wait for Catcher.Ready(off)
	propReaderReady                   // wait for Reader.Ready
	propStats                         // Stats, Len, Oldest, Finished, Err
	propCloseReader                   // Close the handle
	propWait                          // Catcher.Wait
	propClose                         // Close the Catcher
	propNumOps
)

var propOpNames = [...]string{"Read", "Seek", "Clone", "NewReader", "ReadAt", "WriteTo", "Buffered",
	"Ready", "Reader.Ready", "Stats", "Reader.Close", "Wait", "Close"}

func (k propOpKind) String() string { return propOpNames[k] }

// Context modes of propRead.
const (
	propCtxNone     = iota // Read
	propCtxBack            // ReadContext(context.Background())
	propCtxCanceled        // ReadContext with a context already cancelled
	propCtxTimeout         // ReadContext with a timeout of propOp.delay
	propNumCtx
)

// propOp is one operation. Fields that the kind does not use are ignored.
type propOp struct {
	kind   propOpKind
	h      int // which handle of the worker (modulo their number)
	size   int
	off    int64
	whence int
	ctx    int
	delay  time.Duration // the timeout of propCtxTimeout
}

func (op propOp) String() string {
	switch op.kind {
	case propRead:
		return fmt.Sprintf("Read(h%d, %d bytes, ctx %d)", op.h, op.size, op.ctx)
	case propSeek:
		return fmt.Sprintf("Seek(h%d, %d, %d)", op.h, op.off, op.whence)
	case propReadAt:
		return fmt.Sprintf("ReadAt(%d bytes, %d)", op.size, op.off)
	case propReady:
		return fmt.Sprintf("Ready(%d)", op.off)
	case propNewReader, propStats, propWait, propClose:
		return op.kind.String()
	}
	return fmt.Sprintf("%v(h%d)", op.kind, op.h)
}

// propHandle is a Reader and the offset the model expects of it.
type propHandle struct {
	r      *catcher.Reader
	off    int64
	closed bool
}

// propWorker runs operations with its own handles; one goroutine each.
type propWorker struct {
	e   *propEnv
	id  int
	hs  []*propHandle
	buf []byte
}

func (e *propEnv) newWorker(id int) *propWorker {
	return &propWorker{e: e, id: id, hs: []*propHandle{{r: e.c.NewReader()}}}
}

// closeAll closes the worker's handles.
func (w *propWorker) closeAll() {
	for _, h := range w.hs {
		h.r.Close()
	}
}

func (w *propWorker) bytes(n int) []byte {
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	return w.buf[:n]
}

// run runs op and checks its result against the model.
func (w *propWorker) run(op propOp) {
	e, c, m := w.e, w.e.c, &w.e.m
	h := w.hs[op.h%len(w.hs)] // a worker has at least one handle
	what := fmt.Sprintf("g%d: %v at %d", w.id, op, h.off)
	switch op.kind {
	case propRead:
		w.read(what, h, op)
	case propSeek:
		w.seek(what, h, op)
	case propClone:
		r := h.r.Clone()
		if got := r.Offset(); got != h.off {
			e.failf("%s: clone at %d; want %d", what, got, h.off)
		}
		w.hs = append(w.hs, &propHandle{r: r, off: h.off, closed: h.closed})
	case propNewReader:
		w.hs = append(w.hs, &propHandle{r: c.NewReader()})
	case propReadAt:
		w.readAt(what, op)
	case propWriteTo:
		w.writeTo(what, h)
	case propBuffered:
		w.buffered(what, h)
	case propReady, propReaderReady:
		off, ch := op.off, (<-chan struct{})(nil)
		if op.kind == propReaderReady {
			off, ch = h.off, h.r.Ready()
		} else {
			ch = c.Ready(off)
		}
		select {
		case <-ch:
		case <-time.After(propReadyTimeout):
			e.failf("%s: the channel is not ready after %v", what, propReadyTimeout)
			return
		}
		if st := c.Stats(); st.Len <= off && !st.Finished {
			e.failf("%s: ready with %d bytes cached, not finished", what, st.Len)
		}
	case propStats:
		w.stats(what)
	case propCloseReader:
		if err := h.r.Close(); err != nil {
			e.failf("%s: got %v; want nil", what, err)
		}
		h.closed = true
	case propWait:
		cd := e.closeDone.Load()
		err := c.Wait(context.Background())
		switch {
		case errors.Is(err, catcher.ErrClosed):
			e.checkClosed(what)
		case cd:
			e.failf("%s: got %v after Close; want ErrClosed", what, err)
		case m.endErr == io.EOF && err != nil, m.endErr != io.EOF && !m.isEnd(err):
			e.failf("%s: got %v; want the end of %v", what, err, m.endErr)
		default:
			if st := c.Stats(); !e.closeStarted.Load() && (st.Len != m.end || !st.Finished) {
				e.failf("%s: after Wait, %d bytes cached (finished %v); want %d, finished", what, st.Len, st.Finished, m.end)
			}
		}
	case propClose:
		e.close()
		e.close() // a second Close returns nil too
	}
	if got := h.r.Offset(); got != h.off {
		e.failf("%s: Offset() = %d; want %d", what, got, h.off)
		h.off = got
	}
}

func (w *propWorker) read(what string, h *propHandle, op propOp) {
	e, c, m := w.e, w.e.c, &w.e.m
	p := w.bytes(op.size)
	off := h.off
	len0, fin0 := c.Len(), c.Finished()
	cd0 := e.closeDone.Load()
	var n int
	var err error
	switch op.ctx {
	case propCtxNone:
		n, err = h.r.Read(p)
	case propCtxBack:
		n, err = h.r.ReadContext(context.Background(), p)
	case propCtxCanceled:
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n, err = h.r.ReadContext(ctx, p)
	case propCtxTimeout:
		ctx, cancel := context.WithTimeout(context.Background(), op.delay)
		n, err = h.r.ReadContext(ctx, p)
		cancel()
	}
	if err == nil {
		h.off += int64(n)
	}
	switch {
	case h.closed:
		if n != 0 || !errors.Is(err, catcher.ErrClosed) {
			e.failf("%s: on a closed Reader got (%d, %v); want (0, ErrClosed)", what, n, err)
		}
	case n < 0 || n > len(p):
		e.failf("%s: got %d bytes", what, n)
	case len(p) == 0:
		if n != 0 || (err != nil && !(errors.Is(err, catcher.ErrClosed) && e.closeStarted.Load())) {
			e.failf("%s: got (%d, %v); want (0, nil)", what, n, err)
		}
	case err == nil:
		if n == 0 {
			e.failf("%s: got (0, nil)", what)
		}
		if cd0 {
			e.failf("%s: got %d bytes after Close; want ErrClosed", what, n)
		}
		if d := m.diff(p[:n], off); d != "" {
			e.failf("%s: %s", what, d)
		}
	case n != 0:
		e.failf("%s: got %d bytes with %v; want none with an error", what, n, err)
	case errors.Is(err, catcher.ErrClosed):
		e.checkClosed(what)
	case errors.Is(err, catcher.ErrEvicted):
		e.checkEvicted(what, off)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if op.ctx < propCtxCanceled {
			e.failf("%s: got %v without a context that ends", what, err)
		}
		if off < len0 || fin0 {
			e.failf("%s: got %v although %d bytes were cached (finished %v)", what, err, len0, fin0)
		}
	case !m.isEnd(err):
		e.failf("%s: got %v; want data, or %v at %d", what, err, m.endErr, m.end)
	case cd0:
		e.failf("%s: got %v after Close; want ErrClosed", what, err)
	case off < m.end:
		e.failf("%s: got %v before the end at %d", what, err, m.end)
	}
}

// propSeekPos is where a seek must land, and whether it must fail.
func propSeekPos(base, offset int64) (int64, bool) {
	if offset > 0 && base > math.MaxInt64-offset {
		return 0, false
	}
	pos := base + offset
	return pos, pos >= 0
}

func (w *propWorker) seek(what string, h *propHandle, op propOp) {
	e := w.e
	cd0 := e.closeDone.Load()
	pos, err := h.r.Seek(op.off, op.whence)
	cs := e.closeStarted.Load()
	if h.closed {
		if !errors.Is(err, catcher.ErrClosed) {
			e.failf("%s: on a closed Reader got %v; want ErrClosed", what, err)
		}
		return
	}
	var base int64
	switch op.whence {
	case io.SeekCurrent:
		base = h.off
	case io.SeekEnd:
		base = e.m.end
	}
	want, ok := propSeekPos(base, op.off)
	switch {
	case op.whence == io.SeekEnd && cs:
		// Seeking from the end waits for the end, which Close may make
		// come at 0: any result will do, with the offset it reports.
		if err == nil {
			h.off = pos
		} else if !errors.Is(err, catcher.ErrClosed) && !errors.Is(err, catcher.ErrNegativeOffset) {
			e.failf("%s: while closing got %v; want ErrClosed, ErrNegativeOffset or success", what, err)
		}
	case op.whence == io.SeekEnd && cd0:
		e.failf("%s: after Close got (%d, %v); want ErrClosed", what, pos, err)
	case !ok:
		if !errors.Is(err, catcher.ErrNegativeOffset) {
			e.failf("%s: got (%d, %v); want ErrNegativeOffset", what, pos, err)
		}
	case err == nil:
		if pos != want {
			e.failf("%s: got %d; want %d", what, pos, want)
		}
		h.off = pos
	case errors.Is(err, catcher.ErrClosed):
		e.checkClosed(what)
	default:
		e.failf("%s: got %v; want %d", what, err, want)
	}
}

func (w *propWorker) readAt(what string, op propOp) {
	e, c, m := w.e, w.e.c, &w.e.m
	p := w.bytes(op.size)
	off := op.off
	cd0 := e.closeDone.Load()
	n, err := c.ReadAt(p, off)
	if off < 0 {
		if n != 0 || !errors.Is(err, catcher.ErrNegativeOffset) {
			e.failf("%s: got (%d, %v); want (0, ErrNegativeOffset)", what, n, err)
		}
		return
	}
	if n < 0 || n > len(p) {
		e.failf("%s: got %d bytes", what, n)
		return
	}
	if d := m.diff(p[:n], off); d != "" {
		e.failf("%s: %s", what, d)
	}
	switch {
	case err == nil:
		if n != len(p) {
			e.failf("%s: got %d bytes and no error", what, n)
		}
		if cd0 && len(p) > 0 {
			e.failf("%s: got %d bytes after Close; want ErrClosed", what, n)
		}
	case errors.Is(err, catcher.ErrClosed):
		e.checkClosed(what)
	case errors.Is(err, catcher.ErrEvicted):
		e.checkEvicted(what, off+int64(n))
	case !m.isEnd(err):
		e.failf("%s: got (%d, %v); want %v at %d", what, n, err, m.endErr, m.end)
	case cd0:
		e.failf("%s: got %v after Close; want ErrClosed", what, err)
	case off+int64(n) != max(off, m.end) || int64(len(p)) <= m.end-off:
		e.failf("%s: got (%d, %v) with the end at %d", what, n, err, m.end)
	}
}

// propCheckWriter checks that what is written is the stream from off on.
type propCheckWriter struct {
	m   *propModel
	off int64
	n   int64
	bad string
}

func (cw *propCheckWriter) Write(p []byte) (int, error) {
	if d := cw.m.diff(p, cw.off); d != "" && cw.bad == "" {
		cw.bad = d
	}
	cw.off += int64(len(p))
	cw.n += int64(len(p))
	return len(p), nil
}

func (w *propWorker) writeTo(what string, h *propHandle) {
	e, m := w.e, &w.e.m
	off := h.off
	cd0 := e.closeDone.Load()
	cw := &propCheckWriter{m: m, off: off}
	n, err := h.r.WriteTo(cw)
	h.off += n
	if cw.bad != "" {
		e.failf("%s: %s", what, cw.bad)
	}
	if n != cw.n {
		e.failf("%s: reports %d bytes; wrote %d", what, n, cw.n)
	}
	end := max(off, m.end)
	switch {
	case h.closed:
		if n != 0 || !errors.Is(err, catcher.ErrClosed) {
			e.failf("%s: on a closed Reader got (%d, %v); want (0, ErrClosed)", what, n, err)
		}
	case errors.Is(err, catcher.ErrClosed):
		e.checkClosed(what)
	case errors.Is(err, catcher.ErrEvicted):
		e.checkEvicted(what, h.off)
	case cd0:
		e.failf("%s: got (%d, %v) after Close; want ErrClosed", what, n, err)
	case err == nil && m.endErr != io.EOF, err != nil && (m.endErr == io.EOF || !m.isEnd(err)):
		e.failf("%s: got (%d, %v); want the end of %v", what, n, err, m.endErr)
	case h.off != end:
		e.failf("%s: stopped at %d with %v; want the end at %d", what, h.off, err, end)
	}
}

func (w *propWorker) buffered(what string, h *propHandle) {
	e, c, m := w.e, w.e.c, &w.e.m
	cd0 := e.closeDone.Load()
	len0 := c.Len()
	b := h.r.Buffered()
	len1 := c.Len()
	cs := e.closeStarted.Load()
	switch {
	case h.closed || cd0:
		if b != 0 {
			e.failf("%s: %d on a closed Reader or Catcher; want 0", what, b)
		}
	case b < 0 || (b > 0 && h.off+b > m.end):
		e.failf("%s: %d with the end at %d", what, b, m.end)
	case cs:
	case b > max(0, len1-h.off):
		e.failf("%s: %d with %d bytes cached", what, b, len1)
	case m.window == 0 && b < len0-h.off:
		e.failf("%s: %d; want at least %d", what, b, len0-h.off)
	}
}

func (w *propWorker) stats(what string) {
	e, c, m := w.e, w.e.c, &w.e.m
	cd0 := e.closeDone.Load()
	st := c.Stats()
	cs := e.closeStarted.Load()
	if cd0 {
		if !st.Finished || !errors.Is(st.Err, catcher.ErrClosed) || st.Len != 0 || st.Allocated != 0 || st.Chunks != 0 {
			e.failf("%s: after Close %+v; want finished, ErrClosed, nothing held", what, st)
		}
		if !errors.Is(c.Err(), catcher.ErrClosed) || !c.Finished() || c.Len() != 0 {
			e.failf("%s: after Close Err() = %v, Finished() = %v, Len() = %d", what, c.Err(), c.Finished(), c.Len())
		}
		return
	}
	if cs {
		return
	}
	held := st.Len - st.Oldest
	switch {
	case st.Len < 0 || st.Len > m.end:
		e.failf("%s: Len %d with the end at %d", what, st.Len, m.end)
	case st.Oldest < 0 || held < 0 || st.Allocated < held || st.Chunks < 0 || st.Waiting < 0:
		e.failf("%s: inconsistent %+v", what, st)
	case st.Finished && (st.Len != m.end || (m.endErr == io.EOF) != (st.Err == nil) || (st.Err != nil && !m.isEnd(st.Err))):
		e.failf("%s: finished with %d bytes and %v; want %d and %v", what, st.Len, st.Err, m.end, m.endErr)
	case !st.Finished && st.Err != nil:
		e.failf("%s: not finished but Err %v", what, st.Err)
	case m.window == 0 && st.Oldest != 0:
		e.failf("%s: Oldest %d without a window", what, st.Oldest)
	case m.window == 0 && st.Len > 0 && st.Allocated-st.Len >= m.maxChunk:
		e.failf("%s: %d bytes allocated for %d (the largest chunk is %d)", what, st.Allocated, st.Len, m.maxChunk)
	case m.window == 0 && m.finalise && st.Finished && st.Chunks > 1:
		e.failf("%s: finalised, but %d chunks", what, st.Chunks)
	case m.window > 0 && st.Oldest > 0 && held < m.window:
		e.failf("%s: holds %d bytes (from %d); want at least the window of %d", what, held, st.Oldest, m.window)
	case m.window > 0 && held >= m.window+m.maxChunk:
		e.failf("%s: holds %d bytes; want less than the window %d plus a chunk of %d", what, held, m.window, m.maxChunk)
	case m.window > 0 && st.Allocated >= m.window+2*m.maxChunk:
		e.failf("%s: %d bytes allocated; want less than the window %d plus two chunks of %d", what, st.Allocated, m.window, m.maxChunk)
	}
}
