package s3store_test

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// A stored track of 40 s is read from the bucket ahead of the time since
// it was loaded (2 s of packets here, on a FakeClock), not whole: with
// the clock still, the ranges fetched stop a few blocks in; moved on, the
// reads follow it, ahead of a player that plays in step with it, which
// never finds its next packet missing; a seek far ahead is served at
// once, by the store's reads up to it, not by the clock; played to its
// end, the track is the stored packets.
func TestReadAheadPaced(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	key := pipeline.Key{Source: "forty"}
	src := &sources{data: map[string][]byte{"forty": noise(40)}}
	want := storedFrom(t, newStore(t, srv.Endpoint(), bucket), key, src)

	var reads atomic.Int64
	p := newProxy(t, srv.Addr)
	p.setRule(func(r *http.Request) fault {
		if dataRead(r) {
			reads.Add(1)
		}
		return pass
	})
	clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
	lib := newLibrary(t, src, newStore(t, p.srv.URL, bucket), pipeline.WithStoreReadAhead(100, clock))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	defer h.Release()
	tr := h.Track()
	assert.Equal(t, int64(1), lib.Stats().DiskHits)

	// progress waits for the track to be read at least to d, and returns
	// how far it is read.
	progress := func(d time.Duration) time.Duration {
		t.Helper()
		eventually(t, func() bool { return tr.Progress() >= d }, "read ahead of the clock")
		return tr.Progress()
	}
	const ahead = 2 * time.Second
	got := progress(ahead)
	time.Sleep(200 * time.Millisecond) // room for reads that should not be made
	got = max(got, tr.Progress())
	t.Logf("the clock at 0: %v of 40 s read, %d ranges fetched", got, reads.Load())
	assert.Less(t, got, 20*time.Second, "not read whole")
	assert.False(t, tr.Finished())

	pl := h.NewPlayer()
	defer pl.Close()
	var played [][]byte
	for now := time.Duration(0); now < 10*time.Second; now += time.Second {
		clock.Advance(time.Second)
		progress(now + time.Second + ahead) // read as the clock moved
		// A second of packets, in step with the clock.
		for range 50 {
			pk, err := pl.Next()
			require.NoError(t, err, "at %v, read to %v", now, tr.Progress())
			played = append(played, append([]byte(nil), pk.Data...))
		}
	}
	assert.Equal(t, want[:len(played)], played)
	got = tr.Progress()
	t.Logf("the clock at 10 s: %v read, %d ranges fetched", got, reads.Load())
	assert.Less(t, got, 30*time.Second, "not read whole")

	// A seek far past what is read: the store reads up to it at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, pl.Seek(ctx, 35*time.Second))
	assert.GreaterOrEqual(t, tr.Progress(), 35*time.Second)
	pk, err := pl.Next()
	require.NoError(t, err)
	assert.InDelta(t, 35*48000, pk.Position, 960, "the packet at 35 s")

	assert.Equal(t, want, playAll(t, h), "the stored packets")
}

// A blob's stream gives first the bytes Open fetched, and its first Read
// begins no fetch: a stored track's first block, in those bytes, is
// checked and served with no request of the blocks after it running
// meanwhile. The next Read begins the fetches ahead; the stream reads
// the rest whole.
func TestStreamHeadFirst(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	want := randomBytes(300 << 10)
	put(t, newStore(t, srv.Endpoint(), bucket), "blob", want)

	var reads atomic.Int64
	p := newProxy(t, srv.Addr)
	p.setRule(func(r *http.Request) fault {
		if dataRead(r) {
			reads.Add(1)
		}
		return pass
	})
	s := newStore(t, p.srv.URL, bucket, s3store.WithHeadSize(16<<10)) // ranges of 4, 8, 16 KiB, three ahead
	b, err := s.Open(context.Background(), "blob")
	require.NoError(t, err)
	defer b.Close()
	const off = 1000
	st := b.(pipeline.BlobStreamer).Stream(off, int64(len(want))-off)
	defer st.Close()
	got := make([]byte, 16<<10)
	n, err := st.Read(got)
	require.NoError(t, err)
	require.Equal(t, want[off:off+n], got[:n])
	time.Sleep(200 * time.Millisecond) // room for fetches that should not begin
	assert.Zero(t, reads.Load(), "fetches begun by the first Read")

	rest, err := io.ReadAll(st)
	require.NoError(t, err)
	assert.Equal(t, want[off+n:], rest)
	assert.Positive(t, reads.Load(), "the rest fetched")
}
