package s3store_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// fault is what the proxy does with a request.
type fault int

const (
	pass     fault = iota // forwarded, its answer sent back
	internal              // 500 InternalError
	slowDown              // 503 SlowDown
	stall                 // no answer, until the client gives up
	cut                   // forwarded, and the answer's body cut in half, the connection closed
	reset                 // the connection closed, no answer: a server down
)

// proxy is an HTTP proxy between a Store and the S3 server that does to
// each request what its rule says.
type proxy struct {
	srv      *httptest.Server
	upstream string
	rt       *http.Transport
	closing  chan struct{}
	mu       sync.Mutex // guards rule
	rule     func(r *http.Request) fault
	counts   [reset + 1]atomic.Int64
}

func newProxy(t *testing.T, upstream string) *proxy {
	p := &proxy{upstream: upstream, rt: &http.Transport{}, closing: make(chan struct{})}
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		close(p.closing)
		p.srv.Close()
		p.rt.CloseIdleConnections()
	})
	return p
}

// setRule sets the rule; nil passes every request.
func (p *proxy) setRule(rule func(r *http.Request) fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

func (p *proxy) count(f fault) int64 { return p.counts[f].Load() }

// dataRead reports whether r reads a range that does not start at 0: a
// blob's read past what Open fetched.
func dataRead(r *http.Request) bool {
	rg := r.Header.Get("Range")
	return r.Method == http.MethodGet && rg != "" && !strings.HasPrefix(rg, "bytes=0-")
}

// first returns a rule that does f to the first n requests that match,
// and passes the rest.
func first(n int64, match func(*http.Request) bool, f fault) func(*http.Request) fault {
	var seen atomic.Int64
	return func(r *http.Request) fault {
		if match(r) && seen.Add(1) <= n {
			return f
		}
		return pass
	}
}

func anyRequest(*http.Request) bool { return true }

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>injected</Message></Error>`)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	rule := p.rule
	p.mu.Unlock()
	f := pass
	if rule != nil {
		f = rule(r)
	}
	p.counts[f].Add(1)
	switch f {
	case internal:
		s3Error(w, http.StatusInternalServerError, "InternalError")
		return
	case slowDown:
		s3Error(w, http.StatusServiceUnavailable, "SlowDown")
		return
	case stall:
		select {
		case <-r.Context().Done():
		case <-p.closing:
		}
		return
	case reset:
		panic(http.ErrAbortHandler)
	}
	// Forwarded as it came: the Host header is the one the client signed.
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", p.upstream
	resp, err := p.rt.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	if f == cut && len(body) > 1 {
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	w.Write(body)
}

// faultSetup is a server holding the long track, written directly, and
// a proxy before it.
type faultSetup struct {
	srv    *s3test.Server
	bucket string
	proxy  *proxy
	want   [][]byte
}

func newFaultSetup(t *testing.T) *faultSetup {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	f := &faultSetup{srv: srv, bucket: bucket}
	f.want = stored(t, newStore(t, srv.Endpoint(), bucket), longKey)
	f.proxy = newProxy(t, srv.Addr)
	return f
}

// library returns a Library whose store reaches the server through the
// proxy, and the store.
func (f *faultSetup) library(t *testing.T, src *sources, opts ...s3store.Option) (*pipeline.Library, *s3store.Store) {
	store := newStore(t, f.proxy.srv.URL, f.bucket, opts...)
	return newLibrary(t, src, store), store
}

// The server down at start (nothing listening): every try refused, then
// ErrUnavailable; the track is encoded here, counted, and plays whole.
func TestFaultDownAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	store := newStore(t, "http://"+addr, "tracks")
	var logged errorLog
	src := newSources(t)
	lib := newLibrary(t, src, store, pipeline.WithErrorLog(logged.log))
	h, err := lib.Get(context.Background(), longKey)
	require.NoError(t, err)
	defer h.Release()
	want := stored(t, newDirStore(t), longKey)
	assert.Equal(t, want, playAll(t, h))
	st := lib.Stats()
	assert.Equal(t, int64(1), st.Encodes)
	assert.Equal(t, int64(1), st.StoreErrors)
	assert.Zero(t, st.DiskHits)
	errs := logged.get()
	require.NotEmpty(t, errs)
	assert.ErrorIs(t, errs[0], s3store.ErrUnavailable)
	t.Logf("reported: %v", errs[0])
	assert.Positive(t, store.Stats().Retries)
}

// 503 SlowDown, and 500s, for a few requests: tried again, and the track
// is read from the store, whole, with no encoding.
func TestFaultTransient(t *testing.T) {
	f := newFaultSetup(t)
	for _, tt := range []struct {
		name  string
		fault fault
		match func(*http.Request) bool
	}{
		{"503 SlowDown at opening", slowDown, anyRequest},
		{"500 at opening", internal, anyRequest},
		{"503 SlowDown reading data", slowDown, dataRead},
		{"500 reading data", internal, dataRead},
		{"a stall reading data", stall, dataRead},
		{"a drop mid-read", cut, dataRead},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.proxy.setRule(first(2, tt.match, tt.fault))
			defer f.proxy.setRule(nil)
			before := f.proxy.count(tt.fault)
			src := newSources(t)
			lib, store := f.library(t, src, s3store.WithRequestTimeout(3*time.Second))
			h, err := lib.Get(context.Background(), longKey)
			require.NoError(t, err)
			defer h.Release()
			assert.Equal(t, f.want, playAll(t, h), "the stored packets")
			st := lib.Stats()
			assert.Equal(t, int64(1), st.DiskHits)
			assert.Zero(t, st.Encodes)
			assert.Zero(t, src.count())
			assert.Equal(t, int64(2), f.proxy.count(tt.fault)-before, "faults injected")
			assert.GreaterOrEqual(t, store.Stats().Retries, int64(2))
		})
	}
}

// A server that answers only 500s, or only 503 SlowDown: each request
// fails its tries, the track is encoded here, counted, and plays whole.
func TestFaultPersistent(t *testing.T) {
	f := newFaultSetup(t)
	for _, tt := range []struct {
		name  string
		fault fault
	}{{"500s", internal}, {"503 SlowDown", slowDown}, {"connections reset", reset}} {
		t.Run(tt.name, func(t *testing.T) {
			f.proxy.setRule(func(*http.Request) fault { return tt.fault })
			defer f.proxy.setRule(nil)
			src := newSources(t)
			var logged errorLog
			store := newStore(t, f.proxy.srv.URL, f.bucket)
			lib := newLibrary(t, src, store, pipeline.WithErrorLog(logged.log))
			h, err := lib.Get(context.Background(), longKey)
			require.NoError(t, err)
			defer h.Release()
			assert.Equal(t, f.want, playAll(t, h))
			st := lib.Stats()
			assert.Equal(t, int64(1), st.Encodes)
			assert.Equal(t, int64(1), st.StoreErrors)
			errs := logged.get()
			require.NotEmpty(t, errs)
			assert.ErrorIs(t, errs[0], s3store.ErrUnavailable)
			t.Logf("reported: %v", errs[0])
		})
	}
}

// The server goes down mid-read. Before the track's first packet: the
// Get encodes the track instead, counted. After it: the track ends for
// its players with ErrUnavailable after packets that are each the
// stored ones, never a wrong one; the server back, the next Get reads it
// whole.
func TestFaultDownMidRead(t *testing.T) {
	f := newFaultSetup(t)
	t.Run("before the first packet", func(t *testing.T) {
		f.proxy.setRule(func(r *http.Request) fault {
			if dataRead(r) {
				return reset
			}
			return pass
		})
		defer f.proxy.setRule(nil)
		src := newSources(t)
		lib, _ := f.library(t, src)
		h, err := lib.Get(context.Background(), longKey)
		require.NoError(t, err)
		defer h.Release()
		assert.Equal(t, f.want, playAll(t, h))
		st := lib.Stats()
		assert.Equal(t, int64(1), st.Encodes, "encoded here")
		assert.Equal(t, int64(1), st.StoreErrors)
		assert.Zero(t, st.DiskHits)
		assert.Zero(t, st.Failures)
	})
	t.Run("after the first packets", func(t *testing.T) {
		var reads atomic.Int64
		f.proxy.setRule(func(r *http.Request) fault {
			if dataRead(r) && reads.Add(1) > 3 { // past the first 64 KiB, which Open fetched: the second block
				return reset
			}
			return pass
		})
		src := newSources(t)
		clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
		lib, store := f.library(t, src, s3store.WithClock(clock))
		h, err := lib.Get(context.Background(), longKey)
		require.NoError(t, err)
		got, err := packetsOf(t, h)
		h.Release()
		require.ErrorIs(t, err, s3store.ErrUnavailable)
		t.Logf("%d packets, then: %v", len(got), err)
		require.NotEmpty(t, got)
		require.Less(t, len(got), len(f.want))
		assert.Equal(t, f.want[:len(got)], got, "each packet the stored one")
		eventually(t, func() bool { return lib.Stats().Tracks == 0 }, "the failed track forgotten")
		st := lib.Stats()
		assert.Equal(t, int64(1), st.DiskHits)
		assert.Equal(t, int64(1), st.Failures)
		assert.Zero(t, st.Encodes)
		assert.Equal(t, int64(1), store.Stats().Trips, "the store left alone for a while")

		f.proxy.setRule(nil)
		clock.Advance(time.Minute) // past the breaker's wait: the next request probes
		h, err = lib.Get(context.Background(), longKey)
		require.NoError(t, err)
		defer h.Release()
		assert.Equal(t, f.want, playAll(t, h))
		assert.Equal(t, int64(2), lib.Stats().DiskHits)
		assert.Zero(t, lib.Stats().Encodes)
	})
}

// errorLog is a WithErrorLog that keeps what it is told.
type errorLog struct {
	mu   sync.Mutex // guards errs
	errs []error
}

func (l *errorLog) log(_ pipeline.Key, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) get() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func newDirStore(t *testing.T) *pipeline.DirStore {
	d, err := pipeline.NewDirStore(t.TempDir(), 0)
	require.NoError(t, err)
	return d
}
