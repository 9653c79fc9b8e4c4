// Package libopus encodes and decodes Opus through libopus (the C library,
// by way of layeh.com/gopus, which bundles libopus 1.1.2 and builds it with
// cgo). It is the only package of this module that needs a C compiler:
// everything else, the Ogg and framed-packet packages included, builds
// with CGO_ENABLED=0.
//
// Encoder is a framed.PacketSource: inside a Catcher with a framed.Framer,
// a track is encoded once however many listeners it has. Decoder turns a
// framed stream back into PCM, dropping the pre-skip, stopping at the true
// length and concealing corrupt packets. PacketDecoder decodes packets one
// at a time, as a receiver of RTP does.
package libopus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"layeh.com/gopus"

	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Format returns the PCM format the Encoder takes and the Decoder gives:
// 48 kHz s16le with the given number of channels.
func Format(channels int) transform.Format {
	return transform.Format{Rate: opus.SampleRate, Channels: channels, Encoding: transform.S16LE}
}

// Application is the Opus encoder's tuning; it is opus.Application, kept
// under this name so that callers that name it here keep building.
type Application = opus.Application

// The encoder's tunings, as opus names them.
const (
	// AppAudio favours fidelity to the input, for music. It is the
	// default.
	AppAudio = opus.AppAudio
	// AppVoIP favours intelligibility, for speech.
	AppVoIP = opus.AppVoIP
	// AppLowDelay ("restricted low delay") uses CELT only, for the least
	// delay: 2.5 ms of lookahead instead of 6.5 ms.
	AppLowDelay = opus.AppLowDelay
)

// Pre-skip of the encoder at 48 kHz: its lookahead, which gopus does not
// expose, is 6.5 ms (312 samples) in the AUDIO and VOIP applications and
// 2.5 ms (120) in restricted low delay (libopus 1.1: Fs/400 plus 4 ms of
// delay compensation unless low delay).
const (
	PreSkip         = 312
	PreSkipLowDelay = 120
)

// Option configures an Encoder.
type Option func(*config)

type config struct {
	frame   int  // samples at 48 kHz
	bitrate int  // bit/s; 0 leaves libopus's default
	cbr     bool // constant bitrate; false: variable
	app     Application
}

// WithFrameDuration sets the duration of each packet: 2.5, 5, 10, 20 (the
// default), 40 or 60 ms. NewEncoder rejects any other.
func WithFrameDuration(d time.Duration) Option {
	return func(c *config) { c.frame = int(opus.Samples(d)) }
}

// WithBitrate sets the target bitrate in bit/s (500 to 512000). The
// default is libopus's for the channel count (about 64 kbit/s a channel).
func WithBitrate(bps int) Option { return func(c *config) { c.bitrate = bps } }

// WithCBR turns constant bitrate on or off: every packet of a frame
// duration the same size. Off, the default, is variable bitrate, which
// spends the bits where the audio needs them.
func WithCBR(on bool) Option { return func(c *config) { c.cbr = on } }

// WithApplication sets the encoder's application (AppAudio by default).
func WithApplication(a Application) Option { return func(c *config) { c.app = a } }

// maxPacket is the largest packet the encoder makes for frames of n
// samples: libopus codes up to 20 ms as one frame of at most 1275 bytes
// after the TOC byte, 40 ms as two (code 1 or 2), 60 ms as three (code 3,
// with two frame lengths).
func maxPacket(n int) int {
	switch {
	case n <= 960:
		return 1 + opus.MaxFrameSize
	case n <= 1920:
		return 3 + 2*opus.MaxFrameSize
	default:
		return 2 + 4 + 3*opus.MaxFrameSize
	}
}

// Encoder encodes 16-bit PCM at 48 kHz, mono or stereo, into Opus packets,
// one per frame. It is a framed.PacketSource, for a framed.Framer that puts
// its packets into a cache:
//
//	enc, _ := libopus.NewEncoder(libopus.Format(2))
//	c := catcher.New(pcm, catcher.WithTransform(framed.NewFramer(enc)))
//
// The last frame, if partial, is padded with silence, and more silent
// frames follow until the packets cover the pre-skip as well: the true
// length (the input's) is kept in Length. It is not safe for concurrent
// use.
type Encoder struct {
	enc     *gopus.Encoder
	cfg     config
	ch      int
	max     int
	preskip int64
	frame   []int16 // the frame libopus encodes: raw itself on a little-endian machine
	raw     []byte  // the frame's PCM as read
	in      int64   // samples read
	out     int64   // samples encoded
	ended   bool    // the input has ended
	length  int64
}

// NewEncoder returns an encoder of PCM in format f, which must be 48 kHz,
// 1 or 2 channels, S16LE. The format and the options are checked here;
// errors wrap transform.ErrFormat.
func NewEncoder(f transform.Format, opts ...Option) (*Encoder, error) {
	cfg := config{frame: 960, app: AppAudio}
	for _, o := range opts {
		o(&cfg)
	}
	if f.Rate != 48000 || f.Channels < 1 || f.Channels > 2 || f.Encoding != transform.S16LE {
		return nil, fmt.Errorf("%w: Opus encodes 48000 Hz, 1 or 2 ch, s16le, not %v", transform.ErrFormat, f)
	}
	switch cfg.frame {
	case 120, 240, 480, 960, 1920, 2880:
	default:
		return nil, fmt.Errorf("%w: frame of %d samples (want 2.5, 5, 10, 20, 40 or 60 ms)", transform.ErrFormat, cfg.frame)
	}
	if cfg.bitrate != 0 && (cfg.bitrate < 500 || cfg.bitrate > 512000) {
		return nil, fmt.Errorf("%w: bitrate %d", transform.ErrFormat, cfg.bitrate)
	}
	app := map[Application]gopus.Application{AppAudio: gopus.Audio, AppVoIP: gopus.Voip, AppLowDelay: gopus.RestrictedLowDelay}[cfg.app]
	if app == 0 {
		return nil, fmt.Errorf("%w: application %d", transform.ErrFormat, cfg.app)
	}
	enc, err := gopus.NewEncoder(48000, f.Channels, app)
	if err != nil {
		return nil, fmt.Errorf("libopus: encoder: %w", err)
	}
	if cfg.bitrate != 0 {
		enc.SetBitrate(cfg.bitrate)
	}
	enc.SetVbr(!cfg.cbr)
	e := &Encoder{enc: enc, cfg: cfg, ch: f.Channels, max: maxPacket(cfg.frame), preskip: PreSkip, length: -1,
		raw: make([]byte, cfg.frame*f.Channels*2)}
	if littleEndian {
		// The PCM read is the frame: s16le is the machine's int16.
		e.frame = unsafe.Slice((*int16)(unsafe.Pointer(&e.raw[0])), len(e.raw)/2)
	} else {
		e.frame = make([]int16, len(e.raw)/2)
	}
	if cfg.app == AppLowDelay {
		e.preskip = PreSkipLowDelay
	}
	return e, nil
}

// PreSkip returns the encoder's pre-skip: PreSkip, or PreSkipLowDelay.
func (e *Encoder) PreSkip() int64 { return e.preskip }

// MaxPacketSize returns the largest packet the encoder makes: 1276 bytes
// for frames of up to 20 ms, 2553 for 40 ms, 3831 for 60 ms.
func (e *Encoder) MaxPacketSize() int { return e.max }

// Length returns the number of samples read once the input has ended
// (NextPacket returned io.EOF), -1 before.
func (e *Encoder) Length() int64 {
	if !e.ended {
		return -1
	}
	return e.length
}

// FrameSamples returns the samples at 48 kHz in each packet.
func (e *Encoder) FrameSamples() int64 { return int64(e.cfg.frame) }

// Size is the memory the encoder holds: its buffers and libopus's state
// (about 30 KB for stereo; see catcher.Sizer).
func (e *Encoder) Size() int64 {
	n := int64(len(e.raw)) + 30<<10
	if !littleEndian {
		n += int64(2 * len(e.frame))
	}
	return n
}

// littleEndian reports whether the machine's int16 is s16le, so that the
// encoder hands libopus the PCM it read as it is, without converting it.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// NextPacket reads one frame of PCM from src and returns its packet, valid
// until the next call. Input that ends inside a frame is padded with
// silence; an input that ends inside a sample is transform.ErrPartialFrame
// (wrapped). At the end,
// once the packets cover the input and the pre-skip, it returns io.EOF.
func (e *Encoder) NextPacket(src io.Reader) ([]byte, error) {
	if e.ended && e.out >= e.length+e.preskip {
		return nil, io.EOF
	}
	n := 0
	if !e.ended {
		var err error
		n, err = io.ReadFull(src, e.raw)
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			e.ended = true
			if n%(2*e.ch) != 0 {
				return nil, fmt.Errorf("%w: PCM ends inside a frame of %d bytes", transform.ErrPartialFrame, 2*e.ch)
			}
		case err != nil:
			return nil, err
		}
		e.in += int64(n / (2 * e.ch))
		if e.ended {
			e.length = e.in
			if n == 0 && e.out >= e.length+e.preskip {
				return nil, io.EOF
			}
		}
	}
	if !littleEndian {
		for i := range e.frame[:n/2] {
			e.frame[i] = int16(binary.LittleEndian.Uint16(e.raw[2*i:]))
		}
	}
	clear(e.frame[n/2:])
	p, err := e.encode()
	if err != nil {
		return nil, err
	}
	e.out += int64(e.cfg.frame)
	return p, nil
}

func (e *Encoder) encode() (p []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("libopus: encoder panicked: %v", r)
		}
	}()
	p, err = e.enc.Encode(e.frame, e.cfg.frame, e.max)
	if err != nil {
		return nil, fmt.Errorf("libopus: encode: %w", err)
	}
	return p, nil
}

// DecoderOption configures a Decoder.
type DecoderOption func(*decoderConfig)

type decoderConfig struct{ skip, length int64 }

// WithPreSkip sets the samples dropped from the start of the decoded
// stream (an Index's PreSkip, or the drop of Index.DecodeFrom). The default
// is 0. It panics if n < 0.
func WithPreSkip(n int64) DecoderOption {
	if n < 0 {
		panic(fmt.Sprintf("libopus: WithPreSkip(%d)", n))
	}
	return func(c *decoderConfig) { c.skip = n }
}

// WithLength sets the true length of the decoded stream in samples,
// pre-skip excluded (an Index's Length once Done): the output stops there.
// The default, -1, keeps everything.
func WithLength(n int64) DecoderOption { return func(c *decoderConfig) { c.length = n } }

// Decoder decodes a framed packet stream (see package framed), as a
// framed.Framer writes it, back to 16-bit PCM at 48 kHz. It is a
// catcher.Transform.
//
// A packet that is corrupt (invalid framing, or refused by libopus) is
// concealed: libopus's packet-loss concealment fills its duration (from its
// TOC if readable, else the previous packet's), and Concealed counts it. A
// damaged framed stream (a bad length prefix) ends the output with
// framed.ErrCorrupt; one that ends inside a record, with an error wrapping
// io.ErrUnexpectedEOF. It is not safe for concurrent use.
type Decoder struct {
	dec       *gopus.Decoder
	ch        int
	pr        *framed.Reader
	src       io.Reader
	skip      int64 // samples still to drop
	left      int64 // samples still to output; -1: no limit
	last      int64 // duration of the last packet
	out       []byte
	outR      int
	concealed int
	err       error
}

// NewDecoder returns a decoder to the given number of channels (1 or 2,
// whatever the packets code). Errors wrap transform.ErrFormat.
func NewDecoder(channels int, opts ...DecoderOption) (*Decoder, error) {
	cfg := decoderConfig{length: -1}
	for _, o := range opts {
		o(&cfg)
	}
	dec, err := newGopusDecoder(channels)
	if err != nil {
		return nil, err
	}
	return &Decoder{dec: dec, ch: channels, skip: cfg.skip, left: cfg.length, last: 960}, nil
}

// newGopusDecoder returns a libopus decoder to 1 or 2 channels at 48 kHz.
func newGopusDecoder(channels int) (*gopus.Decoder, error) {
	if channels < 1 || channels > 2 {
		return nil, fmt.Errorf("%w: Opus decodes to 1 or 2 channels, not %d", transform.ErrFormat, channels)
	}
	dec, err := gopus.NewDecoder(48000, channels)
	if err != nil {
		return nil, fmt.Errorf("libopus: decoder: %w", err)
	}
	return dec, nil
}

// Format returns the decoded format: 48 kHz, s16le, the decoder's channels.
func (d *Decoder) Format() transform.Format {
	return transform.Format{Rate: 48000, Channels: d.ch, Encoding: transform.S16LE}
}

// Size is the memory the decoder holds: its buffers and libopus's state
// (about 20 KB for stereo; see catcher.Sizer).
func (d *Decoder) Size() int64 { return int64(cap(d.out)) + 20<<10 }

// Concealed returns the number of corrupt packets concealed so far.
func (d *Decoder) Concealed() int { return d.concealed }

// MinSpace is one frame of PCM.
func (d *Decoder) MinSpace() int { return 2 * d.ch }

// Transform writes decoded PCM into dst.
func (d *Decoder) Transform(dst []byte, src io.Reader) (int, error) {
	if d.pr == nil || d.src != src {
		d.pr, d.src = framed.NewReader(src), src
	}
	for {
		if d.outR < len(d.out) {
			n := copy(dst[:len(dst)/(2*d.ch)*(2*d.ch)], d.out[d.outR:])
			d.outR += n
			return n, nil
		}
		if d.err != nil {
			return 0, d.err
		}
		if d.left == 0 {
			d.err = io.EOF
			continue
		}
		p, err := d.pr.ReadPacket()
		if err != nil {
			d.err = err
			continue
		}
		pcm := d.decode(p)
		d.out, d.outR = d.out[:0], 0
		k := int64(len(pcm) / d.ch)
		from := min(d.skip, k)
		d.skip -= from
		to := k
		if d.left >= 0 {
			to = min(k, from+d.left)
			d.left -= to - from
		}
		for _, v := range pcm[from*int64(d.ch) : to*int64(d.ch)] {
			d.out = binary.LittleEndian.AppendUint16(d.out, uint16(v))
		}
	}
}

// decode decodes one packet, concealing it if it is corrupt.
func (d *Decoder) decode(p []byte) []int16 {
	n, perr := opus.PacketSamples(p)
	if perr == nil {
		pcm, err := decodeFenced(d.dec, p, n)
		if err == nil && int64(len(pcm)) == n*int64(d.ch) {
			d.last = n
			return pcm
		}
	} else {
		n = d.last
	}
	d.concealed++
	pcm, err := decodeFenced(d.dec, nil, n)
	if err != nil || int64(len(pcm)) != n*int64(d.ch) {
		return make([]int16, n*int64(d.ch))
	}
	return pcm
}

// decodeFenced decodes n samples of p with dec, a panic in the binding
// turned into an error; p nil asks for concealment.
func decodeFenced(dec *gopus.Decoder, p []byte, n int64) (pcm []int16, err error) {
	defer func() {
		if r := recover(); r != nil {
			pcm, err = nil, fmt.Errorf("%w: decoder panicked: %v", opus.ErrCorruptPacket, r)
		}
	}()
	if n <= 0 {
		return nil, errors.New("libopus: no duration")
	}
	return dec.Decode(p, int(n), false)
}
