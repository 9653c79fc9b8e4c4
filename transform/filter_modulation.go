package transform

import "math"

const twoPi = 2 * math.Pi

// Limits of the modulation filters' parameters.
const (
	// MaxTremoloFrequency is the highest Tremolo frequency, in Hz.
	MaxTremoloFrequency = 100
	// MaxVibratoFrequency is the highest Vibrato frequency, in Hz, as
	// Lavalink allows.
	MaxVibratoFrequency = 14
	// MaxRotationHz is the highest Rotation frequency, in Hz.
	MaxRotationHz = 100
)

// vibratoDelay is the Vibrato's largest modulated delay, at depth 1.
const vibratoDelay = 0.002 // seconds

// vibratoBase is the Vibrato's constant delay, in frames, that its
// interpolation needs.
const vibratoBase = 3

// TremoloConfig is Lavalink's tremolo: the volume oscillates.
type TremoloConfig struct {
	// Frequency is the oscillation's, in Hz: above 0, at most
	// MaxTremoloFrequency. Lavalink's default is 2.
	Frequency float64
	// Depth is how far the gain falls at the oscillation's trough, 0 to 1:
	// the gain swings between 1-Depth and 1. 0 is no effect (the filter is
	// off); Lavalink's default is 0.5.
	Depth float64
}

// Validate returns an error wrapping ErrFilterParam if a parameter is out
// of range.
func (c TremoloConfig) Validate() error {
	if err := checkParamOpen("tremolo", "frequency", c.Frequency, 0, MaxTremoloFrequency); err != nil {
		return err
	}
	return checkParam("tremolo", "depth", c.Depth, 0, 1)
}

// NewTremolo returns a Filter that multiplies every frame by
// 1 - Depth/2 + Depth/2 sin(2 pi Frequency t), t in seconds from the
// stream's start, as Lavalink's tremolo does.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewTremolo(f Format, c TremoloConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newTremoloStage(f, c)), nil
}

type tremoloStage struct {
	ch         int
	half, step float64
	phase      float64 // in [0, 2 pi)
}

func newTremoloStage(f Format, c TremoloConfig) *tremoloStage {
	return &tremoloStage{ch: f.Channels, half: c.Depth / 2, step: twoPi * c.Frequency / float64(f.Rate)}
}

func (s *tremoloStage) run(buf []float32) {
	ch, half, ph := s.ch, s.half, s.phase
	for i := 0; i+ch <= len(buf); i += ch {
		m := 1 - half + half*fastSin(ph)
		for j := i; j < i+ch; j++ {
			buf[j] = float32(float64(buf[j]) * m)
		}
		if ph += s.step; ph >= twoPi {
			ph -= twoPi
		}
	}
	s.phase = ph
}

// RotationConfig is Lavalink's rotation ("8D audio"): the sound pans
// around the listener.
type RotationConfig struct {
	// RotationHz is the number of turns a second, 0 to MaxRotationHz. 0 is
	// no effect (the filter is off), Lavalink's default.
	RotationHz float64
}

// Validate returns an error wrapping ErrFilterParam if the frequency is out
// of range.
func (c RotationConfig) Validate() error {
	return checkParam("rotation", "rotationHz", c.RotationHz, 0, MaxRotationHz)
}

// NewRotation returns a Filter that pans stereo with a sine: the left
// channel is multiplied by (1 + sin(2 pi RotationHz t))/2, the right by
// (1 - sin(2 pi RotationHz t))/2, t in seconds from the stream's start, as
// Lavalink's rotation does. Mono passes unchanged (as in Lavalink).
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewRotation(f Format, c RotationConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newRotationStage(f, c)...), nil
}

type rotationStage struct {
	step, phase float64
}

func newRotationStage(f Format, c RotationConfig) []stage {
	if f.Channels != 2 {
		return nil
	}
	return []stage{&rotationStage{step: twoPi * c.RotationHz / float64(f.Rate)}}
}

func (s *rotationStage) run(buf []float32) {
	ph := s.phase
	for i := 0; i+2 <= len(buf); i += 2 {
		sin := fastSin(ph)
		buf[i] = float32(float64(buf[i]) * (1 + sin) / 2)
		buf[i+1] = float32(float64(buf[i+1]) * (1 - sin) / 2)
		if ph += s.step; ph >= twoPi {
			ph -= twoPi
		}
	}
	s.phase = ph
}

// VibratoConfig is Lavalink's vibrato: the pitch oscillates.
type VibratoConfig struct {
	// Frequency is the oscillation's, in Hz: above 0, at most
	// MaxVibratoFrequency. Lavalink's default is 2.
	Frequency float64
	// Depth is the swing of the delay, 0 to 1, in units of 2 ms. 0 is no
	// effect (the filter is off); Lavalink's default is 0.5.
	Depth float64
}

// Validate returns an error wrapping ErrFilterParam if a parameter is out
// of range.
func (c VibratoConfig) Validate() error {
	if err := checkParamOpen("vibrato", "frequency", c.Frequency, 0, MaxVibratoFrequency); err != nil {
		return err
	}
	return checkParam("vibrato", "depth", c.Depth, 0, 1)
}

// NewVibrato returns a Filter that delays each channel by a modulated
// fractional delay, as Lavalink's vibrato does: 3 frames plus
// Depth * 2 ms * (1 + sin(2 pi Frequency t))/2, read from the delay line
// by 4-point cubic Hermite interpolation. The pitch swings by up to
// Depth * 2 ms * pi * Frequency of itself (3.1% at depth 1 and 5 Hz); the
// first 3 frames out are silence.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewVibrato(f Format, c VibratoConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newVibratoStage(f, c)), nil
}

type vibratoStage struct {
	ch       int
	swing    float64 // Depth times the largest delay, in frames
	step, ph float64
	line     []float32 // ch delay lines of mask+1 frames, interleaved
	mask     int
	w        int // the next frame's place in line
}

func newVibratoStage(f Format, c VibratoConfig) *vibratoStage {
	maxDelay := vibratoDelay * float64(f.Rate)
	size := 8
	for float64(size) < maxDelay+vibratoBase+4 {
		size *= 2
	}
	return &vibratoStage{
		ch: f.Channels, swing: c.Depth * maxDelay, step: twoPi * c.Frequency / float64(f.Rate),
		line: make([]float32, size*f.Channels), mask: size - 1,
	}
}

func (s *vibratoStage) run(buf []float32) {
	ch, mask, line := s.ch, s.mask, s.line
	ph, w := s.ph, s.w
	for i := 0; i+ch <= len(buf); i += ch {
		d := vibratoBase + s.swing*(1+fastSin(ph))/2
		if ph += s.step; ph >= twoPi {
			ph -= twoPi
		}
		copy(line[w*ch:w*ch+ch], buf[i:i+ch])
		// The output is the input at w-d: between frames m and m+1.
		pos := float64(w) - d
		m := int(math.Floor(pos))
		x := float32(pos - float64(m))
		for c := range ch {
			y0 := line[((m-1)&mask)*ch+c]
			y1 := line[(m&mask)*ch+c]
			y2 := line[((m+1)&mask)*ch+c]
			y3 := line[((m+2)&mask)*ch+c]
			c1 := 0.5 * (y2 - y0)
			c2 := y0 - 2.5*y1 + 2*y2 - 0.5*y3
			c3 := 0.5*(y3-y0) + 1.5*(y1-y2)
			buf[i+c] = ((c3*x+c2)*x+c1)*x + y1
		}
		w = (w + 1) & mask
	}
	s.ph, s.w = ph, w
}
