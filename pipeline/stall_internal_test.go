package pipeline

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var stallEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// startRead starts a Read of s on a goroutine of its own and waits until
// it waits on the clock.
func startRead(t *testing.T, s *stallReader, clock *FakeClock, p []byte) <-chan readResult {
	t.Helper()
	done := make(chan readResult, 1)
	go func() {
		n, err := s.Read(p)
		done <- readResult{n, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, clock.BlockUntilWaiting(ctx, 1), "the Read waits on the clock")
	return done
}

func result(t *testing.T, done <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(time.Minute):
		t.Fatal("the Read did not return")
		return readResult{}
	}
}

// notYet checks that the Read has not returned (it cannot fail wrongly,
// only miss a Read that returns late).
func notYet(t *testing.T, done <-chan readResult) {
	t.Helper()
	select {
	case r := <-done:
		t.Fatalf("the Read returned (%d, %v) before the timeout", r.n, r.err)
	case <-time.After(20 * time.Millisecond):
	}
}

// A source that gives half and then nothing, without closing: the Read
// waiting for it ends after the timeout without a byte, with ErrStalled
// naming the source and the time, and the source is closed.
func TestStallReaderStalls(t *testing.T) {
	clock := NewFakeClock(stallEpoch)
	pr, pw := io.Pipe()
	s := newStallReader(pr, "https://example.invalid/track.mp3", 30*time.Second, clock)
	defer s.Close()
	go pw.Write([]byte("half"))
	buf := make([]byte, 64)
	n, err := s.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "half", string(buf[:n]))

	done := startRead(t, s, clock, buf)
	clock.Advance(30*time.Second - time.Nanosecond)
	notYet(t, done)
	clock.Advance(time.Nanosecond)
	r := result(t, done)
	assert.Zero(t, r.n)
	require.ErrorIs(t, r.err, ErrStalled)
	assert.Equal(t, "pipeline: source stalled: no data for 30s from https://example.invalid/track.mp3", r.err.Error())
	_, werr := pw.Write([]byte("late"))
	assert.ErrorIs(t, werr, io.ErrClosedPipe, "the source was closed")
	_, err = s.Read(buf)
	assert.ErrorIs(t, err, ErrStalled, "and stays stalled")
}

// A download that trickles in, each byte a little before the timeout, is
// never cut however long it takes overall; the time between Reads is not
// the source's.
func TestStallReaderTrickle(t *testing.T) {
	clock := NewFakeClock(stallEpoch)
	pr, pw := io.Pipe()
	s := newStallReader(pr, "trickle", 30*time.Second, clock)
	defer s.Close()
	buf := make([]byte, 64)
	for i := range 20 { // 20 × 29 s: ten minutes without a stall
		done := startRead(t, s, clock, buf)
		clock.Advance(29 * time.Second)
		notYet(t, done)
		go pw.Write([]byte{byte(i)})
		r := result(t, done)
		require.NoError(t, r.err, "byte %d", i)
		require.Equal(t, 1, r.n)
		assert.Equal(t, byte(i), buf[0])
		clock.Advance(time.Hour) // the track busy between Reads
	}
	pw.Close()
	n, err := s.Read(buf)
	assert.Zero(t, n)
	assert.Equal(t, io.EOF, err, "the source's end")
}

// dribble gives nothing, without blocking, for its first calls, then
// blocks until released.
type dribble struct {
	empty   int
	release chan struct{}
}

func (d *dribble) Read(p []byte) (int, error) {
	if d.empty > 0 {
		d.empty--
		return 0, nil
	}
	<-d.release
	return 0, io.EOF
}

// Reads that give nothing do not restart the time: it runs from the last
// byte. A source that is not an io.Closer is abandoned all the same.
func TestStallReaderDryReads(t *testing.T) {
	clock := NewFakeClock(stallEpoch)
	d := &dribble{empty: 2, release: make(chan struct{})}
	defer close(d.release) // the abandoned Read returns, and its goroutine ends
	s := newStallReader(d, "dribble", 30*time.Second, clock)
	buf := make([]byte, 8)
	for range 2 {
		n, err := s.Read(buf)
		require.NoError(t, err)
		require.Zero(t, n)
		clock.Advance(10 * time.Second)
	}
	done := startRead(t, s, clock, buf)
	clock.Advance(10 * time.Second) // 30 s since the first Read began
	r := result(t, done)
	assert.ErrorIs(t, r.err, ErrStalled)
	assert.NoError(t, s.Close(), "not an io.Closer: nothing to close")
}

// Close ends a Read blocked on the source at once.
func TestStallReaderClose(t *testing.T) {
	clock := NewFakeClock(stallEpoch)
	pr, pw := io.Pipe()
	s := newStallReader(pr, "pipe", 30*time.Second, clock)
	done := startRead(t, s, clock, make([]byte, 8))
	require.NoError(t, s.Close())
	r := result(t, done)
	assert.ErrorIs(t, r.err, ErrClosed)
	assert.False(t, errors.Is(r.err, ErrStalled))
	_, werr := pw.Write([]byte("x"))
	assert.ErrorIs(t, werr, io.ErrClosedPipe, "the source was closed")

	// Close returns once the source's Read has returned, not before.
	src := &slowClose{release: make(chan struct{}), returned: make(chan struct{})}
	s = newStallReader(src, "slow", 30*time.Second, clock)
	done = startRead(t, s, clock, make([]byte, 8))
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	result(t, done) // the stallReader's Read ends at once
	select {
	case <-closed:
		t.Fatal("Close returned while the source's Read was under way")
	case <-time.After(50 * time.Millisecond):
	}
	close(src.release)
	<-closed
	select {
	case <-src.returned:
	default:
		t.Fatal("Close returned before the source's Read")
	}
}

// slowClose is a source whose Read, once it is closed, returns only when
// released.
type slowClose struct {
	release, returned chan struct{}
}

func (s *slowClose) Read([]byte) (int, error) {
	<-s.release
	defer close(s.returned)
	return 0, io.ErrClosedPipe
}

func (s *slowClose) Close() error { return nil }

func TestStallTimeoutOption(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []TrackOption
		want time.Duration
	}{
		{"default", nil, DefaultStallTimeout},
		{"set", []TrackOption{WithStallTimeout(time.Minute)}, time.Minute},
		{"zero: none", []TrackOption{WithStallTimeout(0)}, 0},
		{"negative: none", []TrackOption{WithStallTimeout(-time.Second)}, 0},
		{"live: none by default", []TrackOption{WithLive(time.Second)}, 0},
		{"live, set", []TrackOption{WithLive(time.Second), WithStallTimeout(time.Minute)}, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg trackConfig
			for _, o := range tc.opts {
				o(&cfg)
			}
			assert.Equal(t, tc.want, stallTimeout(cfg))
			src := io.Reader(&dribble{})
			_, watched := stalling(src, cfg).(*stallReader)
			assert.Equal(t, tc.want > 0, watched)
		})
	}
}
