package transform

import "math"

// MaxVolume is the largest Volume, as Lavalink allows.
const MaxVolume = 5

// limiterRelease is the time constant of the Volume limiter's release.
const limiterRelease = 0.1 // seconds

// VolumeConfig is Lavalink's volume filter: a gain, with a limiter so that
// gains above 1 do not clip.
type VolumeConfig struct {
	// Volume is the linear gain, 0 to MaxVolume; 1 is no change (Lavalink's
	// default), 0 silence. The zero value silences.
	Volume float64
}

// Validate returns an error wrapping ErrFilterParam if the volume is out of
// range.
func (c VolumeConfig) Validate() error { return checkParam("volume", "volume", c.Volume, 0, MaxVolume) }

// NewVolume returns a Filter that multiplies every sample by c.Volume,
// through a peak limiter without look-ahead: its envelope is the larger of
// the frame's loudest scaled sample and its own value decayed with a time
// constant of 100 ms (instant attack, exponential release), shared by the
// channels so that the image stays; while the envelope is above full scale
// the gain is divided by it. The output therefore never exceeds full scale,
// and while the envelope is at or below it (always when Volume is 1 or
// less) the output is exactly the input times Volume, rounded to float32.
//
// It returns an error wrapping ErrFormat if f is not F32LE mono or stereo
// with a rate, or ErrFilterParam if c is out of range.
func NewVolume(f Format, c VolumeConfig) (*Filter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newFilter(f, newVolumeStage(f, c)), nil
}

type volumeStage struct {
	ch  int
	g   float64
	rel float64 // the envelope's decay per frame
	env float64 // the limiter's envelope
}

func newVolumeStage(f Format, c VolumeConfig) *volumeStage {
	return &volumeStage{ch: f.Channels, g: c.Volume, rel: math.Exp(-1 / (limiterRelease * float64(f.Rate)))}
}

func (s *volumeStage) run(buf []float32) {
	g := s.g
	if g <= 1 && s.env <= 1 {
		for i, x := range buf {
			buf[i] = float32(float64(x) * g)
		}
		return
	}
	env, rel, ch := s.env, s.rel, s.ch
	for i := 0; i+ch <= len(buf); i += ch {
		fr := buf[i : i+ch]
		var peak float64
		for _, x := range fr {
			peak = max(peak, math.Abs(float64(x)*g))
		}
		env = max(env*rel, peak)
		k := g
		if env > 1 {
			k = g / env
		}
		for j, x := range fr {
			fr[j] = float32(float64(x) * k)
		}
	}
	s.env = env
}
