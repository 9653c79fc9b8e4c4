package pipeline

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultStallTimeout is how long a track's source may go without giving
// a byte, by default, before the track gives up on it (WithStallTimeout).
const DefaultStallTimeout = 30 * time.Second

// WithStallTimeout sets how long a track's source may go without giving a
// byte before the track gives up on it: DefaultStallTimeout by default
// (none for a live track, whose source may pause for as long as it likes:
// a relay of a voice channel is silent between speakers; set one for a
// live stream from a server), 0 or negative for never. The time runs only
// while the track waits for the source (a Read in progress), from its
// start or from the last byte, so a long download that trickles in is
// never cut, however slow overall, as long as each gap is shorter. A
// source that stalls (a server that sends
// half a file and then nothing, without closing) is abandoned: it is
// closed if it is an io.Closer, and the track ends with ErrStalled after
// the packets before, naming the source (WithName, else the URL, command
// or path) and the timeout; a source that is not an io.Closer, or ignores
// its Close, is left in its Read, on a goroutine of its own. A Library
// then forgets the track, and the next Get loads it again.
func WithStallTimeout(d time.Duration) TrackOption {
	return func(c *trackConfig) {
		c.stall = d
		if d <= 0 {
			c.stall = -1
		}
	}
}

// stallTimeout is the stall timeout of a track: 0 for none.
func stallTimeout(cfg trackConfig) time.Duration {
	switch {
	case cfg.stall == 0 && cfg.live > 0:
		return 0
	case cfg.stall == 0:
		return DefaultStallTimeout
	case cfg.stall < 0:
		return 0
	}
	return cfg.stall
}

// stalling returns src read with a watchdog of the track's stall timeout
// (on the system's clock), or src itself if there is none.
func stalling(src io.Reader, cfg trackConfig) io.Reader {
	d := stallTimeout(cfg)
	if d <= 0 {
		return src
	}
	name := cfg.name
	if name == "" {
		name = sourceName(src)
	}
	return newStallReader(src, name, d, SystemClock{})
}

// sourceName names a source for an error: its URL, command or path, else
// its type.
func sourceName(src io.Reader) string {
	switch s := src.(type) {
	case *HTTPSource:
		return s.url
	case *CommandSource:
		return s.name()
	case *FileSource:
		return s.path
	}
	return fmt.Sprintf("a source of type %T", src)
}

// stallReadSize bounds a Read of the source through a stallReader (the
// track's fill reads 8 KiB at a time).
const stallReadSize = 16 << 10

// stallReader reads a source with a watchdog: a Read that gives no byte
// for the timeout is abandoned, the source closed (if it is an
// io.Closer), and the reader fails with ErrStalled from then on. The time
// is measured on the clock from the start of the Read or, after Reads
// that gave nothing, from the last byte: the time between Reads (the
// track encoding, or waiting for its pool) is not the source's.
//
// Each Read of the source runs on a goroutine of its own and into the
// stallReader's buffer, so that a Read abandoned (at a stall, or at Close)
// writes into nothing its caller holds; the goroutine ends when that Read
// returns, which closing the source makes it do, and Close waits for it
// when the source is an io.Closer. A source that is not an io.Closer and
// never returns keeps its goroutine.
//
// One goroutine reads; Close may be called concurrently with a Read (it
// ends it at once, with an error wrapping ErrClosed).
type stallReader struct {
	src     io.Reader
	name    string
	timeout time.Duration
	clock   Clock
	ctx     context.Context // ended by Close
	cancel  context.CancelFunc

	// Only the reading goroutine touches these.
	buf   []byte    // the buffer of the source's Reads; nil after one is abandoned
	since time.Time // when the wait for the next byte began
	dry   bool      // the last Read gave no byte: since runs on
	err   error     // sticky, once a Read is abandoned: ErrStalled, or the source closed

	closeOnce sync.Once
	closeErr  error // the source's Close's, set once by closeOnce

	mu     sync.Mutex     // guards closed and reads' Add
	closed bool           // Close has begun: no more Reads of the source
	reads  sync.WaitGroup // the source's Reads under way
}

type readResult struct {
	n   int
	err error
}

func newStallReader(src io.Reader, name string, timeout time.Duration, clock Clock) *stallReader {
	s := &stallReader{src: src, name: name, timeout: timeout, clock: clock}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Read reads the source, giving up on it after the timeout without a byte.
func (s *stallReader) Read(p []byte) (int, error) {
	switch {
	case s.err != nil:
		return 0, s.err
	case len(p) == 0:
		return 0, nil
	case s.ctx.Err() != nil:
		return 0, errSourceClosed
	}
	p = p[:min(len(p), stallReadSize)]
	if len(s.buf) < len(p) {
		s.buf = make([]byte, max(len(p), 8<<10))
	}
	buf := s.buf[:len(p)]
	if !s.dry {
		s.since = s.clock.Now()
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errSourceClosed
	}
	s.reads.Add(1)
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	done := make(chan readResult, 1)
	go func() {
		defer s.reads.Done()
		n, err := s.src.Read(buf)
		done <- readResult{n, err}
		cancel() // after the send: a Wait it ends finds the result
	}()
	for {
		werr := s.clock.Wait(ctx, s.since.Add(s.timeout))
		if s.ctx.Err() != nil {
			// Closed: whatever the Read gives now (the closed source's
			// error, as like as not) is not the stream's.
			s.buf = nil
			s.err = errSourceClosed
			return 0, s.err
		}
		select {
		case r := <-done:
			n := copy(p, buf[:r.n])
			s.dry = n == 0
			if r.err != nil {
				s.buf = nil // the end: the buffer is not needed again
			}
			return n, r.err
		default:
		}
		if werr == nil { // the deadline, and no byte
			s.buf = nil
			s.err = fmt.Errorf("%w: no data for %v from %s", ErrStalled, s.timeout, s.name)
			s.closeSource()
			return 0, s.err
		}
		// Else ctx ended with the Read: its result is in done.
	}
}

// closeSource closes the source, once, if it is an io.Closer.
func (s *stallReader) closeSource() {
	s.closeOnce.Do(func() {
		if c, ok := s.src.(io.Closer); ok {
			s.closeErr = c.Close()
		}
	})
}

// Close closes the source (if it is an io.Closer) and ends a Read in
// progress; it returns once the source's Read under way, or one abandoned
// at a stall, has returned, which closing the source makes it do (a source
// that is not an io.Closer is not waited for). It returns the source's
// Close error; later calls return it again.
func (s *stallReader) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.closeSource()
	if _, ok := s.src.(io.Closer); ok {
		s.reads.Wait()
	}
	return s.closeErr
}
