package s3store_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"testing"
	"testing/iotest"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
)

// A track encoded by one Library is stored in the bucket; a second
// Library, with a Store of its own, plays it from there with no encoding,
// the same packets.
func TestLibraryShares(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	for _, key := range []pipeline.Key{shortKey, longKey} {
		t.Run(key.Source, func(t *testing.T) {
			store := newStore(t, srv.Endpoint(), bucket)
			want := stored(t, store, key)
			_, err := srv.Client(t).StatObject(context.Background(), bucket, store.Key(key.StoreName()), minio.StatObjectOptions{})
			require.NoError(t, err, "the object")

			src := newSources(t)
			lib := newLibrary(t, src, newStore(t, srv.Endpoint(), bucket))
			h, err := lib.Get(context.Background(), key)
			require.NoError(t, err)
			defer h.Release()
			assert.Equal(t, want, playAll(t, h), "identical packets")
			st := lib.Stats()
			assert.Equal(t, int64(1), st.DiskHits)
			assert.Zero(t, st.Encodes)
			assert.Zero(t, src.count(), "the source not opened")
			assert.Zero(t, st.StoreErrors)
		})
	}
}

// randomBytes returns n bytes of a fixed pseudo-random sequence.
func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s *s3store.Store, name string, b []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), name)
	require.NoError(t, err)
	for len(b) > 0 { // in pieces of odd sizes
		n := min(len(b), 70001)
		_, err := w.Write(b[:n])
		require.NoError(t, err)
		b = b[n:]
	}
	require.NoError(t, w.Commit())
}

// A blob reads back by ReadAt at any range, across the bytes Open
// fetched and past them, and by Stream from any offset; a missing one is
// fs.ErrNotExist; Remove is idempotent; bad names are refused.
func TestBlobReads(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv.Endpoint(), srv.Bucket(t))
	ctx := context.Background()
	want := randomBytes(300<<10 + 123)
	put(t, s, "blob", want)

	b, err := s.Open(ctx, "blob")
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, int64(len(want)), b.Size())
	r := rand.New(rand.NewPCG(2, 3))
	for range 40 {
		off := r.IntN(len(want))
		p := make([]byte, r.IntN(100<<10)+1)
		n, err := b.ReadAt(p, int64(off))
		wantN := min(len(p), len(want)-off)
		require.Equal(t, wantN, n)
		if wantN < len(p) {
			require.Equal(t, io.EOF, err)
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, want[off:off+n], p[:n], "bytes %d to %d", off, off+n)
	}
	_, err = b.ReadAt(make([]byte, 1), int64(len(want)))
	assert.Equal(t, io.EOF, err)

	bs, ok := b.(pipeline.BlobStreamer)
	require.True(t, ok, "a BlobStreamer")
	for _, off := range []int64{0, 1, 65535, 65536, 200000} {
		st := bs.Stream(off, int64(len(want))-off)
		assert.NoError(t, iotest.TestReader(st, want[off:]), "from %d", off)
		require.NoError(t, st.Close())
	}
	// A stream closed before it is read to its end stops its fetches.
	st := bs.Stream(0, int64(len(want)))
	_, err = st.Read(make([]byte, 10))
	require.NoError(t, err)
	require.NoError(t, st.Close())

	_, err = s.Open(ctx, "none")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, s.Remove(ctx, "blob"))
	require.NoError(t, s.Remove(ctx, "blob"))
	_, err = s.Open(ctx, "blob")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	for _, bad := range []string{"", "../x", "a/b", ".hidden"} {
		_, err := s.Open(ctx, bad)
		assert.Error(t, err, "%q", bad)
	}
}

// A blob larger than a part is a multipart upload, visible only once
// complete; an aborted one leaves neither object nor upload; one left by
// a writer that died is found and aborted by AbortStaleUploads.
func TestMultipart(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	s := newStore(t, srv.Endpoint(), bucket, s3store.WithPartSize(5<<20))
	c := srv.Client(t)
	ctx := context.Background()
	uploads := func() int {
		res, err := minio.Core{Client: c}.ListMultipartUploads(ctx, bucket, "", "", "", "", 1000)
		require.NoError(t, err)
		return len(res.Uploads)
	}

	want := randomBytes(11<<20 + 5)
	w, err := s.Create(ctx, "big")
	require.NoError(t, err)
	_, err = w.Write(want)
	require.NoError(t, err)
	_, err = s.Open(ctx, "big")
	require.ErrorIs(t, err, fs.ErrNotExist, "not visible before Commit")
	assert.Equal(t, 1, uploads(), "the upload in progress")
	require.NoError(t, w.Commit())
	assert.Equal(t, int64(1), s.Stats().Multipart)
	obj, err := c.GetObject(ctx, bucket, s.Key("big"), minio.GetObjectOptions{})
	require.NoError(t, err)
	got, err := io.ReadAll(obj)
	obj.Close()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(want, got), "the object whole")

	w, err = s.Create(ctx, "aborted")
	require.NoError(t, err)
	_, err = w.Write(want)
	require.NoError(t, err)
	require.NoError(t, w.Abort())
	_, err = s.Open(ctx, "aborted")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Zero(t, uploads(), "the upload aborted")

	w, err = s.Create(ctx, "crashed")
	require.NoError(t, err)
	_, err = w.Write(want) // and the process dies: no Commit, no Abort
	require.NoError(t, err)
	n, err := s.AbortStaleUploads(ctx, time.Hour)
	require.NoError(t, err)
	assert.Zero(t, n, "a recent upload is kept")
	n, err = s.AbortStaleUploads(ctx, -time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Zero(t, uploads())
	_, err = s.Open(ctx, "crashed")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// Of two writers of one name, the first to commit writes the object; the
// second's Commit keeps it, whole, with no error, one part or many.
func TestCommitKeepsFirst(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, srv.Endpoint(), srv.Bucket(t), s3store.WithPartSize(5<<20))
	ctx := context.Background()
	for _, size := range []int{1000, 6 << 20} {
		name := "k" + string(rune('a'+size%26))
		first, second := randomBytes(size), bytes.Repeat([]byte{7}, size)
		w1, err := s.Create(ctx, name)
		require.NoError(t, err)
		w2, err := s.Create(ctx, name)
		require.NoError(t, err)
		_, err = w1.Write(first)
		require.NoError(t, err)
		_, err = w2.Write(second)
		require.NoError(t, err)
		before := s.Stats()
		require.NoError(t, w1.Commit())
		require.NoError(t, w2.Commit())
		after := s.Stats()
		assert.Equal(t, before.Uploads+1, after.Uploads, "%d bytes", size)
		assert.Equal(t, before.Kept+1, after.Kept, "%d bytes", size)
		b, err := s.Open(ctx, name)
		require.NoError(t, err)
		got := make([]byte, b.Size())
		_, err = b.ReadAt(got, 0)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(first, got), "the first writer's object, %d bytes", size)
	}
}
