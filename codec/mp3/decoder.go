// Package mp3 decodes MP3 (MPEG-1, MPEG-2 and MPEG-2.5 Layer III) to PCM,
// exact to the sample, through the package's own Layer III decoder
// (Native, the default), or (with WithEngine(GoMP3)) through
// github.com/hajimehoshi/go-mp3, fenced.
//
// go-mp3 is unmaintained: it panics on some corrupt frames, scans its whole
// input when it can seek, and mis-sizes some padded MPEG-2 frames. So our
// own frame walker finds the frames (skipping ID3v2, ID3v1 and APE tags,
// trailing zeros and damaged regions, resynchronising on a chain of valid
// headers) and hands go-mp3 one validated frame at a time through a reader
// without Seek; every call into it is fenced, a panic becoming
// ErrDecoderPanic. The LAME/Xing frame is parsed and not decoded: the
// encoder delay it records, and go-mp3's own decoder delay, are trimmed
// from the start and the padding from the end, so a whole file decodes to
// exactly its original length, sample-aligned. Without a LAME tag only the
// decoder's own delay is trimmed, and the length is unknown.
//
// Padded MPEG-2 frames whose size go-mp3 computes one byte short (22.05
// kHz at 8, 16, 24, 32, 80, 96, 144 or 160 kbit/s, and VBR streams that
// use those) would decode to near silence; with go-mp3 the decoder refuses
// them at the first such frame with ErrUnsupported instead, and MPEG-2.5
// from the start.
//
// The package's own decoder (Native) reads the frames the same walker
// finds; it decodes MPEG-1, MPEG-2 and MPEG-2.5, padded frames included,
// to float32 PCM, mono staying mono, with no allocation per frame, and its
// output is aligned and trimmed as go-mp3's is.
//
// Truncated input gives errors that wrap io.ErrUnexpectedEOF.
package mp3

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unsafe"

	gomp3 "github.com/hajimehoshi/go-mp3"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/transform"
)

// decoderDelay is the delay, in samples, of go-mp3's output relative to
// the encoder's input beyond the encoder delay that the LAME tag records:
// 528 samples of synthesis filter delay plus one, the convention LAME's
// tag assumes (measured against the fixtures: the program starts at
// exactly encoder delay + 529 in go-mp3's output).
const decoderDelay = 529

// Info describes an MP3 stream, as far as its first frames tell. It is the
// State that a Decoder publishes once it has found the first audio frame
// (catcher.StateOf[mp3.Info]).
type Info struct {
	// SampleRate is the stream's rate in Hz. The decoded PCM has this rate.
	SampleRate int
	// Channels is the number of channels coded in the file (1 or 2). The
	// PCM go-mp3 decodes is always stereo: a mono file is duplicated; the
	// Native decoder's has the file's channels.
	Channels int
	// Version is the MPEG version: 1, 2, or 25 for MPEG-2.5 (which only
	// the Native decoder decodes).
	Version int
	// Frames is the number of audio frames the Xing header announces, or -1.
	Frames int64
	// EncoderDelay and Padding are the samples the LAME tag says the
	// encoder added at the start and the end, or -1 without a LAME tag.
	EncoderDelay, Padding int64
	// Length is the exact number of samples (per channel) the stream
	// decodes to when whole, or -1 if the file does not say (no LAME tag
	// with a frame count). Without a LAME tag, the decoded stream keeps the
	// encoder's delay (576 samples for LAME) at its start, since only the
	// tag records it.
	Length int64
	// VBR reports a Xing (rather than Info) header.
	VBR bool
	// Encoder is the LAME tag's encoder string, as "LAME3.100".
	Encoder string
	// Title and Artist are those of an ID3v2 tag before the audio (its
	// TIT2 and TPE1 frames, in the first 32 KiB of the tag), or "".
	Title, Artist string
}

// Decoder decodes MP3 to PCM at the stream's rate: with the Native
// engine (the default), float32 little-endian in the stream's channels;
// with go-mp3, 16-bit little-endian stereo (see Format). It is a
// catcher.Transform, a catcher.Stater (its state is an Info,
// once the first audio frame is found, and the Frames decoded, once one
// is) and a catcher.Sizer.
//
// Frames lost in a damaged region are not replaced: the output is shorter
// by their duration; a frame that go-mp3 fails on is replaced by silence
// of its length, as are the first frames after a gap, whose bit reservoir
// is lost. The Native decoder gives, for such frames, what its filter
// banks hold from the frames before, fading out: the same length.
//
// At the end of the stream Transform returns io.EOF, or, after everything
// that could be decoded: an error wrapping io.ErrUnexpectedEOF if the input
// ends inside a frame or before the frames the Xing header announces;
// ErrCorrupt (wrapped, with the offsets of the damage) if damaged regions
// or frames were skipped; ErrUnsupported for a stream go-mp3 cannot decode
// (with go-mp3 only); ErrNotMP3 if there is no Layer III stream at all.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	walk walker
	info Info
	// infoReady is set once the first audio frame has been found.
	infoReady bool
	xing      xingInfo
	pending   *frame // the first audio frame, found by ReadInfo, not yet decoded
	pendBuf   [maxFrame]byte

	engine Engine
	dec    *gomp3.Decoder // nil when dropped
	feed   frameFeeder
	avail  int     // main data bytes go-mp3 holds from earlier frames
	l3     *layer3 // the Native decoder, made with the first audio frame

	pcm     []byte // go-mp3's output, made with its first frame
	out     []byte // decoded PCM not yet returned
	outR    int
	skip    int64 // samples still to drop at the start
	frames  int64 // audio frames seen
	samples int64 // samples emitted into out
	placed  Frames

	// state is what State returned last, for stateKey: built again
	// only once a frame has been placed since (or after a seek).
	state    any
	stateKey stateKey
	infoAny  any // info, boxed once

	damage    []string
	firstFail error
	truncErr  error
	ended     bool
	final     error
}

// Engine is the Layer III decoder a Decoder runs.
type Engine int

const (
	// Native is the package's own Layer III decoder, the default (the
	// zero Engine): float32 output in the stream's channels, MPEG-1,
	// MPEG-2 and MPEG-2.5.
	Native Engine = iota
	// GoMP3 is github.com/hajimehoshi/go-mp3, fenced: 16-bit stereo
	// output; no MPEG-2.5, nor the padded MPEG-2 frames it mis-sizes.
	GoMP3
)

// String returns the engine's name.
func (e Engine) String() string {
	switch e {
	case GoMP3:
		return "go-mp3"
	case Native:
		return "native"
	}
	return fmt.Sprintf("mp3.Engine(%d)", int(e))
}

// Option configures NewDecoder and Seek.
type Option func(*Decoder)

// WithEngine selects the Layer III decoder: Native (the default) or
// GoMP3. An unknown engine is Native.
func WithEngine(e Engine) Option {
	return func(d *Decoder) {
		if e == GoMP3 {
			d.engine = GoMP3
		} else {
			d.engine = Native
		}
	}
}

// NewDecoder returns an MP3 decoder.
func NewDecoder(opts ...Option) *Decoder {
	d := &Decoder{}
	for _, o := range opts {
		o(d)
	}
	return d
}

// Engine returns the Layer III decoder d runs.
func (d *Decoder) Engine() Engine { return d.engine }

// MinSpace is 4 with go-mp3 (one stereo 16-bit sample), 8 with the
// Native decoder (one stereo float32 sample).
func (d *Decoder) MinSpace() int {
	if d.engine == Native {
		return 8
	}
	return 4
}

// frameBytes is the size of one sample of every channel of the output
// (4 before the first frame is found, with the Native decoder).
func (d *Decoder) frameBytes() int {
	if d.engine == Native {
		return 4 * max(d.info.Channels, 1)
	}
	return 4
}

// frameFeeder is the reader go-mp3 reads from: it holds one frame.
type frameFeeder struct{ cur []byte }

func (f *frameFeeder) Read(p []byte) (int, error) {
	if len(f.cur) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// ReadInfo reads src up to the first audio frame and returns what the
// stream's first frames say. Transform goes on from there with the same
// source. Errors: ErrNotMP3, ErrUnsupported, io.ErrUnexpectedEOF (wrapped)
// or the source's error.
func (d *Decoder) ReadInfo(src io.Reader) (Info, error) {
	d.walk.src = src
	if d.infoReady {
		return d.info, nil
	}
	if d.ended {
		return d.info, d.final
	}
	f, err := d.nextAudio()
	if err != nil {
		d.finish(err)
		return d.info, d.final
	}
	d.pending = &frame{h: f.h, off: f.off, data: d.pendBuf[:copy(d.pendBuf[:], f.data)]}
	return d.info, nil
}

// Info returns what ReadInfo returns, once Transform or ReadInfo has found
// the first audio frame (the zero Info before that). It is for the
// goroutine that drives the decoder; others read the published state.
func (d *Decoder) Info() Info { return d.info }

// State returns the Info once the first audio frame has been found, else
// nil; once a frame is decoded, a catcher.ChainState of the Info and the
// Frames.
func (d *Decoder) State() any {
	if !d.infoReady {
		return nil
	}
	if d.infoAny == nil {
		d.infoAny = d.info
	}
	if d.placed.Len() == 0 {
		return d.infoAny
	}
	if k := d.keyOfState(); d.state == nil || k != d.stateKey {
		d.state, d.stateKey = catcher.ChainState{d.infoAny, d.placed.view()}, k
	}
	return d.state
}

// stateKey tells whether the Frames published are still those placed:
// their number and array, and the frames decoded.
type stateKey struct {
	n      int
	first  *int64
	frames int64
}

func (d *Decoder) keyOfState() stateKey {
	return stateKey{n: d.placed.Len(), first: &d.placed.offsets[0], frames: d.frames}
}

// Size is the memory the decoder holds (see catcher.Sizer).
func (d *Decoder) Size() int64 {
	n := int64(cap(d.walk.buf) + cap(d.out) + cap(d.pcm) + len(d.pendBuf) + cap(d.placed.offsets)*16)
	if d.engine == GoMP3 {
		n += 32 << 10 // go-mp3's own state, about
	}
	if d.l3 != nil {
		n += layer3Size
	}
	return n
}

// nextAudio returns the next audio frame, handling the Xing frame and
// recording damage.
func (d *Decoder) nextAudio() (frame, error) {
	for {
		f, junk, at, err := d.walk.next()
		if junk > 0 && d.infoReady {
			d.noteDamage(fmt.Sprintf("%d bytes at offset %d", junk, at))
			d.drop() // the bit reservoir does not survive the gap
		}
		if err != nil {
			return f, err
		}
		goMP3 := d.engine == GoMP3
		if !d.infoReady {
			if goMP3 && f.h.version == 25 {
				return f, fmt.Errorf("%w: MPEG-2.5 (%d Hz)", ErrUnsupported, f.h.rate)
			}
			if x, ok := parseXing(f.h, f.data); ok {
				d.xing = x
				d.setInfo(f.h)
				continue
			}
			d.xing = xingInfo{frames: -1, delay: -1, padding: -1}
			d.setInfo(f.h)
			if goMP3 && !d.xing.vbr && f.h.misSizedWhenPadded() && f.h.padsSometimes() {
				return f, misSized(f)
			}
		}
		if goMP3 && f.h.padding && f.h.misSizedWhenPadded() {
			return f, misSized(f)
		}
		return f, nil
	}
}

func misSized(f frame) error {
	return fmt.Errorf("%w: padded MPEG-2 frames at %d Hz and %d kbit/s (first at offset %d), which go-mp3 reads one byte short",
		ErrUnsupported, f.h.rate, f.h.bitrate/1000, f.off)
}

func (d *Decoder) setInfo(h header) {
	x := d.xing
	d.info = Info{SampleRate: h.rate, Channels: h.channels, Version: h.version, Frames: x.frames,
		EncoderDelay: x.delay, Padding: x.padding, Length: -1, VBR: x.vbr, Encoder: x.encoder,
		Title: d.walk.title, Artist: d.walk.artist}
	d.skip = decoderDelay
	if x.delay >= 0 {
		d.skip += x.delay
		if x.frames >= 0 {
			d.info.Length = max(0, x.frames*int64(h.samples())-x.delay-x.padding)
		}
	}
	d.infoReady = true
}

func (d *Decoder) noteDamage(s string) {
	if len(d.damage) < 8 {
		d.damage = append(d.damage, s)
	} else if len(d.damage) == 8 {
		d.damage = append(d.damage, "...")
	}
}

// drop forgets the go-mp3 decoder, or the Native decoder's bit
// reservoir.
func (d *Decoder) drop() {
	d.dec = nil
	d.avail = 0
	if d.l3 != nil {
		d.l3.reset()
	}
}

// Transform writes decoded PCM into dst. See the type's doc for its ends.
func (d *Decoder) Transform(dst []byte, src io.Reader) (int, error) {
	d.walk.src = src
	for {
		if k := d.ready(); k > 0 {
			n := copy(dst[:len(dst)/d.frameBytes()*d.frameBytes()], d.out[d.outR:d.outR+k])
			d.outR += n
			return n, nil
		}
		if d.ended {
			return 0, d.final
		}
		var f frame
		var err error
		if d.pending != nil {
			f, d.pending = *d.pending, nil
		} else {
			f, err = d.nextAudio()
		}
		if err != nil {
			d.finish(err)
			continue
		}
		d.decode(f)
	}
}

// hold is how many bytes at the end of the output are kept back until the
// end of the stream, for the end trimming.
func (d *Decoder) hold() int {
	if d.ended || d.xing.padding < 0 {
		return 0
	}
	return int(max(0, d.xing.padding-decoderDelay)) * d.frameBytes()
}

// ready is how many bytes of out can be returned now.
func (d *Decoder) ready() int {
	k := len(d.out) - d.outR - d.hold()
	if k <= 0 && d.outR > 0 {
		d.out = append(d.out[:0], d.out[d.outR:]...)
		d.outR = 0
	}
	return max(k, 0)
}

// decode decodes one frame into out.
func (d *Decoder) decode(f frame) {
	if d.engine == Native {
		d.decodeNative(f)
		return
	}
	d.frames++
	n := f.h.samples()
	pcm, err := d.decodeFenced(f.data)
	if err != nil {
		if d.firstFail == nil {
			d.firstFail = err
		}
		d.noteDamage(fmt.Sprintf("frame at offset %d: %v", f.off, err))
		d.drop()
		pcm = nil
	} else if f.h.mainDataBegin(f.data) > d.avail {
		pcm = nil // its bit reservoir is lost: silence rather than noise
	}
	if d.dec != nil {
		d.avail = min(d.avail+f.h.mainDataSize(), 4096)
	}
	if pcm == nil {
		d.pcm = slices.Grow(d.pcm[:0], n*4)[:n*4]
		clear(d.pcm)
		pcm = d.pcm
	}
	d.placed.record(f.off, d.samples-d.skip)
	d.emit(pcm)
}

// decodeNative decodes one frame with the Native decoder into out.
func (d *Decoder) decodeNative(f frame) {
	d.frames++
	if d.l3 == nil {
		d.l3 = newLayer3()
	}
	n := f.h.samples() * f.h.channels
	pcm := d.l3.pcm[:]
	if f.h.channels != d.info.Channels {
		// A frame of another stream that the walker let through: its
		// samples, as silence in the stream's channels.
		n = f.h.samples() * d.info.Channels
		clear(pcm[:n])
		d.noteDamage(fmt.Sprintf("frame at offset %d: %d channels in a stream of %d", f.off, f.h.channels, d.info.Channels))
	} else if err := d.l3.decodeFrame(f, pcm[:n]); err != nil {
		if d.firstFail == nil {
			d.firstFail = err
		}
		d.noteDamage(fmt.Sprintf("frame at offset %d: %v", f.off, err))
	}
	d.placed.record(f.off, d.samples-d.skip)
	pcm = pcm[:n]
	if d.skip > 0 {
		k := min(d.skip, int64(n/d.info.Channels))
		d.skip -= k
		pcm = pcm[k*int64(d.info.Channels):]
	}
	d.samples += int64(len(pcm) / d.info.Channels)
	at := d.grow(4 * len(pcm))
	putFloats(d.out[at:at+4*len(pcm)], pcm)
}

// littleEndian reports whether the machine stores a float32 as F32LE
// does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// putFloats writes pcm into b (4 bytes a value) as little-endian float32.
func putFloats(b []byte, pcm []float32) {
	if littleEndian && len(pcm) > 0 {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&pcm[0])), 4*len(pcm)))
		return
	}
	for i, v := range pcm {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
}

// emit appends decoded PCM to out, dropping the start delay.
func (d *Decoder) emit(pcm []byte) {
	fb := d.frameBytes()
	if d.skip > 0 {
		k := min(d.skip, int64(len(pcm)/fb))
		d.skip -= k
		pcm = pcm[k*int64(fb):]
	}
	d.samples += int64(len(pcm) / fb)
	at := d.grow(len(pcm))
	copy(d.out[at:], pcm)
}

// grow lengthens out by n bytes and returns where they start. The first
// time, out is made for what it holds when a frame is decoded: the
// samples held back for the end trimming (Transform decodes only once
// the rest is returned, and ready moves them to the front) and the
// frame.
func (d *Decoder) grow(n int) int {
	if d.out == nil {
		d.out = make([]byte, 0, d.hold()+1152*d.frameBytes())
	}
	at := len(d.out)
	d.out = slices.Grow(d.out, n)[:at+n]
	return at
}

// decodeFenced hands one frame to go-mp3 and returns its PCM, turning a
// panic into an error.
func (d *Decoder) decodeFenced(frame []byte) (pcm []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			pcm, err = nil, fmt.Errorf("%w: %v", ErrDecoderPanic, r)
		}
	}()
	d.feed.cur = frame
	if d.pcm == nil {
		d.pcm = make([]byte, 1152*2*4)
	}
	if d.dec == nil {
		if d.dec, err = gomp3.NewDecoder(&d.feed); err != nil {
			d.dec = nil
			return nil, err
		}
	}
	n, err := d.dec.Read(d.pcm)
	if err != nil {
		return nil, err
	}
	if len(d.feed.cur) != 0 {
		return nil, fmt.Errorf("decoder left %d bytes of a frame", len(d.feed.cur))
	}
	return d.pcm[:n], nil
}

// finish ends the stream: trims or pads the end and sets the final error.
func (d *Decoder) finish(err error) {
	d.ended = true
	var errs []error
	switch {
	case err == io.EOF:
	case errors.Is(err, io.ErrUnexpectedEOF):
		d.truncErr = err
	default:
		if !d.infoReady && !errors.Is(err, ErrNotMP3) && !errors.Is(err, ErrUnsupported) && d.walk.err == nil {
			err = fmt.Errorf("%w: %w", ErrNotMP3, err)
		}
		d.final = err
		return
	}
	if !d.walk.started {
		if d.walk.off == 0 && d.truncErr == nil {
			d.final = fmt.Errorf("mp3: empty input: %w", io.ErrUnexpectedEOF)
		} else if d.truncErr != nil {
			d.final = d.truncErr
		} else {
			d.final = fmt.Errorf("%w: no Layer III frame in %d bytes", ErrNotMP3, d.walk.off)
		}
		return
	}
	if d.truncErr == nil && d.xing.frames >= 0 && d.frames < d.xing.frames && len(d.damage) == 0 {
		d.truncErr = fmt.Errorf("mp3: %d audio frames of the %d announced: %w", d.frames, d.xing.frames, io.ErrUnexpectedEOF)
	}
	if d.xing.padding >= 0 && d.truncErr == nil {
		// Exact end: drop the padding beyond the decoder delay, or, when
		// the padding is shorter than that delay, add the samples go-mp3
		// cannot flush.
		if short := decoderDelay - d.xing.padding; short > 0 {
			d.out = append(d.out, make([]byte, short*int64(d.frameBytes()))...)
		} else {
			d.out = d.out[:max(d.outR, len(d.out)+int(short)*d.frameBytes())]
		}
	}
	if d.truncErr != nil {
		errs = append(errs, d.truncErr)
	}
	if len(d.damage) > 0 {
		detail := fmt.Sprint(d.damage)
		if d.firstFail != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrCorrupt, detail, d.firstFail))
		} else {
			errs = append(errs, fmt.Errorf("%w: %s", ErrCorrupt, detail))
		}
	}
	switch len(errs) {
	case 0:
		d.final = io.EOF
	case 1:
		d.final = errs[0]
	default:
		d.final = errors.Join(errs...)
	}
}

// Format returns the format of the decoder's output (rate 0 until the
// first frame has been found): with go-mp3, stereo 16-bit at the stream's
// rate; with the Native decoder, float32 in the stream's channels.
func (d *Decoder) Format() transform.Format {
	if d.engine == Native {
		return transform.Format{Rate: d.info.SampleRate, Channels: max(d.info.Channels, 1), Encoding: transform.F32LE}
	}
	return transform.Format{Rate: d.info.SampleRate, Channels: 2, Encoding: transform.S16LE}
}
