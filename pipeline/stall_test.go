package pipeline_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// stalling serves data; its first response sends the first half bytes
// and then nothing more, without closing, until the client goes; the
// others send it all.
type stalling struct {
	data     []byte
	half     int
	requests atomic.Int32
	first    chan struct{} // closed when the first request has its bytes
	once     sync.Once
}

func (h *stalling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(h.data)))
	w.Header().Set("ETag", `"v1"`)
	if h.requests.Add(1) > 1 {
		w.Write(h.data)
		return
	}
	w.Write(h.data[:h.half])
	w.(http.Flusher).Flush()
	h.once.Do(func() { close(h.first) })
	<-r.Context().Done()
}

// stats waits until the library's counts satisfy ok, and returns them.
func stats(t *testing.T, lib *pipeline.Library, ok func(pipeline.LibraryStats) bool) pipeline.LibraryStats {
	t.Helper()
	var st pipeline.LibraryStats
	require.Eventually(t, func() bool {
		st = lib.Stats()
		return ok(st)
	}, time.Minute, 5*time.Millisecond)
	return st
}

// A server that sends part of a file and then nothing, without closing:
// the track fails with ErrStalled after the stall timeout, naming the URL
// and the time; the Library's waiters hear it, it counts the failure, and
// the next Get loads the track again (and gets it whole).
func TestLibraryStalledSource(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	const timeout = 2 * time.Second
	for _, tc := range []struct {
		name string
		half int
	}{
		{"before the first packet", 100},
		{"after half the file", len(data) / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &stalling{data: data, half: tc.half, first: make(chan struct{})}
			url := serve(t, h)
			lib := pipeline.NewLibrary(pipeline.WithTrackOptions(pipeline.WithStallTimeout(timeout)))
			defer lib.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			key := pipeline.Key{Source: url}

			// Two Gets of the load, the second made once the server has
			// sent what it will send.
			type got struct {
				h   *pipeline.Hold
				err error
			}
			gets := make(chan got, 2)
			get := func() {
				h, err := lib.Get(ctx, key)
				gets <- got{h, err}
			}
			go get()
			select {
			case <-h.first:
			case <-ctx.Done():
				t.Fatal("no request")
			}
			go get()
			var holds []*pipeline.Hold
			for range 2 {
				g := <-gets
				if tc.half < 1000 {
					require.ErrorIs(t, g.err, pipeline.ErrStalled, "a waiter hears the failure")
					assert.Contains(t, g.err.Error(), url)
					assert.Contains(t, g.err.Error(), timeout.String())
					continue
				}
				require.NoError(t, g.err)
				holds = append(holds, g.h)
			}
			if len(holds) > 0 {
				// The players hear it after the packets sent.
				tr := holds[0].Track()
				assert.Same(t, tr, holds[1].Track(), "one load")
				cur := tr.NewCursor()
				packets := 0
				var err error
				for ; err == nil; packets++ {
					_, err = cur.NextContext(ctx)
				}
				require.ErrorIs(t, err, pipeline.ErrStalled)
				assert.Greater(t, packets, 10, "the packets before the stall")
				require.ErrorIs(t, tr.Err(), pipeline.ErrStalled)
				assert.Contains(t, tr.Err().Error(), url)
				for _, h := range holds {
					h.Release()
				}
			}
			st := stats(t, lib, func(st pipeline.LibraryStats) bool { return st.Failures == 1 && st.Tracks == 0 })
			assert.Equal(t, int64(1), st.Loads, "one load for both Gets")
			assert.Equal(t, int32(1), h.requests.Load())

			// The next Get loads again, and the server now sends it all.
			hold, err := lib.Get(ctx, key)
			require.NoError(t, err)
			defer hold.Release()
			tr := hold.Track()
			select {
			case <-tr.Done():
			case <-ctx.Done():
				t.Fatal("the track did not end")
			}
			require.NoError(t, tr.Err())
			assert.True(t, tr.Finished())
			st = lib.Stats()
			assert.Equal(t, int64(2), st.Loads)
			assert.Equal(t, int64(1), st.Failures)
			assert.Equal(t, int32(2), h.requests.Load())
		})
	}
}

// trickle sends the file a few hundred bytes at a time with a pause
// between: longer than the stall timeout overall, each pause far shorter.
type trickle struct {
	data  []byte
	chunk int
	pause time.Duration
}

func (h *trickle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(len(h.data)))
	for off := 0; off < len(h.data); off += h.chunk {
		w.Write(h.data[off:min(off+h.chunk, len(h.data))])
		w.(http.Flusher).Flush()
		select {
		case <-time.After(h.pause):
		case <-r.Context().Done():
			return
		}
	}
}

// A long healthy download, slower overall than the stall timeout, is never
// cut: the time runs from the last byte.
func TestSlowDownloadNotStalled(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	const timeout = time.Second
	h := &trickle{data: data, chunk: 500, pause: 25 * time.Millisecond} // about 2.5 s in all
	want, err := pipeline.NewTrack(bytes.NewReader(data))
	require.NoError(t, err)
	defer want.Close()
	start := time.Now()
	tr, err := pipeline.NewTrack(pipeline.OpenHTTP(context.Background(), serve(t, h)), pipeline.WithStallTimeout(timeout))
	require.NoError(t, err)
	defer tr.Close()
	for _, tr := range []*pipeline.Track{want, tr} {
		select {
		case <-tr.Done():
		case <-time.After(2 * time.Minute):
			t.Fatal("the track did not end")
		}
		require.NoError(t, tr.Err())
	}
	require.Greater(t, time.Since(start), 2*timeout, "the download took longer than the timeout")
	x, _ := want.Index()
	y, _ := tr.Index()
	assert.Equal(t, x.Packets(), y.Packets(), "every packet")
	assert.True(t, tr.Finished())
}
