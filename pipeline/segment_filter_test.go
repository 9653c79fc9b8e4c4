//go:build cgo

package pipeline_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

func mp3Source(t *testing.T) []byte  { return longMP3(t, filterTestLength()) }
func oggSource(t *testing.T) []byte  { b, _ := longOggOpus(t, filterTestLength()); return b }
func webmSource(t *testing.T) []byte { b, _ := longWebM(t, filterTestLength()); return b }
func wavSource(t *testing.T) []byte  { return longWAV(t, filterTestLength(), 44100) }

// A seek past what a filtered track has encoded plays from a segment
// encoded from the target, the filters applied: at the target's packet
// (a silence frame in its place), its packets at their exact positions,
// before the track's own encode is there. At volume 0.5 its audio is
// the unfiltered track's halved at the same positions (-6 dB, sample by
// sample); with a timescale of speed 1.25 the target's source position
// is scaled (15 s of the filtered audio is 18.75 s of the source; 7.5 s,
// 9.375 s with -short) and its
// audio is the variant's own at those positions. Ogg Opus and WebM input,
// which a filtered track decodes and encodes again, have such segments
// too: the source's packets found by page or by Cues, decoded, filtered,
// encoded.
func TestQueueSeekAheadFiltered(t *testing.T) {
	for _, tc := range []struct {
		name, chain string
		data        func(t *testing.T) []byte
		head        int
	}{
		// The heads: about 6 s of each (128 kbit/s MP3, prog.opus's 70
		// kbit/s), short of the target.
		{"volume", "volume:volume=0.5", mp3Source, 100 << 10},
		{"timescale", "timescale:speed=1.25", mp3Source, 100 << 10},
		{"ogg volume", "volume:volume=0.5", oggSource, 50 << 10},
		{"webm timescale", "timescale:speed=1.25", webmSource, 50 << 10},
		// A program that tells one place from another seconds away
		// (prog's repeats every 3 s): a source position not scaled
		// shows. 200 KB of it is about a second.
		{"wav timescale", "timescale:speed=1.25", wavSource, 200 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &heldOpener{data: tc.data(t), head: tc.head, released: make(chan struct{})}
			released := false
			defer func() {
				if !released {
					close(o.released)
				}
			}()
			lib := pipeline.NewLibrary(pipeline.WithOpener(o.open))
			defer lib.Close()
			key := pipeline.Key{Source: "long", Filters: tc.chain}
			q := pipeline.NewQueue(lib)
			defer q.Close()
			id := q.Enqueue(key)
			first := nextPacket(t, q)
			target := filterTestLength() / 2
			q.Seek(id, target)
			var played []pipeline.Packet
			before := first.Position
			for len(played) < 150 {
				pk := nextPacket(t, q)
				if len(played) == 0 && pk.Position == before+960 {
					before = pk.Position
					require.Less(t, before, int64(60*48000), "the seek made within 60 s of audio played on")
					continue
				}
				played = append(played, pk)
			}
			h, err := lib.Get(context.Background(), key)
			require.NoError(t, err)
			defer h.Release()
			x, _ := h.Track().Index()
			pre, u := x.PreSkip(), int64(960)
			i0 := (int64(target/time.Millisecond)*48 + pre) / u
			assert.Less(t, int64(x.Packets()), i0, "the track's own encode is not there")
			assert.Equal(t, int64(1), pipeline.SegmentsMade(h.Track()))
			assert.True(t, played[0].Silence, "a silence frame in place of the target's packet")
			for k, pk := range played {
				require.Equal(t, (i0+int64(k))*u-pre, pk.Position, "packet %d after the jump at its exact position", k)
			}

			close(o.released)
			released = true
			select {
			case <-h.Track().Done():
			case <-time.After(5 * time.Minute):
				t.Fatal("track not finished")
			}
			require.NoError(t, h.Track().Err())
			datas := make([][]byte, len(played))
			for k, pk := range played {
				datas[k] = pk.Data
			}
			rx := decodeAll(t, datas)
			at := int(i0 * u) // where rx[0] is in the tracks' decoded streams
			from, to := 10*int(u), len(rx)
			ref := decodeAll(t, packets(t, h.Track()))
			if !strings.Contains(tc.chain, "timescale") {
				// Filters that keep the time: sample for sample.
				lag, corr := testutil.BestLag(ref[at:], rx, from, to, 960)
				t.Logf("segment against the variant's own audio: lag %d, correlation %.4f", lag, corr)
				assert.InDelta(t, 0, lag, 48, "the segment's audio at the variant's positions (within 1 ms)")
				assert.Greater(t, corr, 0.9)
			} else {
				// A time-stretch started afresh places its windows from its
				// own start, each within its search (10 ms) of the track's:
				// its waveform is the variant's moved by up to that, its
				// phase not the same. Its level, packet by packet, is the
				// variant's at the same positions.
				lag, corr := testutil.BestLag(ref[at:], rx, from, to, 960)
				t.Logf("segment against the variant's own audio: lag %d, correlation %.4f", lag, corr)
				assert.InDelta(t, 0, lag, 480, "the segment's audio at the variant's positions (within the stretch's search)")
				env := envelopeCorrelation(ref[at+from:at+to], rx[from:to], int(u))
				t.Logf("levels packet by packet against the variant's: correlation %.4f", env)
				assert.Greater(t, env, 0.9, "the segment's levels are the variant's at the same positions")
			}
			if tc.name == "ogg volume" {
				snr := testutil.SNR(ref[at:at+len(rx)], rx, from, to)
				t.Logf("against the variant: SNR %.1f dB", snr)
				assert.Greater(t, snr, 15.0, "the segment's audio is the variant's")
			}
			if tc.name == "volume" {
				snr := testutil.SNR(ref[at:at+len(rx)], rx, from, to)
				t.Logf("against the variant: SNR %.1f dB", snr)
				assert.Greater(t, snr, 15.0, "the segment's audio is the variant's")
				plain, err := lib.Get(context.Background(), pipeline.Key{Source: "long"})
				require.NoError(t, err)
				defer plain.Release()
				finished(t, plain)
				p := decodeAll(t, packets(t, plain.Track()))
				gain := testutil.DB(testutil.RMS(rx, from, to) / testutil.RMS(p[at:at+len(rx)], from, to))
				t.Logf("against the unfiltered track: %.2f dB", gain)
				assert.InDelta(t, 20*math.Log10(0.5), gain, 0.5, "volume 0.5: 6 dB down")
			}
		})
	}
}

// envelopeCorrelation is the correlation of the RMS levels of a and b,
// block by block (n samples a block): how well their loudness goes up and
// down together, whatever their phases.
func envelopeCorrelation(a, b []float64, n int) float64 {
	var ea, eb []float64
	for i := 0; i+n <= min(len(a), len(b)); i += n {
		ea = append(ea, testutil.RMS(a, i, i+n))
		eb = append(eb, testutil.RMS(b, i, i+n))
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	ma, mb := mean(ea), mean(eb)
	var sab, saa, sbb float64
	for i := range ea {
		da, db := ea[i]-ma, eb[i]-mb
		sab, saa, sbb = sab+da*db, saa+da*da, sbb+db*db
	}
	return sab / math.Sqrt(saa*sbb+1e-30)
}
