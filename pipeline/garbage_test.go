package pipeline_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// A track of an MP3 makes less than a tenth of the garbage with the
// package's own decoder than with go-mp3 (which allocates per frame):
// the bytes allocated by a whole NewTrack of the 3 s fixture, once the
// process's tables are made (the first track of each), the smallest of
// three.
func TestTrackGarbage(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	allocated := func(e mp3.Engine) uint64 {
		one := func() {
			tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithMP3Engine(e))
			require.NoError(t, err)
			<-tr.Done()
			require.NoError(t, tr.Err())
			require.NoError(t, tr.Close())
		}
		one()
		least := ^uint64(0)
		for range 3 {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			one()
			runtime.ReadMemStats(&m1)
			least = min(least, m1.TotalAlloc-m0.TotalAlloc)
		}
		return least
	}
	native, gomp3 := allocated(mp3.Native), allocated(mp3.GoMP3)
	t.Logf("bytes allocated by a track: %d with mp3.Native, %d with go-mp3 (%.1f%%)", native, gomp3, 100*float64(native)/float64(gomp3))
	assert.Less(t, native, gomp3/10)
}
