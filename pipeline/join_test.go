//go:build cgo

package pipeline_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// joinWait bounds every wait for a join or a track: generous, for a
// loaded machine; no test measures time.
const joinWait = 60 * time.Second

// joinSide is a finished track and what its packets decode to in
// continuous play, per channel, pre-skip included.
type joinSide struct {
	tr   *pipeline.Track
	pre  int64 // pre-skip
	n    int64 // true length
	u    int64 // packet duration
	ch   int
	pcm  [][]float64
	name string
}

func newJoinSide(t *testing.T, name string, src []byte, opts ...pipeline.TrackOption) *joinSide {
	t.Helper()
	tr := newTrack(t, bytes.NewReader(src), opts...)
	select {
	case <-tr.Done():
	case <-time.After(joinWait):
		t.Fatal("the track did not end")
	}
	require.NoError(t, tr.Err())
	x, ok := tr.Index()
	require.True(t, ok)
	ch := tr.Metadata().Channels
	return &joinSide{tr: tr, pre: x.PreSkip(), n: x.DurationSamples(), u: x.Uniform(), ch: ch,
		pcm: decodeStream(t, ch, packets(t, tr)), name: name}
}

// decodeStream decodes packets with one decoder of ch channels, as a
// receiver does, per channel, full scale 1.
func decodeStream(t *testing.T, ch int, packets [][]byte) [][]float64 {
	t.Helper()
	dec, err := libopus.NewPacketDecoder(ch)
	require.NoError(t, err)
	out := make([][]float64, ch)
	for _, p := range packets {
		pcm, err := dec.Decode(p)
		require.NoError(t, err)
		for i, v := range pcm {
			out[i%ch] = append(out[i%ch], float64(v)/32768)
		}
	}
	return out
}

// f32 is raw f32le stereo PCM at 48 kHz.
var f32 = transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}

// tone is frames of f32le PCM of ch channels: a sine of freq Hz and peak
// amp, at its phase of sample from (so that tones of one frequency made
// from two places follow each other), channel c a radian further.
func tone(ch, from, frames int, freq, amp float64) []byte {
	b := make([]byte, 4*ch*frames)
	for i := range frames {
		for c := range ch {
			v := amp * math.Sin(2*math.Pi*freq*float64(from+i)/48000+float64(c))
			binary.LittleEndian.PutUint32(b[4*(i*ch+c):], math.Float32bits(float32(v)))
		}
	}
	return b
}

// whiteNoise is frames of white f32le stereo PCM at 48 kHz, uniform, of RMS
// rms, from seed.
func whiteNoise(seed uint64, frames int, rms float64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, 8*frames)
	for i := range 2 * frames {
		v := rms * math.Sqrt(3) * (2*rng.Float64() - 1)
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	}
	return b
}

// ready waits for a's join into b with fade, and returns it.
func readyJoin(t *testing.T, a, b *joinSide, fade time.Duration) pipeline.JoinPlan {
	t.Helper()
	select {
	case <-pipeline.PrepareJoin(a.tr, b.tr, fade):
	case <-time.After(joinWait):
		t.Fatal("the join was not made")
	}
	p, ok := pipeline.JoinNow(a.tr, b.tr, fade)
	require.True(t, ok, "ready once its channel is closed")
	return p
}

// joined is what a receiver hears of a stream that plays a, a join and b,
// with a's pre-skip dropped, per channel.
type joined struct {
	plan  pipeline.JoinPlan
	heard [][]float64
	bAt   int64 // where b's true start is heard: a's length - fade + shift
	endA  int64 // where a's own packets end, heard
	intoB int64 // where b's own packets take over, heard
	fade  int64
}

func playJoin(t *testing.T, a, b *joinSide, plan pipeline.JoinPlan, fade time.Duration) joined {
	t.Helper()
	stream, err := pipeline.JoinedPackets(a.tr, b.tr, plan)
	require.NoError(t, err)
	ch := max(a.ch, b.ch)
	pcm := decodeStream(t, ch, stream)
	for c := range pcm {
		pcm[c] = pcm[c][a.pre:]
	}
	L := opus.Samples(fade)
	bAt := a.n - L + plan.Shift
	return joined{plan: plan, heard: pcm, bAt: bAt, fade: L,
		endA:  int64(plan.ALast+1)*a.u - a.pre,
		intoB: bAt + int64(plan.BFirst)*b.u - b.pre}
	// b's packet BFirst is heard where b's sample BFirst*u - pre-skip is
}

// checkLength checks that the stream gives a's length and b's, less the
// fade, plus the join's shift, to b's true end (its padding after it);
// the shift within half a packet, and none where the tracks' lengths and
// pre-skips put b on a's packet grid.
func checkLength(t *testing.T, a, b *joinSide, j joined) {
	t.Helper()
	padB := int64(len(b.pcm[0])) - b.pre - b.n
	heard := int64(len(j.heard[0])) - padB
	assert.Equal(t, a.n+b.n-j.fade+j.plan.Shift, heard, "samples heard to b's end")
	if j.plan.Cut {
		return
	}
	assert.LessOrEqual(t, 2*abs(j.plan.Shift), a.u, "shift %d within half a packet", j.plan.Shift)
	if (a.pre+a.n-j.fade-b.pre)%a.u == 0 {
		assert.Zero(t, j.plan.Shift, "b on a's grid: exact")
		assert.Equal(t, a.n+b.n-j.fade, heard, "exactly a's length and b's, less the fade")
	}
}

func abs(x int64) int64 { return max(x, -x) }

// checkContent checks what is heard against each track's own decode:
// a's exactly to where its packets end (the same packets through the same
// decoder), b's at its place after its packets take over (another
// decoder's state: within minSNR, after three packets). It returns b's
// SNR.
func checkContent(t *testing.T, a, b *joinSide, j joined, minSNR float64) float64 {
	t.Helper()
	for c := range a.ch {
		assert.Equal(t, a.pcm[c][a.pre:a.pre+j.endA], j.heard[c][:j.endA], "a's audio as its own packets decode, channel %d", c)
	}
	from := j.intoB + 3*b.u
	to := j.bAt + b.n
	worst := math.Inf(1)
	for c := range b.ch {
		ref := b.pcm[c][b.pre+from-j.bAt : b.pre+to-j.bAt]
		got := j.heard[c][from:to]
		worst = min(worst, testutil.SNR(ref, got, 0, len(ref)))
	}
	assert.GreaterOrEqual(t, worst, minSNR, "b's audio at its place after the join")
	return worst
}

// joinExcess is the seam bound across a join: the peak heard from 10 ms
// before the transition to 60 ms after b's packets take over, in dB over
// the louder side (200 ms of a before its end, b from its start to 200
// ms after the take-over, each as decoded in continuous play), peaks
// under -40 dBFS counted as -40 dBFS.
func joinExcess(a, b *joinSide, heard [][]float64, endA, intoB, bAt int64) float64 {
	peakOf := func(x [][]float64, from, to int64) float64 {
		m := 0.0
		for _, ch := range x {
			for _, v := range ch[max(from, 0):min(to, int64(len(ch)))] {
				m = max(m, math.Abs(v))
			}
		}
		return m
	}
	heardPeak := peakOf(heard, endA-480, intoB+2880)
	side := max(peakOf(a.pcm, a.pre+a.n-seamSide, a.pre+a.n), peakOf(b.pcm, b.pre, b.pre+intoB-bAt+seamSide), 0.01)
	return testutil.DB(heardPeak / side)
}

// TestJoinGapless joins tracks end to start, without a fade: every sample
// of each heard, in order, b at its place (exactly, where its packets
// fall on a's grid), and no click (the seam bound), where the tracks'
// packets sent as they are would click.
func TestJoinGapless(t *testing.T) {
	musicSrc := func(*testing.T) []byte { return music() }
	fixture := func(name string) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return testutil.Fixture(t, name) }
	}
	raw := []pipeline.TrackOption{pipeline.WithRawPCM(f32)}
	// An Ogg Opus file of another track than prog.opus: a tone that
	// starts loud, encoded here and written as Ogg Opus.
	oggTone := func(t *testing.T) []byte {
		tr := newTrack(t, bytes.NewReader(tone(2, 0, 30011, 1000, 0.5)), raw...)
		<-tr.Done()
		require.NoError(t, tr.Err())
		data, _ := testutil.FramedToOgg(t, tr.Catcher(), 48000)
		return data
	}
	for _, tc := range []struct {
		name         string
		a, b         func(t *testing.T) []byte
		aOpts, bOpts []pipeline.TrackOption
		minSNR       float64
		clicks       bool // the tracks' packets sent as they are break the bound
	}{
		{"tones", func(*testing.T) []byte { return tone(2, 0, 48000+317, 440, 0.5) },
			func(*testing.T) []byte { return tone(2, 0, 36011, 1000, 0.5) }, raw, raw, 20, true},
		{"tones on the grid", func(*testing.T) []byte { return tone(2, 0, 48000, 440, 0.5) },
			func(*testing.T) []byte { return tone(2, 0, 36000, 1000, 0.5) }, raw, raw, 20, true},
		{"ogg opus", fixture("prog.opus"), oggTone, nil, nil, 20, true},
		{"mp3", fixture("prog_cbr128.mp3"), fixture("prog_22050_mono.mp3"), nil, nil, 20, false},
		{"mp3 into a tone", fixture("prog_48000.mp3"), func(*testing.T) []byte { return tone(2, 0, 24007, 1000, 0.5) }, nil, raw, 20, true},
		{"music", musicSrc, fixture("prog_vbr.mp3"), raw, nil, 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newJoinSide(t, "a", tc.a(t), tc.aOpts...)
			b := newJoinSide(t, "b", tc.b(t), tc.bOpts...)
			plan := readyJoin(t, a, b, 0)
			require.False(t, plan.Cut, "a join, not a cut: %v", plan.Err)
			j := playJoin(t, a, b, plan, 0)
			checkLength(t, a, b, j)
			snr := checkContent(t, a, b, j, tc.minSNR)
			excess := joinExcess(a, b, j.heard, j.endA, j.intoB, j.bAt)
			assert.LessOrEqual(t, excess, seamBound, "the seam bound across the join")

			// The tracks' packets sent as they are, for comparison.
			cut := decodeStream(t, a.ch, append(packets(t, a.tr), packets(t, b.tr)...))
			for c := range cut {
				cut[c] = cut[c][a.pre:]
			}
			endA := int64(len(a.pcm[0])) - a.pre
			naive := joinExcess(a, b, cut, endA, endA, endA+b.pre)
			if tc.clicks {
				assert.Greater(t, naive, seamBound, "the test sees the click of packets sent as they are")
			}
			t.Logf("%s: %d+%d samples, shift %d, %d transition packets; b's SNR %.1f dB; peak over the louder side %+.1f dB (packets as they are: %+.1f dB)",
				tc.name, a.n, b.n, plan.Shift, len(plan.Packets), snr, excess, naive)
		})
	}
}

// levels returns the RMS of both channels of x in frames of n samples
// over [from, to), in dB.
func levels(x [][]float64, from, to, n int64) []float64 {
	var out []float64
	for s := from; s+n <= to; s += n {
		var sum float64
		for _, ch := range x {
			for _, v := range ch[s : s+n] {
				sum += v * v
			}
		}
		out = append(out, 10*math.Log10(sum/float64(n*int64(len(x)))))
	}
	return out
}

// TestJoinCrossfade crossfades a second of uncorrelated noise: the stream
// is a's length + b's - the fade (+ the join's shift), b at its place
// after, and the level through the fade, in 20 ms frames, within
// crossfadeBound of the sides' (equal power holds it for uncorrelated
// material; a linear fade dips 3 dB at the middle). Where equal power's
// gains would take the mix above the louder side's peak (the same tone
// in phase on both sides, two tones whose peaks meet, as the example's
// tracks do), the join keeps the seam bound through the fade, and the
// level at the middle is logged.
func TestJoinCrossfade(t *testing.T) {
	const (
		crossfadeBound = 1.0 // dB
		fade           = time.Second
	)
	raw := pipeline.WithRawPCM(f32)
	t.Run("uncorrelated", func(t *testing.T) {
		a := newJoinSide(t, "a", whiteNoise(1, 3*48000+123, 0.1), raw)
		b := newJoinSide(t, "b", whiteNoise(2, 2*48000+45, 0.1), raw)
		plan := readyJoin(t, a, b, fade)
		require.False(t, plan.Cut, "a join, not a cut: %v", plan.Err)
		j := playJoin(t, a, b, plan, fade)
		checkLength(t, a, b, j)
		snr := checkContent(t, a, b, j, 10)
		L := j.fade
		side := (testutil.RMS(a.pcm[0], int(a.pre+a.n-L-24000), int(a.pre+a.n-L)) + testutil.RMS(b.pcm[0], int(b.pre+L), int(b.pre+L+24000))) / 2
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, l := range levels(j.heard, j.bAt-4800, j.bAt+L+4800, 960) {
			d := l - testutil.DB(side)
			lo, hi = min(lo, d), max(hi, d)
			assert.InDelta(t, 0, d, crossfadeBound, "the level through the fade against the sides'")
		}
		t.Logf("fade of %d samples (made %d, shift %d): level through it %+.2f to %+.2f dB of the sides'; b's SNR %.1f dB; %d transition packets",
			L, plan.Mixed, plan.Shift, lo, hi, snr, len(plan.Packets))
	})
	L := int(opus.Samples(fade))
	for _, tc := range []struct {
		name string
		a, b []byte
		fade time.Duration
	}{
		// b on a's grid, heard where its tone goes on from a's.
		{"correlated", tone(2, 0, 2*48000, 440, 0.25), tone(2, 2*48000-L, 2*48000, 440, 0.25), fade},
		// The example's tones, 1 kHz into 440 Hz, at its 300 ms.
		{"tones", tone(2, 0, 48000+117, 1000, 0.5), tone(2, 0, 48000, 440, 0.5), 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newJoinSide(t, "a", tc.a, raw)
			b := newJoinSide(t, "b", tc.b, raw)
			plan := readyJoin(t, a, b, tc.fade)
			require.False(t, plan.Cut, "a join, not a cut: %v", plan.Err)
			j := playJoin(t, a, b, plan, tc.fade)
			checkLength(t, a, b, j)
			excess := joinExcess(a, b, j.heard, j.endA, j.intoB, j.bAt)
			assert.LessOrEqual(t, excess, seamBound, "the seam bound through the fade")
			side := testutil.DB((testutil.RMS(a.pcm[0], int(a.pre+a.n-j.fade-4800), int(a.pre+a.n-j.fade)) +
				testutil.RMS(b.pcm[0], int(b.pre+j.fade), int(b.pre+j.fade+4800))) / 2)
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, l := range levels(j.heard, j.bAt, j.bAt+j.fade, 960) {
				lo, hi = min(lo, l-side), max(hi, l-side)
			}
			t.Logf("%s: peak over the louder side %+.2f dB; level through the fade %+.2f to %+.2f dB of the sides'", tc.name, excess, lo, hi)
		})
	}
}

// TestJoinShared makes one join for two streams asking for it at once:
// one encode, in one slot of a's Pool, the same packets lent to both.
func TestJoinShared(t *testing.T) {
	pool := pipeline.NewPool(1)
	opts := []pipeline.TrackOption{pipeline.WithRawPCM(f32), pipeline.WithPool(pool)}
	a := newJoinSide(t, "a", whiteNoise(3, 48000+5, 0.1), opts...)
	b := newJoinSide(t, "b", whiteNoise(4, 48000, 0.1), opts...)
	grants := pool.Stats().Grants
	plans := make([]pipeline.JoinPlan, 2)
	var wg sync.WaitGroup
	for i := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-pipeline.PrepareJoin(a.tr, b.tr, 300*time.Millisecond):
			case <-time.After(joinWait):
				return
			}
			plans[i], _ = pipeline.JoinNow(a.tr, b.tr, 300*time.Millisecond)
		}()
	}
	wg.Wait()
	for _, p := range plans {
		require.NotEmpty(t, p.Packets, "made")
		require.False(t, p.Cut, "a join, not a cut: %v", p.Err)
	}
	assert.Same(t, &plans[0].Packets[0][0], &plans[1].Packets[0][0], "the same packets lent to both")
	assert.EqualValues(t, 1, pipeline.JoinEncodes(a.tr), "encoded once")
	assert.EqualValues(t, 1, pool.Stats().Grants-grants, "in one slot of the pool")
	other, _ := pipeline.JoinNow(a.tr, b.tr, 0)
	assert.True(t, other.Cut, "another fade is another join, not ready at once")
}

// TestJoinNotReady asks for a join whose b has not started encoding: a
// cut at once, not a wait; the join is made once b's first packets are,
// and closing b drops it from a's cache.
func TestJoinNotReady(t *testing.T) {
	a := newJoinSide(t, "a", tone(2, 0, 48000, 440, 0.5), pipeline.WithRawPCM(f32))
	pr, pw := io.Pipe()
	b := newTrack(t, pr, pipeline.WithRawPCM(f32))
	asked := make(chan pipeline.JoinPlan, 1)
	go func() {
		p, ready := pipeline.JoinNow(a.tr, b, 0)
		assert.False(t, ready)
		asked <- p
	}()
	var p pipeline.JoinPlan
	select {
	case p = <-asked:
	case <-time.After(joinWait):
		t.Fatal("joinNow waited for b")
	}
	assert.True(t, p.Cut, "not ready: a cut")
	assert.ErrorIs(t, p.Err, pipeline.ErrJoinNotReady)
	x, _ := a.tr.Index()
	assert.Equal(t, x.Packets()-1, p.ALast, "a's packets to its last")

	go func() {
		pw.Write(tone(2, 0, 24000, 1000, 0.5))
		pw.Close()
	}()
	select {
	case <-pipeline.PrepareJoin(a.tr, b, 0):
	case <-time.After(joinWait):
		t.Fatal("the join was not made")
	}
	p, ready := pipeline.JoinNow(a.tr, b, 0)
	require.True(t, ready)
	assert.False(t, p.Cut, "a join once b's first packets are encoded: %v", p.Err)
	assert.Equal(t, 1, pipeline.JoinsCached(a.tr))
	before := a.tr.Resident()

	require.NoError(t, b.Close())
	assert.Eventually(t, func() bool { return pipeline.JoinsCached(a.tr) == 0 }, joinWait, 10*time.Millisecond, "dropped when b closes")
	assert.Less(t, a.tr.Resident(), before, "its bytes no longer counted")
}

// TestJoinUnderWayAtClose closes a while its join waits for b: the
// background work ends (goleak checks), and a join asked of a closed
// track is a cut.
func TestJoinUnderWayAtClose(t *testing.T) {
	a := newJoinSide(t, "a", tone(2, 0, 48000, 440, 0.5), pipeline.WithRawPCM(f32))
	pr, _ := io.Pipe()
	b := newTrack(t, pr, pipeline.WithRawPCM(f32))
	ready := pipeline.PrepareJoin(a.tr, b, 0)
	require.NoError(t, a.tr.Close())
	select {
	case <-ready:
	case <-time.After(joinWait):
		t.Fatal("the join under way did not end with a's Close")
	}
	p, ok := pipeline.JoinNow(a.tr, b, 0)
	assert.True(t, ok)
	assert.True(t, p.Cut)
	assert.ErrorIs(t, p.Err, pipeline.ErrClosed)
}

// TestJoinCut: tracks whose packets cannot be joined (mono into stereo,
// 10 ms packets into 20 ms ones) are cut: a's packets to its last, a
// silence frame in place of b's first packet, b's from its second; what
// is heard is that, b at its place from its second packet. The first
// packet after the silence frame is no louder than the louder side with
// 20 ms packets; with 10 ms ones it comes out about 1.2 dB louder (the
// cut's onset, as a player's jump without a transition has it), which it
// logs.
func TestJoinCut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bOpts   []pipeline.TrackOption
		bounded bool
	}{
		{"mono into stereo", []pipeline.TrackOption{pipeline.WithChannels(1)}, true},
		{"10 ms packets into 20 ms", []pipeline.TrackOption{pipeline.WithFrameDuration(10 * time.Millisecond)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newJoinSide(t, "a", tone(2, 0, 48000+100, 440, 0.5), pipeline.WithRawPCM(f32))
			b := newJoinSide(t, "b", tone(2, 0, 24000, 1000, 0.5), append(tc.bOpts, pipeline.WithRawPCM(f32))...)
			plan := readyJoin(t, a, b, 0)
			require.True(t, plan.Cut)
			assert.ErrorIs(t, plan.Err, pipeline.ErrJoinMismatch)
			x, _ := a.tr.Index()
			assert.Equal(t, x.Packets()-1, plan.ALast, "all of a's packets")
			assert.Equal(t, 1, plan.BFirst)
			require.Len(t, plan.Packets, 1)

			j := playJoin(t, a, b, plan, 0)
			checkLength(t, a, b, j)
			from := j.bAt + b.u - b.pre // b's second packet, heard
			silent := 0.0
			for _, ch := range j.heard {
				for _, v := range ch[j.endA+a.u/4 : j.endA+b.u] { // after the overlap of a's last frame
					silent = max(silent, math.Abs(v))
				}
			}
			assert.Less(t, testutil.DB(silent), -40.0, "a silence frame in place of b's first packet")
			var snr float64
			if b.ch == 2 {
				snr = checkContent(t, a, b, j, 20)
			} else {
				snr = testutil.SNR(b.pcm[0][b.pre+from-j.bAt+3*b.u:], j.heard[0][from+3*b.u:], 0, int(b.n-(from-j.bAt)-3*b.u))
				assert.GreaterOrEqual(t, snr, 20.0, "b's audio at its place")
			}
			excess := joinExcess(a, b, j.heard, j.endA, from, j.bAt)
			if tc.bounded {
				assert.LessOrEqual(t, excess, seamBound)
			}
			t.Logf("%s: shift %d, b's SNR %.1f dB, peak over the louder side %+.1f dB", tc.name, plan.Shift, snr, excess)
		})
	}
}
