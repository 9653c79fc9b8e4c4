package s3test_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
)

// A server starts, serves a bucket (an object put is read back, and is a
// file in its directory), and leaves no process once stopped.
func TestServer(t *testing.T) {
	s := s3test.Start(t)
	bucket := s.Bucket(t)
	c := s.Client(t)
	ctx := context.Background()
	want := bytes.Repeat([]byte("streamcatcher "), 1000)
	_, err := c.PutObject(ctx, bucket, "a/b", bytes.NewReader(want), int64(len(want)), minio.PutObjectOptions{})
	require.NoError(t, err)
	obj, err := c.GetObject(ctx, bucket, "a/b", minio.GetObjectOptions{})
	require.NoError(t, err)
	got, err := io.ReadAll(obj)
	obj.Close()
	require.NoError(t, err)
	assert.Equal(t, want, got)
	onDisk, err := os.ReadFile(filepath.Join(s.Dir, bucket, "a", "b"))
	require.NoError(t, err)
	assert.Equal(t, want, onDisk)

	pid := s.PID()
	require.NoError(t, syscall.Kill(pid, 0), "running")
	s.Stop()
	s.Stop()
	assert.True(t, s.Exited())
	err = syscall.Kill(pid, 0)
	assert.True(t, errors.Is(err, syscall.ESRCH), "process %d still there: %v", pid, err)
}

// Two servers at once are two processes on two ports, each with its own
// directory.
func TestTwoServers(t *testing.T) {
	a, b := s3test.Start(t), s3test.Start(t)
	assert.NotEqual(t, a.Addr, b.Addr)
	assert.NotEqual(t, a.PID(), b.PID())
	bucket := a.Bucket(t)
	ok, err := b.Client(t).BucketExists(context.Background(), bucket)
	require.NoError(t, err)
	assert.False(t, ok, "a bucket of the other server")
}

// SetModTime sets the LastModified that listings and reads report, to
// the second (S3's listings have no finer times).
func TestSetModTime(t *testing.T) {
	s := s3test.Start(t)
	bucket := s.Bucket(t)
	c := s.Client(t)
	ctx := context.Background()
	_, err := c.PutObject(ctx, bucket, "d/x", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{})
	require.NoError(t, err)
	at := time.Date(2020, 5, 17, 10, 30, 15, 0, time.UTC)
	s.SetModTime(t, bucket, "d/x", at)
	info, err := c.StatObject(ctx, bucket, "d/x", minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.True(t, at.Equal(info.LastModified), "read: got %v; want %v", info.LastModified, at)
	var listed []time.Time
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, o.Err)
		listed = append(listed, o.LastModified)
	}
	require.Len(t, listed, 1)
	assert.True(t, at.Equal(listed[0]), "listed: got %v; want %v", listed[0], at)
}
