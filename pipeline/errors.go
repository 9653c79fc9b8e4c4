package pipeline

import (
	"errors"
	"fmt"

	"github.com/streamcatcher/streamcatcher/catcher"
)

var (
	// ErrChanged is returned, wrapped with the detail, by an HTTP source
	// when a resumed request shows that the resource changed, or that the
	// server does not serve ranges: resuming would splice two files. It is
	// returned too when the resource has only a weak validator, which
	// could not show a change: the source does not resume then.
	ErrChanged = errors.New("pipeline: source changed since it was opened")

	// ErrHTTP is returned, wrapped with the status and the URL, for an
	// HTTP response that is neither the resource nor a transient failure
	// (a 404, say), and for one a source cannot use.
	ErrHTTP = errors.New("pipeline: HTTP request failed")

	// ErrICY is returned, wrapped with what was wrong, by an HTTP source
	// whose stream's ICY metadata (internet radio's titles) is not what
	// the protocol says: an icy-metaint header that is no interval, a
	// metadata block that is not Key='value'; fields (the interval is not
	// the stream's). A block cut short by a dropped connection wraps
	// io.ErrUnexpectedEOF too: a radio stream reconnects after it.
	ErrICY = errors.New("pipeline: bad ICY metadata")

	// ErrCommand is returned, wrapped with the exit status and the end of
	// the command's standard error, when a command source's process exits
	// with a failure.
	ErrCommand = errors.New("pipeline: command failed")

	// ErrStalled is returned, wrapped with the source's name and the
	// timeout, when a track's source gives no byte for its stall timeout
	// (WithStallTimeout): the track ends with it.
	ErrStalled = errors.New("pipeline: source stalled")

	// ErrNotSeekable is returned, wrapped with the reason, by a source's
	// Seek that cannot move: an HTTP resource that is a radio stream, has
	// no strong validator, no known length, or is not served by range.
	ErrNotSeekable = errors.New("pipeline: source cannot seek")

	// ErrClosed is the one error of anything closed: it is
	// catcher.ErrClosed itself, so that errors.Is(err, ErrClosed) and
	// errors.Is(err, catcher.ErrClosed) say the same. A Track's players
	// and cursors get it after the track's Close (or its Library's); the
	// errors of a source's Read after its Close, of a PCMReader's after
	// its Close, ErrPlayerClosed and ErrLibraryClosed wrap it.
	ErrClosed = catcher.ErrClosed

	// errSourceClosed is what a source's Read returns after its Close.
	// It wraps ErrClosed, but is not it: a Catcher takes ErrClosed itself
	// for its own Close, and a track whose source was closed under it has
	// still its packets.
	errSourceClosed = fmt.Errorf("pipeline: source closed: %w", ErrClosed)

	// errReaderClosed is what a PCMReader's Read returns after its Close.
	errReaderClosed = fmt.Errorf("pipeline: PCM reader closed: %w", ErrClosed)
)

// Errors of a Queue.
var (
	// ErrIdle is returned by Queue.Next while the queue has nothing to
	// play (empty, or stopped), once it has given its silence frames. It
	// wraps ErrPaused, so that a driver that waits out a pause
	// (errors.Is) waits out an idle queue too.
	ErrIdle = fmt.Errorf("pipeline: queue idle: %w", ErrPaused)

	// ErrQueueClosed is returned by Queue.Next after the queue's Close.
	// It wraps ErrClosed.
	ErrQueueClosed = fmt.Errorf("pipeline: queue closed: %w", ErrClosed)
)

// ErrNoLibopus is returned, wrapped with what is missing (the encoder or
// the decoder), by a Track whose input must be Opus-encoded (MP3, WAV, raw
// PCM) and by a PCMReader's reads, in a program built without cgo, which
// has no libopus: such a program plays Ogg Opus and WebM (Opus) input,
// framed as it is, and nothing else.
var ErrNoLibopus = errors.New("pipeline: no libopus in this build")
