package s3store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// getObject returns the object of key whole.
func getObject(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	obj, err := c.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	require.NoError(t, err)
	defer obj.Close()
	b, err := io.ReadAll(obj)
	require.NoError(t, err)
	return b
}

func putObject(t *testing.T, c *minio.Client, bucket, key string, b []byte) {
	t.Helper()
	_, err := c.PutObject(context.Background(), bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{})
	require.NoError(t, err)
}

// A stored object with one byte overwritten through the S3 API, in its
// index (found when it is opened), its first data block (found before
// its first packet) or a later block (found as it is read, after packets
// served): no listener gets a packet that is not the encoding's; the
// object is removed, the track encoded again, and stored anew, byte for
// byte the first.
func TestDamagedObject(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t)
	c := srv.Client(t)
	store := newStore(t, srv.Endpoint(), bucket)
	want := stored(t, store, longKey)
	key := store.Key(longKey.StoreName())
	whole := getObject(t, c, bucket, key)
	m := int(binary.LittleEndian.Uint32(whole[8:]))
	d := int(binary.LittleEndian.Uint64(whole[24:]))
	index, data := 48+m+4, len(whole)-d
	require.Greater(t, d, 2*65536, "three blocks of data at least")

	for _, tt := range []struct {
		name  string
		at    int
		early bool // found before the first packet
	}{
		{"index", index + 4*10, true},
		{"first block", data + 100, true},
		{"third block", data + 2*65536 + 100, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Clone(whole)
			bad[tt.at] ^= 0x10
			putObject(t, c, bucket, key, bad)
			var logged errorLog
			src := newSources(t)
			lib := newLibrary(t, src, newStore(t, srv.Endpoint(), bucket), pipeline.WithErrorLog(logged.log))
			h, err := lib.Get(context.Background(), longKey)
			require.NoError(t, err)
			got, err := packetsOf(t, h)
			h.Release()
			if tt.early {
				require.Equal(t, io.EOF, err)
				assert.Equal(t, want, got, "encoded again")
			} else {
				require.ErrorIs(t, err, pipeline.ErrCorruptTrack)
				require.NotEmpty(t, got)
				assert.Equal(t, want[:len(got)], got, "each packet the encoding's")
				eventually(t, func() bool { return lib.Stats().Corrupt == 1 }, "counted")
				h, err = lib.Get(context.Background(), longKey)
				require.NoError(t, err)
				assert.Equal(t, want, playAll(t, h), "encoded again")
				h.Release()
			}
			st := lib.Stats()
			assert.Equal(t, int64(1), st.Corrupt)
			assert.Equal(t, int64(1), st.Encodes)
			assert.Zero(t, st.StoreErrors)
			errs := logged.get()
			require.NotEmpty(t, errs)
			assert.ErrorIs(t, errs[0], pipeline.ErrCorruptTrack)
			t.Logf("reported: %v", errs[0])
			eventually(t, func() bool { return lib.Stats().Writes == 1 }, "stored anew")
			assert.Equal(t, whole, getObject(t, c, bucket, key), "the object as first stored")
		})
	}
}
