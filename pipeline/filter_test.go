//go:build cgo

package pipeline_test

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// filterOpener is an opener of "mp3" (prog_48000.mp3, which a track
// encodes) and "ogg" (prog.opus, which a track frames as it is unless it
// filters it).
func filterOpener(t *testing.T) *opener {
	o := newOpener(t, "mp3")
	o.data["ogg"] = testutil.Fixture(t, "prog.opus")
	return o
}

// decoded returns the finished track of h decoded to 48 kHz float stereo.
func decoded(t *testing.T, h *pipeline.Hold) []float32 {
	t.Helper()
	finished(t, h)
	r, err := h.Track().NewPCMReader(pipeline.WithPCMFormat(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}))
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// levelDB is the RMS level of x in dB.
func levelDB(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return 10 * math.Log10(s/float64(len(x)))
}

// residualDB is the level of y - g*x against that of g*x, in dB: how far
// y is from x scaled by g, sample by sample.
func residualDB(x, y []float32, g float64) float64 {
	var e, s float64
	for i := range min(len(x), len(y)) {
		d := float64(y[i]) - g*float64(x[i])
		e += d * d
		s += g * float64(x[i]) * g * float64(x[i])
	}
	return 10 * math.Log10(e/s)
}

// getFinished gets the track of key and waits for its end.
func getFinished(t *testing.T, lib *pipeline.Library, key pipeline.Key) *pipeline.Hold {
	t.Helper()
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	t.Cleanup(h.Release)
	finished(t, h)
	return h
}

// Two spellings of one chain are one key: one load, one encode, one
// track; no chain (or one of filters at their "off" settings) is another.
func TestLibraryFilterSpellingsShareEncode(t *testing.T) {
	o := filterOpener(t)
	lib := newLibrary(t, o)
	a := pipeline.Key{Source: "mp3", Filters: "volume:volume=0.5;timescale:speed=1.25"}
	b := pipeline.Key{Source: "mp3", Filters: "rotation:rotationHz=0;timescale:speed=1.250,pitch=1;volume:volume=5e-1"}
	assert.Equal(t, a.String(), b.String())
	assert.Equal(t, a.StoreName(), b.StoreName())
	assert.Contains(t, a.String(), ` filters="timescale:speed=1.25;volume:volume=0.5"`)

	ha := getFinished(t, lib, a)
	hb := getFinished(t, lib, b)
	assert.Same(t, ha.Track(), hb.Track())
	st := lib.Stats()
	assert.Equal(t, int64(1), st.Loads)
	assert.Equal(t, int64(1), st.Encodes)
	assert.Equal(t, int64(1), st.Hits)
	assert.Equal(t, 1, st.Tracks)
	assert.Equal(t, 1, o.count("mp3"))

	off := pipeline.Key{Source: "mp3", Filters: "volume:volume=1;karaoke:level=0"}
	h := getFinished(t, lib, pipeline.Key{Source: "mp3"})
	assert.Same(t, h.Track(), getFinished(t, lib, off).Track())
	assert.NotSame(t, ha.Track(), h.Track())
	st = lib.Stats()
	assert.Equal(t, int64(2), st.Loads)
	assert.Equal(t, int64(2), st.Encodes)
	assert.Equal(t, 2, o.count("mp3"))
}

// A key without filters reads, and is stored, as it did before keys had
// filters: stores written then stay valid.
func TestLibraryKeyWithoutFiltersStoreName(t *testing.T) {
	for _, k := range []pipeline.Key{{Source: "a"}, {Source: "a", Filters: "volume"}, {Source: "a", Filters: "equalizer:3=0"}} {
		assert.Equal(t, `source="a" bitrate=128000 frame=20ms channels=2 quality=high cbr=false application=0`, k.String())
		assert.Equal(t, "c332fb011a3e1477b5558147d9cf40aa", k.StoreName())
	}
}

// Filters that ParseChain refuses are refused by Get, before any load.
func TestLibraryFilterRefused(t *testing.T) {
	o := filterOpener(t)
	lib := newLibrary(t, o)
	for _, f := range []string{"volume:volume=-1", "loud", "volume:gain=2", "volume;volume"} {
		_, err := lib.Get(context.Background(), pipeline.Key{Source: "mp3", Filters: f})
		assert.ErrorIs(t, err, transform.ErrFilterParam, f)
	}
	lib.Preload(pipeline.Key{Source: "mp3", Filters: "loud"})
	assert.Zero(t, lib.Stats().Loads)
	assert.Zero(t, o.count("mp3"))
}

// A filtered variant is the source's audio as the filters make it, for
// input that is encoded (MP3) and for input framed as it is without
// filters (Ogg Opus), which is then decoded and encoded again: volume 0.5
// is 6 dB down from the unfiltered track; a timescale of speed 1.25 lasts
// 1/1.25 of it.
func TestLibraryFilteredAudio(t *testing.T) {
	for _, src := range []string{"mp3", "ogg"} {
		t.Run(src, func(t *testing.T) {
			o := filterOpener(t)
			lib := newLibrary(t, o)
			plain := getFinished(t, lib, pipeline.Key{Source: src})
			half := getFinished(t, lib, pipeline.Key{Source: src, Filters: "volume:volume=0.5"})
			fast := getFinished(t, lib, pipeline.Key{Source: src, Filters: "timescale:speed=1.25"})

			st := lib.Stats()
			if src == "ogg" {
				assert.Equal(t, int64(1), st.Copies, "the unfiltered track framed as it is")
				assert.Equal(t, int64(2), st.Encodes, "the filtered ones encoded")
			} else {
				assert.Equal(t, int64(3), st.Encodes)
			}

			p, v := decoded(t, plain), decoded(t, half)
			require.NotEmpty(t, p)
			assert.InDelta(t, len(p), len(v), 2, "volume keeps the length")
			gain := levelDB(v) - levelDB(p)
			t.Logf("volume 0.5: %.2f dB", gain)
			assert.InDelta(t, 20*math.Log10(0.5), gain, 0.5)
			res := residualDB(p, v, 0.5)
			t.Logf("volume 0.5 against the unfiltered track halved: %.1f dB", res)
			assert.Less(t, res, -15.0, "in time with the unfiltered track, sample by sample (the pre-skip dropped)")

			pd, exact := plain.Track().Duration()
			require.True(t, exact)
			fd, exact := fast.Track().Duration()
			require.True(t, exact)
			t.Logf("speed 1.25: %v from %v", fd, pd)
			assert.InDelta(t, float64(pd)/1.25, float64(fd), float64(30*time.Millisecond))
			f := decoded(t, fast)
			assert.InDelta(t, float64(len(p))/1.25, float64(len(f)), 2*0.030*48000)
			assert.InDelta(t, levelDB(p), levelDB(f), 1.5, "the timescale keeps the level")
		})
	}
}

// A filtered variant is stored like any encoding and read back, under any
// spelling of its chain, without an encode or an open of its source.
func TestLibraryFilteredStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	store, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o := filterOpener(t)
	lib := newLibrary(t, o, pipeline.WithStore(store))
	key := pipeline.Key{Source: "ogg", Filters: "timescale:speed=1.25;volume:volume=0.5"}
	h := getFinished(t, lib, key)
	want := playAll(t, h)
	wantDur, _ := h.Track().Duration()
	wantPCM := decoded(t, h)
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	require.NoError(t, lib.Close())

	store2, err := pipeline.NewDirStore(dir, 0)
	require.NoError(t, err)
	o2 := newOpener(t) // no source: it must not be opened
	lib2 := newLibrary(t, o2, pipeline.WithStore(store2))
	h2 := getFinished(t, lib2, pipeline.Key{Source: "ogg", Filters: "volume:volume=.5;timescale:speed=1.25,rate=1"})
	assert.Equal(t, want, playAll(t, h2), "identical packets")
	dur, exact := h2.Track().Duration()
	assert.True(t, exact)
	assert.Equal(t, wantDur, dur)
	assert.Equal(t, wantPCM, decoded(t, h2))
	st := lib2.Stats()
	assert.Equal(t, int64(1), st.DiskHits)
	assert.Zero(t, st.Encodes)
	assert.Zero(t, o2.count("ogg"))

	// The unfiltered key is another entry, not in the store.
	_, err = lib2.Get(context.Background(), pipeline.Key{Source: "ogg"})
	assert.Error(t, err, "not stored; its source not there")
}
