package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// rangeServer serves data by range (http.ServeContent) under an ETag that
// the test may change, and counts the requests.
type rangeServer struct {
	data     []byte
	etag     atomic.Value // string; "" for none
	header   http.Header  // more response headers
	noRanges bool         // answers every request whole
	requests atomic.Int64
}

func (rs *rangeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.requests.Add(1)
	for k, v := range rs.header {
		w.Header()[k] = v
	}
	if e, _ := rs.etag.Load().(string); e != "" {
		w.Header().Set("ETag", e)
	}
	if rs.noRanges {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(rs.data))
}

func (rs *rangeServer) url(t *testing.T) string {
	srv := httptest.NewServer(rs)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHTTPSeek: an HTTPSource moves by range where a resume could, and
// reads exactly the resource's bytes from there.
func TestHTTPSeek(t *testing.T) {
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	rs := &rangeServer{data: data}
	rs.etag.Store(`"v1"`)
	s := pipeline.OpenHTTP(context.Background(), rs.url(t), fastRetry)
	defer s.Close()

	// Before any Read: the first request learns the length and validator.
	at, err := s.Seek(-1000, io.SeekEnd)
	require.NoError(t, err)
	assert.EqualValues(t, len(data)-1000, at)
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, data[len(data)-1000:], got, "the last 1000 bytes")

	at, err = s.Seek(10, io.SeekStart)
	require.NoError(t, err)
	assert.EqualValues(t, 10, at)
	buf := make([]byte, 30)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	assert.Equal(t, data[10:40], buf)
	at, err = s.Seek(5, io.SeekCurrent)
	require.NoError(t, err)
	assert.EqualValues(t, 45, at)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	assert.Equal(t, data[45:75], buf)
	at, err = s.Seek(0, io.SeekCurrent)
	require.NoError(t, err)
	assert.EqualValues(t, 75, at)
	n := rs.requests.Load()
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	assert.Equal(t, data[75:105], buf)
	assert.Equal(t, n, rs.requests.Load(), "a seek to where it is sends nothing")

	// Back to the start: a range under the validator still.
	_, err = s.Seek(0, io.SeekStart)
	require.NoError(t, err)
	all, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, data, all)

	// At the end: nothing to read.
	_, err = s.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	k, err := s.Read(buf)
	assert.Zero(t, k)
	assert.Equal(t, io.EOF, err)

	_, err = s.Seek(-1, io.SeekStart)
	assert.ErrorIs(t, err, pipeline.ErrNotSeekable)

	// The resource changes: the next range is refused, not spliced.
	rs.etag.Store(`"v2"`)
	_, err = s.Seek(0, io.SeekStart)
	require.NoError(t, err)
	_, err = s.Read(buf)
	assert.ErrorIs(t, err, pipeline.ErrChanged, "even from the start")
}

// TestHTTPSeekRefused: what cannot be resumed cannot seek either, and
// says why.
func TestHTTPSeekRefused(t *testing.T) {
	data := bytes.Repeat([]byte("abcdefgh"), 1000)
	for _, c := range []struct {
		name string
		rs   *rangeServer
		want string
	}{
		{"no validator", &rangeServer{data: data}, "no strong validator"},
		{"a radio", &rangeServer{data: data, header: http.Header{"Icy-Name": {"Radio"}}}, "radio stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "a radio" {
				c.rs.etag.Store(`"r"`)
			}
			s := pipeline.OpenHTTP(context.Background(), c.rs.url(t), fastRetry)
			defer s.Close()
			_, err := s.Seek(100, io.SeekStart)
			require.ErrorIs(t, err, pipeline.ErrNotSeekable)
			assert.Contains(t, err.Error(), c.want)
			got, err := io.ReadAll(s)
			require.NoError(t, err)
			assert.Equal(t, data, got, "the offset unchanged")
		})
	}
	t.Run("ranges not served", func(t *testing.T) {
		rs := &rangeServer{data: data, noRanges: true}
		rs.etag.Store(`"v1"`)
		s := pipeline.OpenHTTP(context.Background(), rs.url(t), fastRetry)
		defer s.Close()
		_, err := s.Seek(100, io.SeekStart)
		require.NoError(t, err)
		_, err = io.ReadAll(s)
		assert.ErrorIs(t, err, pipeline.ErrChanged, "the whole resource for a range: refused, not spliced")
	})
	t.Run("server down", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		s := pipeline.OpenHTTP(context.Background(), srv.URL, fastRetry)
		defer s.Close()
		_, err := s.Seek(100, io.SeekStart)
		require.ErrorIs(t, err, pipeline.ErrNotSeekable)
	})
}

// TestWebMSeekOverHTTP: a WebM file's Cues fetched by range over HTTP,
// and its packets read from the Cluster a time falls in, as from the file.
func TestWebMSeekOverHTTP(t *testing.T) {
	data := testutil.Fixture(t, "prog.webm")
	full := webmPackets(t, data)
	rs := &rangeServer{data: data}
	rs.etag.Store(`"w"`)
	url := rs.url(t)
	for _, at := range []time.Duration{0, 1234 * time.Millisecond, 2500 * time.Millisecond} {
		want, wantStart := webmFrom(t, bytes.NewReader(data), at)
		s := pipeline.OpenHTTP(context.Background(), url, fastRetry)
		got, start := webmFrom(t, s, at)
		require.NoError(t, s.Close())
		assert.Equal(t, wantStart, start, "at %v", at)
		assert.Equal(t, want, got, "at %v: the packets from the Cluster on", at)
		assert.Equal(t, full[len(full)-len(got):], got)
		if at > time.Second {
			assert.Less(t, len(got), len(full)-40, "at %v: not from the start", at)
		}
	}
}

// webmFrom seeks r to t with webm.Seek and returns the packets from there
// and the sample of the first.
func webmFrom(t *testing.T, r io.ReadSeeker, at time.Duration) ([][]byte, int64) {
	t.Helper()
	d, start, err := webm.Seek(r, at)
	require.NoError(t, err)
	var got [][]byte
	for {
		p, err := d.NextPacket(r)
		if err == io.EOF {
			return got, start
		}
		require.NoError(t, err)
		got = append(got, bytes.Clone(p))
	}
}

// TestTrackNamesContentType: a track of a web page, where audio was
// expected, fails with ErrUnknownFormat naming the page's Content-Type.
func TestTrackNamesContentType(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><body>Sign in to confirm you are not a bot</body></html>")
	}))
	t.Cleanup(srv.Close)
	tr, err := pipeline.NewTrack(pipeline.OpenHTTP(context.Background(), srv.URL, fastRetry))
	require.NoError(t, err)
	defer tr.Close()
	<-tr.Done()
	require.ErrorIs(t, tr.Err(), codec.ErrUnknownFormat)
	assert.Contains(t, tr.Err().Error(), "Content-Type: text/html")
	assert.Equal(t, codec.KindUnknown, codec.ContentTypeKind("text/html; charset=utf-8"))
}
