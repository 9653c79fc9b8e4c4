package s3store

import "errors"

// Errors of a Store. Detail is added by wrapping; branch with errors.Is.
var (
	// ErrUnavailable is returned, wrapping the last error, when a request
	// failed every one of its tries: the server down or unreachable,
	// stalled past the request timeout, or answering 500, 503 SlowDown
	// and the like each time.
	ErrUnavailable = errors.New("s3store: store unavailable")
	// ErrSuspended is returned, with ErrUnavailable, for a request not
	// made because the store failed a moment ago (see WithBreaker): it
	// fails at once, instead of waiting out its tries against a server
	// that is likely still down.
	ErrSuspended = errors.New("s3store: store suspended after a failure")
	// ErrChanged is returned by a blob's reads when its object was
	// replaced or removed since the blob was opened: its bytes are never
	// spliced with another object's.
	ErrChanged = errors.New("s3store: object changed since it was opened")
	// ErrRefused is returned, wrapping the server's answer, for a request
	// the server refused in a way no retry mends (access denied, no such
	// bucket, a bad request).
	ErrRefused = errors.New("s3store: request refused")
	// ErrClosed is returned by a writer used after Commit or Abort, and
	// by a stream read after its Close.
	ErrClosed = errors.New("s3store: closed")
)
