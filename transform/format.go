package transform

import (
	"fmt"
	"time"
)

// Encoding is how one sample is stored: little-endian, interleaved by frame.
//
// The zero Encoding is S16LE.
type Encoding uint8

const (
	// S16LE is signed 16-bit integer; full scale is [-32768, 32767].
	S16LE Encoding = iota
	// S24LE is signed 24-bit integer packed in 3 bytes; full scale is
	// [-8388608, 8388607].
	S24LE
	// F32LE is IEEE 754 single precision; full scale is [-1, 1].
	F32LE
)

// BytesPerSample is the size of one sample: 2, 3 or 4; 0 for an unknown
// encoding.
func (e Encoding) BytesPerSample() int {
	switch e {
	case S16LE:
		return 2
	case S24LE:
		return 3
	case F32LE:
		return 4
	}
	return 0
}

// String returns the encoding's name as ffmpeg spells it: "s16le", "s24le"
// or "f32le".
func (e Encoding) String() string {
	switch e {
	case S16LE:
		return "s16le"
	case S24LE:
		return "s24le"
	case F32LE:
		return "f32le"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// valid reports whether e is one of the encodings above.
func (e Encoding) valid() bool { return e <= F32LE }

// Limits of a valid Format.
const (
	// MaxChannels is the largest channel count a Format may have.
	MaxChannels = 64
	// MaxRate is the highest sample rate a Format may have, in Hz.
	MaxRate = 1 << 22
)

// Format describes a stream of PCM: frames of Channels interleaved samples,
// Rate frames a second, each sample stored as Encoding. It is a value; the
// zero Format is 16-bit with no channels and no rate, which is not valid.
type Format struct {
	// Rate is the number of frames per second, in Hz. Zero means unknown:
	// the conversions that do not depend on time (encoding, gain, channels)
	// accept it, Duration and Frames return 0, and the resampler rejects
	// it.
	Rate int

	// Channels is the number of samples in a frame, 1 to MaxChannels. Zero
	// means none, which no transform accepts.
	Channels int

	// Encoding is how each sample is stored. Zero is S16LE.
	Encoding Encoding
}

// Validate returns nil if f describes a stream the transforms accept (the
// rate may be 0), and an error wrapping ErrFormat that names the bad field
// otherwise.
func (f Format) Validate() error {
	switch {
	case !f.Encoding.valid():
		return fmt.Errorf("%w: unknown encoding %d", ErrFormat, uint8(f.Encoding))
	case f.Channels < 1 || f.Channels > MaxChannels:
		return fmt.Errorf("%w: %d channels (want 1 to %d)", ErrFormat, f.Channels, MaxChannels)
	case f.Rate < 0 || f.Rate > MaxRate:
		return fmt.Errorf("%w: rate %d Hz (want 0 to %d)", ErrFormat, f.Rate, MaxRate)
	}
	return nil
}

// BytesPerFrame is the size of one frame: Channels times the size of a
// sample.
func (f Format) BytesPerFrame() int { return f.Channels * f.Encoding.BytesPerSample() }

// Bytes is the size of n frames.
func (f Format) Bytes(n int64) int64 { return n * int64(f.BytesPerFrame()) }

// Duration is the time at which frame n starts: n frames last that long.
// It is rounded up to the nanosecond, so that Frames(Duration(n)) == n; 0 if
// the rate is unknown. Negative n gives the negative of Duration(-n).
func (f Format) Duration(n int64) time.Duration {
	if f.Rate <= 0 {
		return 0
	}
	if n < 0 {
		return -f.Duration(-n)
	}
	r := int64(f.Rate)
	sec := int64(time.Second)
	return time.Duration(n/r)*time.Second + time.Duration((n%r*sec+r-1)/r)
}

// Frames is the number of whole frames in d, rounded down; 0 if the rate
// is unknown. Negative d gives the negative of Frames(-d).
func (f Format) Frames(d time.Duration) int64 {
	if f.Rate <= 0 {
		return 0
	}
	if d < 0 {
		return -f.Frames(-d)
	}
	r := int64(f.Rate)
	sec := int64(time.Second)
	return int64(d)/sec*r + int64(d)%sec*r/sec
}

// String describes f as in "48000 Hz, 2 ch, s16le".
func (f Format) String() string {
	return fmt.Sprintf("%d Hz, %d ch, %s", f.Rate, f.Channels, f.Encoding)
}
