package transform

import (
	"errors"
	"io"
	"math"
)

// Limits of each of a Timescale's speed, pitch and rate.
const (
	MinTimescale = 0.25
	MaxTimescale = 4
)

// The time-stretch's design: a window of twice the hop, the hop and the
// search radius, in seconds.
const (
	stretchHop    = 0.02
	stretchSearch = 0.01
)

// stretchDecim is the step of the time-stretch's coarse search.
const stretchDecim = 4

// maxRatioDen bounds the denominator of the rational ratio by which a
// Timescale resamples.
const maxRatioDen = 1000

// TimescaleConfig is Lavalink's timescale. Each field is MinTimescale to
// MaxTimescale; 1 is no change, Lavalink's default (DefaultTimescale). A
// zero field is out of range.
type TimescaleConfig struct {
	// Speed changes the tempo and keeps the pitch: 1.25 plays 1.25 times
	// as fast at the same pitch.
	Speed float64
	// Pitch changes the pitch and keeps the tempo: 1.25 sounds 1.25 times
	// as high (3.9 semitones) and lasts as long.
	Pitch float64
	// Rate changes both, as playing at another rate does: 1.25 is 1.25
	// times as fast and as high.
	Rate float64
}

// DefaultTimescale is no change, Lavalink's default, at which the filter is
// off.
var DefaultTimescale = TimescaleConfig{Speed: 1, Pitch: 1, Rate: 1}

// Validate returns an error wrapping ErrFilterParam if a parameter is out
// of range.
func (c TimescaleConfig) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"speed", c.Speed}, {"pitch", c.Pitch}, {"rate", c.Rate}} {
		if err := checkParam("timescale", p.name, p.v, MinTimescale, MaxTimescale); err != nil {
			return err
		}
	}
	return nil
}

// Timescale is a Transform that changes the speed, pitch and rate of F32LE
// PCM, mono or stereo, independently, as Lavalink's timescale does (which
// follows SoundTouch): the output lasts 1/(Speed*Rate) of the input and
// its pitch is Pitch*Rate times the input's. The format stays.
//
// It is a time-stretch by Speed/Pitch (input frames per output frame) that
// keeps the pitch, followed by a resampling by Pitch*Rate, each left out
// when its factor is 1.
//
// The time-stretch is WSOLA (waveform-similarity overlap-add): output is
// made of windows of 40 ms (periodic Hann, which sum to 1 at half
// overlap), one every 20 ms; window k is centred near input time k*20 ms*
// Speed/Pitch, moved by up to 10 ms either way to the place whose first
// half best matches (by normalised cross-correlation of the channels' sum,
// at every input frame) the input that followed the second half of window
// k-1, so that the overlap adds like material, in phase. At Speed/Pitch 1
// it is the identity. For n input frames it writes ceil(n*Pitch/Speed)
// frames, the input before its start and after its end taken as silence.
//
// The resampling is the package's Resampler (Medium) from a rate of p to
// one of q, where q/p is the closest fraction to 1/(Pitch*Rate) with a
// denominator of at most 1000 (an error below 0.5 cents for every setting
// within the range, none for ratios such as 1.25), the output taken as
// the format's rate: n frames become ceil(n*q/p) (OutFrames).
//
// Input samples are read with NaN as 0 and clipped to full scale; output is
// clipped to full scale. It is not safe for concurrent use.
type Timescale struct {
	format Format
	frame  int // bytes per frame
	ws     *wsola
	rs     *Resampler // nil when the pitch is kept

	pre, post []stage // the filters of a chain before and after this one

	raw     []byte    // input bytes; raw[:rawHave] is a partial frame
	rawHave int       //
	x       []float32 // one block of frames, scratch
	src     io.Reader // the source of the current call, for rs's reads
	inner   stretchReader
	eof     bool  // the source has ended
	partial error // ErrPartialFrame, if the source ended inside a frame
	end     error // set once the stream has ended: io.EOF or why
}

// NewTimescale returns a Timescale for c. It returns an error wrapping
// ErrFormat if f is not F32LE mono or stereo with a rate, or ErrFilterParam
// if c is out of range.
func NewTimescale(f Format, c TimescaleConfig) (*Timescale, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newTimescale(f, c, nil, nil), nil
}

func newTimescale(f Format, c TimescaleConfig, pre, post []stage) *Timescale {
	t := &Timescale{
		format: f, frame: f.BytesPerFrame(), pre: pre, post: post,
		raw: make([]byte, blockFrames*f.BytesPerFrame()),
		x:   make([]float32, blockFrames*f.Channels),
	}
	t.ws = newWSOLA(f, c.Speed/c.Pitch)
	if r := c.Pitch * c.Rate; r != 1 {
		p, q := ratio(r)
		// Rates of p and q frames a second stand for the real ones: only
		// their ratio matters to the Resampler.
		rs, err := NewResampler(Format{Rate: p, Channels: f.Channels, Encoding: F32LE}, q, Medium)
		if err != nil {
			panic(err) // p and q are within 1 to 4000, ratio at most 16
		}
		t.rs = rs
	}
	t.inner.t = t
	return t
}

// ratio returns p and q, q at most maxRatioDen, such that p/q is the
// closest such fraction to r (the first found on a tie).
func ratio(r float64) (p, q int) {
	best := math.Inf(1)
	for d := 1; d <= maxRatioDen; d++ {
		n := math.Round(r * float64(d))
		if e := math.Abs(n/float64(d) - r); e < best {
			best, p, q = e, int(n), d
			if e == 0 {
				break
			}
		}
	}
	return p, q
}

// Format returns the format of the input and of the output.
func (t *Timescale) Format() Format { return t.format }

// OutFrames returns the number of frames the Timescale writes for n input
// frames.
func (t *Timescale) OutFrames(n int64) int64 {
	n = t.ws.outFrames(n)
	if t.rs != nil {
		n = t.rs.OutFrames(n)
	}
	return n
}

// MinSpace is one frame.
func (t *Timescale) MinSpace() int { return t.frame }

// Size is the memory the Timescale holds (see catcher.Sizer).
func (t *Timescale) Size() int64 {
	n := int64(cap(t.raw)+4*cap(t.x)) + t.ws.size()
	if t.rs != nil {
		n += t.rs.Size()
	}
	return n
}

// Transform reads frames from src and writes the frames of the changed
// stream into dst, following the catcher.Transform contract: it writes
// what the input read so far allows, reading from src at most once a call;
// at the end of src it writes the rest and returns io.EOF. Input that ends
// inside a frame ends the stream, after the output of the whole frames,
// with an error wrapping ErrPartialFrame; a source error ends it at once.
func (t *Timescale) Transform(dst []byte, src io.Reader) (int, error) {
	if t.end != nil {
		return 0, t.end
	}
	frames := min(len(dst)/t.frame, blockFrames)
	if frames == 0 {
		return 0, shortDst(len(dst), t.frame)
	}
	dst = dst[:frames*t.frame]
	var n int
	var err error
	if t.rs != nil {
		t.src = src
		n, err = t.rs.Transform(dst, &t.inner)
		t.src = nil
		x := t.x[:n/4]
		decodeFilterIn(x, dst[:n])
		for _, s := range t.post {
			s.run(x)
		}
		encodeFilterOut(dst, x)
	} else {
		n, err = t.stretch(dst, src)
	}
	if errors.Is(err, io.EOF) && t.partial != nil {
		err = t.partial
	}
	if err != nil {
		t.end = err
	}
	return n, err
}

// stretch writes the time-stretch's next frames into dst, reading src at
// most once, with the filters after it applied; it returns io.EOF with the
// last of them.
func (t *Timescale) stretch(dst []byte, src io.Reader) (int, error) {
	x := t.x[:len(dst)/4]
	k := t.ws.next(x)
	if k == 0 && !t.eof {
		if err := t.read(src); err != nil {
			return 0, err
		}
		k = t.ws.next(x)
	}
	x = x[:k*t.format.Channels]
	for _, s := range t.post {
		s.run(x)
	}
	encodeFilterOut(dst, x)
	if t.ws.done() {
		return k * t.frame, io.EOF
	}
	return k * t.frame, nil
}

// read reads one block from src into the time-stretch, through the filters
// before it. It returns the source's error other than io.EOF.
func (t *Timescale) read(src io.Reader) error {
	room := min(t.ws.room(), blockFrames)
	want := room * t.frame
	k, err := src.Read(t.raw[t.rawHave:want])
	if k < 0 || k > want-t.rawHave {
		k, err = 0, badCount(k, want-t.rawHave)
	}
	total := t.rawHave + k
	whole := total / t.frame
	x := t.x[:whole*t.format.Channels]
	decodeFilterIn(x, t.raw[:whole*t.frame])
	for _, s := range t.pre {
		s.run(x)
	}
	t.ws.push(x)
	t.rawHave = copy(t.raw, t.raw[whole*t.frame:total])
	if err == nil {
		return nil
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	t.eof = true
	t.ws.finish()
	if t.rawHave > 0 {
		t.partial = partialFrame(t.rawHave, t.frame)
	}
	return nil
}

// stretchReader is the time-stretch's output as f32le bytes, the input of
// the Resampler.
type stretchReader struct{ t *Timescale }

func (r *stretchReader) Read(p []byte) (int, error) {
	t := r.t
	frames := min(len(p)/t.frame, blockFrames)
	if frames == 0 {
		return 0, io.ErrShortBuffer
	}
	x := t.x[:frames*t.format.Channels]
	k := t.ws.next(x)
	if k == 0 && !t.eof {
		if err := t.read(t.src); err != nil {
			return 0, err
		}
		k = t.ws.next(x)
	}
	if k == 0 && t.ws.done() {
		return 0, io.EOF
	}
	x = x[:k*t.format.Channels]
	for i, v := range x {
		putF32(p[4*i:], v)
	}
	return k * t.frame, nil
}

// wsola is the time-stretch of a Timescale (see its doc); at tempo 1 it
// passes its input through.
type wsola struct {
	ch    int
	tempo float64 // input frames per output frame
	hs    int     // the hop: half the window; a multiple of 16
	delta int     // the search radius
	win   []float32

	// hist[c][i] is channel c of input frame base+i, for i < fill; row ch
	// (for stereo) is the channels' sum, which the search compares.
	hist  [][]float32
	base  int64
	fill  int
	in    int64 // input frames pushed
	ended bool  // finish was called: hist is read as silence past in

	k    int64       // the next window
	prev int64       // the centre of window k-1 in the input
	acc  [][]float32 // the second half of window k-1, per channel
	dm   []float32   // the coarse search's places, scratch
	dt   []float32   // the coarse search's template, scratch
	out  []float32   // the output frames ready, interleaved: out[r:w]
	r, w int
	made int64 // output frames made (into out)
}

func newWSOLA(f Format, tempo float64) *wsola {
	s := &wsola{ch: f.Channels, tempo: tempo}
	if tempo == 1 {
		s.out = make([]float32, blockFrames*f.Channels)
		return s
	}
	rate := float64(f.Rate)
	s.hs = max(16, int(math.Round(stretchHop*rate/16))*16)
	s.delta = max(1, int(math.Round(stretchSearch*rate)))
	s.win = make([]float32, 2*s.hs)
	for i := range s.win {
		s.win[i] = float32(0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(s.hs)))
	}
	rows := f.Channels
	if rows == 2 {
		rows = 3
	}
	size := int(math.Ceil(float64(s.hs)*tempo)) + 2*s.reach() + 8 + blockFrames
	store := make([]float32, rows*size)
	s.hist = make([][]float32, rows)
	for c := range s.hist {
		s.hist[c] = store[c*size : (c+1)*size : (c+1)*size]
	}
	// The input before the start is silence, as far back as any window
	// reaches.
	s.fill = s.reach()
	s.base = -int64(s.fill)
	accStore := make([]float32, f.Channels*s.hs)
	s.acc = make([][]float32, f.Channels)
	for c := range s.acc {
		s.acc[c] = accStore[c*s.hs : (c+1)*s.hs]
	}
	s.out = make([]float32, s.hs*f.Channels)
	s.dm = make([]float32, 2*s.delta/stretchDecim+s.hs/stretchDecim+2)
	s.dt = make([]float32, s.hs/stretchDecim)
	return s
}

func (s *wsola) size() int64 {
	n := 4 * (cap(s.win) + cap(s.out) + s.ch*s.hs + cap(s.dm) + cap(s.dt))
	for _, h := range s.hist {
		n += 4 * cap(h)
	}
	return int64(n)
}

// outFrames is the number of output frames for n input frames.
func (s *wsola) outFrames(n int64) int64 {
	if s.tempo == 1 {
		return n
	}
	return int64(math.Ceil(float64(n) / s.tempo))
}

// reach is how far from its nominal centre a window may read the input:
// half a window, the search's radius, and the fine search's overhang.
func (s *wsola) reach() int { return s.hs + s.delta + stretchDecim }

// total is the number of output frames, once the input has ended.
func (s *wsola) total() int64 { return s.outFrames(s.in) }

// done reports whether every output frame has been returned.
func (s *wsola) done() bool { return s.ended && s.r == s.w && s.made >= s.total() }

// centre returns the nominal centre in the input of window k.
func (s *wsola) centre(k int64) int64 {
	return int64(math.Round(float64(k) * float64(s.hs) * s.tempo))
}

// room drops the history no window needs any more and returns how many
// input frames push can take.
func (s *wsola) room() int {
	if s.tempo == 1 {
		if s.r == s.w {
			s.r, s.w = 0, 0
		}
		return (len(s.out) - s.w) / s.ch
	}
	low := s.centre(s.k) - int64(s.reach())
	if s.k > 0 {
		low = min(low, s.prev)
	}
	if drop := min(int(low-s.base), s.fill); drop > 0 {
		for _, h := range s.hist {
			copy(h, h[drop:s.fill])
		}
		s.fill -= drop
		s.base += int64(drop)
	}
	return len(s.hist[0]) - s.fill
}

// push appends the interleaved frames x; there must be room for them.
func (s *wsola) push(x []float32) {
	n := len(x) / s.ch
	s.in += int64(n)
	if s.tempo == 1 {
		s.w += copy(s.out[s.w:], x)
		s.made += int64(n)
		return
	}
	if s.ch == 1 {
		copy(s.hist[0][s.fill:], x)
	} else {
		l, r, m := s.hist[0][s.fill:s.fill+n], s.hist[1][s.fill:s.fill+n], s.hist[2][s.fill:s.fill+n]
		for i := range n {
			a, b := x[2*i], x[2*i+1]
			l[i], r[i], m[i] = a, b, a+b
		}
	}
	s.fill += n
}

// finish marks the end of the input.
func (s *wsola) finish() { s.ended = true }

// next writes up to len(x)/ch output frames into x, making windows while
// the input allows, and returns how many it wrote.
func (s *wsola) next(x []float32) int {
	max := len(x) / s.ch
	n := 0
	for n < max {
		if s.r == s.w {
			if s.tempo == 1 || !s.window() {
				break
			}
		}
		k := copy(x[n*s.ch:max*s.ch], s.out[s.r:s.w]) / s.ch
		s.r += k * s.ch
		n += k
	}
	return n
}

// window makes window k, putting the hop it completes into out, if the
// input allows; it reports whether it did.
func (s *wsola) window() bool {
	if s.ended && s.made >= s.total() {
		return false
	}
	c := s.centre(s.k)
	need := c + int64(s.reach()) // the end of the input the window may read
	if have := s.base + int64(s.fill); have < need {
		if !s.ended {
			return false
		}
		s.room()
		for _, h := range s.hist {
			clear(h[s.fill : s.fill+int(need-have)])
		}
		s.fill += int(need - have)
	}
	p := c
	if s.k > 0 {
		p = s.search(c)
	}
	hs := s.hs
	start := int(p - s.base - int64(hs))
	s.r, s.w = 0, 0
	for ch, acc := range s.acc {
		h := s.hist[ch][start : start+2*hs]
		w := s.win
		if s.k > 0 {
			for i := range hs {
				s.out[i*s.ch+ch] = acc[i] + w[i]*h[i]
			}
		}
		for i := range hs {
			acc[i] = w[hs+i] * h[hs+i]
		}
	}
	if s.k > 0 {
		k := min(int64(hs), s.total()-s.made)
		if !s.ended {
			k = int64(hs)
		}
		s.w = int(k) * s.ch
		s.made += k
	}
	s.prev = p
	s.k++
	return true
}

// search returns the centre, within delta of c, of the window whose first
// half best matches the input that followed window k-1's second half. It
// compares the channels' sum summed over stretchDecim frames at every
// stretchDecim-th place first, then every place around the best of those.
func (s *wsola) search(c int64) int64 {
	m := s.hist[len(s.hist)-1]
	hs, d := s.hs, int64(s.delta)
	tpl := m[int(s.prev-s.base):][:hs]
	lo, hi := c-d, c+d

	// The coarse places are those whose window starts at a multiple of
	// stretchDecim frames from the template's start.
	const k = stretchDecim
	first := lo + ((s.prev+int64(hs)-lo)%k+k)%k
	count := int((hi-first)/k) + 1
	start := int(first-s.base) - hs
	dm, dt := s.dm[:count-1+hs/k], s.dt[:hs/k]
	for j := range dm {
		x := m[start+k*j:][:k]
		dm[j] = (x[0] + x[1]) + (x[2] + x[3])
	}
	for j := range dt {
		x := tpl[k*j:][:k]
		dt[j] = (x[0] + x[1]) + (x[2] + x[3])
	}
	best, bestScore := first, math.Inf(-1)
	for i := range count {
		seg := dm[i:][:len(dt)]
		if score := similarity(dot2(seg, dt, seg)); score > bestScore {
			best, bestScore = first+int64(k*i), score
		}
	}

	// Around the best coarse place, every place; the range may be
	// overstepped there, so that a best place just beyond it is found at
	// its peak.
	coarse := best
	bestScore = math.Inf(-1)
	for p := coarse - k + 1; p <= coarse+k-1; p++ {
		seg := m[int(p-s.base)-hs:][:hs]
		if score := similarity(dot2(seg, tpl, seg)); score > bestScore {
			best, bestScore = p, score
		}
	}
	return best
}

// similarity is the normalised cross-correlation of a segment with the
// template, but for the template's energy, which is the same for every
// segment: xy/sqrt(yy).
func similarity(xy, yy float32) float64 {
	return float64(xy) / math.Sqrt(float64(yy)+1e-9)
}
