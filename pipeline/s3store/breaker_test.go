package s3store_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// A server that accepts and never answers: the first load waits out its
// tries, then encodes; the loads after it, while the breaker is open,
// make no request and encode at once; a probe that fails leaves the store
// alone twice as long; once the server is back, the probe after the wait
// reads the track from the store, and the store is used again. Time is
// the breaker's FakeClock: nothing is asserted of the wall clock.
func TestBreakerStalledServer(t *testing.T) {
	f := newFaultSetup(t)
	clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
	store := newStore(t, f.proxy.srv.URL, f.bucket, s3store.WithRequestTimeout(300*time.Millisecond),
		s3store.WithRetry(2, 10*time.Millisecond, 10*time.Millisecond),
		s3store.WithClock(clock), s3store.WithBreaker(10*time.Second, 15*time.Second))
	f.proxy.setRule(func(*http.Request) fault { return stall })

	// load plays longKey in a Library of its own on store, waits for what
	// it does after the track (its write, if it encoded it), and returns
	// its counts and the errors it logged.
	load := func(t *testing.T, wantLogged int) (pipeline.LibraryStats, []error) {
		t.Helper()
		var logged errorLog
		lib := newLibrary(t, newSources(t), store, pipeline.WithErrorLog(logged.log))
		defer lib.Close()
		h, err := lib.Get(context.Background(), longKey)
		require.NoError(t, err)
		assert.Equal(t, f.want, playAll(t, h))
		h.Release()
		eventually(t, func() bool { return len(logged.get()) >= wantLogged }, "the errors logged")
		return lib.Stats(), logged.get()
	}
	// encodedAtOnce checks a load that found the store suspended: it
	// encoded the track, and neither its read nor its write was made.
	encodedAtOnce := func(t *testing.T) {
		t.Helper()
		stalls, before := f.proxy.count(stall), store.Stats()
		st, errs := load(t, 2) // the store's error at opening, and the write's
		assert.Equal(t, int64(1), st.Encodes)
		assert.Equal(t, int64(1), st.StoreErrors)
		assert.Zero(t, st.Writes)
		for _, err := range errs {
			assert.ErrorIs(t, err, s3store.ErrSuspended)
			assert.ErrorIs(t, err, s3store.ErrUnavailable)
		}
		assert.Equal(t, stalls, f.proxy.count(stall), "no request made")
		after := store.Stats()
		assert.Equal(t, before.Requests, after.Requests, "no request made")
		assert.Equal(t, before.Suspended+2, after.Suspended)
	}

	t.Run("the first load waits", func(t *testing.T) {
		st, errs := load(t, 2)
		assert.Equal(t, int64(1), st.Encodes)
		assert.Equal(t, int64(1), st.StoreErrors)
		assert.ErrorIs(t, errs[0], s3store.ErrUnavailable)
		assert.NotErrorIs(t, errs[0], s3store.ErrSuspended, "the load that opened the breaker tried")
		assert.Equal(t, int64(2), f.proxy.count(stall), "two tries of the opening")
		ss := store.Stats()
		assert.Equal(t, int64(1), ss.Trips)
		assert.Equal(t, int64(1), ss.Unavailable)
	})
	t.Run("the next loads do not", func(t *testing.T) {
		encodedAtOnce(t)
		clock.Advance(9 * time.Second)
		encodedAtOnce(t)
	})
	t.Run("a failed probe", func(t *testing.T) {
		clock.Advance(time.Second)
		stalls := f.proxy.count(stall)
		st, errs := load(t, 2)
		assert.Equal(t, int64(1), st.Encodes)
		assert.Equal(t, int64(1), st.StoreErrors)
		assert.NotErrorIs(t, errs[0], s3store.ErrSuspended, "the probe")
		assert.Equal(t, stalls+1, f.proxy.count(stall), "the probe, tried once")
		ss := store.Stats()
		assert.Equal(t, int64(1), ss.Probes)
		assert.Equal(t, int64(1), ss.Trips, "opened again, not tripped anew")
		clock.Advance(10 * time.Second) // the wait is now 15 s, the cap
		encodedAtOnce(t)
	})
	t.Run("the server back", func(t *testing.T) {
		f.proxy.setRule(nil)
		encodedAtOnce(t) // until the wait has passed
		clock.Advance(5 * time.Second)
		st, errs := load(t, 0)
		assert.Empty(t, errs)
		assert.Zero(t, st.Encodes)
		assert.Zero(t, st.StoreErrors)
		assert.Equal(t, int64(1), st.DiskHits, "read from the store")
		assert.Equal(t, int64(2), store.Stats().Probes)
		requests := store.Stats().Requests
		st, _ = load(t, 0)
		assert.Equal(t, int64(1), st.DiskHits, "the store used again")
		assert.Greater(t, store.Stats().Requests, requests+1, "not only a probe")
		assert.Equal(t, int64(2), store.Stats().Probes)
	})
}
