package webm_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// starts returns each packet's first sample, the pre-skip included.
func starts(t *testing.T, ps [][]byte) []int64 {
	t.Helper()
	out := make([]int64, len(ps))
	var s int64
	for i, p := range ps {
		out[i] = s
		n, err := opus.PacketSamples(p)
		require.NoError(t, err)
		s += n
	}
	return out
}

// TestReadCues: ffmpeg's Cues (one a Cluster, found through the
// SeekHead) and mkvmerge's (TimestampScale 20832 ns, some pointing inside
// a Cluster) are read in order, and Seek starts at the right Cluster with
// the file's packets from there on.
func TestReadCues(t *testing.T) {
	for _, c := range []struct {
		file   string
		points int
		slack  int64 // samples: the timestamps' precision
	}{
		{"prog.webm", 7, 48},      // ffmpeg: Clusters of 0.5 s, ms timestamps rounded
		{"prog_laced.mka", 6, 48}, // mkvmerge: 20832 ns ticks, but from ffmpeg's; cues inside Clusters too
	} {
		t.Run(c.file, func(t *testing.T) {
			data := testutil.Fixture(t, c.file)
			full, err := demux(webm.NewOpusDemuxer(), bytes.NewReader(data))
			require.NoError(t, err)
			st := starts(t, full)

			cues, err := webm.ReadCues(bytes.NewReader(data))
			require.NoError(t, err)
			require.Len(t, cues, c.points)
			assert.Zero(t, cues[0].Sample)
			for i, cp := range cues {
				if i > 0 {
					assert.Greater(t, cp.Time, cues[i-1].Time)
					assert.GreaterOrEqual(t, cp.Offset, cues[i-1].Offset)
				}
				assert.InDelta(t, cp.Time.Seconds()*48000, float64(cp.Sample), 0.5)
			}
			// Seeking to t starts at the last Cluster at or before t less
			// the pre-roll; its packets are the file's from the packet at
			// the sample Seek gives.
			for _, at := range []time.Duration{0, 100 * time.Millisecond, 600 * time.Millisecond, 1234 * time.Millisecond, 2990 * time.Millisecond, time.Hour, -time.Second} {
				r := bytes.NewReader(data)
				d, start, err := webm.Seek(r, at)
				require.NoError(t, err)
				got, err := demux(d, r)
				require.NoError(t, err)
				require.NotEmpty(t, got)
				i := nearest(st, start)
				assert.InDelta(t, st[i], start, float64(c.slack), "at %v: the sample of the first packet", at)
				assert.Equal(t, full[i:], got, "at %v: the packets from packet %d on", at, i)
				target := opus.Samples(max(at, 0)) + 312
				assert.LessOrEqual(t, start, max(0, target-opus.PreRoll), "at %v: the pre-roll before t", at)
				// the last cue at or before the pre-roll was taken
				k := 0
				for k+1 < len(cues) && cues[k+1].Sample <= target-opus.PreRoll {
					k++
				}
				assert.LessOrEqual(t, start, cues[k].Sample, "at %v", at)
				if k+1 < len(cues) {
					assert.Greater(t, cues[k+1].Offset, cues[k].Offset-1, "at %v", at)
				}
				assert.InDelta(t, cues[k].Sample, start, float64(opus.Samples(700*time.Millisecond)), "at %v: the Cluster of the cue before t, not an earlier one", at)
				info, ok := d.Info()
				require.True(t, ok)
				assert.Equal(t, uint16(312), info.Head.PreSkip)
			}
		})
	}
}

// nearest is the index of the start nearest s.
func nearest(st []int64, s int64) int {
	best := 0
	for i, v := range st {
		if abs(v-s) < abs(st[best]-s) {
			best = i
		}
	}
	return best
}

func abs(v int64) int64 { return max(v, -v) }

// TestNoCues: files without Cues, live recordings.
func TestNoCues(t *testing.T) {
	for _, name := range []string{"prog_mono_pipe.webm", "prog_unknownsize.webm", "prog_xiph.webm"} {
		t.Run(name, func(t *testing.T) {
			_, err := webm.ReadCues(bytes.NewReader(testutil.Fixture(t, name)))
			assert.ErrorIs(t, err, webm.ErrNoCues)
			_, _, err = webm.Seek(bytes.NewReader(testutil.Fixture(t, name)), time.Second)
			assert.ErrorIs(t, err, webm.ErrNoCues)
		})
	}
	_, err := webm.ReadCues(bytes.NewReader(testutil.Fixture(t, "prog_vorbis.webm")))
	assert.ErrorIs(t, err, webm.ErrUnsupported)
}

// TestCuesAfterClusters: Cues found without a SeekHead, after the
// Clusters, skipped by their sizes.
func TestCuesAfterClusters(t *testing.T) {
	data := bytes.Clone(testutil.Fixture(t, "prog.webm"))
	// The SeekHead's entry for the Cues made to name a Cluster instead.
	i := bytes.Index(data, []byte{0x53, 0xAB, 0x84, 0x1C, 0x53, 0xBB, 0x6B})
	require.Positive(t, i, "the SeekHead's entry for the Cues")
	data[i+3] = 0x1F // SeekID now names a Cluster: no Cues in the SeekHead
	want, err := webm.ReadCues(bytes.NewReader(testutil.Fixture(t, "prog.webm")))
	require.NoError(t, err)
	got, err := webm.ReadCues(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
