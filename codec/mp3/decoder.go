package codec

import (
	"errors"
	"fmt"
	"io"

	mp3 "github.com/hajimehoshi/go-mp3"

	"github.com/streamcatcher/streamcatcher/transform"
)

// mp3DecoderDelay is the delay, in samples, of go-mp3's output relative to
// the encoder's input beyond the encoder delay that the LAME tag records:
// 528 samples of synthesis filter delay plus one, the convention LAME's
// tag assumes (measured against the fixtures: the program starts at
// exactly encoder delay + 529 in go-mp3's output).
const mp3DecoderDelay = 529

// MP3Info describes an MP3 stream, as far as its first frames tell.
type MP3Info struct {
	// SampleRate is the stream's rate in Hz. The decoded PCM has this rate.
	SampleRate int
	// Channels is the number of channels coded in the file (1 or 2). The
	// decoded PCM is always stereo: a mono file is duplicated.
	Channels int
	// Version is the MPEG version: 1 or 2.
	Version int
	// Frames is the number of audio frames the Xing header announces, or -1.
	Frames int64
	// EncoderDelay and Padding are the samples the LAME tag says the
	// encoder added at the start and the end, or -1 without a LAME tag.
	EncoderDelay, Padding int
	// Length is the exact number of samples (per channel) the stream
	// decodes to when whole, or -1 if the file does not say (no LAME tag).
	Length int64
	// VBR reports a Xing (rather than Info) header.
	VBR bool
	// Encoder is the LAME tag's encoder string, as "LAME3.100".
	Encoder string
}

// MP3Decoder decodes MP3 (MPEG-1 and MPEG-2 Layer III) to PCM: 16-bit
// little-endian stereo at the stream's rate. It is a catcher.Transform.
//
// Our own frame walker finds the frames (skipping ID3 and APE tags and any
// damaged region, resynchronising on a chain of valid headers) and hands
// go-mp3 one frame at a time through a reader without Seek, so go-mp3
// never scans ahead. Every call into go-mp3 is fenced: a panic becomes
// ErrDecoderPanic, that decoder is dropped and a new one takes over with
// the next frame (its first frames, whose bit reservoir is lost, come out
// as silence). The LAME/Xing frame is not audio and is not decoded; the
// encoder delay and padding it records are trimmed, so a whole file
// decodes to exactly its original length, sample-aligned. Frames lost in
// a damaged region are not replaced: the output is shorter by their
// duration (a frame that go-mp3 fails on is replaced by silence of its
// length).
//
// At the end of the stream Transform returns io.EOF, or, after everything
// that could be decoded: ErrTruncated (wrapped) if the input ends inside a
// frame or before the frames the Xing header announces; ErrCorrupt
// (wrapped, with the offsets of the damage) if damaged regions were
// skipped; ErrNotMP3 if there is no Layer III stream at all.
//
// An MP3Decoder is not safe for concurrent use.
type MP3Decoder struct {
	walk mp3Walker
	info MP3Info
	// infoReady is set once the first audio frame has been found.
	infoReady bool
	xing      xingInfo
	pending   *mp3Frame // the first audio frame, found by ReadInfo, not yet decoded
	pendBuf   [mp3MaxFrame]byte

	dec   *mp3.Decoder // nil when dropped
	feed  frameFeeder
	avail int // main data bytes go-mp3 holds from earlier frames

	pcm     [1152 * 4]byte
	out     []byte // decoded PCM not yet returned
	outR    int
	skip    int64 // samples still to drop at the start
	frames  int64 // audio frames seen
	samples int64 // samples emitted into out

	damage    []string
	firstFail error
	truncErr  error
	ended     bool
	final     error
}

// NewMP3Decoder returns an MP3 decoder.
func NewMP3Decoder() *MP3Decoder { return &MP3Decoder{} }

// MinSpace is 4: one stereo 16-bit sample.
func (d *MP3Decoder) MinSpace() int { return 4 }

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
// source. Errors: ErrNotMP3, ErrTruncated (wrapped) or the source's error.
func (d *MP3Decoder) ReadInfo(src io.Reader) (MP3Info, error) {
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
	d.pending = &mp3Frame{h: f.h, off: f.off, data: d.pendBuf[:copy(d.pendBuf[:], f.data)]}
	return d.info, nil
}

// Info returns what ReadInfo returns, once Transform or ReadInfo has found
// the first audio frame (the zero MP3Info before that).
func (d *MP3Decoder) Info() MP3Info { return d.info }

// nextAudio returns the next audio frame, handling the Xing frame and
// recording damage.
func (d *MP3Decoder) nextAudio() (mp3Frame, error) {
	for {
		f, junk, at, err := d.walk.next()
		if junk > 0 && d.infoReady {
			d.noteDamage(fmt.Sprintf("%d bytes at offset %d", junk, at))
			d.drop() // the bit reservoir does not survive the gap
		}
		if err != nil {
			return f, err
		}
		if !d.infoReady {
			if f.h.version == 25 {
				return f, fmt.Errorf("%w: MPEG-2.5 (%d Hz) is not supported by the decoder", ErrNotMP3, f.h.rate)
			}
			if x, ok := parseXing(f.h, f.data); ok {
				d.xing = x
				d.setInfo(f.h)
				continue
			}
			d.xing = xingInfo{frames: -1, delay: -1, padding: -1}
			d.setInfo(f.h)
		}
		return f, nil
	}
}

func (d *MP3Decoder) setInfo(h mp3Header) {
	x := d.xing
	d.info = MP3Info{SampleRate: h.rate, Channels: h.channels, Version: h.version, Frames: x.frames,
		EncoderDelay: x.delay, Padding: x.padding, Length: -1, VBR: x.vbr, Encoder: x.encoder}
	if x.delay >= 0 && x.frames >= 0 {
		d.info.Length = max(0, x.frames*int64(h.samples())-int64(x.delay)-int64(x.padding))
		d.skip = int64(x.delay) + mp3DecoderDelay
	}
	d.infoReady = true
}

func (d *MP3Decoder) noteDamage(s string) {
	if len(d.damage) < 8 {
		d.damage = append(d.damage, s)
	} else if len(d.damage) == 8 {
		d.damage = append(d.damage, "...")
	}
}

// drop forgets the go-mp3 decoder.
func (d *MP3Decoder) drop() {
	d.dec = nil
	d.avail = 0
}

// Transform writes decoded PCM into dst. See the type's doc for its ends.
func (d *MP3Decoder) Transform(dst []byte, src io.Reader) (int, error) {
	d.walk.src = src
	for {
		if k := d.ready(); k > 0 {
			n := copy(dst[:len(dst)&^3], d.out[d.outR:d.outR+k])
			d.outR += n
			return n, nil
		}
		if d.ended {
			return 0, d.final
		}
		var f mp3Frame
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
func (d *MP3Decoder) hold() int {
	if d.ended || d.info.Length < 0 {
		return 0
	}
	return max(0, d.xing.padding-mp3DecoderDelay) * 4
}

// ready is how many bytes of out can be returned now.
func (d *MP3Decoder) ready() int {
	k := len(d.out) - d.outR - d.hold()
	if k <= 0 && d.outR > 0 {
		d.out = append(d.out[:0], d.out[d.outR:]...)
		d.outR = 0
	}
	return max(k, 0)
}

// decode decodes one frame into out.
func (d *MP3Decoder) decode(f mp3Frame) {
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
		clear(d.pcm[:n*4])
		pcm = d.pcm[:n*4]
	}
	d.emit(pcm)
}

// emit appends decoded stereo PCM to out, dropping the start delay.
func (d *MP3Decoder) emit(pcm []byte) {
	if d.skip > 0 {
		k := min(d.skip, int64(len(pcm)/4))
		d.skip -= k
		pcm = pcm[k*4:]
	}
	d.samples += int64(len(pcm) / 4)
	d.out = append(d.out, pcm...)
}

// decodeFenced hands one frame to go-mp3 and returns its PCM, turning a
// panic into an error.
func (d *MP3Decoder) decodeFenced(frame []byte) (pcm []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			pcm, err = nil, fmt.Errorf("%w: %v", ErrDecoderPanic, r)
		}
	}()
	d.feed.cur = frame
	if d.dec == nil {
		if d.dec, err = mp3.NewDecoder(&d.feed); err != nil {
			d.dec = nil
			return nil, err
		}
	}
	n, err := d.dec.Read(d.pcm[:])
	if err != nil {
		return nil, err
	}
	if len(d.feed.cur) != 0 {
		return nil, fmt.Errorf("decoder left %d bytes of a frame", len(d.feed.cur))
	}
	return d.pcm[:n], nil
}

// finish ends the stream: trims or pads the end and sets the final error.
func (d *MP3Decoder) finish(err error) {
	d.ended = true
	var errs []error
	switch {
	case err == io.EOF:
	case errors.Is(err, ErrTruncated):
		d.truncErr = err
	default:
		if !d.infoReady && !errors.Is(err, ErrNotMP3) && d.walk.err == nil {
			err = fmt.Errorf("%w: %w", ErrNotMP3, err)
		}
		d.final = err
		return
	}
	if !d.walk.started {
		if d.walk.off == 0 {
			d.final = fmt.Errorf("%w: empty input", ErrTruncated)
		} else {
			d.final = fmt.Errorf("%w: no Layer III frame in %d bytes", ErrNotMP3, d.walk.off)
		}
		return
	}
	if d.truncErr == nil && d.xing.frames >= 0 && d.frames < d.xing.frames && len(d.damage) == 0 {
		d.truncErr = fmt.Errorf("%w: %d audio frames of the %d announced", ErrTruncated, d.frames, d.xing.frames)
	}
	if d.info.Length >= 0 && d.truncErr == nil {
		// Exact end: drop the padding beyond the decoder delay, or, when
		// the padding is shorter than that delay, add the samples go-mp3
		// cannot flush.
		if short := mp3DecoderDelay - d.xing.padding; short > 0 {
			d.out = append(d.out, make([]byte, short*4)...)
		} else {
			d.out = d.out[:max(d.outR, len(d.out)+short*4)]
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

// Format returns the format of the MP3 decoder's output: stereo 16-bit at
// the stream's rate (rate 0 until the first frame has been found).
func (d *MP3Decoder) Format() transform.Format {
	return transform.Format{Rate: d.info.SampleRate, Channels: 2, Encoding: transform.S16LE}
}
