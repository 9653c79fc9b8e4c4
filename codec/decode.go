package codec

import (
	"errors"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Source describes the input a decoder made by NewDecoder found: the
// State it publishes beside its stages' (catcher.StateOf[codec.Source]).
type Source struct {
	Kind   Kind
	Format transform.Format // the decoded PCM before conversion
}

// DecodeOption configures NewDecoder.
type DecodeOption func(*decodeConfig)

type decodeConfig struct {
	quality transform.Quality
	dither  uint64
	raw     *transform.Format
	mp3     mp3.Engine
}

// WithRawInput says that the input is raw PCM of format f (see wav.Raw),
// which cannot be detected: it is taken as it is, and converted.
func WithRawInput(f transform.Format) DecodeOption {
	return func(c *decodeConfig) { c.raw = &f }
}

// WithQuality sets the resampler's preset (transform.High by default: it
// resamples 44.1 to 48 kHz stereo at about 1000 times real time on one
// core, a thousandth of a core per track, so cheaper presets save little).
func WithQuality(q transform.Quality) DecodeOption {
	return func(c *decodeConfig) { c.quality = q }
}

// WithMP3Engine selects the Layer III decoder of MP3 input (mp3.Native,
// the package's own, by default; mp3.GoMP3; see mp3.WithEngine).
func WithMP3Engine(e mp3.Engine) DecodeOption {
	return func(c *decodeConfig) { c.mp3 = e }
}

// WithDitherSeed sets the seed of the dither added when the output is
// integer and the conversion reduces precision (see transform.WithDither).
// The default seed is 1: the output is the same from run to run.
func WithDitherSeed(seed uint64) DecodeOption {
	return func(c *decodeConfig) { c.dither = seed }
}

// decodeMinSpace is the MinSpace of every decoder NewDecoder builds: the
// largest frame a WAV may hold, which covers every output format.
const decodeMinSpace = transform.MaxChannels * 4

// NewDecoder returns a Transform that decodes an MP3, FLAC or WAV input to PCM of
// format to, converting its encoding, channels (mono to stereo and back;
// other counts must match) and rate as needed. It is built inside the fill
// (catcher.Deferred): it reads nothing until the Catcher first fills, then
// detects the input and reads its header, and sets up the conversion for
// what it found. So catcher.New returns at once, even over a network or a
// command's output.
//
// Its state (see catcher.StateOf) holds a Source and the decoder's own
// (mp3.Info, flac.Info or wav.Info). An input it cannot decode ends the stream with
// an error: ErrUnknownFormat, ErrUnsupported (Ogg Opus and WebM, which
// need libopus, or are framed as they are), or the decoder's. NewDecoder returns an
// error wrapping transform.ErrFormat if to is not a valid format with a
// rate.
func NewDecoder(to transform.Format, opts ...DecodeOption) (catcher.Transform, error) {
	cfg := decodeConfig{quality: transform.High, dither: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if err := to.Validate(); err != nil {
		return nil, err
	}
	if to.Rate == 0 {
		return nil, fmt.Errorf("%w: decoding needs the output rate", transform.ErrFormat)
	}
	if cfg.raw != nil {
		if err := cfg.raw.Validate(); err != nil {
			return nil, err
		}
		if cfg.raw.Rate == 0 {
			return nil, fmt.Errorf("%w: raw input needs its rate", transform.ErrFormat)
		}
	}
	return catcher.Deferred(decodeMinSpace, func(src io.Reader) (catcher.Transform, io.Reader, error) {
		return buildDecoder(src, to, cfg)
	}), nil
}

// buildDecoder detects the input, reads its header and returns the chain
// that decodes and converts it.
func buildDecoder(src io.Reader, to transform.Format, cfg decodeConfig) (catcher.Transform, io.Reader, error) {
	var dec catcher.Transform
	var from transform.Format
	var kind Kind
	in := src
	if cfg.raw != nil {
		r, _ := wav.NewRaw(*cfg.raw) // validated by NewDecoder
		dec, from, kind = r, *cfg.raw, KindRaw
	} else {
		var err error
		if kind, in, err = DetectReader(src); err != nil {
			if cfg.mp3 != mp3.Native || !errors.Is(err, ErrMPEG25) {
				return nil, nil, err
			}
			kind = KindMP3
		}
	}
	var err error
	switch kind {
	case KindRaw:
	case KindMP3:
		d := mp3.NewDecoder(mp3.WithEngine(cfg.mp3))
		if _, err := d.ReadInfo(in); err != nil {
			return nil, nil, err
		}
		dec, from = d, d.Format()
	case KindFLAC:
		d := flac.NewDecoder()
		info, err := d.ReadInfo(in)
		if err != nil {
			return nil, nil, err
		}
		dec, from = d, info.Format
	case KindWAV:
		d := wav.NewDecoder()
		if from, err = d.ReadHeader(in); err != nil {
			return nil, nil, err
		}
		dec = d
	default:
		return nil, nil, fmt.Errorf("%w: %v input: decode it with package libopus, or frame its packets as they are (ogg.NewOpusDemuxer, webm.NewOpusDemuxer)", ErrUnsupported, kind)
	}
	stages, err := convert(from, to, cfg)
	if err != nil {
		return nil, nil, err
	}
	t := catcher.Chain(append([]catcher.Transform{dec}, stages...)...)
	return catcher.Annotate(t, Source{Kind: kind, Format: from}), in, nil
}

// convert returns the stages from PCM of format from to format to: to
// float, channels, rate, then to the output's encoding with dither.
func convert(from, to transform.Format, cfg decodeConfig) ([]catcher.Transform, error) {
	if from == to {
		return nil, nil
	}
	var stages []catcher.Transform
	f := from
	if f.Encoding != transform.F32LE {
		c, err := transform.NewConvert(f, transform.F32LE)
		if err != nil {
			return nil, err
		}
		stages, f = append(stages, c), c.Out()
	}
	var mix *transform.Mix
	var err error
	switch {
	case f.Channels == to.Channels:
	case f.Channels == 1 && to.Channels == 2:
		mix, err = transform.MonoToStereo(f)
	case f.Channels == 2 && to.Channels == 1:
		mix, err = transform.StereoToMono(f)
	default:
		err = fmt.Errorf("%w: %d channels to %d", ErrUnsupported, f.Channels, to.Channels)
	}
	if err != nil {
		return nil, err
	}
	if mix != nil {
		stages, f = append(stages, mix), mix.Out()
	}
	if f.Rate != to.Rate {
		r, err := transform.NewResampler(f, to.Rate, cfg.quality)
		if err != nil {
			return nil, err
		}
		stages, f = append(stages, r), r.Out()
	}
	if to.Encoding != transform.F32LE {
		c, err := transform.NewConvert(f, to.Encoding, transform.WithDither(cfg.dither))
		if err != nil {
			return nil, err
		}
		stages = append(stages, c)
	}
	return stages, nil
}
