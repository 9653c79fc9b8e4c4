package transform

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Chain describes a set of Lavalink's filters, each nil or its
// configuration, applied in the order of the fields, which is the order in
// which Lavalink's filter chain passes the sound through them: low-pass,
// channel mix, rotation, distortion, vibrato, tremolo, timescale, karaoke,
// equalizer, volume. The zero Chain applies none.
//
// A filter at its "off" setting, as Lavalink has it (see String), is the
// same as nil. A Chain is a value: String is its canonical encoding, so that
// two Chains that describe the same filters have the same String, and
// ParseChain reads it back.
type Chain struct {
	LowPass    *LowPassConfig
	ChannelMix *ChannelMixConfig
	Rotation   *RotationConfig
	Distortion *DistortionConfig
	Vibrato    *VibratoConfig
	Tremolo    *TremoloConfig
	Timescale  *TimescaleConfig
	Karaoke    *KaraokeConfig
	Equalizer  *EqualizerConfig
	Volume     *VolumeConfig
}

// chainFilter is one filter's entry in the encoding: its name, its keys in
// order with their defaults (Lavalink's), and how it is read from, written
// to and checked in a Chain.
type chainFilter struct {
	name     string
	keys     []string
	defaults []float64
	get      func(c *Chain) []float64 // nil if the filter is absent
	set      func(c *Chain, v []float64)
	off      func(v []float64) bool // the filter is off at v
	check    func(v []float64) error
	stage    func(f Format, v []float64) []stage
}

func at(v []float64, d ...float64) bool { return slices.Equal(v, d) }

var eqKeys = func() []string {
	k := make([]string, EqualizerBands)
	for b := range k {
		k[b] = bandName(b)
	}
	return k
}()

// chainFilters lists the filters in the order they are applied.
var chainFilters = [...]chainFilter{
	{
		name: "lowPass", keys: []string{"smoothing"}, defaults: []float64{20},
		get: func(c *Chain) []float64 {
			if c.LowPass == nil {
				return nil
			}
			return []float64{c.LowPass.Smoothing}
		},
		set:   func(c *Chain, v []float64) { c.LowPass = &LowPassConfig{v[0]} },
		off:   func(v []float64) bool { return v[0] == 1 },
		check: func(v []float64) error { return LowPassConfig{v[0]}.Validate() },
		stage: func(f Format, v []float64) []stage { return []stage{newLowPassStage(f, LowPassConfig{v[0]})} },
	},
	{
		name: "channelMix", keys: channelMixNames[:], defaults: []float64{1, 0, 0, 1},
		get: func(c *Chain) []float64 {
			if c.ChannelMix == nil {
				return nil
			}
			p := c.ChannelMix.params()
			return p[:]
		},
		set:   func(c *Chain, v []float64) { c.ChannelMix = &ChannelMixConfig{v[0], v[1], v[2], v[3]} },
		off:   func(v []float64) bool { return at(v, 1, 0, 0, 1) },
		check: func(v []float64) error { return ChannelMixConfig{v[0], v[1], v[2], v[3]}.Validate() },
		stage: func(f Format, v []float64) []stage {
			return newChannelMixStage(f, ChannelMixConfig{v[0], v[1], v[2], v[3]})
		},
	},
	{
		name: "rotation", keys: []string{"rotationHz"}, defaults: []float64{0},
		get: func(c *Chain) []float64 {
			if c.Rotation == nil {
				return nil
			}
			return []float64{c.Rotation.RotationHz}
		},
		set:   func(c *Chain, v []float64) { c.Rotation = &RotationConfig{v[0]} },
		off:   func(v []float64) bool { return v[0] == 0 },
		check: func(v []float64) error { return RotationConfig{v[0]}.Validate() },
		stage: func(f Format, v []float64) []stage { return newRotationStage(f, RotationConfig{v[0]}) },
	},
	{
		name: "distortion", keys: distortionNames[:], defaults: []float64{0, 1, 0, 1, 0, 1, 0, 1},
		get: func(c *Chain) []float64 {
			if c.Distortion == nil {
				return nil
			}
			p := c.Distortion.params()
			return p[:]
		},
		set:   func(c *Chain, v []float64) { c.Distortion = distortionOf(v) },
		off:   func(v []float64) bool { return at(v, 0, 1, 0, 1, 0, 1, 0, 1) },
		check: func(v []float64) error { return distortionOf(v).Validate() },
		stage: func(f Format, v []float64) []stage { return []stage{&distortionStage{*distortionOf(v)}} },
	},
	{
		name: "vibrato", keys: []string{"frequency", "depth"}, defaults: []float64{2, 0.5},
		get: func(c *Chain) []float64 {
			if c.Vibrato == nil {
				return nil
			}
			return []float64{c.Vibrato.Frequency, c.Vibrato.Depth}
		},
		set:   func(c *Chain, v []float64) { c.Vibrato = &VibratoConfig{v[0], v[1]} },
		off:   func(v []float64) bool { return v[1] == 0 },
		check: func(v []float64) error { return VibratoConfig{v[0], v[1]}.Validate() },
		stage: func(f Format, v []float64) []stage { return []stage{newVibratoStage(f, VibratoConfig{v[0], v[1]})} },
	},
	{
		name: "tremolo", keys: []string{"frequency", "depth"}, defaults: []float64{2, 0.5},
		get: func(c *Chain) []float64 {
			if c.Tremolo == nil {
				return nil
			}
			return []float64{c.Tremolo.Frequency, c.Tremolo.Depth}
		},
		set:   func(c *Chain, v []float64) { c.Tremolo = &TremoloConfig{v[0], v[1]} },
		off:   func(v []float64) bool { return v[1] == 0 },
		check: func(v []float64) error { return TremoloConfig{v[0], v[1]}.Validate() },
		stage: func(f Format, v []float64) []stage { return []stage{newTremoloStage(f, TremoloConfig{v[0], v[1]})} },
	},
	{
		name: "timescale", keys: []string{"speed", "pitch", "rate"}, defaults: []float64{1, 1, 1},
		get: func(c *Chain) []float64 {
			if c.Timescale == nil {
				return nil
			}
			return []float64{c.Timescale.Speed, c.Timescale.Pitch, c.Timescale.Rate}
		},
		set:   func(c *Chain, v []float64) { c.Timescale = &TimescaleConfig{v[0], v[1], v[2]} },
		off:   func(v []float64) bool { return at(v, 1, 1, 1) },
		check: func(v []float64) error { return TimescaleConfig{v[0], v[1], v[2]}.Validate() },
	},
	{
		name: "karaoke", keys: []string{"level", "monoLevel", "filterBand", "filterWidth"}, defaults: []float64{1, 1, 220, 100},
		get: func(c *Chain) []float64 {
			if c.Karaoke == nil {
				return nil
			}
			k := c.Karaoke
			return []float64{k.Level, k.MonoLevel, k.FilterBand, k.FilterWidth}
		},
		set:   func(c *Chain, v []float64) { c.Karaoke = &KaraokeConfig{v[0], v[1], v[2], v[3]} },
		off:   func(v []float64) bool { return v[0] == 0 },
		check: func(v []float64) error { return KaraokeConfig{v[0], v[1], v[2], v[3]}.Validate() },
		stage: func(f Format, v []float64) []stage { return newKaraokeStage(f, KaraokeConfig{v[0], v[1], v[2], v[3]}) },
	},
	{
		name: "equalizer", keys: eqKeys, defaults: make([]float64, EqualizerBands),
		get: func(c *Chain) []float64 {
			if c.Equalizer == nil {
				return nil
			}
			return slices.Clone(c.Equalizer.Gains[:])
		},
		set: func(c *Chain, v []float64) {
			c.Equalizer = new(EqualizerConfig)
			copy(c.Equalizer.Gains[:], v)
		},
		off: func(v []float64) bool { return !slices.ContainsFunc(v, func(g float64) bool { return g != 0 }) },
		check: func(v []float64) error {
			var e EqualizerConfig
			copy(e.Gains[:], v)
			return e.Validate()
		},
		stage: func(f Format, v []float64) []stage {
			var e EqualizerConfig
			copy(e.Gains[:], v)
			return []stage{newEqualizerStage(f, e)}
		},
	},
	{
		name: "volume", keys: []string{"volume"}, defaults: []float64{1},
		get: func(c *Chain) []float64 {
			if c.Volume == nil {
				return nil
			}
			return []float64{c.Volume.Volume}
		},
		set:   func(c *Chain, v []float64) { c.Volume = &VolumeConfig{v[0]} },
		off:   func(v []float64) bool { return v[0] == 1 },
		check: func(v []float64) error { return VolumeConfig{v[0]}.Validate() },
		stage: func(f Format, v []float64) []stage { return []stage{newVolumeStage(f, VolumeConfig{v[0]})} },
	},
}

func distortionOf(v []float64) *DistortionConfig {
	return &DistortionConfig{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}
}

// Validate returns an error wrapping ErrFilterParam if a filter's parameter
// is out of range.
func (c Chain) Validate() error {
	for i := range chainFilters {
		cf := &chainFilters[i]
		if v := cf.get(&c); v != nil {
			if err := cf.check(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// String returns the canonical encoding of a valid Chain (that of an
// invalid one is not read back): the filters that are on, in the order
// they are applied, separated by ";", each as its name followed, if any of
// its parameters is not at its default, by ":" and those parameters as
// key=value separated by ",", in the order below. Values are written in
// the shortest form that reads back to the same float64, as strconv
// formats them ('g', -1), -0 as 0. The empty string is no filter.
//
//	filter      keys and defaults                             off when
//	lowPass     smoothing=20                                  smoothing is 1
//	channelMix  leftToLeft=1, leftToRight=0, rightToLeft=0,   at the defaults
//	            rightToRight=1
//	rotation    rotationHz=0                                  rotationHz is 0
//	distortion  sinOffset=0, sinScale=1, cosOffset=0,         at the defaults
//	            cosScale=1, tanOffset=0, tanScale=1,
//	            offset=0, scale=1
//	vibrato     frequency=2, depth=0.5                        depth is 0
//	tremolo     frequency=2, depth=0.5                        depth is 0
//	timescale   speed=1, pitch=1, rate=1                      at the defaults
//	karaoke     level=1, monoLevel=1, filterBand=220,         level is 0
//	            filterWidth=100
//	equalizer   0=0, 1=0, ... 14=0 (the bands' gains)         at the defaults
//	volume      volume=1                                      volume is 1
//
// For example "timescale:speed=1.25,pitch=1.25;volume:volume=0.8" is
// nightcore at 80% volume, and "karaoke" Lavalink's default karaoke. The
// encoding names the filters and their parameters as Lavalink's JSON does.
func (c Chain) String() string {
	var b strings.Builder
	for i := range chainFilters {
		cf := &chainFilters[i]
		v := cf.get(&c)
		if v == nil || cf.off(v) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(cf.name)
		sep := byte(':')
		for k, x := range v {
			if x == cf.defaults[k] {
				continue
			}
			if x == 0 {
				x = 0 // not -0
			}
			b.WriteByte(sep)
			sep = ','
			b.WriteString(cf.keys[k])
			b.WriteByte('=')
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	}
	return b.String()
}

// ParseChain reads a Chain from its encoding (see Chain.String). It takes
// the filters in any order and parameters at their defaults too, each once;
// the Chain it returns has nil for every filter absent or off, so that its
// String is canonical. It returns an error wrapping ErrFilterParam if s
// names an unknown filter or key, repeats one, has a value strconv cannot
// read, or a parameter out of range.
func ParseChain(s string) (Chain, error) {
	var c Chain
	if s == "" {
		return c, nil
	}
	var seen [len(chainFilters)]bool
	for part := range strings.SplitSeq(s, ";") {
		name, params, hasParams := strings.Cut(part, ":")
		i := slices.IndexFunc(chainFilters[:], func(cf chainFilter) bool { return cf.name == name })
		if i < 0 {
			return Chain{}, fmt.Errorf("%w: unknown filter %q", ErrFilterParam, name)
		}
		if seen[i] {
			return Chain{}, fmt.Errorf("%w: filter %s given twice", ErrFilterParam, name)
		}
		seen[i] = true
		cf := &chainFilters[i]
		v := slices.Clone(cf.defaults)
		set := make([]bool, len(v))
		if hasParams {
			for kv := range strings.SplitSeq(params, ",") {
				key, val, ok := strings.Cut(kv, "=")
				k := slices.Index(cf.keys, key)
				if !ok || k < 0 {
					return Chain{}, fmt.Errorf("%w: %s has no parameter %q", ErrFilterParam, name, kv)
				}
				if set[k] {
					return Chain{}, fmt.Errorf("%w: %s %s given twice", ErrFilterParam, name, key)
				}
				x, err := strconv.ParseFloat(val, 64)
				if err != nil {
					return Chain{}, fmt.Errorf("%w: %s %s: %q is not a number", ErrFilterParam, name, key, val)
				}
				set[k], v[k] = true, x
			}
		}
		if err := cf.check(v); err != nil {
			return Chain{}, err
		}
		if !cf.off(v) {
			cf.set(&c, v)
		}
	}
	return c, nil
}

// ChainFilter is a Transform that applies the filters of a Chain to F32LE
// PCM, mono or stereo; the format stays. Without a timescale it is one
// Filter running them all; with one, it is a Timescale with the filters
// before it run on its input and those after it on its output. It is not
// safe for concurrent use.
type ChainFilter struct {
	chain string
	f     *Filter
	t     *Timescale
}

// NewChainFilter returns a ChainFilter applying c to f. It returns an error
// wrapping ErrFormat if f is not F32LE mono or stereo with a rate, or
// ErrFilterParam if c is not valid.
func NewChainFilter(f Format, c Chain) (*ChainFilter, error) {
	if err := checkFilterFormat(f); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var pre, post []stage
	var ts *TimescaleConfig
	for i := range chainFilters {
		cf := &chainFilters[i]
		v := cf.get(&c)
		if v == nil || cf.off(v) {
			continue
		}
		if cf.stage == nil {
			ts = c.Timescale
			continue
		}
		if ts == nil {
			pre = append(pre, cf.stage(f, v)...)
		} else {
			post = append(post, cf.stage(f, v)...)
		}
	}
	cf := &ChainFilter{chain: c.String()}
	if ts != nil {
		cf.t = newTimescale(f, *ts, pre, post)
	} else {
		cf.f = newFilter(f, pre...)
	}
	return cf, nil
}

// Chain returns the canonical encoding of the chain applied.
func (c *ChainFilter) Chain() string { return c.chain }

// Format returns the format of the input and of the output.
func (c *ChainFilter) Format() Format {
	if c.t != nil {
		return c.t.Format()
	}
	return c.f.Format()
}

// OutFrames returns the number of frames written for n input frames: n
// without a timescale.
func (c *ChainFilter) OutFrames(n int64) int64 {
	if c.t != nil {
		return c.t.OutFrames(n)
	}
	return n
}

// MinSpace is one frame.
func (c *ChainFilter) MinSpace() int {
	if c.t != nil {
		return c.t.MinSpace()
	}
	return c.f.MinSpace()
}

// Size is the memory the ChainFilter holds (see catcher.Sizer).
func (c *ChainFilter) Size() int64 {
	if c.t != nil {
		return c.t.Size()
	}
	return c.f.Size()
}

// Transform reads frames from src and writes them, filtered, into dst,
// following the catcher.Transform contract as Filter and Timescale do.
func (c *ChainFilter) Transform(dst []byte, src io.Reader) (int, error) {
	if c.t != nil {
		return c.t.Transform(dst, src)
	}
	return c.f.Transform(dst, src)
}
