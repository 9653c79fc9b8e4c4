//go:build !cgo

package pipeline_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/internal/tracktest"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// TestWithoutCgo is the package built without cgo, as
// TestBuildsWithoutCgo runs it: Ogg Opus and WebM play, framed as they
// are; input that must be encoded fails at once with ErrNoLibopus, and so
// does reading a track as PCM.
func TestWithoutCgo(t *testing.T) {
	waitDone := func(t *testing.T, tr *pipeline.Track) {
		t.Helper()
		select {
		case <-tr.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("the track did not end")
		}
	}

	t.Run("ogg opus plays", func(t *testing.T) {
		data := testutil.Fixture(t, "prog.opus")
		want := oggPackets(t, data)
		require.NotEmpty(t, want)
		tr := newTrack(t, bytes.NewReader(data))
		waitDone(t, tr)
		require.NoError(t, tr.Err())
		assert.Equal(t, want, tracktest.Packets(t, tr), "every packet of the file, as it is")

		r, err := tr.NewPCMReader()
		require.NoError(t, err)
		defer r.Close()
		_, err = r.Read(make([]byte, 4096))
		assert.ErrorIs(t, err, pipeline.ErrNoLibopus, "decoding to PCM needs libopus")
		assert.ErrorContains(t, err, "CGO_ENABLED=0")
	})

	t.Run("a join is a cut", func(t *testing.T) {
		a := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog.opus")))
		b := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog.webm")))
		waitDone(t, a)
		waitDone(t, b) // the join waits for b's first packets only; its packets are all read below
		select {
		case <-pipeline.PrepareJoin(a, b, 0):
		case <-time.After(30 * time.Second):
			t.Fatal("the join was not made")
		}
		p, ready := pipeline.JoinNow(a, b, 0)
		require.True(t, ready)
		assert.True(t, p.Cut, "no transition without an encoder")
		assert.ErrorIs(t, p.Err, pipeline.ErrNoLibopus)
		x, _ := a.Index()
		assert.Equal(t, x.Packets()-1, p.ALast, "all of a's packets")
		assert.Equal(t, 1, p.BFirst, "a silence frame in place of b's first")
		stream, err := pipeline.JoinedPackets(a, b, p)
		require.NoError(t, err)
		assert.Len(t, stream, x.Packets()+len(tracktest.Packets(t, b)), "a's packets, the silence frame, b's from its second")
	})

	t.Run("webm plays", func(t *testing.T) {
		data := testutil.Fixture(t, "prog.webm")
		want := webmPackets(t, data)
		require.NotEmpty(t, want)
		tr := newTrack(t, bytes.NewReader(data))
		waitDone(t, tr)
		require.NoError(t, tr.Err())
		assert.Equal(t, want, tracktest.Packets(t, tr), "every packet of the file, as it is")
	})

	for _, c := range []struct {
		name string
		data []byte
		opts []pipeline.TrackOption
	}{
		{"mp3", testutil.Fixture(t, "prog_48000.mp3"), nil},
		{"wav", testutil.Fixture(t, "tone_s16_44100_1.wav"), nil},
		{"raw", testutil.Tone(48000, 2, 4800, 440, 0.5), []pipeline.TrackOption{
			pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE})}},
	} {
		t.Run(c.name+" is refused", func(t *testing.T) {
			tr := newTrack(t, bytes.NewReader(c.data), c.opts...)
			waitDone(t, tr)
			err := tr.Err()
			assert.ErrorIs(t, err, pipeline.ErrNoLibopus)
			assert.ErrorContains(t, err, "Opus encoding needs libopus (cgo); this program was built with CGO_ENABLED=0")
			p := tr.NewPlayer()
			defer p.Close()
			var perr error
			for range 10 { // its silence frames, then the error
				if _, perr = p.Next(); perr != nil {
					break
				}
			}
			assert.ErrorIs(t, perr, pipeline.ErrNoLibopus, "a player gets the track's error")
		})
	}
}
