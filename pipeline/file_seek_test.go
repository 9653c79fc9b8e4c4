package pipeline_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// A FileSource seeks before its first Read (the file then opened at the
// offset) and while open, from the start, the offset reached and the end;
// a negative offset is an error and leaves the offset as it was.
func TestFileSourceSeek(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("0123456789"), 0o600))
	s := pipeline.OpenFile(path)
	defer s.Close()
	read := func(n int) string {
		b := make([]byte, n)
		_, err := io.ReadFull(s, b)
		require.NoError(t, err)
		return string(b)
	}
	at, err := s.Seek(3, io.SeekStart)
	require.NoError(t, err)
	assert.EqualValues(t, 3, at)
	assert.Equal(t, "34", read(2), "opened at the offset")
	at, err = s.Seek(2, io.SeekCurrent)
	require.NoError(t, err)
	assert.EqualValues(t, 7, at)
	assert.Equal(t, "78", read(2), "the open file moved")
	at, err = s.Seek(-4, io.SeekEnd)
	require.NoError(t, err)
	assert.EqualValues(t, 6, at)
	assert.Equal(t, "6", read(1))
	_, err = s.Seek(-1, io.SeekStart)
	assert.Error(t, err)
	assert.Equal(t, "7", read(1), "the offset as it was")
}
