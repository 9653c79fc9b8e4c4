package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// FileSource is a file as an io.ReadCloser that opens it on the first Read
// (so that a Track made from it never blocks when it is created) and, on a
// read error, reopens it and goes on from the same offset, a bounded
// number of times, so that a transient failure (a network file system's)
// loses and repeats nothing. Read and Close may be called concurrently.
type FileSource struct {
	path   string
	retry  retryConfig
	ctx    context.Context // ended by Close, which ends a wait between tries
	cancel context.CancelFunc

	mu     sync.Mutex // guards f and closed
	f      *os.File
	closed bool

	off   int64 // bytes read; only the reading goroutine touches it
	fails int
}

// OpenFile returns a source of the file at path. Nothing is opened yet.
func OpenFile(path string, opts ...RetryOption) *FileSource {
	s := &FileSource{path: path, retry: defaultRetry}
	for _, o := range opts {
		o(&s.retry)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Read reads the file, opening it on the first call.
func (s *FileSource) Read(p []byte) (int, error) {
	for {
		f, err := s.file()
		if err != nil {
			return 0, err
		}
		n, err := f.Read(p)
		s.off += int64(n)
		if n > 0 {
			s.fails = 0
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		// The offset of the file is not to be trusted after a failure:
		// reopen it at the offset reached, at the next Read if this one
		// brought bytes.
		s.closeFile()
		if n > 0 {
			return n, nil
		}
		if rerr := s.backoff(err); rerr != nil {
			return 0, rerr
		}
	}
}

// file returns the open file, opening it at the offset reached.
func (s *FileSource) file() (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errSourceClosed
	}
	if s.f != nil {
		return s.f, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if s.off > 0 {
		if _, err := f.Seek(s.off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("pipeline: resuming %s at %d: %w", s.path, s.off, err)
		}
	}
	s.f = f
	return f, nil
}

// Seek sets the offset of the next Read (io.Seeker), so that a decoder
// can start inside the file (a segment's WAV by byte, FLAC by its seek
// table) or read an index at its end (a WebM's Cues). It opens nothing:
// an open file is moved, else the next Read opens it at the offset. A
// negative offset is an error, and the offset is unchanged. Seek is for
// the goroutine that reads.
func (s *FileSource) Seek(offset int64, whence int) (int64, error) {
	to := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		to += s.off
	case io.SeekEnd:
		fi, err := os.Stat(s.path)
		if err != nil {
			return s.off, fmt.Errorf("pipeline: %w", err)
		}
		to += fi.Size()
	default:
		return s.off, fmt.Errorf("pipeline: seeking %s: whence %d", s.path, whence)
	}
	if to < 0 {
		return s.off, fmt.Errorf("pipeline: seeking %s to %d, before its start", s.path, to)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.off, errSourceClosed
	}
	if s.f != nil {
		if _, err := s.f.Seek(to, io.SeekStart); err != nil {
			s.f.Close() // opened again at the offset by the next Read
			s.f = nil
		}
	}
	s.off = to
	return to, nil
}

// closeFile closes the file after a read error, to be opened again.
func (s *FileSource) closeFile() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// backoff waits before the next try, or gives up with the error.
func (s *FileSource) backoff(readErr error) error {
	s.fails++
	if s.fails > s.retry.attempts {
		return fmt.Errorf("pipeline: reading %s at %d, after %d attempts: %w", s.path, s.off, s.fails, readErr)
	}
	if s.retry.sleep(s.ctx, s.fails) != nil {
		return errSourceClosed
	}
	return nil
}

// Close closes the file, and ends a wait between tries; later Reads return
// an error wrapping ErrClosed. Later calls do nothing.
func (s *FileSource) Close() error {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.f != nil {
		err := s.f.Close()
		s.f = nil
		return err
	}
	return nil
}

// SeekerSource is an io.ReadSeeker as a source that, on a read error,
// seeks back to the offset reached and reads again, a bounded number of
// times, so that a transient failure loses and repeats nothing. It is
// Closed with the track if the ReadSeeker is an io.Closer. It is not safe
// for concurrent use, but for Close.
type SeekerSource struct {
	rs     io.ReadSeeker
	retry  retryConfig
	ctx    context.Context // ended by Close
	cancel context.CancelFunc
	off    int64
	fails  int
	lost   bool  // the offset of rs is not to be trusted: seek before reading
	err    error // why it cannot be read at all
}

// NewSeekerSource returns a resumable source of rs, read from its current
// offset.
func NewSeekerSource(rs io.ReadSeeker, opts ...RetryOption) *SeekerSource {
	s := &SeekerSource{rs: rs, retry: defaultRetry}
	for _, o := range opts {
		o(&s.retry)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
	if s.off, err = rs.Seek(0, io.SeekCurrent); err != nil {
		s.err = fmt.Errorf("pipeline: the source cannot tell its offset: %w", err)
	}
	return s
}

// Read reads rs, seeking back and trying again after a failure.
func (s *SeekerSource) Read(p []byte) (int, error) {
	for {
		if s.err != nil {
			return 0, s.err
		}
		if s.ctx.Err() != nil {
			return 0, errSourceClosed
		}
		if s.lost {
			if _, err := s.rs.Seek(s.off, io.SeekStart); err != nil {
				return 0, fmt.Errorf("pipeline: resuming at %d: %w", s.off, err)
			}
			s.lost = false
		}
		n, err := s.rs.Read(p)
		s.off += int64(n)
		if n > 0 {
			s.fails = 0
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		s.lost = true
		if n > 0 {
			return n, nil // the rest at the next Read, from the offset reached
		}
		s.fails++
		if s.fails > s.retry.attempts {
			return 0, fmt.Errorf("pipeline: reading at %d, after %d attempts: %w", s.off, s.fails, err)
		}
		if s.retry.sleep(s.ctx, s.fails) != nil {
			return 0, errSourceClosed
		}
	}
}

// Close ends a wait between tries and closes rs if it is an io.Closer;
// later Reads return an error wrapping ErrClosed.
func (s *SeekerSource) Close() error {
	s.cancel()
	if c, ok := s.rs.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// RetryOption configures how a resumable source retries.
type RetryOption func(*retryConfig)

type retryConfig struct {
	attempts int           // tries in a row without progress before giving up
	base     time.Duration // the first wait; each next doubles, up to max
	max      time.Duration
	clock    func(context.Context, time.Duration) error // waits d, or until ctx ends
}

var defaultRetry = retryConfig{attempts: 5, base: 100 * time.Millisecond, max: 5 * time.Second, clock: sleepContext}

// WithRetry sets how many times in a row a resumable source tries again
// after a failure that made no progress (5 by default), and the first
// wait between tries (100 ms by default; each next wait doubles, up to 5
// s). It panics if attempts < 0 or base < 0.
func WithRetry(attempts int, base time.Duration) RetryOption {
	if attempts < 0 || base < 0 {
		panic(fmt.Sprintf("pipeline: WithRetry(%d, %v)", attempts, base))
	}
	return func(c *retryConfig) { c.attempts, c.base = attempts, base }
}

// sleep waits before try n (from 1), or returns ctx's error.
func (c retryConfig) sleep(ctx context.Context, n int) error {
	d := c.base
	for i := 1; i < n && d < c.max; i++ {
		d *= 2
	}
	return c.clock(ctx, min(d, c.max))
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
