//go:build cgo

package webrtcsink_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// loadTrack returns the test track, whole in the cache.
func loadTrack(t *testing.T, opts ...pipeline.TrackOption) *pipeline.Track {
	f, err := os.Open("../../../testdata/prog_48000.mp3")
	require.NoError(t, err)
	tr, err := pipeline.NewTrack(f, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { tr.Close() })
	<-tr.Done()
	require.NoError(t, tr.Err())
	return tr
}

// trackPackets returns the sound packets of a whole track, copied.
func trackPackets(t *testing.T, tr *pipeline.Track) [][]byte {
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

// runOf returns where got starts in want, failing unless got is want's
// packets from there on, each exactly, in order, with none lost.
func runOf(t *testing.T, want, got [][]byte) int {
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
