package s3store_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// blobSize is the size of the budget tests' blobs.
const blobSize = 10_000

// keys returns the keys in bucket, sorted.
func keys(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	var out []string
	for o := range srv.Client(t).ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, o.Err)
		if !strings.HasSuffix(o.Key, "/") {
			out = append(out, o.Key)
		}
	}
	sort.Strings(out)
	return out
}

// blobKeys returns the keys of the blobs called names, then of the use
// markers of those in marked, sorted as a listing has them.
func blobKeys(names []string, marked ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+".sct")
	}
	for _, n := range marked {
		out = append(out, ".use/"+n)
	}
	sort.Strings(out)
	return out
}

// budgetStore returns a Store of bucket with a budget of n blobs and a
// half, on clock, marking at most once a minute, with a grace period of
// 10 minutes.
func budgetStore(t *testing.T, srv *s3test.Server, bucket string, n int, clock pipeline.Clock) *s3store.Store {
	return newStore(t, srv.Endpoint(), bucket, s3store.WithBudget(int64(n)*blobSize+blobSize/2),
		s3store.WithClock(clock), s3store.WithBudgetTimes(time.Minute, 10*time.Minute))
}

// closeAndStats closes s, which waits for its work in the background,
// and returns its counts.
func closeAndStats(t *testing.T, s *s3store.Store) s3store.Stats {
	t.Helper()
	require.NoError(t, s.Close())
	return s.Stats()
}

// Reading a blob records its use in the bucket (its marker), at most
// once a minute a Store, on its clock: once its first bytes have been
// served (a stream's second Read, a read past what Open fetched, its
// Close), not at Open, nor at the first Read of its stream, which serves
// a track's first block. A Store without a budget records none.
func TestUseMarks(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx := context.Background()
	put(t, newStore(t, srv.Endpoint(), bucket), "x", randomBytes(300<<10))
	clock := pipeline.NewFakeClock(time.Now())

	s := budgetStore(t, srv, bucket, 100, clock)
	open := func() pipeline.Blob {
		b, err := s.Open(ctx, "x")
		require.NoError(t, err)
		return b
	}
	b := open()
	st := b.(pipeline.BlobStreamer).Stream(0, 100)
	_, err := st.Read(make([]byte, 10))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // room for a mark that should not be made
	assert.Zero(t, s.Stats().Marks, "marked before the first bytes were served")
	_, err = st.Read(make([]byte, 10))
	require.NoError(t, err)
	eventually(t, func() bool { return s.Stats().Marks == 1 }, "the use marked at the second Read")
	require.NoError(t, st.Close())
	open().Close()
	_, err = b.ReadAt(make([]byte, 10), 200<<10) // past the 64 KiB Open fetched
	require.NoError(t, err)
	assert.Equal(t, blobKeys([]string{"x"}, "x"), keys(t, srv, bucket))

	clock.Advance(time.Minute)
	_, err = b.ReadAt(make([]byte, 10), 250<<10) // a read marks too
	require.NoError(t, err)
	eventually(t, func() bool { return s.Stats().Marks == 2 }, "the read marked")
	open().Close()
	clock.Advance(59 * time.Second)
	open().Close()
	b.Close()
	assert.Equal(t, int64(2), closeAndStats(t, s).Marks, "one mark a minute")

	plain := newStore(t, srv.Endpoint(), bucket)
	b, err = plain.Open(ctx, "x")
	require.NoError(t, err)
	b.Close()
	assert.Zero(t, closeAndStats(t, plain).Marks, "no budget, no marks")
}

// A trim removes the least recently used blobs until the store is within
// its budget: used is the later of the object's time and its marker's,
// so a blob opened lately is kept however old its object; the marker of
// a blob removed goes with it, and so does a marker left of a blob that
// is gone, once it is older than the grace period.
func TestTrimLeastRecentlyUsed(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx := context.Background()
	writer := newStore(t, srv.Endpoint(), bucket)
	now := time.Now()
	names := []string{"a", "b", "c", "d", "e"}
	for i, n := range names { // a the oldest, e the newest
		put(t, writer, n, randomBytes(blobSize))
		srv.SetModTime(t, bucket, writer.Key(n), now.Add(-time.Duration(5-i)*time.Hour))
	}
	// A marker of a blob that is gone, old; another, fresh.
	putObject(t, srv.Client(t), bucket, ".use/gone", nil)
	srv.SetModTime(t, bucket, ".use/gone", now.Add(-time.Hour))
	putObject(t, srv.Client(t), bucket, ".use/coming", nil)
	clock := pipeline.NewFakeClock(now)
	s := budgetStore(t, srv, bucket, 3, clock)

	b, err := s.Open(ctx, "a")
	require.NoError(t, err)
	b.Close()
	eventually(t, func() bool { return s.Stats().Marks == 1 }, "a's use marked")
	n, err := s.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "blobs removed")
	assert.Equal(t, blobKeys([]string{"a", "d", "e"}, "a", "coming"), keys(t, srv, bucket),
		"b and c, the least recently used, removed; a, opened, kept; the old marker of a blob gone removed")

	// a's marker made old again: a is the oldest, removed with its marker.
	srv.SetModTime(t, bucket, ".use/a", now.Add(-6*time.Hour))
	put(t, writer, "f", randomBytes(blobSize))
	n, err = s.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, blobKeys([]string{"d", "e", "f"}, "coming"), keys(t, srv, bucket))
	st := closeAndStats(t, s)
	assert.Equal(t, int64(3), st.Evictions)
	assert.Equal(t, int64(2), st.Trims)
}

// No blob used within the grace period is removed, over the budget or
// not; once the clock has passed it, the least recently used go.
func TestTrimGrace(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx := context.Background()
	writer := newStore(t, srv.Endpoint(), bucket)
	now := time.Now()
	names := []string{"a", "b", "c"}
	for i, n := range names {
		put(t, writer, n, randomBytes(blobSize))
		srv.SetModTime(t, bucket, writer.Key(n), now.Add(-time.Duration(3-i)*time.Minute))
	}
	clock := pipeline.NewFakeClock(now)
	s := budgetStore(t, srv, bucket, 1, clock)
	n, err := s.Trim(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "all used within the grace period")
	assert.Equal(t, blobKeys(names), keys(t, srv, bucket))

	clock.Advance(7*time.Minute + 30*time.Second) // a, b and c used 10.5, 9.5 and 8.5 minutes ago
	n, err = s.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a only")
	assert.Equal(t, blobKeys([]string{"b", "c"}), keys(t, srv, bucket), "over the budget, b and c within the grace period")

	put(t, writer, "d", randomBytes(blobSize))
	srv.SetModTime(t, bucket, writer.Key("d"), now.Add(-time.Minute))
	clock.Advance(time.Minute) // b past the grace period; c and d 9.5 minutes old
	n, err = s.Trim(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, blobKeys([]string{"c", "d"}), keys(t, srv, bucket))
}

// Two Stores, as two processes, trimming one bucket at once, round after
// round as blobs are added: the bucket ends within the budget each time,
// with exactly the most recently used blobs kept (the removes of two
// trims of one listing are of one set, and removing a blob twice is
// harmless). Then both commit a blob at once, a minute later, each Commit
// starting a trim: the bucket ends the same.
func TestConcurrentTrims(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx := context.Background()
	writer := newStore(t, srv.Endpoint(), bucket)
	now := time.Now()
	clock := pipeline.NewFakeClock(now)
	const keep = 5
	s1, s2 := budgetStore(t, srv, bucket, keep, clock), budgetStore(t, srv, bucket, keep, clock)

	var all []string // the blobs by last use, the oldest first
	marked := map[string]bool{}
	age := 3 * time.Hour
	add := func(n int) {
		for range n {
			name := fmt.Sprintf("blob-%02d", len(all))
			put(t, writer, name, randomBytes(blobSize))
			srv.SetModTime(t, bucket, writer.Key(name), now.Add(-age))
			if len(all)%3 == 1 { // some used lately (their markers), not only written
				marked[name] = true
				putObject(t, srv.Client(t), bucket, ".use/"+name, nil)
				srv.SetModTime(t, bucket, writer.Key(name), now.Add(-age-time.Hour))
				srv.SetModTime(t, bucket, ".use/"+name, now.Add(-age))
			}
			age -= time.Minute
			all = append(all, name)
		}
	}
	want := func() []string {
		kept := all[max(len(all)-keep, 0):]
		var m []string
		for _, n := range kept {
			if marked[n] {
				m = append(m, n)
			}
		}
		return blobKeys(kept, m...)
	}
	add(12)
	for round := range 4 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i, s := range []*s3store.Store{s1, s2} {
			wg.Go(func() {
				<-start
				_, errs[i] = s.Trim(ctx)
			})
		}
		close(start)
		wg.Wait()
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		assert.Equal(t, want(), keys(t, srv, bucket), "round %d", round)
		add(3)
	}

	// Both commit at once, a trim interval after their last trims; each
	// Commit trims in the background. The new blobs are within the grace
	// period: kept, with the newest old ones.
	clock.Advance(time.Minute)
	var wg sync.WaitGroup
	for i, s := range []*s3store.Store{s1, s2} {
		wg.Go(func() {
			w, err := s.Create(ctx, fmt.Sprintf("new-%d", i))
			if assert.NoError(t, err) {
				_, err = w.Write(randomBytes(blobSize))
				assert.NoError(t, err)
				assert.NoError(t, w.Commit())
			}
		})
	}
	wg.Wait()
	all = append(all, "new-0", "new-1")
	eventually(t, func() bool { return slices.Equal(want(), keys(t, srv, bucket)) }, "trimmed after the commits")
	st1, st2 := closeAndStats(t, s1), closeAndStats(t, s2)
	assert.GreaterOrEqual(t, st1.Evictions+st2.Evictions, int64(len(all)-keep), "every removal counted by one at least")
	assert.GreaterOrEqual(t, st1.Trims, int64(5))
	assert.GreaterOrEqual(t, st2.Trims, int64(5))
}

// A blob larger than the whole budget is refused, before it is
// uploaded whole: no object, no upload left.
func TestCommitOverBudget(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	ctx := context.Background()
	for _, size := range []int{100 << 10, 6 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s := newStore(t, srv.Endpoint(), bucket, s3store.WithBudget(int64(size)-1), s3store.WithPartSize(5<<20))
			w, err := s.Create(ctx, "big")
			require.NoError(t, err)
			_, err = w.Write(randomBytes(size))
			assert.ErrorIs(t, err, pipeline.ErrStoreFull)
			assert.ErrorIs(t, w.Commit(), pipeline.ErrStoreFull)
			_, err = s.Open(ctx, "big")
			assert.ErrorIs(t, err, fs.ErrNotExist)
			res, err := minio.Core{Client: srv.Client(t)}.ListMultipartUploads(ctx, bucket, "", "", "", "", 1000)
			require.NoError(t, err)
			assert.Empty(t, res.Uploads)

			w, err = s.Create(ctx, "fits")
			require.NoError(t, err)
			_, err = w.Write(randomBytes(size - 1))
			require.NoError(t, err)
			require.NoError(t, w.Commit())
			require.NoError(t, s.Remove(ctx, "fits"))
		})
	}
}

// A stored track removed while a Library reads it (a trim of another
// process, whose clock is past the grace period): its players have the
// packets read before, each the stored one, then ErrChanged, never a
// wrong byte; the next load encodes the track again.
func TestReaderLosesObject(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	key := pipeline.Key{Source: "forty"}
	src := &sources{data: map[string][]byte{"forty": noise(40)}}
	want := storedFrom(t, newStore(t, srv.Endpoint(), bucket), key, src)

	clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
	lib := newLibrary(t, src, newStore(t, srv.Endpoint(), bucket), pipeline.WithStoreReadAhead(100, clock))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	tr := h.Track()
	eventually(t, func() bool { return tr.Progress() >= 2*time.Second }, "the first seconds read")
	require.Less(t, tr.Progress(), 30*time.Second, "not read whole")

	other := newStore(t, srv.Endpoint(), bucket, s3store.WithBudget(1),
		s3store.WithClock(pipeline.NewFakeClock(time.Now().Add(time.Hour))))
	n, err := other.Trim(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n, "the track removed")

	clock.Advance(time.Minute) // the rest of the track due
	got, err := packetsOf(t, h)
	h.Release()
	require.ErrorIs(t, err, s3store.ErrChanged)
	require.NotEmpty(t, got)
	require.Less(t, len(got), len(want))
	assert.Equal(t, want[:len(got)], got, "each packet the stored one")
	assert.Zero(t, lib.Stats().Encodes)

	h, err = lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h.Release()
	assert.Equal(t, want, playAll(t, h), "encoded again")
	assert.Equal(t, int64(1), lib.Stats().Encodes)
}

// A mark that fails (the server refuses the marker's PUT every try) is
// not taken as made: the next read of the blob tries again, on the same
// clock, not a mark interval later.
func TestUseMarkRetriedAfterFailure(t *testing.T) {
	f := newFaultSetup(t)
	ctx := context.Background()
	put(t, newStore(t, f.srv.Endpoint(), f.bucket), "x", randomBytes(blobSize))
	f.proxy.setRule(func(r *http.Request) fault {
		if isMark(r) {
			return internal
		}
		return pass
	})
	s := newStore(t, f.proxy.srv.URL, f.bucket, s3store.WithBudget(100*blobSize),
		s3store.WithClock(pipeline.NewFakeClock(time.Now())), s3store.WithBudgetTimes(time.Minute, 10*time.Minute),
		s3store.WithBreaker(0, 0)) // the failed mark suspends no read
	read := func() {
		b, err := s.Open(ctx, "x")
		require.NoError(t, err)
		require.NoError(t, b.Close()) // Close marks the use
	}
	read()
	eventually(t, func() bool { return s.Stats().Unavailable == 1 }, "the mark failed every try")
	assert.Zero(t, s.Stats().Marks)

	f.proxy.setRule(nil)
	eventually(t, func() bool {
		read()
		return s.Stats().Marks == 1
	}, "a read after the failed mark marked, within the mark interval")
	assert.Contains(t, keys(t, f.srv, f.bucket), ".use/x")
}

// isMark reports whether r puts a use marker.
func isMark(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/.use/")
}

// Reads of many blobs at once (a Preload of many stored tracks) have at
// most 4 marks in flight; a read that finds as many is not marked then,
// but at its blob's next read, on the same clock.
func TestUseMarksBounded(t *testing.T) {
	f := newFaultSetup(t)
	ctx := context.Background()
	writer := newStore(t, f.srv.Endpoint(), f.bucket)
	var names []string
	for i := range 10 {
		names = append(names, fmt.Sprintf("b%d", i))
		put(t, writer, names[i], randomBytes(blobSize))
	}
	var inFlight atomic.Int64
	release := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before the proxy's, which waits for its requests
	f.proxy.setRule(func(r *http.Request) fault {
		if isMark(r) {
			inFlight.Add(1)
			<-release
		}
		return pass
	})
	s := newStore(t, f.proxy.srv.URL, f.bucket, s3store.WithBudget(100*blobSize),
		s3store.WithClock(pipeline.NewFakeClock(time.Now())), s3store.WithBudgetTimes(time.Minute, 10*time.Minute))
	readAll := func() {
		for _, n := range names {
			b, err := s.Open(ctx, n)
			require.NoError(t, err)
			require.NoError(t, b.Close()) // Close marks the use
		}
	}
	readAll()
	eventually(t, func() bool { return inFlight.Load() >= 4 }, "4 marks in flight")
	time.Sleep(200 * time.Millisecond) // room for marks that should not be made
	assert.Equal(t, int64(4), inFlight.Load(), "no more than 4 marks at once")
	unblock()
	eventually(t, func() bool { return s.Stats().Marks == 4 }, "the 4 marks made")

	eventually(t, func() bool {
		readAll()
		return s.Stats().Marks == 10
	}, "the others marked at a later read")
	assert.Equal(t, int64(10), closeAndStats(t, s).Marks, "each blob marked once")
}

// Marks failing every try (the server refusing them) do not open the
// Store's breaker: reads go on, none suspended.
func TestUseMarksSpareBreaker(t *testing.T) {
	f := newFaultSetup(t)
	ctx := context.Background()
	writer := newStore(t, f.srv.Endpoint(), f.bucket)
	put(t, writer, "x", randomBytes(blobSize))
	put(t, writer, "y", randomBytes(blobSize))
	f.proxy.setRule(func(r *http.Request) fault {
		if isMark(r) {
			return internal
		}
		return pass
	})
	s := newStore(t, f.proxy.srv.URL, f.bucket, s3store.WithBudget(100*blobSize),
		s3store.WithClock(pipeline.NewFakeClock(time.Now())), s3store.WithBudgetTimes(time.Minute, 10*time.Minute))
	b, err := s.Open(ctx, "x")
	require.NoError(t, err)
	require.NoError(t, b.Close())
	eventually(t, func() bool { return s.Stats().Unavailable == 1 }, "the mark failed every try")

	b, err = s.Open(ctx, "y")
	require.NoError(t, err, "a read after the failed mark")
	require.NoError(t, b.Close())
	st := closeAndStats(t, s)
	assert.Zero(t, st.Trips)
	assert.Zero(t, st.Suspended)
}

// commit stores a blob of blobSize called name by s.
func commit(t *testing.T, s *s3store.Store, name string) {
	t.Helper()
	w, err := s.Create(context.Background(), name)
	require.NoError(t, err)
	_, err = w.Write(randomBytes(blobSize))
	require.NoError(t, err)
	require.NoError(t, w.Commit())
}

// A Store's trims after a Commit begin at most once a mark interval, on
// its clock: the Commits within a minute of a trim ask for one more, at
// the minute's end; a Trim meanwhile is that one.
func TestTrimInterval(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	clock := pipeline.NewFakeClock(time.Now())
	s := budgetStore(t, srv, bucket, 100, clock)
	trims := func() int64 { return s.Stats().Trims }

	commit(t, s, "a")
	eventually(t, func() bool { return trims() == 1 }, "the first Commit trimmed")
	commit(t, s, "b")
	commit(t, s, "c")
	clock.Advance(59 * time.Second)
	time.Sleep(200 * time.Millisecond) // room for trims that should not begin
	assert.Equal(t, int64(1), trims(), "no trim within the minute")
	clock.Advance(time.Second)
	eventually(t, func() bool { return trims() == 2 }, "the trim wanted, at the minute's end")
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, int64(2), trims(), "one for both Commits")

	commit(t, s, "d") // within the minute of the last trim
	_, err := s.Trim(context.Background())
	require.NoError(t, err)
	clock.Advance(time.Minute)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, int64(3), closeAndStats(t, s).Trims, "the Trim was the one the Commit wanted")
}
