package pipeline_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

var fastRetry = pipeline.WithHTTPRetry(pipeline.WithRetry(5, time.Millisecond))

// flaky serves content with http.ServeContent (which handles Range and
// If-Range), under an ETag, and drops the connection after drop bytes of
// each of the first drops responses.
type flaky struct {
	mu       sync.Mutex
	content  func(request int) ([]byte, string) // the bytes and ETag served to request n
	drop     int
	drops    int
	requests int
	ranges   []string // the Range header of each request
	encs     []string // the Accept-Encoding of each request
	gzip     bool     // gzip the body when the client accepts it
	always   bool     // gzip it whatever the client says
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	n := f.requests
	f.requests++
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.encs = append(f.encs, r.Header.Get("Accept-Encoding"))
	drop := n < f.drops
	f.mu.Unlock()
	data, etag := f.content(n)
	w.Header().Set("ETag", etag)
	var out http.ResponseWriter = w
	if drop {
		out = &dropper{ResponseWriter: w, left: f.drop}
	}
	if f.always || f.gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(out)
		gz.Write(data)
		gz.Close()
		return
	}
	http.ServeContent(out, r, "track.mp3", time.Unix(1700000000, 0), bytes.NewReader(data))
}

func (f *flaky) stats() (int, []string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, append([]string(nil), f.ranges...), append([]string(nil), f.encs...)
}

// dropper writes left bytes of the body, then aborts the connection.
type dropper struct {
	http.ResponseWriter
	left int
}

func (d *dropper) Write(p []byte) (int, error) {
	if len(p) >= d.left {
		d.ResponseWriter.Write(p[:d.left])
		d.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // net/http closes the connection
	}
	d.left -= len(p)
	return d.ResponseWriter.Write(p)
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHTTPResume(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	f := &flaky{content: func(int) ([]byte, string) { return data, `"v1"` }, drop: 10_000, drops: 3}
	s := pipeline.OpenHTTP(context.Background(), serve(t, f), fastRetry)
	defer s.Close()
	got, err := io.ReadAll(iotest.HalfReader(s))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got), "every byte once, in order: %d of %d", len(got), len(data))
	n, ranges, encs := f.stats()
	assert.Equal(t, 4, n, "the first request and three resumes")
	assert.Equal(t, []string{"", "bytes=10000-", "bytes=20000-", "bytes=30000-"}, ranges)
	for _, e := range encs {
		assert.Equal(t, "identity", e, "every request asks for identity")
	}
	assert.Equal(t, int64(len(data)), s.Size())
}

// A resource that changed between the first request and the resume gives
// ErrChanged, never a splice.
func TestHTTPChanged(t *testing.T) {
	a := bytes.Repeat([]byte("a"), 50_000)
	b := bytes.Repeat([]byte("b"), 50_000)
	f := &flaky{content: func(n int) ([]byte, string) {
		if n == 0 {
			return a, `"a"`
		}
		return b, `"b"`
	}, drop: 20_000, drops: 1}
	s := pipeline.OpenHTTP(context.Background(), serve(t, f), fastRetry)
	defer s.Close()
	got, err := io.ReadAll(s)
	assert.ErrorIs(t, err, pipeline.ErrChanged)
	assert.Equal(t, a[:20_000], got, "the bytes before the change, and none of the new file")
}

// A server that gzips whenever it is asked: the source never asks, so the
// resume lines up.
func TestHTTPGzipHappyServer(t *testing.T) {
	data := testutil.Fixture(t, "prog_vbr.mp3")
	f := &flaky{content: func(int) ([]byte, string) { return data, `"v1"` }, drop: 7_000, drops: 2, gzip: true}
	s := pipeline.OpenHTTP(context.Background(), serve(t, f), fastRetry)
	defer s.Close()
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))

	// One that gzips whatever it is asked is refused, clearly.
	f = &flaky{content: func(int) ([]byte, string) { return data, `"v1"` }, always: true}
	s = pipeline.OpenHTTP(context.Background(), serve(t, f), fastRetry)
	defer s.Close()
	_, err = io.ReadAll(s)
	assert.ErrorIs(t, err, pipeline.ErrHTTP)
	assert.Contains(t, err.Error(), "Content-Encoding")
}

// replaced serves file(n) to request n with http.ServeContent (which
// honours Range, and If-Range by date), under the headers given and the
// Last-Modified of modified, and drops the connection after drop bytes of
// the first response.
type replaced struct {
	file     func(request int) []byte
	modified time.Time
	header   map[string]string // Date and ETag; an empty value suppresses the field
	drop     int
	requests atomic.Int32
}

func (h *replaced) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(h.requests.Add(1) - 1)
	for k, v := range h.header {
		if v == "" {
			w.Header()[k] = nil // net/http adds no Date then
		} else {
			w.Header().Set(k, v)
		}
	}
	var out http.ResponseWriter = w
	if n == 0 {
		out = &dropper{ResponseWriter: w, left: h.drop}
	}
	http.ServeContent(out, r, "", h.modified, bytes.NewReader(h.file(n)))
}

// A file replaced by another of the same size within the second of its
// Last-Modified, while the first was being read: a resume by that date
// would be answered with the rest of the new file, which a server takes
// for the same (If-Range compares dates to the second). The source does
// not resume on such a weak validator: ErrChanged, never a splice. With a
// Last-Modified a second or more before the Date, or a strong ETag, it
// resumes.
func TestHTTPReplacedWithinTheSecond(t *testing.T) {
	a := bytes.Repeat([]byte("a"), 50_000)
	b := bytes.Repeat([]byte("b"), 50_000)
	modified := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	date := func(d time.Duration) string { return modified.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		name     string
		header   map[string]string
		replace  bool // the second request finds the other file
		want     []byte
		err      error
		requests int32
	}{
		{"Last-Modified in the second of the Date", map[string]string{"Date": date(500 * time.Millisecond)}, true, a[:20_000], pipeline.ErrChanged, 1},
		{"Last-Modified without a Date", map[string]string{"Date": ""}, true, a[:20_000], pipeline.ErrChanged, 1},
		{"a weak ETag, Last-Modified in the second of the Date", map[string]string{"Date": date(0), "ETag": `W/"a"`}, true, a[:20_000], pipeline.ErrChanged, 1},
		{"Last-Modified a second before the Date", map[string]string{"Date": date(time.Second)}, false, a, nil, 2},
		{"a strong ETag", map[string]string{"Date": date(0), "ETag": `"a"`}, false, a, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &replaced{modified: modified, header: tc.header, drop: 20_000, file: func(n int) []byte {
				if n > 0 && tc.replace {
					return b
				}
				return a
			}}
			s := pipeline.OpenHTTP(context.Background(), serve(t, h), fastRetry)
			defer s.Close()
			got, err := io.ReadAll(s)
			if tc.err != nil {
				assert.ErrorIs(t, err, tc.err)
			} else {
				assert.NoError(t, err)
			}
			assert.True(t, bytes.Equal(tc.want, got), "got %d bytes (%d of b); want %d, none of b",
				len(got), bytes.Count(got, []byte("b")), len(tc.want))
			assert.Equal(t, tc.requests, h.requests.Load(), "requests sent")
		})
	}
}

// roundTrips is a transport that answers each request with the next of its
// responses, recording the requests.
type roundTrips struct {
	mu        sync.Mutex
	responses []func(*http.Request) (*http.Response, error)
	requests  []*http.Request
}

func (rt *roundTrips) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.requests = append(rt.requests, r)
	if len(rt.responses) == 0 {
		return nil, errors.New("no more responses")
	}
	f := rt.responses[0]
	rt.responses = rt.responses[1:]
	return f(r)
}

// failingBody gives data, then fails.
type failingBody struct {
	r   io.Reader
	err error
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}
func (b *failingBody) Close() error { return nil }

func response(status int, h map[string]string, body io.ReadCloser, length int64) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		resp := &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Header: http.Header{}, Body: body, ContentLength: length, Request: r}
		for k, v := range h {
			resp.Header.Set(k, v)
		}
		if resp.Body == nil {
			resp.Body = io.NopCloser(strings.NewReader(""))
		}
		return resp, nil
	}
}

func TestHTTPResponses(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	reset := errors.New("connection reset")
	first := func(etag, lastMod, date string) func(*http.Request) (*http.Response, error) {
		h := map[string]string{}
		if etag != "" {
			h["ETag"] = etag
		}
		if lastMod != "" {
			h["Last-Modified"] = lastMod
		}
		if date != "" {
			h["Date"] = date
		}
		return response(200, h, &failingBody{r: bytes.NewReader(data[:8]), err: reset}, int64(len(data)))
	}
	rest := func(from int, cr string) func(*http.Request) (*http.Response, error) {
		return response(206, map[string]string{"Content-Range": cr}, io.NopCloser(bytes.NewReader(data[from:])), int64(len(data)-from))
	}
	tests := []struct {
		name      string
		responses []func(*http.Request) (*http.Response, error)
		want      string
		err       error
		ifRange   string
	}{
		{"206 from the offset", []func(*http.Request) (*http.Response, error){first(`"x"`, "", ""), rest(8, "bytes 8-19/20")}, string(data), nil, `"x"`},
		{"Last-Modified when the ETag is weak", []func(*http.Request) (*http.Response, error){first(`W/"x"`, "Tue, 14 Nov 2023 22:13:20 GMT", "Tue, 14 Nov 2023 22:13:21 GMT"), rest(8, "bytes 8-19/20")},
			string(data), nil, "Tue, 14 Nov 2023 22:13:20 GMT"},
		// Weak validators (RFC 9110, section 8.8.2.2): no resume.
		{"Last-Modified in the second of the Date", []func(*http.Request) (*http.Response, error){first("", "Tue, 14 Nov 2023 22:13:20 GMT", "Tue, 14 Nov 2023 22:13:20 GMT"), rest(8, "bytes 8-19/20")},
			string(data[:8]), pipeline.ErrChanged, ""},
		{"Last-Modified without a Date", []func(*http.Request) (*http.Response, error){first("", "Tue, 14 Nov 2023 22:13:20 GMT", ""), rest(8, "bytes 8-19/20")},
			string(data[:8]), pipeline.ErrChanged, ""},
		{"a weak ETag alone", []func(*http.Request) (*http.Response, error){first(`W/"x"`, "", ""), rest(8, "bytes 8-19/20")},
			string(data[:8]), pipeline.ErrChanged, ""},
		{"a weak ETag and a weak Last-Modified", []func(*http.Request) (*http.Response, error){first(`W/"x"`, "Tue, 14 Nov 2023 22:13:20 GMT", "Tue, 14 Nov 2023 22:13:20 GMT"), rest(8, "bytes 8-19/20")},
			string(data[:8]), pipeline.ErrChanged, ""},
		{"206 from elsewhere", []func(*http.Request) (*http.Response, error){first(`"x"`, "", ""), rest(0, "bytes 0-19/20")}, string(data[:8]), pipeline.ErrChanged, `"x"`},
		{"206 of another length", []func(*http.Request) (*http.Response, error){first(`"x"`, "", ""), rest(8, "bytes 8-29/30")}, string(data[:8]), pipeline.ErrChanged, `"x"`},
		{"200 to a resume", []func(*http.Request) (*http.Response, error){first(`"x"`, "", ""), response(200, nil, io.NopCloser(bytes.NewReader(data)), 20)},
			string(data[:8]), pipeline.ErrChanged, `"x"`},
		{"503, then 206", []func(*http.Request) (*http.Response, error){first(`"x"`, "", ""), response(503, nil, nil, 0), rest(8, "bytes 8-19/20")}, string(data), nil, `"x"`},
		{"404 on the first request", []func(*http.Request) (*http.Response, error){response(404, nil, nil, 0)}, "", pipeline.ErrHTTP, ""},
		{"no validator: no resume", []func(*http.Request) (*http.Response, error){first("", "", "")}, string(data[:8]), reset, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := &roundTrips{responses: tc.responses}
			s := pipeline.OpenHTTP(context.Background(), "http://example.invalid/x", pipeline.WithHTTPClient(&http.Client{Transport: rt}), fastRetry)
			got, err := io.ReadAll(s)
			assert.Equal(t, tc.want, string(got))
			if tc.err == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tc.err)
			}
			if tc.ifRange == "" {
				assert.Len(t, rt.requests, 1, "no resume without a strong validator")
			}
			if len(rt.requests) > 1 {
				assert.Equal(t, tc.ifRange, rt.requests[1].Header.Get("If-Range"))
				assert.Equal(t, "bytes=8-", rt.requests[1].Header.Get("Range"))
			}
		})
	}
}

// A resume at the known end is the end.
func TestHTTPEnd(t *testing.T) {
	data := []byte("0123456789")
	rt := &roundTrips{responses: []func(*http.Request) (*http.Response, error){
		// The whole body, then a failure instead of its end.
		response(200, map[string]string{"ETag": `"x"`}, &failingBody{r: bytes.NewReader(data[:9]), err: io.ErrUnexpectedEOF}, 10),
		response(206, map[string]string{"Content-Range": "bytes 9-9/10"}, io.NopCloser(bytes.NewReader(data[9:])), 1),
	}}
	s := pipeline.OpenHTTP(context.Background(), "http://example.invalid/x", pipeline.WithHTTPClient(&http.Client{Transport: rt}), fastRetry)
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, data, got)

	// A failure after the last byte of a known length is the end: no
	// request is sent for nothing.
	rt = &roundTrips{responses: []func(*http.Request) (*http.Response, error){
		response(200, map[string]string{"ETag": `"x"`}, &failingBody{r: bytes.NewReader(data), err: errors.New("reset after the last byte")}, 10),
	}}
	s = pipeline.OpenHTTP(context.Background(), "http://example.invalid/x", pipeline.WithHTTPClient(&http.Client{Transport: rt}), fastRetry)
	got, err = io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Len(t, rt.requests, 1)
}

// Retries are bounded and end with the context.
func TestHTTPRetriesBounded(t *testing.T) {
	var tries atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tries.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	s := pipeline.OpenHTTP(context.Background(), serve(t, h), pipeline.WithHTTPRetry(pipeline.WithRetry(3, time.Millisecond)))
	_, err := io.ReadAll(s)
	assert.ErrorIs(t, err, pipeline.ErrHTTP)
	assert.Equal(t, int32(4), tries.Load(), "one try and three retries")

	ctx, cancel := context.WithCancel(context.Background())
	s = pipeline.OpenHTTP(ctx, serve(t, h), pipeline.WithHTTPRetry(pipeline.WithRetry(1000, time.Hour)))
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = io.ReadAll(s)
	assert.ErrorIs(t, err, context.Canceled, "the context ends the wait between retries")
}

// Close ends a Read blocked on a stalled server.
func TestHTTPCloseWhileBlocked(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	url := serve(t, h)
	defer close(release)
	s := pipeline.OpenHTTP(context.Background(), url)
	buf := make([]byte, 100)
	n, err := io.ReadAtLeast(s, buf, 10)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, s.Close())
	select {
	case err := <-done:
		assert.ErrorIs(t, err, pipeline.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the Read")
	}
}

func TestCommandSource(t *testing.T) {
	s := pipeline.NewCommandSource(exec.Command("sh", "-c", "printf hello; echo 'bad input at 3.2 s' >&2; exit 3"))
	defer s.Close()
	got, err := io.ReadAll(s)
	assert.Equal(t, "hello", string(got), "the output before the failure")
	require.ErrorIs(t, err, pipeline.ErrCommand)
	assert.Contains(t, err.Error(), "exit status 3")
	assert.Contains(t, err.Error(), "bad input at 3.2 s", "stderr is quoted")

	s = pipeline.NewCommandSource(exec.Command("sh", "-c", "printf ok"))
	got, err = io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(got))
	require.NoError(t, s.Close())
	_, err = s.Read(make([]byte, 1))
	assert.Error(t, err)

	// Not started until read.
	dir := t.TempDir()
	mark := filepath.Join(dir, "started")
	s = pipeline.NewCommandSource(exec.Command("sh", "-c", "touch "+mark))
	time.Sleep(20 * time.Millisecond)
	assert.NoFileExists(t, mark)
	_, err = io.ReadAll(s)
	require.NoError(t, err)
	assert.FileExists(t, mark)
}

func TestCommandStderrBounded(t *testing.T) {
	s := pipeline.NewCommandSource(exec.Command("sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i >&2; i=$((i+1)); done; echo the-last-line >&2; exit 1"))
	_, err := io.ReadAll(s)
	require.ErrorIs(t, err, pipeline.ErrCommand)
	assert.LessOrEqual(t, len(s.Stderr()), pipeline.StderrLimit)
	assert.Contains(t, s.Stderr(), "the-last-line")
	assert.NotContains(t, s.Stderr(), "line 0\n")
	assert.Contains(t, err.Error(), "the-last-line")
}

// Close kills the command's whole process group, children included.
func TestCommandCloseKillsGroup(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 300 & sleep 300 & printf x; wait")
	s := pipeline.NewCommandSource(cmd)
	buf := make([]byte, 1)
	_, err := io.ReadFull(s, buf)
	require.NoError(t, err)
	pgid := cmd.Process.Pid
	require.NoError(t, syscall.Kill(-pgid, 0), "the group is running")
	blocked := make(chan error, 1)
	go func() {
		_, err := s.Read(buf)
		blocked <- err
	}()
	require.NoError(t, s.Close())
	assert.Error(t, <-blocked, "the blocked Read returns")
	require.Eventually(t, func() bool { return groupGone(pgid) }, 10*time.Second, 10*time.Millisecond,
		"every process of the group is gone")
}

// A command that exits 0 succeeds, every byte of its output kept, though
// a child it leaves in the background holds its standard error open (the
// copy of it is cut after WaitDelay), or its standard output (the group is
// killed after WaitDelay, the output being what was written before); and
// Close still leaves no process of the group.
func TestCommandBackgroundChild(t *testing.T) {
	var want strings.Builder // seq 1 20000: more than a pipe's buffer
	for i := 1; i <= 20000; i++ {
		fmt.Fprintln(&want, i)
	}
	for _, tc := range []struct {
		name, script string
		delay        time.Duration // the command's WaitDelay; 0: the source's default
	}{
		{"standard error held", "seq 1 20000; sleep 120 >/dev/null & exit 0", 0},
		{"standard output held", "seq 1 20000; sleep 120 & exit 0", 250 * time.Millisecond},
		{"both held, no exit status given", "seq 1 20000; sleep 120 &", 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tc.script)
			cmd.WaitDelay = tc.delay
			s := pipeline.NewCommandSource(cmd)
			type result struct {
				got []byte
				err error
			}
			done := make(chan result, 1)
			go func() {
				got, err := io.ReadAll(s)
				done <- result{got, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(60 * time.Second): // the child lives 120 s
				s.Close()
				t.Fatal("the output did not end after the command exited")
			}
			require.NoError(t, r.err, "exit status 0 is success: got %v; want io.EOF", r.err)
			assert.Equal(t, want.String(), string(r.got), "every byte, in order")
			pgid := cmd.Process.Pid
			require.NoError(t, s.Close())
			require.Eventually(t, func() bool { return groupGone(pgid) }, 10*time.Second, 10*time.Millisecond,
				"every process of the group is gone")
		})
	}
}

// A track of such a command ends cleanly with every packet.
func TestCommandTrackBackgroundChild(t *testing.T) {
	path := filepath.Join(testutil.Root(t), "testdata", "prog_cbr128.mp3")
	ended := func(tr *pipeline.Track) int {
		t.Helper()
		select {
		case <-tr.Done():
		case <-time.After(2 * time.Minute):
			t.Fatal("the track did not end")
		}
		require.NoError(t, tr.Err())
		x, ok := tr.Index()
		require.True(t, ok)
		return x.Packets()
	}
	want, err := pipeline.NewTrack(bytes.NewReader(testutil.Fixture(t, "prog_cbr128.mp3")))
	require.NoError(t, err)
	defer want.Close()
	cmd := exec.Command("sh", "-c", `cat "$0"; sleep 120 >/dev/null & exit 0`, path)
	got, err := pipeline.NewTrack(pipeline.NewCommandSource(cmd))
	require.NoError(t, err)
	defer got.Close()
	assert.Equal(t, ended(want), ended(got), "every packet")
}

// A command that fails is reported so still when a child it leaves holds
// its output open.
func TestCommandBackgroundChildFailure(t *testing.T) {
	cmd := exec.Command("sh", "-c", "printf partial; echo broken >&2; sleep 120 & exit 4")
	cmd.WaitDelay = 250 * time.Millisecond
	s := pipeline.NewCommandSource(cmd)
	done := make(chan error, 1)
	var got []byte
	go func() {
		var err error
		got, err = io.ReadAll(s)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, pipeline.ErrCommand)
		assert.Contains(t, err.Error(), "exit status 4")
		assert.Contains(t, err.Error(), "broken")
		assert.Equal(t, "partial", string(got))
	case <-time.After(60 * time.Second):
		s.Close()
		t.Fatal("the output did not end after the command exited")
	}
	pgid := cmd.Process.Pid
	require.NoError(t, s.Close())
	require.Eventually(t, func() bool { return groupGone(pgid) }, 10*time.Second, 10*time.Millisecond)
}

func TestFileSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x")
	s := pipeline.OpenFile(path)
	_, err := s.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrNotExist, "opened at the first Read, not before")
	require.NoError(t, os.WriteFile(path, []byte("the file"), 0o644))
	s = pipeline.OpenFile(path)
	got, err := io.ReadAll(iotest.OneByteReader(s))
	require.NoError(t, err)
	assert.Equal(t, "the file", string(got))
	require.NoError(t, s.Close())
	_, err = s.Read(make([]byte, 1))
	assert.ErrorIs(t, err, pipeline.ErrClosed)
}

// hiccup is a ReadSeeker that fails once at each of the offsets given, as
// a network file system's might, and reads again after a seek.
type hiccup struct {
	*bytes.Reader
	at    map[int64]bool
	seeks int
}

func (h *hiccup) Read(p []byte) (int, error) {
	off, _ := h.Reader.Seek(0, io.SeekCurrent)
	for a := range h.at {
		if off <= a && a < off+int64(len(p)) {
			delete(h.at, a)
			n, _ := h.Reader.Read(p[:a-off])
			h.Reader.Seek(int64(len(p)), io.SeekCurrent) // the failure leaves the offset anywhere
			return n, errors.New("stale file handle")
		}
	}
	return h.Reader.Read(p)
}

func (h *hiccup) Seek(off int64, whence int) (int64, error) {
	h.seeks++
	return h.Reader.Seek(off, whence)
}

func TestSeekerSourceResumes(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	h := &hiccup{Reader: bytes.NewReader(data), at: map[int64]bool{1000: true, 20_000: true, 40_001: true}}
	s := pipeline.NewSeekerSource(h, pipeline.WithRetry(3, time.Millisecond))
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got), "no lost or repeated byte")
	assert.GreaterOrEqual(t, h.seeks, 3)
}

// A resource of unknown length: its length is learnt from a 206's
// Content-Range, and a 416 "bytes */N" at N is its end.
func TestHTTPUnknownLength(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	reset := errors.New("connection reset")
	rt := &roundTrips{responses: []func(*http.Request) (*http.Response, error){
		response(200, map[string]string{"ETag": `"x"`}, &failingBody{r: bytes.NewReader(data[:8]), err: reset}, -1),
		response(206, map[string]string{"Content-Range": "bytes 8-19/20", "ETag": `"x"`}, io.NopCloser(bytes.NewReader(data[8:])), 12),
	}}
	s := pipeline.OpenHTTP(context.Background(), "http://example.invalid/x", pipeline.WithHTTPClient(&http.Client{Transport: rt}), fastRetry)
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, int64(20), s.Size())

	rt = &roundTrips{responses: []func(*http.Request) (*http.Response, error){
		response(200, map[string]string{"ETag": `"x"`}, &failingBody{r: bytes.NewReader(data), err: reset}, -1),
		response(416, map[string]string{"Content-Range": "bytes */20"}, nil, 0),
	}}
	s = pipeline.OpenHTTP(context.Background(), "http://example.invalid/x", pipeline.WithHTTPClient(&http.Client{Transport: rt}), fastRetry)
	got, err = io.ReadAll(s)
	require.NoError(t, err, "the end of a resource of unknown length")
	assert.Equal(t, data, got)
}
