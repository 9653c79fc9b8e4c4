package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPSource is an HTTP(S) resource as an io.ReadCloser that resumes after
// a dropped connection without losing or repeating a byte, or fails with a
// clear error: never a splice of two different files.
//
// The first Read sends the request (nothing is sent before, so that a
// Track made from it never blocks when it is created). Every request asks
// for Accept-Encoding: identity: Go's Transport asks for gzip only when
// there is no Range header, so the offsets of a gzipped first response
// would not line up with those of a resumed one; a response with any other
// Content-Encoding is refused. When the body fails before its end (a
// dropped connection, a reset, a body shorter than its Content-Length),
// the source asks for the rest with Range: bytes=N- and If-Range (the
// resource's strong validator), and takes only a 206 whose Content-Range
// starts at N. A 200 in answer means the resource changed or the server
// does not serve ranges: ErrChanged. A failure after the last byte of a
// known length is the end, and no request is sent for nothing (so a 416 to
// a resume means the resource shrank: ErrChanged).
//
// The strong validator is the ETag, unless it is weak (W/), else the
// Last-Modified date if it is at least a second before the response's
// Date (RFC 9110, section 8.8.2.2): a file replaced within the second of
// its Last-Modified shows the same date, and a resume by it would splice
// the two. With only a weak validator the source does not resume: a
// failure after the first byte is ErrChanged, since it could not tell a
// changed file. Without any validator it does not resume either, and the
// failure is the stream's, unless the stream is a radio's (below). A
// failure before the first byte is tried again from the start in either
// case, nothing having been delivered.
// Retries are bounded (WithRetry), with a backoff that doubles, and end
// with the source's context or Close.
//
// # Internet radio
//
// Every request asks for ICY metadata (Icy-MetaData: 1). When a response
// says icy-metaint: N (an Icecast or Shoutcast stream), and only then,
// the source strips the metadata block that follows every N bytes of
// audio, so that what it reads is exactly the stream's audio, and
// publishes each change of the StreamTitle with the audio byte offset it
// applies from (Titles). A metadata block that is not ICY's is ErrICY.
//
// A radio stream (one with icy-metaint, or any other of the icy- or ice-
// headers Icecast and Shoutcast send, such as icy-name or icy-br) cannot
// be resumed with Range: after a dropped connection, or the end of a
// radio stream without a length (which has no end), the source
// reconnects, with the same retries and backoff, and joins the live point
// again. It says so: Reconnects counts it, and Titles has a change marked
// Reconnect at the offset where the audio jumps, since the bytes after it
// do not follow those before.
//
// A response that is none of those, without a length or a validator (a
// download that is generated as it is sent), is not taken for a radio: a
// reconnect would start it again from its first byte, spliced after what
// was read, so a drop fails as for any resource without a validator.
//
// Read and Close may be called concurrently (Close ends a Read blocked on
// the network), and so may Titles, Title and Reconnects with anything.
type HTTPSource struct {
	url    string
	client *http.Client
	retry  retryConfig
	header http.Header
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards body and closed, so that Close can close it
	body   io.ReadCloser
	closed bool

	// titles is the StreamTitle changes, published with a store of a new
	// slice (copied on write, never changed once stored) by the reading
	// goroutine; readers load it.
	titles     atomic.Pointer[[]StreamTitle]
	reconnects atomic.Int64

	// Only the reading goroutine touches these.
	off         int64     // bytes delivered
	size        int64     // the resource's length, -1 if unknown
	validator   string    // If-Range value: a strong ETag or Last-Modified; "" if none
	weak        string    // the weak validator there was instead, described, or ""
	fails       int       // failures in a row without progress
	requests    int       // requests sent
	err         error     // the end, sticky
	in          io.Reader // what Read reads: body, or its audio through an icyReader
	icy         bool      // the stream has ICY metadata
	radio       bool      // a live stream: reconnected to, not resumed
	rejoin      bool      // the next response is a reconnect to a radio stream
	base        int64     // off when the body was opened
	sought      bool      // Seek moved the offset: every request is a range under the validator
	contentType string    // the first response's Content-Type
	title       *icyMeta  // the last title seen on this connection, or nil
}

// maxTitles bounds the changes Titles keeps: a radio plays for days.
const maxTitles = 64

// StreamTitle is a change of an internet radio stream's title, or a
// reconnect (see HTTPSource); on a track, also a chained Ogg stream's
// link (see Track.Titles).
type StreamTitle struct {
	// Title is the StreamTitle (UTF-8; a title that was not UTF-8 is
	// taken as Latin-1), or an Ogg link's TITLE; it may be "", as a
	// stream between songs sends. It is "" at a reconnect.
	Title string
	// Artist is an Ogg link's ARTIST, or "" (ICY sends the artist inside
	// the StreamTitle, as "Artist - Title").
	Artist string
	// URL is the StreamUrl sent with it, or "".
	URL string
	// Offset is the number of audio bytes the source read before the
	// first one the title applies to (the source's, counted across
	// reconnects); for an Ogg link, before the link's first page.
	Offset int64
	// Position is the track position the change applies from: samples at
	// 48 kHz after the pre-skip, as Packet.Position (see Track.Titles for
	// how exact it is). It is set on a track's titles only; an
	// HTTPSource's, which no track has placed, have 0.
	Position int64
	// Time is when the source read it.
	Time time.Time
	// Reconnect is set on the marker of a reconnect: the audio from
	// Offset on is the live point of a new connection, not what followed
	// the bytes before; the stream's next title comes after.
	Reconnect bool
}

// HTTPOption configures an HTTPSource.
type HTTPOption func(*HTTPSource)

// WithHTTPClient sets the client (http.DefaultClient by default).
func WithHTTPClient(c *http.Client) HTTPOption { return func(s *HTTPSource) { s.client = c } }

// WithHTTPHeader adds header fields to every request (authorisation, a
// user agent). Range, If-Range and Accept-Encoding are the source's own.
func WithHTTPHeader(h http.Header) HTTPOption {
	return func(s *HTTPSource) {
		for k, v := range h {
			s.header[k] = append(s.header[k], v...)
		}
	}
}

// WithHTTPRetry is WithRetry for an HTTPSource.
func WithHTTPRetry(o RetryOption) HTTPOption { return func(s *HTTPSource) { o(&s.retry) } }

// OpenHTTP returns a source of the resource at url. Its requests are made
// with ctx: ending ctx ends them, and the retries. Nothing is sent yet.
func OpenHTTP(ctx context.Context, url string, opts ...HTTPOption) *HTTPSource {
	s := &HTTPSource{url: url, client: http.DefaultClient, retry: defaultRetry, header: http.Header{}, size: -1}
	for _, o := range opts {
		o(s)
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	return s
}

// ContentType returns the Content-Type of the resource's response (once
// known, after the first Read), or "". A Track's error for input it does
// not know names it (codec.ContentTypeKind tells what it says); the first
// bytes decide what the input is. It is for the goroutine that reads.
func (s *HTTPSource) ContentType() string { return s.contentType }

// Requests returns the number of requests sent so far, the first, the
// resumes and a radio stream's reconnects. It is for the goroutine that
// reads.
func (s *HTTPSource) Requests() int { return s.requests }

// Size returns the resource's length once known (after the first Read),
// or -1.
func (s *HTTPSource) Size() int64 { return s.size }

// Titles returns the StreamTitle changes of an ICY stream so far, the
// oldest first (the last 64), and the reconnect markers among them; nil
// for a stream without ICY metadata. The slice is shared: it must not be
// changed. It takes no lock and is safe to call from any goroutine, while
// the source is read.
//
// The offsets are the source's audio bytes: a track made from the source
// plays the audio from Offset some time after the source read it (what
// the decoder, the encoder and the track's pacing hold). A track of the
// source places each change at the track position its byte plays at
// (Track.Titles), and a player says which it plays (Player.Title).
func (s *HTTPSource) Titles() []StreamTitle {
	if p := s.titles.Load(); p != nil {
		return *p
	}
	return nil
}

// Title returns the last title change or reconnect marker (see Titles),
// and whether there is one. It takes no lock.
func (s *HTTPSource) Title() (StreamTitle, bool) {
	t := s.Titles()
	if len(t) == 0 {
		return StreamTitle{}, false
	}
	return t[len(t)-1], true
}

// Reconnects returns how many times the source joined a radio stream's
// live point again after a dropped connection. It takes no lock.
func (s *HTTPSource) Reconnects() int64 { return s.reconnects.Load() }

// publish adds a change to Titles.
func (s *HTTPSource) publish(t StreamTitle) {
	old := s.Titles()
	if len(old) >= maxTitles {
		old = old[len(old)-maxTitles+1:]
	}
	next := make([]StreamTitle, len(old), len(old)+1)
	copy(next, old)
	next = append(next, t)
	s.titles.Store(&next)
}

// meta takes a metadata block's fields read after audio bytes of the
// body being read.
func (s *HTTPSource) meta(m icyMeta, audio int64) {
	if !m.hasTitle || s.title != nil && s.title.title == m.title && s.title.url == m.url {
		return
	}
	s.title = &m
	s.publish(StreamTitle{Title: m.title, URL: m.url, Offset: s.base + audio, Time: time.Now()})
}

// Seek sets the offset of the next Read (io.Seeker), so that a demuxer
// can read an index at the end of a file (a WebM's Cues) and start from
// where it points: the next Read sends a request for the range from
// there, under the same validator as a resume (If-Range), so that a
// resource that changed is ErrChanged, never spliced. It needs what a
// resume needs: a resource that is not a radio stream, with a strong
// validator and a known length; before the first Read, Seek sends the
// first request to learn them. Otherwise, and for a negative offset, the
// error wraps ErrNotSeekable, and the offset is unchanged. Seeking to the
// offset reached sends nothing; Seek is for the goroutine that reads.
func (s *HTTPSource) Seek(offset int64, whence int) (int64, error) {
	for s.err == nil && s.off == 0 && !s.hasBody() {
		if _, err := s.open(); err != nil {
			s.fail(err) // retried as a Read's would be
		}
	}
	switch {
	case s.err != nil && s.err != io.EOF:
		return s.off, fmt.Errorf("%w: %w", ErrNotSeekable, s.err)
	case s.radio:
		return s.off, fmt.Errorf("%w: %s is a radio stream", ErrNotSeekable, s.url)
	case s.size < 0:
		return s.off, fmt.Errorf("%w: %s does not say its length", ErrNotSeekable, s.url)
	case s.validator == "":
		return s.off, fmt.Errorf("%w: %s has no strong validator (ETag or Last-Modified) to tell a changed file", ErrNotSeekable, s.url)
	}
	to := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		to += s.off
	case io.SeekEnd:
		to += s.size
	default:
		return s.off, fmt.Errorf("%w: whence %d", ErrNotSeekable, whence)
	}
	if to < 0 {
		return s.off, fmt.Errorf("%w: offset %d before the start", ErrNotSeekable, to)
	}
	if to == s.off {
		return to, nil
	}
	s.closeBody()
	s.off, s.err, s.fails, s.sought = to, nil, 0, true
	return to, nil
}

// Read reads the resource, resuming it as needed.
func (s *HTTPSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for s.err == nil {
		body, err := s.open()
		if err != nil {
			s.fail(err)
			continue
		}
		n, err := body.Read(p)
		s.off += int64(n)
		if n > 0 {
			s.fails = 0
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (s.icy || s.radio && s.size < 0):
			// A radio stream has no end: its end is a dropped connection
			// (Icecast closes an Ogg mount's HTTP/1.0 body, which has no
			// ICY metadata, without a length).
			s.closeBody()
			s.transient(fmt.Errorf("radio stream ended at %d: %w", s.off, io.ErrUnexpectedEOF))
		case err == io.EOF && (s.size < 0 || s.off >= s.size):
			s.closeBody()
			s.err = io.EOF
		case err == io.EOF:
			// A body that ended short of the length: the connection was
			// dropped between responses' bytes.
			s.closeBody()
			s.transient(fmt.Errorf("body ended at %d of %d bytes: %w", s.off, s.size, io.ErrUnexpectedEOF))
		default:
			s.closeBody()
			s.fail(err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, s.err
}

// open returns the body being read, sending a request for it if there is
// none.
func (s *HTTPSource) open() (io.Reader, error) {
	s.mu.Lock()
	body := s.body
	s.mu.Unlock()
	if body != nil {
		return s.in, nil
	}
	if err := s.ctx.Err(); err != nil {
		return nil, s.closedErr(err)
	}
	if s.size >= 0 && s.off >= s.size {
		return nil, io.EOF
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, permanent(fmt.Errorf("%w: %w", ErrHTTP, err))
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("Icy-MetaData", "1")
	if (s.off > 0 || s.sought) && !s.rejoin {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", s.off))
		req.Header.Set("If-Range", s.validator)
	}
	s.requests++
	resp, err := s.client.Do(req)
	if err != nil {
		if s.ctx.Err() != nil {
			return nil, s.closedErr(s.ctx.Err())
		}
		return nil, err // transient: the network
	}
	if err := s.accept(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil { // closed meanwhile
		resp.Body.Close()
		return nil, s.closedErr(s.ctx.Err())
	}
	s.body = resp.Body
	s.in, s.base, s.title = resp.Body, s.off, nil
	if s.icy {
		s.in = newICYReader(resp.Body, s.metaint(resp), s.meta)
	}
	if s.rejoin {
		s.rejoin = false
		s.reconnects.Add(1)
		s.publish(StreamTitle{Offset: s.off, Time: time.Now(), Reconnect: true})
	}
	return s.in, nil
}

// metaint returns a response's icy-metaint, which accept checked.
func (s *HTTPSource) metaint(resp *http.Response) int {
	n, _ := parseMetaint(resp.Header.Get("icy-metaint"))
	return n
}

// accept checks a response against what the source expects: the whole
// resource first, then only its rest from the offset reached.
func (s *HTTPSource) accept(resp *http.Response) error {
	if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return permanent(fmt.Errorf("%w: %s sent Content-Encoding %q to a request for identity: its offsets cannot be resumed", ErrHTTP, s.url, enc))
	}
	if s.off == 0 && !s.sought || s.rejoin {
		switch {
		case resp.StatusCode == http.StatusOK:
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%w: %s: %s", ErrHTTP, s.url, resp.Status) // transient
		default:
			return permanent(fmt.Errorf("%w: %s: %s", ErrHTTP, s.url, resp.Status))
		}
		s.icy = false
		if v := resp.Header.Get("icy-metaint"); v != "" {
			if _, err := parseMetaint(v); err != nil {
				return permanent(fmt.Errorf("%w (from %s)", err, s.url))
			}
			s.icy = true
		}
		if s.rejoin {
			return nil // the live point, of a stream with no length
		}
		s.size = resp.ContentLength
		if s.icy {
			s.size = -1 // a length that counts the metadata is no audio's
		}
		s.validator, s.weak = validatorOf(resp.Header)
		s.radio = s.icy || radioHeaders(resp.Header)
		s.contentType = resp.Header.Get("Content-Type")
		return nil
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != s.off {
			return permanent(fmt.Errorf("%w: %s answered the resume at %d with Content-Range %q", ErrChanged, s.url, s.off, resp.Header.Get("Content-Range")))
		}
		if s.size >= 0 && total >= 0 && total != s.size {
			return permanent(fmt.Errorf("%w: %s is %d bytes now, %d before", ErrChanged, s.url, total, s.size))
		}
		// A server or cache that ignores If-Range would splice: the part
		// must carry the validator it was asked for, where it says one.
		if et := resp.Header.Get("ETag"); et != "" && strings.HasPrefix(s.validator, `"`) && et != s.validator {
			return permanent(fmt.Errorf("%w: %s answered the resume with ETag %s, not %s", ErrChanged, s.url, et, s.validator))
		}
		if lm := resp.Header.Get("Last-Modified"); lm != "" && !strings.HasPrefix(s.validator, `"`) && lm != s.validator {
			return permanent(fmt.Errorf("%w: %s was modified %s, not %s", ErrChanged, s.url, lm, s.validator))
		}
		if s.size < 0 && total >= 0 {
			s.size = total // the first response did not say
		}
		return nil
	case http.StatusOK:
		return permanent(fmt.Errorf("%w: %s answered the resume at %d with the whole resource (it changed, or ranges are not served)", ErrChanged, s.url, s.off))
	case http.StatusRequestedRangeNotSatisfiable:
		// Never at a known end: the source does not ask for nothing. At
		// an unknown one, "bytes */N" with N the offset reached is the end.
		if s.size < 0 {
			if cr := resp.Header.Get("Content-Range"); cr == fmt.Sprintf("bytes */%d", s.off) {
				s.size = s.off
				return io.EOF
			}
		}
		return permanent(fmt.Errorf("%w: %s refused the range from %d: %s", ErrChanged, s.url, s.off, resp.Status))
	default:
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return fmt.Errorf("%w: %s: %s", ErrHTTP, s.url, resp.Status)
		}
		return permanent(fmt.Errorf("%w: %s: %s", ErrHTTP, s.url, resp.Status))
	}
}

// validatorOf returns the strong validator of a response, for If-Range:
// its ETag if strong, else its Last-Modified if that is at least a second
// before its Date (RFC 9110, section 8.8.2.2); else "", and the weak
// validator there is instead, described for an error, if any.
func validatorOf(h http.Header) (validator, weak string) {
	etag := h.Get("ETag")
	if etag != "" && !strings.HasPrefix(etag, "W/") {
		return etag, ""
	}
	if etag != "" {
		weak = "the weak ETag " + etag
	}
	lm := h.Get("Last-Modified")
	if lm == "" {
		return "", weak
	}
	modified, err := http.ParseTime(lm)
	if err != nil {
		return "", fmt.Sprintf("Last-Modified %q, which does not parse", lm)
	}
	date, err := http.ParseTime(h.Get("Date"))
	switch {
	case err != nil:
		return "", fmt.Sprintf("Last-Modified %s, with no Date to show it a second old", lm)
	case date.Sub(modified) < time.Second:
		return "", fmt.Sprintf("Last-Modified %s, less than a second before the response's Date %s", lm, h.Get("Date"))
	}
	return lm, ""
}

// parseContentRange parses "bytes START-END/TOTAL" (TOTAL may be "*", -1).
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// permanentError marks an error that no retry can help.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// fail ends the stream or waits before the next try, after a request
// failed.
func (s *HTTPSource) fail(err error) {
	var p permanentError
	switch {
	case err == io.EOF:
		s.err = io.EOF
	case errors.As(err, &p):
		s.err = p.error
	case s.ctx.Err() != nil:
		s.err = s.closedErr(s.ctx.Err())
	default:
		s.transient(err)
	}
}

// transient handles a failure that a retry may mend: it waits before the
// next try, or ends the stream with it.
func (s *HTTPSource) transient(err error) {
	if s.ctx.Err() != nil {
		s.err = s.closedErr(s.ctx.Err())
		return
	}
	if s.off > 0 && s.radio {
		s.rejoin = true // a live stream: no resume, the live point again
	}
	if s.off > 0 && !s.radio && s.validator == "" && s.weak != "" {
		s.err = fmt.Errorf("%w: %s failed at %d and cannot be resumed: its only validator is %s, which does not tell every change of its bytes: %w",
			ErrChanged, s.url, s.off, s.weak, err)
		return
	}
	if s.off > 0 && !s.radio && s.validator == "" {
		s.err = fmt.Errorf("pipeline: %s failed at %d and cannot be resumed (no ETag or Last-Modified to tell a changed file): %w", s.url, s.off, err)
		return
	}
	s.fails++
	if s.fails > s.retry.attempts {
		s.err = fmt.Errorf("pipeline: %s at %d, after %d attempts: %w", s.url, s.off, s.fails, err)
		return
	}
	if werr := s.retry.sleep(s.ctx, s.fails); werr != nil {
		s.err = s.closedErr(werr)
	}
}

// closedErr is the error of a source whose context ended: one wrapping
// ErrClosed after Close, else the context's error.
func (s *HTTPSource) closedErr(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSourceClosed
	}
	return err
}

// hasBody reports whether a response's body is open.
func (s *HTTPSource) hasBody() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body != nil
}

func (s *HTTPSource) closeBody() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
}

// Close ends the source: a request or Read in progress ends, and later
// Reads return an error wrapping ErrClosed. Later calls do nothing.
func (s *HTTPSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	return nil
}

// radioHeaders reports whether a response carries the headers of an
// Icecast or Shoutcast stream (icy-name, icy-br, ice-audio-info, ...).
func radioHeaders(h http.Header) bool {
	for k := range h {
		if k := strings.ToLower(k); strings.HasPrefix(k, "icy-") || strings.HasPrefix(k, "ice-") {
			return true
		}
	}
	return false
}
