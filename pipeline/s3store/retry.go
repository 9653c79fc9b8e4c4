package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
)

// errPrecondition is a 412: the object's ETag is not the one asked for
// (a read), or an object is there already (a conditional put).
var errPrecondition = errors.New("s3store: precondition failed")

// errNotImplemented is a 501: a server without conditional writes.
var errNotImplemented = errors.New("s3store: not implemented by the server")

// classify returns err as the package sees it: fs.ErrNotExist for a
// missing object, errPrecondition, errNotImplemented, ErrRefused for an
// answer no retry mends, or err itself, which may be retried.
func classify(err error) (out error, retry bool) {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		// No answer from the server: a refused connection, a reset, a
		// body cut short, a timeout.
		return err, true
	}
	switch {
	case er.Code == "NoSuchKey" || er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket":
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err), false
	case er.StatusCode == http.StatusPreconditionFailed || er.Code == "PreconditionFailed":
		return fmt.Errorf("%w: %w", errPrecondition, err), false
	case er.StatusCode == http.StatusNotImplemented || er.Code == "NotImplemented":
		return fmt.Errorf("%w: %w", errNotImplemented, err), false
	case er.StatusCode >= 500, er.StatusCode == http.StatusTooManyRequests, er.StatusCode == http.StatusRequestTimeout,
		er.Code == "SlowDown", er.Code == "RequestTimeout", er.Code == "InternalError", er.StatusCode == 0:
		return err, true
	default:
		return fmt.Errorf("%w: %w", ErrRefused, err), false
	}
}

// do runs op until it succeeds, fails in a way no retry mends, or has
// failed every try (then ErrUnavailable, wrapping its last error), with a
// growing, jittered wait between tries. Each try has its own timeout, on
// a context op must heed (its body read within it, too). what names the
// request in errors.
//
// While the store's breaker is open (a request failed every try a moment
// ago), it fails at once with ErrSuspended, or is the breaker's probe, and
// is then tried once.
func (s *Store) do(ctx context.Context, what string, op func(ctx context.Context) error) error {
	probe, err := s.brk.allow()
	if err != nil {
		s.stats.suspended.Add(1)
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	if probe {
		s.stats.probes.Add(1)
	}
	err = s.try(ctx, what, probe, op)
	outcome := answered
	switch {
	case errors.Is(err, ErrUnavailable):
		outcome = failed
	case err != nil && ctx.Err() != nil:
		outcome = interrupted
	}
	if s.brk.done(probe, outcome) {
		s.stats.trips.Add(1)
	}
	return err
}

// try is do's loop of tries: one only for the breaker's probe.
func (s *Store) try(ctx context.Context, what string, probe bool, op func(ctx context.Context) error) error {
	tries := s.cfg.tries
	if probe {
		tries = 1
	}
	var last error
	for try := 0; try < tries; try++ {
		if try > 0 {
			s.stats.retries.Add(1)
			if err := s.wait(ctx, try); err != nil {
				return fmt.Errorf("s3store: %s: %w (after %v)", what, err, last)
			}
		}
		s.stats.requests.Add(1)
		tctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
		err := op(tctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("s3store: %s: %w", what, ctx.Err())
		}
		out, retry := classify(err)
		if !retry {
			return fmt.Errorf("s3store: %s: %w", what, out)
		}
		last = err
	}
	s.stats.unavailable.Add(1)
	return fmt.Errorf("%w: %s: %d tries: %w", ErrUnavailable, what, tries, last)
}

// wait sleeps before try (1 and up): the base wait doubled at each try,
// at most the cap, less a random part of up to a half, so that many
// processes that failed at once do not try again at once.
func (s *Store) wait(ctx context.Context, try int) error {
	d := s.cfg.base << min(try-1, 20)
	if d > s.cfg.cap || d <= 0 {
		d = s.cfg.cap
	}
	d -= time.Duration(rand.Int64N(int64(d)/2 + 1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readFull reads exactly len(p) bytes of body into p: a body cut short is
// io.ErrUnexpectedEOF, which may be retried.
func readFull(body io.Reader, p []byte) error {
	_, err := io.ReadFull(body, p)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
