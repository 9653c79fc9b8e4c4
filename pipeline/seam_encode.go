package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// seamFade is the crossfade of a transition, in samples at 48 kHz: linear,
// so that it never exceeds the larger of its two sides.
const seamFade = 480

// seamOverlap is CELT's MDCT overlap (2.5 ms): a crossfade starts after
// it, so that the first transition frame overlaps the receiver's last one
// on the same audio.
const seamOverlap = 120

// seamSlack is how far above the louder side a transition may take the
// receiver's audio, in its check, before the one through silence is
// tried.
const seamSlack = 0.25 // dB

// encodeSeam encodes the transition packets for a jump from packet from
// (or seamFromSilence, seamFromStart) to packet to; see seam.go.
//
// The transition is first made to follow the receiver's decoder (warmed
// up on the track before the jump), and checked: the receiver's path is
// decoded (the track's packets up to from, the transition, the track's
// next packets) and its peak compared with the two sides'. The warm-up
// matches the receiver's state when the track was encoded by this
// library's encoder (the same libopus); a track encoded elsewhere (Ogg Opus
// input from another libopus) may have left the receiver in another
// state, and the check finds it too loud. Then the transition goes through
// silence instead: a silence frame first, which sets every decoder's
// energies to the same floor whatever came before, then the target faded
// in by an encoder in that same state. It costs a gap of one packet, but
// it cannot overshoot.
func (t *Track) encodeSeam(from, to int) ([][]byte, error) {
	x, ok := t.Index()
	if !ok {
		return nil, errSeamNotReady
	}
	u := x.Uniform()
	switch u {
	case 120, 240, 480, 960, 1920, 2880:
	default:
		return nil, fmt.Errorf("pipeline: no seams for packets of varying or unusual durations (%d)", u)
	}
	if to+int(seamFrames(seamTime, u))+1 > x.Packets() && !x.Done() || to < x.First() || to >= x.Packets() {
		return nil, errSeamNotReady
	}
	own := trackSpan{t, x}
	return t.encodeTransition(x, own, own, from, to)
}

// packetSpan is a stream of packets on a track's grid (packet i starts
// where the track's packet i does), as a transition reads one side of its
// jump: the track's own packets, or a segment's (see segment.go).
type packetSpan interface {
	// spanPackets returns packets [i, j), lent.
	spanPackets(i, j int) ([][]byte, error)
	// decode decodes to the samples [s0, s1) of the decoded stream
	// (pre-skip included), as decodeSpan does; errSeamNotReady if the
	// packets are not there.
	decode(ch int, s0, s1 int64) ([]float32, error)
}

// trackSpan is a track's own packets as a packetSpan.
type trackSpan struct {
	t *Track
	x framed.Index
}

func (s trackSpan) spanPackets(i, j int) ([][]byte, error) { return s.t.packets(s.x, i, j) }

func (s trackSpan) decode(ch int, s0, s1 int64) ([]float32, error) {
	return s.t.decodeSpan(s.x, ch, s0, s1)
}

// encodeTransition encodes the transition packets for a jump from packet
// from of a (or seamFromSilence, seamFromStart) to packet to of b, both
// on the grid of x, the track's index, which holds the entries of both
// packets: a seam's (a and b the track itself), or the way from a
// segment back onto the track (see segment.go).
func (t *Track) encodeTransition(x framed.Index, a, b packetSpan, from, to int) ([][]byte, error) {
	u := x.Uniform()
	m := t.Metadata()
	if m.Channels != 1 && m.Channels != 2 {
		return nil, fmt.Errorf("pipeline: no seams for %d channels", m.Channels)
	}
	s := seamEncoding{cfg: trackConfig{channels: m.Channels, frame: opus.Duration(u), app: opus.AppLowDelay, bitrate: m.Bitrate, cbr: t.cfg.cbr}}
	if s.cfg.bitrate == 0 { // Ogg Opus input: the packets' own rate around the seam
		s.cfg.bitrate = t.seamBitrate(x, to, int(seamFrames(seamTime, u)))
	}
	enc, err := newEncoder(s.cfg) // checks the settings, and that there is an encoder
	if err != nil {
		return nil, err
	}
	s.D = enc.PreSkip()
	// The candidates, in order of preference: following the receiver,
	// warmed up for seamWarmTime, with a transition of seamTime, then twice
	// as long (the longer a transition, the closer its encoder's state to
	// the track's when the track's packets take over, which matters at low
	// bitrates), then warmed up for twice and half as long; then through
	// silence, for seamTime and twice as long.
	var (
		best     [][]byte
		bestOver = math.Inf(1)
		bestGap  bool
	)
	for _, c := range []struct {
		gap        bool
		warm, long int64 // samples of warm-up and of transition
	}{
		{false, seamWarmTime, seamTime},
		{false, seamWarmTime, 2 * seamTime},
		{false, 2 * seamWarmTime, seamTime},
		{false, seamWarmTime / 2, seamTime},
		{true, seamWarmTime, seamTime},
		{true, seamWarmTime, 2 * seamTime},
	} {
		if c.gap && from < 0 {
			continue // from silence already
		}
		p, err := t.transition(x, s, a, b, from, to, c.gap, c.warm, c.long)
		if err != nil {
			return nil, err
		}
		over, err := t.overshoot(x, s, a, b, from, to, p)
		if err != nil {
			return nil, err
		}
		if over < bestOver {
			best, bestOver, bestGap = p, over, c.gap
		}
		if over <= seamSlack {
			break
		}
	}
	if bestGap {
		t.seams.gaps.Add(1)
	}
	return best, nil
}

// seamFrames is the packets of u samples that last at least n samples.
func seamFrames(n, u int64) int64 { return max(1, (n+u-1)/u) }

// seamEncoding is how a track's transitions are encoded: the encoder's
// settings (channels, packet duration, bitrate, ...) and its lookahead D.
type seamEncoding struct {
	cfg trackConfig
	D   int64
}

// channels is the transitions' channels, the track's.
func (s seamEncoding) channels() int { return s.cfg.channels }

// frame is the transitions' packet duration in samples, the track's.
func (s seamEncoding) frame() int64 { return opus.Samples(s.cfg.frame) }

// transition encodes a transition from packet from (or seamFromSilence,
// seamFromStart) to packet to, after warm samples of warm-up, lasting at
// least long samples; through silence, if gap.
//
// In the decoded stream's samples (pre-skip included), let E be where the
// receiver's audio stopped (the end of packet from) and S where it goes
// (the start of packet to). The transition encoder is given, for frames of
// the track's packet duration u, the audio it should put out: W frames of
// the track before E (or silence), then a crossfade from the track after
// E into the track from S, for k frames. An Opus encoder's output lags its
// input by its lookahead D, so its input is that audio D samples ahead;
// its first W packets are dropped, the next k are the transition. Their
// state when they end is, within quantisation, the track's encoder's after
// packet to+k-1, from which the track's own packets go on. Through
// silence, the warm-up and the first frame are silent (the first packet
// is then a silence frame), and the target fades in after it.
func (t *Track) transition(x framed.Index, s seamEncoding, a, b packetSpan, from, to int, gap bool, warm, long int64) ([][]byte, error) {
	ch, u, D := int64(s.channels()), s.frame(), s.D
	W := seamFrames(warm, u)
	fadeAt := int64(seamOverlap)
	if from == seamFromStart {
		W, fadeAt = 0, D // a new encoder puts out D samples of silence first
	}
	if gap {
		fadeAt += u // after the silence frame
	}
	// The transition lasts seamTime, and at least until the crossfade is
	// done, so that the track's own packets follow the target alone.
	k := seamFrames(max(long, fadeAt+seamFade), u)
	if gap {
		k = seamFrames(fadeAt+max(long, seamFade), u)
	}
	frames := W + k
	out := make([]float32, (frames*u+D)*ch) // what the encoder should put out
	var cont []float32                      // the track after E, to fade from
	if from >= 0 && !gap {
		if from < x.First() || from >= x.Packets() {
			return nil, errSeamNotReady
		}
		e := x.Entry(from)
		E := e.Start + e.Samples
		av, err := a.decode(s.channels(), E-W*u, E+seamFade+fadeAt)
		if err != nil {
			return nil, err
		}
		copy(out, av[:W*u*ch])
		cont = av[W*u*ch:]
	}
	S := x.Entry(to).Start
	bv, err := b.decode(s.channels(), S, S+k*u+D)
	if err != nil {
		return nil, err
	}
	tail := out[W*u*ch:]
	for i := range int64(len(bv)) / ch {
		w := float32(min(max(i-fadeAt, 0), seamFade)) / seamFade
		for c := range ch {
			j := i*ch + c
			var av float32
			if j < int64(len(cont)) {
				av = cont[j]
			}
			tail[j] = (1-w)*av + w*bv[j]
		}
	}

	packets, err := s.encode(t.ctx, out, W, frames)
	if err != nil {
		return nil, err
	}
	if gap {
		// A silence frame whatever the encoder made of silence: the
		// reset must not depend on its choice.
		packets[0] = silenceFrame(s.channels(), u)
	}
	return packets, nil
}

// encode encodes out, the audio a transition encoder should put out
// (frames packets of its duration, then its lookahead D: its input is out
// D samples ahead), and returns the packets after the first W, the
// warm-up's; errSeamNotReady once ctx is done (the track is closed).
func (s seamEncoding) encode(ctx context.Context, out []float32, W, frames int64) ([][]byte, error) {
	ch, u := int64(s.channels()), s.frame()
	enc, err := newEncoder(s.cfg)
	if err != nil {
		return nil, err
	}
	in := make([]byte, 2*frames*u*ch)
	for i, v := range out[s.D*ch : (frames*u+s.D)*ch] {
		binary.LittleEndian.PutUint16(in[2*i:], uint16(toS16(v)))
	}
	r := bytes.NewReader(in)
	packets := make([][]byte, 0, frames-W)
	for f := range frames {
		if ctx.Err() != nil {
			return nil, errSeamNotReady
		}
		p, err := enc.NextPacket(r)
		if err != nil {
			return nil, err
		}
		if f >= W {
			packets = append(packets, bytes.Clone(p))
		}
	}
	return packets, nil
}

// silenceFrame is a CELT silence frame of u samples for ch channels: its
// table of contents (CELT fullband, the frame's duration) and the silence
// flag.
func silenceFrame(ch int, u int64) []byte {
	config := map[int64]byte{120: 28, 240: 29, 480: 30, 960: 31}[u]
	code := byte(0)
	frames := 1
	if u > 960 { // 40 or 60 ms: two or three 20 ms frames of the same size (code 1, code 3)
		config = 31
		frames = int(u / 960)
	}
	toc := config<<3 | byte(ch-1)<<2
	switch frames {
	case 1:
		return []byte{toc | code, 0xff, 0xfe}
	case 2:
		return []byte{toc | 1, 0xff, 0xfe, 0xff, 0xfe}
	default:
		return []byte{toc | 3, byte(frames), 0xff, 0xfe, 0xff, 0xfe, 0xff, 0xfe}
	}
}

// overshoot decodes what a receiver hears through a transition p from
// packet from to packet to (the track's packets up to from, p, the track's
// next packets) and returns, in dB, how far its peak is above the larger
// of the two sides' peaks (100 ms of the track before E, and the track
// from S for as long as the transition and a little after, as decoded in
// continuous play); peaks under -40 dBFS count as -40 dBFS.
func (t *Track) overshoot(x framed.Index, s seamEncoding, as, bs packetSpan, from, to int, p [][]byte) (float64, error) {
	S, u := x.Entry(to).Start, s.frame()
	after := int64(len(p) + 3)
	b, err := bs.decode(s.channels(), S, S+after*u)
	if err != nil {
		return 0, err
	}
	var (
		a      []float32 // the side before the jump; none from silence or the start
		before [][]byte  // what the receiver decoded before the jump
	)
	switch {
	case from >= 0:
		e := x.Entry(from)
		E := e.Start + e.Samples
		if a, err = as.decode(s.channels(), E-4800, E); err != nil {
			return 0, err
		}
		if before, err = as.spanPackets(max(from-int(seamFrames(2*opus.PreRoll, u)), x.First()), from+1); err != nil {
			return 0, err
		}
	case from == seamFromSilence: // a player's silence frames
		for range opus.SilenceFrames {
			before = append(before, silence)
		}
	}
	next, err := bs.spanPackets(to+len(p), min(to+int(after), x.Packets()))
	if err != nil {
		return 0, err
	}
	heard, err := heardPeak(s.channels(), before, p, next)
	if err != nil {
		return 0, err
	}
	return 20 * math.Log10(heard/max(peakOf(a), peakOf(b), math.Pow(10, -40.0/20))), nil
}

// heardPeak decodes with one decoder, as a receiver does, the packets
// before (to set its state), then p and after, and returns the peak of
// what p and after decode to, full scale 1.
func heardPeak(ch int, before, p, after [][]byte) (float64, error) {
	heard, err := heardLevels(ch, before, p, after)
	m := 0.0
	for _, l := range heard {
		m = max(m, l.peak)
	}
	return m, err
}

// level is the peak and the RMS of some audio, full scale 1.
type level struct{ peak, rms float64 }

// heardLevels is heardPeak packet by packet: the level of each of p and
// after, as decoded.
func heardLevels(ch int, before, p, after [][]byte) ([]level, error) {
	dec, err := newPacketDecoder(ch)
	if err != nil {
		return nil, err
	}
	for _, data := range before {
		if _, err := dec.Decode(data); err != nil {
			return nil, err
		}
	}
	heard := make([]level, 0, len(p)+len(after))
	for _, data := range slices.Concat(p, after) {
		pcm, err := dec.Decode(data)
		if err != nil {
			return nil, err
		}
		var l level
		for _, v := range pcm {
			x := float64(v) / 32768
			l.peak, l.rms = max(l.peak, math.Abs(x)), l.rms+x*x
		}
		l.rms = math.Sqrt(l.rms / float64(max(len(pcm), 1)))
		heard = append(heard, l)
	}
	return heard, nil
}

// peakOf is the largest absolute value of samples.
func peakOf(samples []float32) float64 { return levelOf(samples).peak }

// levelOf is the level of samples.
func levelOf(samples []float32) level {
	var l level
	for _, v := range samples {
		x := float64(v)
		l.peak, l.rms = max(l.peak, math.Abs(x)), l.rms+x*x
	}
	l.rms = math.Sqrt(l.rms / float64(max(len(samples), 1)))
	return l
}

// packets returns packets [i, j) of the track, lent from the cache.
func (t *Track) packets(x framed.Index, i, j int) ([][]byte, error) {
	out := make([][]byte, 0, max(j-i, 0))
	for ; i < j; i++ {
		data, err := t.packet(x, i)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}

// packet returns packet i's data, lent from the cache; errSeamNotReady
// if it is no longer there (a live window moved on, the track closed).
func (t *Track) packet(x framed.Index, i int) ([]byte, error) {
	e := x.Entry(i)
	data, err := t.c.View(e.Offset+framed.PrefixSize, e.Size)
	if err != nil {
		return nil, errSeamNotReady
	}
	return data, nil
}

// decodeSpan decodes the track's packets to the samples [s0, s1) of the
// decoded stream (pre-skip included), interleaved, as floats in [-1, 1]:
// the packets from twice the Opus pre-roll before s0 (or the oldest a live
// track keeps), so that the decoder's state has settled, with silence
// where there are no packets (before the first, after the last of a
// finished track).
func (t *Track) decodeSpan(x framed.Index, ch int, s0, s1 int64) ([]float32, error) {
	out := make([]float32, (s1-s0)*int64(ch))
	dec, err := newPacketDecoder(ch)
	if err != nil {
		return nil, err
	}
	u := x.Uniform()
	first := max(int(max(s0-2*opus.PreRoll, 0)/u), x.First())
	for i := first; i < x.Packets(); i++ {
		e := x.Entry(i)
		if e.Start >= s1 {
			break
		}
		data, err := t.packet(x, i)
		if err != nil {
			return nil, err
		}
		pcm, err := dec.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("pipeline: seam: packet %d: %w", i, err)
		}
		for j := range int64(len(pcm) / ch) {
			s := e.Start + j
			if s < s0 || s >= s1 {
				continue
			}
			for c := range int64(ch) {
				out[(s-s0)*int64(ch)+c] = float32(pcm[j*int64(ch)+c]) / 32768
			}
		}
	}
	if last := x.Packets() - 1; !x.Done() && (last < 0 || x.Entry(last).Start+x.Entry(last).Samples < s1) {
		return nil, errSeamNotReady
	}
	return out, nil
}

// seamBitrate is the bitrate of the k packets from to, for a transition of
// a track whose bitrate is not set (Ogg Opus input): at least 32 kbit/s.
func (t *Track) seamBitrate(x framed.Index, to, k int) int {
	var bytes, samples int64
	for i := to; i < min(to+k, x.Packets()); i++ {
		e := x.Entry(i)
		bytes += int64(e.Size)
		samples += e.Samples
	}
	if samples == 0 {
		return 128000
	}
	return int(min(max(bytes*8*48000/samples, 32000), 512000))
}

// toS16 converts a sample in [-1, 1] to 16 bits, clipped.
func toS16(v float32) int16 {
	return int16(max(-32768, min(32767, math.Round(float64(v)*32768))))
}
