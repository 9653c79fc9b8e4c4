//go:build cgo

package pipeline_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
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

// The seam bound: at every jump a player makes (a loop, a section's loop,
// a seek, a resume after a pause, a skip to another track), the audio a
// receiver decodes with one decoder for the whole stream does not exceed,
// from 10 ms before the jump to 60 ms after, the larger of the peaks of
// the two sides (200 ms of the track before where the player was, as
// decoded in continuous play and as the receiver heard it, and 200 ms
// from where it goes, as decoded in continuous play) by more than
// seamBound; peaks under -40 dBFS count as -40 dBFS. A side is 200 ms,
// not less, because the peak of a place as decoded varies by about a
// decibel with what the decoder decoded before (CELT fills bands it has
// no bits for with noise from a generator that runs across frames): a
// shorter side would count that as a click.
const (
	seamBound = 1.0  // dB
	seamSide  = 9600 // samples
)

// music is four seconds of music-like stereo f32 PCM at 48 kHz: a chord
// with harmonics under an envelope that changes every quarter second
// between loud and quiet, and some noise: a seam between a loud and a
// quiet place is where a decoder's state matters most.
func music() []byte {
	const rate, frames = 48000, 4 * 48000
	rng := rand.New(rand.NewPCG(7, 11))
	levels := []float64{0.5, 0.04, 0.3, 0.02, 0.6, 0.08, 0.25, 0.45}
	freqs := []float64{196, 246.9, 293.7, 392}
	b := make([]byte, 8*frames)
	for i := range frames {
		t := float64(i) / rate
		env := levels[(i/(rate/4))%len(levels)]
		for c := range 2 {
			v := 0.0
			for k, f := range freqs {
				v += math.Sin(2*math.Pi*f*t*(1+0.002*float64(c))+float64(k)) / float64(k+2)
			}
			v = env * (0.8*v/1.3 + 0.1*(rng.Float64()*2-1))
			binary.LittleEndian.PutUint32(b[4*(2*i+c):], math.Float32bits(float32(v)))
		}
	}
	return b
}

// seamTrack is a finished track and its audio decoded in continuous play
// (the decoded stream, pre-skip included, stereo).
type seamTrack struct {
	name string
	tr   *pipeline.Track
	ref  []float64 // max of the channels' absolute values, per sample
	pre  int64
}

func newSeamTrack(t *testing.T, name string, src []byte, opts ...pipeline.TrackOption) *seamTrack {
	tr := newTrack(t, bytes.NewReader(src), opts...)
	all := packets(t, tr)
	x, ok := tr.Index()
	require.True(t, ok)
	dec, err := libopus.NewPacketDecoder(2)
	require.NoError(t, err)
	st := &seamTrack{name: name, tr: tr, pre: x.PreSkip()}
	for _, p := range all {
		pcm, err := dec.Decode(p)
		require.NoError(t, err)
		st.ref = appendPeaks(st.ref, pcm)
	}
	return st
}

// appendPeaks appends, per stereo sample of pcm, the larger absolute
// value of its channels, full scale 1.
func appendPeaks(dst []float64, pcm []int16) []float64 {
	for i := 0; i+1 < len(pcm); i += 2 {
		dst = append(dst, max(math.Abs(float64(pcm[i])), math.Abs(float64(pcm[i+1])))/32768)
	}
	return dst
}

func peak(x []float64, from, to int) float64 {
	from, to = max(from, 0), min(to, len(x))
	m := 0.0
	for _, v := range x[from:max(from, to)] {
		m = max(m, v)
	}
	return m
}

// seamRun plays a scripted session of many jumps over the tracks through
// one receiver, and returns each jump's excess in dB over the bound's
// reference (the larger side's peak).
type seamRun struct {
	rx    []float64 // what the receiver decoded
	dec   *libopus.PacketDecoder
	seams []seamAt
	prev  *pipeline.Packet // the last packet sent, nil after silence frames
	prevT *seamTrack
	kinds map[string]int
	kind  string
}

type seamAt struct {
	at         int // sample of rx where the jump's first packet starts
	kind       string
	from, into float64 // the sides' peaks
	fromName   string
	intoName   string
	fromPos    int64
	intoPos    int64
}

func (r *seamRun) send(t *testing.T, st *seamTrack, p pipeline.Packet) {
	pcm, err := r.dec.Decode(p.Data)
	require.NoError(t, err)
	if !p.Silence {
		jump := r.prev == nil || r.prevT != st || r.prev.Position+r.prev.Samples != p.Position
		if jump {
			s := seamAt{at: len(r.rx), kind: r.kind, intoName: st.name, intoPos: p.Position}
			into := int(p.Position + st.pre)
			s.into = peak(st.ref, into, into+seamSide)
			if r.prev != nil {
				from := int(r.prev.Position + r.prev.Samples + r.prevT.pre)
				s.from = peak(r.prevT.ref, from-seamSide, from)
				s.fromName, s.fromPos = r.prevT.name, r.prev.Position+r.prev.Samples
			}
			r.seams = append(r.seams, s)
		}
		pk := p
		r.prev, r.prevT = &pk, st
	} else {
		r.prev = nil
	}
	r.rx = appendPeaks(r.rx, pcm)
}

// play sends n times 20 ms of p's packets (less if it ends or pauses).
func (r *seamRun) play(t *testing.T, st *seamTrack, p *pipeline.Player, n int) {
	for given := int64(0); given < int64(n)*960; {
		pk, err := p.Next()
		if err != nil {
			return
		}
		r.send(t, st, pk)
		given += pk.Samples
	}
}

// excess returns each seam's peak over the larger side, in dB.
func (r *seamRun) excess() []float64 {
	floor := math.Pow(10, -40.0/20)
	out := make([]float64, len(r.seams))
	for i, s := range r.seams {
		heard := peak(r.rx, s.at-480, s.at+2880)
		before := peak(r.rx, s.at-seamSide, s.at) // the side before as this receiver heard it
		if s.from == 0 {
			before = 0 // silence frames: the side before is silent
		}
		out[i] = testutil.DB(heard / max(s.from, before, s.into, floor))
	}
	return out
}

// session plays many jumps of every kind over the tracks, the same script
// (seeded) whatever the option.
func session(t *testing.T, tracks []*seamTrack, seed uint64) *seamRun {
	dec, err := libopus.NewPacketDecoder(2)
	require.NoError(t, err)
	r := &seamRun{dec: dec}
	rng := rand.New(rand.NewPCG(seed, 2))
	cur := 0
	st := tracks[cur]
	p := st.tr.NewPlayer()
	defer func() { p.Close() }()
	dur := func(st *seamTrack) time.Duration { d, _ := st.tr.Duration(); return d }
	randPos := func(st *seamTrack) time.Duration {
		return time.Duration(rng.Int64N(int64(dur(st) - 200*time.Millisecond)))
	}
	r.kind = "start"
	r.play(t, st, p, 10)
	for range 60 {
		switch op := rng.IntN(6); op {
		case 0: // seek while playing
			r.kind = "seek"
			require.NoError(t, p.Seek(t.Context(), randPos(st)))
			r.play(t, st, p, 5+rng.IntN(20))
		case 1: // the whole track once more, from near its end
			r.kind = "loop"
			d := dur(st)
			require.NoError(t, p.Seek(t.Context(), d-time.Duration(100+rng.IntN(200))*time.Millisecond))
			p.Loop(1)
			r.play(t, st, p, 25)
			p.Loop(0)
		case 2: // a section, twice more
			r.kind = "section"
			from := randPos(st)
			to := min(from+time.Duration(100+rng.IntN(400))*time.Millisecond, dur(st))
			require.NoError(t, p.Seek(t.Context(), from))
			require.NoError(t, p.LoopSection(from, to, 2))
			r.play(t, st, p, int(3*(to-from)/(20*time.Millisecond))+5)
			p.Loop(0)
		case 3: // pause, resume
			r.kind = "resume"
			p.Pause()
			r.play(t, st, p, 8)
			p.Resume()
			r.play(t, st, p, 5+rng.IntN(10))
		case 4: // pause, seek, resume
			r.kind = "paused seek"
			p.Pause()
			r.play(t, st, p, 8)
			require.NoError(t, p.Seek(t.Context(), randPos(st)))
			p.Resume()
			r.play(t, st, p, 5+rng.IntN(10))
		case 5: // skip to the next track: silence frames, then a new player
			r.kind = "skip"
			p.Pause()
			r.play(t, st, p, 8)
			p.Close()
			cur = (cur + 1) % len(tracks)
			st = tracks[cur]
			p = st.tr.NewPlayer()
			if rng.IntN(2) == 0 {
				require.NoError(t, p.Seek(t.Context(), randPos(st)))
			}
			r.play(t, st, p, 5+rng.IntN(20))
		}
	}
	return r
}

// TestSeamBoundEncodings holds the bound for the encoder's other settings:
// other packet durations, mono, CBR, the low-delay application, a low
// bitrate; on the music-like track and a tone, with and without
// transitions.
func TestSeamBoundEncodings(t *testing.T) {
	f32 := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}
	for _, tc := range []struct {
		name string
		opts []pipeline.TrackOption
	}{
		{"10ms", []pipeline.TrackOption{pipeline.WithFrameDuration(10 * time.Millisecond)}},
		{"60ms", []pipeline.TrackOption{pipeline.WithFrameDuration(60 * time.Millisecond)}},
		{"2.5ms", []pipeline.TrackOption{pipeline.WithFrameDuration(2500 * time.Microsecond)}},
		{"mono", []pipeline.TrackOption{pipeline.WithChannels(1)}},
		{"cbr", []pipeline.TrackOption{pipeline.WithCBR(true)}},
		{"lowdelay", []pipeline.TrackOption{pipeline.WithApplication(opus.AppLowDelay)}},
		{"32k", []pipeline.TrackOption{pipeline.WithBitrate(32000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			worst, jumps, over := 0.0, 0, 0
			for _, seams := range []bool{true} {
				opts := append(slices.Clone(tc.opts), pipeline.WithSeams(seams))
				tracks := []*seamTrack{
					newSeamTrack(t, "music", music(), append(opts, pipeline.WithRawPCM(f32))...),
					newSeamTrack(t, "tone1k", testutil.Fixture(t, "tone1k_s16_48000_2.wav"), opts...),
				}
				r := session(t, tracks, 5)
				for i, e := range r.excess() {
					s := r.seams[i]
					worst = max(worst, e)
					if e > seamBound {
						over++
						assert.Failf(t, "seam over the bound", "%s from %s at %d into %s at %d: %+.1f dB over the louder side (bound %+.1f dB)",
							s.kind, s.fromName, s.fromPos, s.intoName, s.intoPos, e, seamBound)
					}
				}
				jumps += len(r.seams)
			}
			t.Logf("%d jumps, worst %+.1f dB, %d over %+.1f dB", jumps, worst, over, seamBound)
		})
	}
}

func TestSeamBound(t *testing.T) {
	f32 := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}
	sources := []struct {
		name string
		src  []byte
		opts []pipeline.TrackOption
	}{
		{"tone1k_s16_48000_2.wav", testutil.Fixture(t, "tone1k_s16_48000_2.wav"), nil},
		{"tone_s24_44100_2.wav", testutil.Fixture(t, "tone_s24_44100_2.wav"), nil},
		{"prog_48000.mp3", testutil.Fixture(t, "prog_48000.mp3"), nil},
		{"prog.opus", testutil.Fixture(t, "prog.opus"), nil},
		{"music", music(), []pipeline.TrackOption{pipeline.WithRawPCM(f32)}},
	}
	worst := map[bool]float64{}
	over := map[bool]int{}
	type kindKey struct {
		seams bool
		kind  string
	}
	byKind := map[kindKey]float64{}
	jumps := map[bool]int{}
	var kinds []string
	for _, seams := range []bool{false, true} {
		var tracks []*seamTrack
		for _, s := range sources {
			opts := slices.Clone(s.opts)
			if !seams {
				opts = append(opts, pipeline.WithSeams(false))
			}
			tracks = append(tracks, newSeamTrack(t, s.name, s.src, opts...))
		}
		seeds := []uint64{1, 2, 3}
		if testing.Short() {
			seeds = seeds[:1]
		}
		for _, run := range [][]int{{0, 1}, {2, 3}, {4, 0, 2}} {
			var ts []*seamTrack
			for _, i := range run {
				ts = append(ts, tracks[i])
			}
			for _, seed := range seeds {
				r := session(t, ts, seed)
				for i, e := range r.excess() {
					s := r.seams[i]
					worst[seams] = max(worst[seams], e)
					if _, ok := byKind[kindKey{seams, s.kind}]; !ok && seams {
						kinds = append(kinds, s.kind)
					}
					byKind[kindKey{seams, s.kind}] = max(byKind[kindKey{seams, s.kind}], e)
					if e > seamBound {
						over[seams]++
						if seams {
							assert.Failf(t, "seam over the bound", "%s from %s at %v into %s at %v: %+.1f dB over the louder side (bound %+.1f dB)",
								s.kind, s.fromName, time.Duration(s.fromPos)*time.Second/48000, s.intoName, time.Duration(s.intoPos)*time.Second/48000, e, seamBound)
						}
					}
				}
				jumps[seams] += len(r.seams)
			}
		}
	}
	// Decoded to 16 bits, a burst clips at full scale: without transitions
	// the worst is where the -6 dBFS fixtures reach 0 dBFS (+6 dB).
	t.Logf("without transitions: %d jumps, worst %+.1f dB, %d over %+.1f dB", jumps[false], worst[false], over[false], seamBound)
	t.Logf("with transitions:    %d jumps, worst %+.1f dB, %d over %+.1f dB", jumps[true], worst[true], over[true], seamBound)
	for _, k := range kinds {
		t.Logf("  %-12s worst %+5.1f dB without, %+5.1f dB with", k, byKind[kindKey{false, k}], byKind[kindKey{true, k}])
	}
	assert.Positive(t, over[false], "the bound is broken without transitions: the test sees clicks")
}

// At a jump that cannot have a transition (the packets after a live
// track's edge are not there yet), a player sends a silence frame in
// place of the jump's first packet, then the track's packets: a decoder
// after a silence frame gives no packet louder than it was coded.
func TestSeamAtLiveEdge(t *testing.T) {
	r := newLiveRelay(t)
	r.write(0, 20)
	p := r.tr.NewPlayer()
	defer p.Close()
	require.Positive(t, p.SkipToLive())
	first, err := p.Next()
	require.NoError(t, err)
	assert.True(t, first.Silence, "a silence frame first")
	assert.False(t, first.Seam)
	r.write(0, 3)
	for range 3 {
		pk, err := p.Next()
		require.NoError(t, err)
		assert.False(t, pk.Silence || pk.Seam, "then the track's own packets")
		assert.Equal(t, first.Position+first.Samples, pk.Position, "in place of the first: the timeline goes on")
		first = pk
	}
}

// A jump made while the transition of the jump before it is under way (a
// seek one packet after a resume, or after another seek) finds the
// receiver's decoder in the state of a transition packet, not of the
// track's packets that a transition is made from: it goes through a
// silence frame, as a jump without a transition does, and keeps the seam
// bound, where a transition made for the track's packets came out 4 to 6
// dB too loud.
func TestSeamJumpInTransition(t *testing.T) {
	for _, name := range []string{"tone1k_s16_48000_2.wav", "tone_s24_44100_2.wav"} {
		st := newSeamTrack(t, name, testutil.Fixture(t, name))
		for _, tc := range []struct {
			name  string
			first func(t *testing.T, r *seamRun, p *pipeline.Player) // the jump before
		}{
			{"after a resume", func(t *testing.T, r *seamRun, p *pipeline.Player) {
				p.Pause()
				r.play(t, st, p, 1) // one silence frame, then resumed
				p.Resume()
			}},
			{"after a whole pause", func(t *testing.T, r *seamRun, p *pipeline.Player) {
				p.Pause()
				r.play(t, st, p, opus.SilenceFrames+1)
				p.Resume()
			}},
			{"after a seek", func(t *testing.T, r *seamRun, p *pipeline.Player) {
				require.NoError(t, p.Seek(t.Context(), 300*time.Millisecond))
			}},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				dec, err := libopus.NewPacketDecoder(2)
				require.NoError(t, err)
				r := &seamRun{dec: dec}
				p := st.tr.NewPlayer()
				defer p.Close()
				r.play(t, st, p, 10)
				tc.first(t, r, p)
				r.play(t, st, p, 1) // the first packet of its transition
				r.kind = "seek"
				require.NoError(t, p.Seek(t.Context(), 700*time.Millisecond))
				r.play(t, st, p, 10)
				excess := r.excess()
				require.NotEmpty(t, excess)
				for i, e := range excess {
					s := r.seams[i]
					assert.LessOrEqual(t, e, seamBound, "%s from %s at %d into %s at %d: over the louder side", s.kind, s.fromName, s.fromPos, s.intoName, s.intoPos)
				}
				t.Logf("%d jumps, the seek's %+.1f dB over the louder side", len(excess), excess[len(excess)-1])
			})
		}
	}
}
