package pipeline

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Sizes of a join, in samples at 48 kHz.
const (
	// joinTail is the least of A's audio a transition gives before its
	// fade (or B): the first transition frame overlaps the receiver's last
	// on A's audio (seamOverlap), and a fade lengthened by a join's shift
	// takes up to half a packet of it.
	joinTail = 1440
	// joinSplice is the crossfade of a splice (see splice).
	joinSplice = 480
)

// A transition frame that a receiver decodes louder than the audio it
// was given, its peak by more than joinLoud (0.5 dB) and its RMS by more
// than joinLouder (0.25 dB: coding noise moves a frame's peak more than
// its RMS), is made quieter by its peak's excess and the transition
// encoded again, joinTries times at most in all.
const (
	joinLoud   = 1.0593
	joinLouder = 1.0292
	joinTries  = 4
)

// joinNeed is how much of B (its decoded samples after its pre-skip) a
// join into it with a crossfade of fade samples decodes, at most: the
// fade, made up to half a packet longer, the longest of B alone in the
// transition, rounded up to B's packet, the encoder's lookahead, and the
// packets after it that the check decodes (60 ms packets at most).
func joinNeed(fade int64) int64 { return fade + 2*seamTime + 5*2880 }

// encodeJoin encodes the join of a's end to b's start with a crossfade of
// fade samples (0: none), both tracks encoded around it (a finished); see
// join.go.
//
// As a seam's transition, it is made for the receiver's decoder warmed up
// on A's packets, and checked by decoding what a receiver hears (A's
// packets, the transition, B's next packets): its peak against the
// larger of the audio's around it (A's before, the joined audio, B's
// after). The candidates differ in their warm-up and in how much of B
// alone the transition gives (the longer, the nearer its encoder's state
// to B's encoder's where B's packets take over); the first within
// seamSlack is kept, else the nearest. There is no candidate through
// silence: a join is gapless, or a cut.
func encodeJoin(ctx context.Context, a, b *Track, fade int64) (*join, error) {
	xa, _ := a.Index()
	xb, _ := b.Index()
	u := xa.Uniform()
	if xb.Uniform() != u {
		return nil, fmt.Errorf("%w: packets of %d and %d samples", errJoinMismatch, u, xb.Uniform())
	}
	switch u {
	case 120, 240, 480, 960, 1920, 2880:
	default:
		return nil, fmt.Errorf("%w: packets of varying or unusual durations (%d)", errJoinMismatch, u)
	}
	ch := a.Metadata().Channels
	mb := b.Metadata()
	if mb.Channels != ch || ch != 1 && ch != 2 {
		return nil, fmt.Errorf("%w: %d channels, then %d", errJoinMismatch, ch, mb.Channels)
	}
	if xa.First() > 0 || xb.First() > 0 {
		return nil, fmt.Errorf("%w: packets no longer kept", errJoinMismatch)
	}
	s := seamEncoding{cfg: trackConfig{channels: ch, frame: opus.Duration(u), app: opus.AppLowDelay, bitrate: mb.Bitrate, cbr: b.cfg.cbr}}
	if s.cfg.bitrate == 0 { // Ogg Opus input: the rate of B's first packets
		s.cfg.bitrate = b.seamBitrate(xb, 0, int(seamFrames(joinNeed(fade), u)))
	}
	enc, err := newEncoder(s.cfg) // checks the settings, and that there is an encoder
	if err != nil {
		return nil, err
	}
	s.D = enc.PreSkip()
	var (
		best     *join
		bestOver = math.Inf(1)
	)
	for _, c := range []struct{ warm, head int64 }{
		{seamWarmTime, seamTime},
		{seamWarmTime, 2 * seamTime},
		{2 * seamWarmTime, seamTime},
		{seamWarmTime / 2, seamTime},
	} {
		j, over, err := joinCandidate(ctx, a, b, xa, xb, s, fade, c.warm, c.head)
		if err != nil {
			if best != nil && ctx.Err() == nil {
				continue // a later shape that does not fit (a short B): the earlier one stands
			}
			return nil, err
		}
		if over < bestOver {
			best, bestOver = j, over
		}
		if over <= seamSlack {
			break
		}
	}
	return best, nil
}

// joinCandidate encodes a join after warm samples of warm-up, with at
// least head samples of B alone before B's packets take over, and returns
// it with its overshoot in dB (see encodeJoin).
//
// In the decoded streams' samples (pre-skip included): A's audio ends at
// endA (its pre-skip and length), B's starts at pB (its pre-skip). A's
// packets are played to aLast, which ends at EA, at least the fade and
// joinTail before endA; B's take over at bFirst, which starts at SB, at
// least the fade, half a packet and head after pB. The transition is k
// packets: the joined audio from EA (A's from EA to endA, B's from pB to
// SB, their last and first fade samples mixed), of k packets less shift
// samples, made k packets long by the fade (made shift samples shorter)
// or by a splice. Its encoder is given W packets of A before EA first,
// and B's audio after SB for its lookahead, as seam transitions are.
func joinCandidate(ctx context.Context, a, b *Track, xa, xb framed.Index, s seamEncoding, fade, warm, head int64) (*join, float64, error) {
	ch, u, D := int64(s.channels()), s.frame(), s.D
	pA, nA := xa.PreSkip(), xa.DurationSamples()
	pB, nB := xb.PreSkip(), xb.DurationSamples()
	endA := pA + nA
	aLast := int((endA-fade-joinTail)/u) - 1
	bFirst := int((pB + fade + u/2 + head + u - 1) / u)
	if fade > nA || fade > nB || aLast < 0 || bFirst >= xb.Packets() {
		return nil, 0, fmt.Errorf("%w: %d and %d samples, for a fade of %d", errJoinShort, nA, nB, fade)
	}
	e := xa.Entry(aLast)
	EA, SB := e.Start+e.Samples, xb.Entry(bFirst).Start
	aT, bH := endA-EA, SB-pB // A's audio in the transition, B's
	total := aT + bH - fade
	k, shift := total/u, -(total % u)
	if 2*(total%u) >= u {
		k, shift = k+1, u-total%u
	}
	mixed, spliced := fade, shift
	if fade > 0 && fade-shift > 0 {
		mixed, spliced = fade-shift, 0
	}

	W := seamFrames(warm, u)
	av, err := a.decodeSpan(xa, int(ch), EA-W*u, endA)
	if err != nil {
		return nil, 0, err
	}
	after := max(D, 3*u) // B after SB: the encoder's lookahead, the packets the check decodes
	bv, err := b.decodeSpan(xb, int(ch), pB, SB+after)
	if err != nil {
		return nil, 0, err
	}
	warmed, aTail := av[:W*u*ch], av[W*u*ch:]
	bHead, bNext := bv[:bH*ch], bv[bH*ch:]
	joined := make([]float32, 0, (aT+bH)*ch)
	joined = append(joined, aTail[:(aT-mixed)*ch]...)
	joined = append(joined, equalPower(aTail[(aT-mixed)*ch:], bHead[:mixed*ch], ch)...)
	joined = append(joined, bHead[mixed*ch:]...)
	limitPeak(joined, ch, max(peakOf(av), peakOf(bv)))
	if spliced != 0 {
		joined = splice(joined, ch, spliced, seamOverlap)
	}
	out := make([]float32, 0, ((W+k)*u+D)*ch)
	out = append(out, warmed...)
	out = append(out, joined...)
	out = append(out, bNext[:D*ch]...)
	before, err := a.packets(xa, max(aLast-int(seamFrames(2*opus.PreRoll, u)), 0), aLast+1)
	if err != nil {
		return nil, 0, err
	}
	next, err := b.packets(xb, bFirst, min(bFirst+3, xb.Packets()))
	if err != nil {
		return nil, 0, err
	}
	// The receiver's decoder may not be in the state the warm-up gives the
	// encoder (A encoded elsewhere): its first transition frames then come
	// out louder than coded. Those frames are made quieter by as much, and
	// encoded again, a few times at most.
	floor := math.Pow(10, -40.0/20)
	gains := slices.Repeat([]float64{1}, int(k))
	var (
		p     [][]byte
		heard []level
	)
	for range joinTries {
		if p, err = s.encode(ctx, scaleFrames(out, ch, u, W, gains), W, W+k); err != nil {
			return nil, 0, err
		}
		if heard, err = heardLevels(int(ch), before, p, next); err != nil {
			return nil, 0, err
		}
		loud := false
		for f := range k {
			want := levelOf(out[(W+f)*u*ch : (W+f+1)*u*ch])
			if h := heard[f]; h.peak > max(want.peak, floor)*joinLoud && h.rms > max(want.rms, floor)*joinLouder {
				gains[f] *= max(want.peak, floor) / h.peak
				loud = true
			}
		}
		if !loud {
			break
		}
	}
	peak := 0.0
	for _, l := range heard {
		peak = max(peak, l.peak)
	}
	over := 20 * math.Log10(peak/max(peakOf(warmed), peakOf(joined), peakOf(bNext), floor))
	return &join{aLast: aLast, packets: p, bFirst: bFirst, fade: fade, mixed: mixed, shift: shift}, over, nil
}

// scaleFrames returns out (interleaved, ch channels) with transition
// frame f (the samples from (W+f)*u) multiplied by gains[f], the gain
// going linearly from a frame's middle to the next's; out itself if every
// gain is 1.
func scaleFrames(out []float32, ch, u, W int64, gains []float64) []float32 {
	if !slices.ContainsFunc(gains, func(g float64) bool { return g != 1 }) {
		return out
	}
	scaled := slices.Clone(out)
	k := int64(len(gains))
	at := func(f int64) float64 { return gains[min(max(f, 0), k-1)] }
	for i := W * u; i < (W+k)*u; i++ {
		x := float64(i-W*u)/float64(u) - 0.5 // in frames, from the first frame's middle
		f := int64(math.Floor(x))
		w := x - float64(f)
		g := float32((1-w)*at(f) + w*at(f+1))
		for c := range ch {
			scaled[i*ch+c] *= g
		}
	}
	return scaled
}

// equalPower mixes a into b (interleaved, ch channels, of one length)
// with an equal-power fade: a by the cosine, b by the sine of a quarter
// turn over their length. The power of two uncorrelated signals of one
// level is held; the same signal in phase on both sides comes out up to
// √2 (3 dB) louder at the middle, and the peaks of two tones add up
// where they meet: the join then limits the mix to the louder side's
// peak (limitPeak).
func equalPower(a, b []float32, ch int64) []float32 {
	n := int64(len(a)) / ch
	out := make([]float32, len(a))
	for i := range n {
		th := math.Pi / 2 * (float64(i) + 0.5) / float64(n)
		ca, sb := float32(math.Cos(th)), float32(math.Sin(th))
		for c := range ch {
			out[i*ch+c] = ca*a[i*ch+c] + sb*b[i*ch+c]
		}
	}
	return out
}

// limitBlock is the block of limitPeak's gain, in samples (5 ms).
const limitBlock = 240

// limitPeak scales x (interleaved, ch channels) down where its peak is
// above ceiling, so that no sample is: by a gain that goes linearly from
// the middle of a block of limitBlock samples to the next's, each block's
// the least that it and its two neighbours need (so that every sample's
// gain is at most what its own block needs). Where x is within ceiling it
// is left as it is.
func limitPeak(x []float32, ch int64, ceiling float64) {
	n := int64(len(x)) / ch
	blocks := (n + limitBlock - 1) / limitBlock
	need := make([]float64, blocks)
	limited := false
	for b := range blocks {
		need[b] = 1
		if p := peakOf(x[b*limitBlock*ch : min((b+1)*limitBlock, n)*ch]); p > ceiling {
			need[b], limited = ceiling/p, true
		}
	}
	if !limited {
		return
	}
	g := make([]float64, blocks)
	for b := range blocks {
		g[b] = min(need[b], need[max(b-1, 0)], need[min(b+1, blocks-1)])
	}
	at := func(b int64) float64 { return g[min(max(b, 0), blocks-1)] }
	for i := range n {
		y := (float64(i)+0.5)/limitBlock - 0.5 // in blocks, from the first block's middle
		b := int64(math.Floor(y))
		w := y - float64(b)
		gain := float32((1-w)*at(b) + w*at(b+1))
		for c := range ch {
			x[i*ch+c] *= gain
		}
	}
}

// splice returns x (interleaved, ch channels) made shift samples longer
// (shorter, if shift < 0), the rest of it as it is: at a place q at or
// after from, it crossfades (joinSplice samples, raised cosine) from x
// into x shift samples earlier (later), so that shift samples are heard
// twice (not heard). The place is where the two match best (the highest
// normalised correlation over the crossfade; silence matches), as WSOLA
// time-scaling chooses, so that a tone goes on in phase.
func splice(x []float32, ch, shift, from int64) []float32 {
	n, F := int64(len(x))/ch, int64(joinSplice)
	lo, hi := max(from, shift), min(n-F, n-F+shift) // q - shift >= 0, q + F <= n, q - shift + F <= n
	q, bestScore := lo, math.Inf(-1)
	for at := lo; at <= hi; at++ {
		var xy, xx, yy float64
		for i := range F * ch {
			v, w := float64(x[at*ch+i]), float64(x[(at-shift)*ch+i])
			xy, xx, yy = xy+v*w, xx+v*v, yy+w*w
		}
		score := 1.0
		if xx+yy > 1e-12 {
			score = xy / math.Sqrt(max(xx*yy, 1e-24))
		}
		if score > bestScore {
			q, bestScore = at, score
		}
	}
	out := make([]float32, 0, (n+shift)*ch)
	out = append(out, x[:q*ch]...)
	for i := range F {
		w := float32(0.5 - 0.5*math.Cos(math.Pi*(float64(i)+0.5)/float64(F)))
		for c := range ch {
			out = append(out, (1-w)*x[(q+i)*ch+c]+w*x[(q-shift+i)*ch+c])
		}
	}
	return append(out, x[(q-shift+F)*ch:]...)
}
