// Package tracktest holds the test helpers of the packages that play a
// whole track to a sink: the test track, its packets, and the check that
// what a listener got is the track's packets from where it joined.
package tracktest

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// Load returns the test track (testdata/prog_48000.mp3: 151 packets of 20
// ms), whole in the cache; it is closed when the test ends.
func Load(t testing.TB, opts ...pipeline.TrackOption) *pipeline.Track {
	t.Helper()
	tr, err := pipeline.NewTrack(bytes.NewReader(testutil.Fixture(t, "prog_48000.mp3")), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	<-tr.Done()
	require.NoError(t, tr.Err())
	return tr
}

// Packets returns the sound packets of a whole track as a player gives
// them from its start, copied.
func Packets(t testing.TB, tr *pipeline.Track) [][]byte {
	t.Helper()
	p := tr.NewPlayer()
	defer p.Close()
	var want [][]byte
	for {
		pkt, err := p.Next()
		if err == io.EOF {
			return want
		}
		require.NoError(t, err)
		if !pkt.Silence {
			want = append(want, bytes.Clone(pkt.Data))
		}
	}
}

// RunOf returns where got starts in want, failing unless got is want's
// packets from there on, each exactly, in order, with none lost.
func RunOf(t testing.TB, want, got [][]byte) int {
	t.Helper()
	require.NotEmpty(t, got)
	for i := range want {
		if bytes.Equal(want[i], got[0]) && len(want)-i == len(got) {
			assert.Equal(t, want[i:], got, "every packet from the join on, exactly, to the end")
			return i
		}
	}
	t.Fatalf("the %d packets received are not the end of the track", len(got))
	return -1
}
