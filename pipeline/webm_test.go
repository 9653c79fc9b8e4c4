package pipeline_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// webmPackets reads a WebM file's packets with the demuxer.
func webmPackets(t *testing.T, data []byte) [][]byte {
	t.Helper()
	return demuxPackets(t, webm.NewOpusDemuxer(), data)
}

// waitTrack waits for a track to end.
func waitTrack(t *testing.T, tr *pipeline.Track) {
	t.Helper()
	select {
	case <-tr.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the track did not end")
	}
}

// WebM and Matroska with Opus are framed as they are: the packets are the
// file's, the duration exact from the DiscardPadding, no pool slot taken
// (nothing decoded or encoded), and the file's title kept.
func TestWebMTrack(t *testing.T) {
	for _, c := range []struct {
		file     string
		channels int
		title    string
	}{
		{"prog.webm", 2, "Known Title"},
		{"prog_laced.mka", 2, "Known Title"},
		{"prog_unknownsize.webm", 2, "Known Title"},
		{"prog_mono_pipe.webm", 1, ""},
	} {
		t.Run(c.file, func(t *testing.T) {
			data := testutil.Fixture(t, c.file)
			want := webmPackets(t, data)
			require.Len(t, want, 151)
			pool := pipeline.NewPool(1)
			tr := newTrack(t, bytes.NewReader(data), pipeline.WithPool(pool))
			waitTrack(t, tr)
			require.NoError(t, tr.Err())
			assert.Equal(t, want, packets(t, tr), "every packet of the file, as it is")
			d, exact := tr.Duration()
			assert.True(t, exact)
			assert.Equal(t, 3*time.Second, d, "144000 samples: the DiscardPadding honoured")
			assert.Zero(t, pool.Stats().Grants, "no decoding or encoding")

			m := tr.Metadata()
			assert.Equal(t, codec.KindWebM, m.Kind)
			assert.Zero(t, m.Bitrate, "not re-encoded")
			assert.Equal(t, c.channels, m.Channels)
			assert.Equal(t, 20*time.Millisecond, m.Frame)
			assert.Equal(t, c.title, m.Title)
			head, ok := tr.OpusHead()
			require.True(t, ok)
			assert.Equal(t, uint16(312), head.PreSkip)
		})
	}
}

// A WebM of another codec fails, naming it.
func TestWebMNotOpus(t *testing.T) {
	tr := newTrack(t, bytes.NewReader(testutil.Fixture(t, "prog_vorbis.webm")))
	waitTrack(t, tr)
	err := tr.Err()
	assert.ErrorIs(t, err, webm.ErrUnsupported)
	assert.ErrorContains(t, err, "A_VORBIS")
}

// A WebM track in a Library: framed without encoding, played and sought
// by time, written to a DirStore and read back from it, the same.
func TestWebMLibrary(t *testing.T) {
	data := testutil.Fixture(t, "prog.webm")
	want := webmPackets(t, data)
	dir := t.TempDir()
	key := pipeline.Key{Source: "w"}
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o := &opener{data: map[string][]byte{"w": data}, opens: map[string]int{}, fail: map[string]int{}}
	pool := pipeline.NewPool(1)
	lib := newLibrary(t, o, pipeline.WithStore(store), pipeline.WithTrackOptions(pipeline.WithPool(pool)))
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	finished(t, h)
	assert.Equal(t, want, playAll(t, h))
	assert.Zero(t, pool.Stats().Grants, "no pool slot: nothing decoded or encoded")
	st := lib.Stats()
	assert.Zero(t, st.Encodes, "the WebM's packets are not encoded")
	assert.Equal(t, int64(1), st.Copies, "they are framed as they are")
	wantMeta := h.Track().Metadata()
	assert.Equal(t, codec.KindWebM, wantMeta.Kind)
	wantDur, exact := h.Track().Duration()
	require.True(t, exact)
	assert.Equal(t, 3*time.Second, wantDur)

	// Seeks land on the packet that holds the position, the file's.
	p := h.NewPlayer()
	for _, at := range []time.Duration{0, 700 * time.Millisecond, 1500 * time.Millisecond, 2990 * time.Millisecond} {
		require.NoError(t, p.Seek(context.Background(), at))
		pk, err := p.Next()
		require.NoError(t, err)
		assert.LessOrEqual(t, pk.Position, opus.Samples(at), "at %v", at)
		assert.Greater(t, pk.Position+pk.Samples, opus.Samples(at), "at %v: the packet holds the position", at)
		for n := 0; pk.Seam; n++ { // a transition, if any, then the file's packets
			require.Less(t, n, pipeline.SeamPackets+1)
			pk, err = p.Next()
			require.NoError(t, err)
		}
		if pk.Silence {
			continue // the transition ran to the end
		}
		i := int((pk.Position + 312) / 960)
		assert.Equal(t, want[i], pk.Data, "at %v: packet %d", at, i)
	}
	p.Close()
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	require.NoError(t, lib.Close())

	store2, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o2 := newOpener(t) // no source: it must not be opened
	lib2 := newLibrary(t, o2, pipeline.WithStore(store2))
	h2, err := lib2.Get(context.Background(), key)
	require.NoError(t, err)
	defer h2.Release()
	finished(t, h2)
	assert.Equal(t, want, playAll(t, h2), "the same packets from the store")
	st = lib2.Stats()
	assert.Equal(t, int64(1), st.DiskHits)
	assert.Zero(t, st.Encodes)
	assert.Zero(t, st.Copies)
	dur, exact := h2.Track().Duration()
	assert.True(t, exact)
	assert.Equal(t, wantDur, dur)
	assert.Equal(t, wantMeta, h2.Track().Metadata(), "the kind and title kept")
}
