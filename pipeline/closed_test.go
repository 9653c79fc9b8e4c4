package pipeline_test

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// Whatever is closed, a user tests for it one way: errors.Is(err,
// pipeline.ErrClosed), which says the same as errors.Is(err,
// catcher.ErrClosed). A player of a closed track, a closed player, a
// closed library and its players, every closed source, a closed
// PCMReader, a cursor of a closed track.
func TestClosedIsOneError(t *testing.T) {
	data := testutil.Fixture(t, "prog_48000.mp3")
	closed := func(t *testing.T, err error) {
		t.Helper()
		require.Error(t, err)
		assert.ErrorIs(t, err, pipeline.ErrClosed)
		assert.ErrorIs(t, err, catcher.ErrClosed)
		t.Logf("%v", err)
	}
	ready := func(t *testing.T, tr *pipeline.Track) {
		t.Helper()
		select {
		case <-tr.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("not ready")
		}
	}

	t.Run("player of a closed track", func(t *testing.T) {
		tr, err := pipeline.NewTrack(bytes.NewReader(data))
		require.NoError(t, err)
		ready(t, tr)
		p := tr.NewPlayer()
		defer p.Close()
		require.NoError(t, tr.Close())
		_, _, err = drain(t, p)
		closed(t, err)
	})
	t.Run("source closed under its track", func(t *testing.T) {
		// The track ends with the source's error, which matches ErrClosed,
		// but the track is not closed: its packets play, with the silence
		// frames at their end, and a seek plays them again.
		src := pipeline.OpenFile(filepath.Join(testutil.Root(t), "testdata", "prog.opus"))
		tr, err := pipeline.NewTrack(&closeAfter{src: src, n: 20000}, pipeline.WithName("half"))
		require.NoError(t, err)
		defer tr.Close()
		<-tr.Done()
		closed(t, tr.Err())
		p := tr.NewPlayer()
		defer p.Close()
		got, silence, err := drain(t, p)
		closed(t, err)
		assert.NotEmpty(t, got)
		assert.Equal(t, 5, silence, "the silence frames at the end")
		require.NoError(t, p.Seek(context.Background(), 0))
		again, _, _ := drain(t, p)
		assert.Len(t, again, len(got), "a seek plays it again")
	})
	t.Run("cursor of a closed track", func(t *testing.T) {
		tr, err := pipeline.NewTrack(bytes.NewReader(data))
		require.NoError(t, err)
		ready(t, tr)
		require.NoError(t, tr.Close())
		_, err = tr.NewCursor().Next()
		closed(t, err)
	})
	t.Run("closed player", func(t *testing.T) {
		tr, err := pipeline.NewTrack(bytes.NewReader(data))
		require.NoError(t, err)
		defer tr.Close()
		p := tr.NewPlayer()
		require.NoError(t, p.Close())
		_, err = p.Next()
		closed(t, err)
		assert.ErrorIs(t, err, pipeline.ErrPlayerClosed)
	})
	t.Run("closed library", func(t *testing.T) {
		lib := pipeline.NewLibrary(pipeline.WithOpener(newOpener(t, "a").open))
		p, err := lib.Play(context.Background(), pipeline.Key{Source: "a"})
		require.NoError(t, err)
		defer p.Close()
		require.NoError(t, lib.Close())
		_, _, err = drain(t, p)
		closed(t, err)
		_, err = lib.Get(context.Background(), pipeline.Key{Source: "a"})
		closed(t, err)
		assert.ErrorIs(t, err, pipeline.ErrLibraryClosed)
	})
	t.Run("closed PCMReader", func(t *testing.T) {
		tr, err := pipeline.NewTrack(bytes.NewReader(data))
		require.NoError(t, err)
		defer tr.Close()
		r, err := tr.NewPCMReader()
		require.NoError(t, err)
		require.NoError(t, r.Close())
		_, err = r.Read(make([]byte, 4096))
		closed(t, err)
	})
	sources := map[string]func(t *testing.T) io.ReadCloser{
		"file": func(t *testing.T) io.ReadCloser {
			return pipeline.OpenFile(filepath.Join(testutil.Root(t), "testdata", "prog_48000.mp3"))
		},
		"seeker": func(t *testing.T) io.ReadCloser { return pipeline.NewSeekerSource(bytes.NewReader(data)) },
		"command": func(t *testing.T) io.ReadCloser {
			return pipeline.NewCommandSource(exec.Command("cat", filepath.Join(testutil.Root(t), "testdata", "prog_48000.mp3")))
		},
		"http": func(t *testing.T) io.ReadCloser {
			return pipeline.OpenHTTP(context.Background(), "http://127.0.0.1:1/never-asked")
		},
	}
	for name, open := range sources {
		t.Run("closed "+name+" source", func(t *testing.T) {
			s := open(t)
			require.NoError(t, s.Close())
			_, err := s.Read(make([]byte, 1))
			closed(t, err)
		})
	}
}

// closeAfter reads src and closes it once n bytes have been read: its
// owner closing it under the track.
type closeAfter struct {
	src io.ReadCloser
	n   int
}

func (c *closeAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.src.Close()
	}
	n, err := c.src.Read(p)
	c.n -= n
	return n, err
}
