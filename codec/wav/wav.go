// Package wav reads and writes WAV (RIFF WAVE) files and passes raw PCM of
// a stated format through, whole frames at a time.
//
// Decoder reads unsigned 8-bit, 16- and 24-bit integer and 32- and 64-bit
// float WAV, plain or WAVE_FORMAT_EXTENSIBLE, at any rate and channel count,
// including the streaming form (sizes 0xFFFFFFFF, as ffmpeg writes to a
// pipe) read to the end. Its output is in one of the transform package's
// encodings: 8-bit becomes s16le, 64-bit float f32le. Writer writes
// s16le, s24le and f32le files. Raw passes through PCM of a stated
// transform.Format. The decoder and Raw read their samples through one
// bounded body reader: never past the data chunk's declared size.
//
// Input that ends inside a frame gives an error wrapping
// transform.ErrPartialFrame; a data chunk shorter than declared, or a
// header cut short, one wrapping io.ErrUnexpectedEOF.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/streamcatcher/streamcatcher/transform"
)

// WAV (RIFF WAVE) as read and written here, all integers little-endian:
//
//	offset  size  field
//	0       4     "RIFF"
//	4       4     size of the rest of the file (0xFFFFFFFF: unknown)
//	8       4     "WAVE"
//	12      ...   chunks: a 4-byte id, a 4-byte size, the body, a pad byte
//	              if the size is odd
//
// The "fmt " chunk: format tag (2: 1 PCM, 3 IEEE float, 0xFFFE
// extensible), channels (2), rate (4), bytes a second (4), block align
// (2), bits a sample (2); for extensible, 2 bytes of extension size, valid
// bits (2), channel mask (4) and a 16-byte subformat GUID whose first two
// bytes are the format tag. The "data" chunk holds interleaved samples; a
// size of 0xFFFFFFFF (as ffmpeg writes to a pipe) means "to the end of the
// input". Chunks other than "fmt " and "data" are skipped; those after
// "data" are not read.

const (
	wavTagPCM        = 1
	wavTagFloat      = 3
	wavTagExtensible = 0xfffe
	wavStreaming     = 0xffffffff
)

// wavGUIDTail is the common tail of the KSDATAFORMAT_SUBTYPE GUIDs.
const wavGUIDTail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

// Info is what a WAV header says: the State that a Decoder publishes once
// it has read the header (catcher.StateOf[wav.Info]).
type Info struct {
	// Format is the format of the decoder's output (see Decoder).
	Format transform.Format
	// Length is the number of frames the data chunk declares, or -1 for
	// the streaming form, read to the end.
	Length int64
	// Bits and Float describe the samples as stored in the file.
	Bits  int
	Float bool
}

// Decoder reads a WAV stream and outputs its samples: 16-bit and 24-bit
// integer and 32-bit float as they are, unsigned 8-bit as s16le (v-128 in
// the high byte) and 64-bit float as f32le, any rate and channel count (up
// to transform.MaxChannels). It is a catcher.Transform whose output is
// whole frames of Format, and a catcher.Stater whose state is an Info.
//
// Transform ends with io.EOF after the data chunk's declared size (or, in
// the streaming form, at the end of the input); with an error wrapping
// io.ErrUnexpectedEOF if the input ends before the declared size or inside
// the header; with transform.ErrPartialFrame (wrapped) if the data ends
// inside a frame, after the whole frames; with ErrNotWAV or ErrUnsupported
// (wrapped) for a header it cannot use. Chunks after the data chunk are
// never read. It is not safe for concurrent use.
type Decoder struct {
	info   Info
	header bool
	body   body
	err    error // a header error, sticky
}

// NewDecoder returns a WAV decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// MinSpace is the largest frame this decoder can output: MaxChannels
// samples of 4 bytes.
func (d *Decoder) MinSpace() int { return transform.MaxChannels * 4 }

// Size is the memory the decoder holds (see catcher.Sizer).
func (d *Decoder) Size() int64 { return d.body.memory() }

// Format returns the output's format, once ReadHeader or Transform has read
// the header (the zero Format before).
func (d *Decoder) Format() transform.Format { return d.info.Format }

// Length returns the number of frames the data chunk declares, or -1 for
// the streaming form or before the header has been read.
func (d *Decoder) Length() int64 {
	if !d.header {
		return -1
	}
	return d.info.Length
}

// State returns the Info once the header has been read, else nil.
func (d *Decoder) State() any {
	if !d.header {
		return nil
	}
	return d.info
}

// ReadHeader reads the header from src, up to the start of the samples,
// and returns the output's format. Transform goes on from there with the
// same source.
func (d *Decoder) ReadHeader(src io.Reader) (transform.Format, error) {
	if d.header || d.err != nil {
		return d.info.Format, d.err
	}
	d.err = d.readHeader(src)
	if d.err == nil {
		d.header = true
	}
	return d.info.Format, d.err
}

func (d *Decoder) readHeader(src io.Reader) error {
	var h [12]byte
	if n, err := io.ReadFull(src, h[:]); err != nil {
		if n == 0 && err == io.EOF {
			return fmt.Errorf("wav: empty input: %w", io.ErrUnexpectedEOF)
		}
		return headerErr(err)
	}
	if string(h[:4]) != "RIFF" || string(h[8:12]) != "WAVE" {
		if string(h[:4]) == "RF64" {
			return fmt.Errorf("%w: RF64", ErrUnsupported)
		}
		return fmt.Errorf("%w: no RIFF WAVE header", ErrNotWAV)
	}
	riffSize := binary.LittleEndian.Uint32(h[4:])
	var stored storage
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(src, ch[:]); err != nil {
			return headerErr(err)
		}
		id, size := string(ch[:4]), binary.LittleEndian.Uint32(ch[4:])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return fmt.Errorf("%w: fmt chunk of %d bytes", ErrUnsupported, size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(src, b); err != nil {
				return headerErr(err)
			}
			var err error
			if stored, err = parseFmt(b[:size]); err != nil {
				return err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return fmt.Errorf("%w: data chunk before fmt", ErrUnsupported)
			}
			left := int64(size)
			if size == wavStreaming || size == 0 && (riffSize == wavStreaming || riffSize == 0) {
				left = -1
			}
			d.info = Info{Format: stored.out, Length: -1, Bits: stored.bits, Float: stored.float}
			if left >= 0 {
				d.info.Length = left / int64(stored.inFrame)
			}
			d.body = newBody(stored.inFrame, stored.out.BytesPerFrame(), left, stored.conv)
			return nil
		default:
			if _, err := io.CopyN(io.Discard, src, int64(size)+int64(size&1)); err != nil {
				return headerErr(err)
			}
		}
	}
}

func headerErr(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("wav: input ends inside the header: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// storage is how a file's samples are stored, and how they are output.
type storage struct {
	out     transform.Format
	inFrame int
	bits    int
	float   bool
	conv    func(dst, src []byte) // nil: the samples are output as they are
}

func parseFmt(b []byte) (storage, error) {
	tag := binary.LittleEndian.Uint16(b)
	channels := int(binary.LittleEndian.Uint16(b[2:]))
	rate := int(binary.LittleEndian.Uint32(b[4:]))
	align := int(binary.LittleEndian.Uint16(b[12:]))
	bits := int(binary.LittleEndian.Uint16(b[14:]))
	if tag == wavTagExtensible {
		if len(b) < 40 || string(b[26:40]) != wavGUIDTail {
			return storage{}, fmt.Errorf("%w: extensible format without a known subformat", ErrUnsupported)
		}
		tag = binary.LittleEndian.Uint16(b[24:])
	}
	st := storage{bits: bits, float: tag == wavTagFloat}
	switch {
	case tag == wavTagPCM && bits == 8:
		st.out.Encoding, st.conv = transform.S16LE, u8ToS16
	case tag == wavTagPCM && bits == 16:
		st.out.Encoding = transform.S16LE
	case tag == wavTagPCM && bits == 24:
		st.out.Encoding = transform.S24LE
	case tag == wavTagFloat && bits == 32:
		st.out.Encoding = transform.F32LE
	case tag == wavTagFloat && bits == 64:
		st.out.Encoding, st.conv = transform.F32LE, f64ToF32
	default:
		return storage{}, fmt.Errorf("%w: format tag %#x with %d bits", ErrUnsupported, tag, bits)
	}
	st.out.Rate, st.out.Channels = rate, channels
	if err := st.out.Validate(); err != nil || rate == 0 {
		return storage{}, fmt.Errorf("%w: %d channels at %d Hz", ErrUnsupported, channels, rate)
	}
	st.inFrame = channels * bits / 8
	if align != st.inFrame {
		return storage{}, fmt.Errorf("%w: block align %d for %d channels of %d bits", ErrUnsupported, align, channels, bits)
	}
	return st, nil
}

// u8ToS16 converts unsigned 8-bit samples to s16le.
func u8ToS16(dst, src []byte) {
	for i, v := range src {
		dst[2*i] = 0
		dst[2*i+1] = v - 128
	}
}

// f64ToF32 converts f64le samples to f32le.
func f64ToF32(dst, src []byte) {
	for i := 0; i+8 <= len(src); i += 8 {
		v := math.Float64frombits(binary.LittleEndian.Uint64(src[i:]))
		binary.LittleEndian.PutUint32(dst[i/2:], math.Float32bits(float32(v)))
	}
}

// Transform writes whole frames of samples into dst.
func (d *Decoder) Transform(dst []byte, src io.Reader) (int, error) {
	if !d.header {
		if _, err := d.ReadHeader(src); err != nil {
			return 0, err
		}
	}
	return d.body.read(dst, src)
}

// Raw is a catcher.Transform that passes through PCM of a stated format,
// whole frames at a time. Input that ends inside a frame ends with
// transform.ErrPartialFrame (wrapped), after the whole frames. It is not
// safe for concurrent use.
type Raw struct {
	f    transform.Format
	body body
}

// NewRaw returns a pass-through of PCM in format f, or an error wrapping
// transform.ErrFormat if f is invalid.
func NewRaw(f transform.Format) (*Raw, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &Raw{f: f, body: newBody(f.BytesPerFrame(), f.BytesPerFrame(), -1, nil)}, nil
}

// Format returns the stated format.
func (r *Raw) Format() transform.Format { return r.f }

// MinSpace is one frame.
func (r *Raw) MinSpace() int { return r.f.BytesPerFrame() }

// Size is the memory Raw holds (see catcher.Sizer).
func (r *Raw) Size() int64 { return r.body.memory() }

// Transform copies whole frames from src into dst.
func (r *Raw) Transform(dst []byte, src io.Reader) (int, error) { return r.body.read(dst, src) }

// body reads whole frames of PCM from a source, never more than a declared
// size, and converts each frame if the stored encoding is not the output's.
type body struct {
	in, out int                   // bytes per frame, stored and output
	left    int64                 // stored bytes still to read; -1: to the end of the input
	size    int64                 // the declared size, for errors; -1 if none
	conv    func(dst, src []byte) // nil: copy
	stage   []byte                // input, when converting
	partial []byte                // bytes of a frame begun, carried to the next call
	err     error                 // sticky once the stream has ended
}

// blockFrames bounds the frames converted in one call.
const blockFrames = 4096

func newBody(in, out int, left int64, conv func(dst, src []byte)) body {
	b := body{in: in, out: out, left: left, size: left, conv: conv, partial: make([]byte, 0, in)}
	if conv != nil {
		b.stage = make([]byte, blockFrames*in)
	}
	return b
}

func (b *body) memory() int64 { return int64(cap(b.stage) + cap(b.partial)) }

// read is one call of the Transform contract.
func (b *body) read(dst []byte, src io.Reader) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		return 0, b.end(nil)
	}
	frames := len(dst) / b.out
	var buf []byte
	if b.conv != nil {
		buf = b.stage[:min(frames, blockFrames)*b.in]
	} else {
		buf = dst[:frames*b.in]
	}
	have := copy(buf, b.partial)
	want := len(buf)
	if b.left >= 0 {
		want = int(min(int64(want), int64(have)+b.left))
	}
	n, err := src.Read(buf[have:want])
	if n < 0 || n > want-have {
		n, err = 0, fmt.Errorf("wav: %T.Read returned %d for %d bytes", src, n, want-have)
	}
	if b.left >= 0 {
		b.left -= int64(n)
	}
	total := have + n
	whole := total / b.in
	if b.conv != nil {
		b.conv(dst[:whole*b.out], buf[:whole*b.in])
	}
	b.partial = append(b.partial[:0], buf[whole*b.in:total]...)
	switch {
	case err != nil:
		return whole * b.out, b.end(err)
	case b.left == 0:
		return whole * b.out, b.end(nil)
	}
	return whole * b.out, nil
}

// end ends the stream, at the declared size (err nil) or with the source's
// error, and returns the error the stream ends with.
func (b *body) end(err error) error {
	switch {
	case err != nil && err != io.EOF:
		b.err = err
	case b.left > 0:
		b.err = fmt.Errorf("wav: the input ends %d bytes before the end of the %d-byte data chunk: %w", b.left, b.size, io.ErrUnexpectedEOF)
	case len(b.partial) > 0 && b.size >= 0 && b.left == 0:
		b.err = fmt.Errorf("%w: the %d-byte data chunk ends %d bytes into a frame of %d", transform.ErrPartialFrame, b.size, len(b.partial), b.in)
	case len(b.partial) > 0:
		b.err = fmt.Errorf("%w: the input ends %d bytes into a frame of %d", transform.ErrPartialFrame, len(b.partial), b.in)
	default:
		b.err = io.EOF
	}
	return b.err
}

// WriterOption configures a Writer.
type WriterOption func(*writerConfig)

type writerConfig struct{ length int64 }

// WithLength announces the number of frames to come, so that the header
// holds the sizes even when the destination cannot seek. Close checks that
// exactly that many were written. It panics if n < 0.
func WithLength(n int64) WriterOption {
	if n < 0 {
		panic(fmt.Sprintf("wav: WithLength(%d)", n))
	}
	return func(c *writerConfig) { c.length = n }
}

// Writer writes PCM as a WAV file. If the destination is an io.WriteSeeker,
// Close writes the sizes into the header; otherwise the header holds
// 0xFFFFFFFF sizes (the streaming form) unless the length was given with
// WithLength. It is not safe for concurrent use.
type Writer struct {
	w      io.Writer
	f      transform.Format
	n      int64 // data bytes written
	length int64 // -1: unknown
	closed bool
	err    error // the result of Close
}

// NewWriter writes the header of a WAV file of format f (s16le, s24le or
// f32le, with a rate) to w and returns a writer of its samples.
func NewWriter(w io.Writer, f transform.Format, opts ...WriterOption) (*Writer, error) {
	cfg := writerConfig{length: -1}
	for _, o := range opts {
		o(&cfg)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Rate <= 0 {
		return nil, fmt.Errorf("%w: WAV needs a rate", transform.ErrFormat)
	}
	ww := &Writer{w: w, f: f, length: cfg.length}
	size := uint32(wavStreaming)
	if cfg.length >= 0 && f.Bytes(cfg.length) < wavStreaming-64 {
		size = uint32(f.Bytes(cfg.length))
	}
	if _, err := w.Write(wavHeader(f, size)); err != nil {
		return nil, err
	}
	return ww, nil
}

// wavHeader is the header of a WAV file with a data chunk of size bytes
// (0xFFFFFFFF: unknown): plain PCM or float for mono and stereo,
// WAVE_FORMAT_EXTENSIBLE beyond.
func wavHeader(f transform.Format, size uint32) []byte {
	tag := uint16(wavTagPCM)
	if f.Encoding == transform.F32LE {
		tag = wavTagFloat
	}
	ext := f.Channels > 2
	fmtSize := 16
	if ext {
		fmtSize = 40
	}
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt ")
	b = binary.LittleEndian.AppendUint32(b, uint32(fmtSize))
	if ext {
		b = binary.LittleEndian.AppendUint16(b, wavTagExtensible)
	} else {
		b = binary.LittleEndian.AppendUint16(b, tag)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(f.Channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(f.Rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(f.Rate*f.BytesPerFrame()))
	b = binary.LittleEndian.AppendUint16(b, uint16(f.BytesPerFrame()))
	b = binary.LittleEndian.AppendUint16(b, uint16(8*f.Encoding.BytesPerSample()))
	if ext {
		b = binary.LittleEndian.AppendUint16(b, 22)
		b = binary.LittleEndian.AppendUint16(b, uint16(8*f.Encoding.BytesPerSample()))
		b = binary.LittleEndian.AppendUint32(b, 0) // no speaker positions
		b = binary.LittleEndian.AppendUint16(b, tag)
		b = append(b, wavGUIDTail...)
	}
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, size)
	riff := uint32(wavStreaming)
	if size != wavStreaming {
		riff = uint32(len(b)) - 8 + size + size&1
	}
	binary.LittleEndian.PutUint32(b[4:], riff)
	return b
}

// Write writes samples. They need not be whole frames on each call.
func (ww *Writer) Write(p []byte) (int, error) {
	if ww.closed {
		return 0, ErrClosed
	}
	n, err := ww.w.Write(p)
	ww.n += int64(n)
	return n, err
}

// Close finishes the file: it writes the pad byte of an odd-sized data
// chunk and, over an io.WriteSeeker, the sizes in the header. It checks
// that whole frames, and as many as announced, were written. Later calls
// return what the first returned. It does not close the underlying writer.
func (ww *Writer) Close() error {
	if ww.closed {
		return ww.err
	}
	ww.closed = true
	ww.err = ww.finish()
	return ww.err
}

func (ww *Writer) finish() error {
	if ww.n%int64(ww.f.BytesPerFrame()) != 0 {
		return fmt.Errorf("wav: data of %d bytes is not whole frames of %d", ww.n, ww.f.BytesPerFrame())
	}
	if ww.length >= 0 && ww.n != ww.f.Bytes(ww.length) {
		return fmt.Errorf("wav: data of %d frames, %d announced", ww.n/int64(ww.f.BytesPerFrame()), ww.length)
	}
	ws, seeker := ww.w.(io.WriteSeeker)
	sized := ww.length >= 0 || seeker && ww.n < wavStreaming-64
	if ww.n&1 != 0 && sized {
		// The pad byte of an odd chunk; the streaming form has no end
		// to pad.
		if _, err := ww.w.Write([]byte{0}); err != nil {
			return err
		}
	}
	if !seeker || ww.length >= 0 || ww.n >= wavStreaming-64 {
		return nil
	}
	h := wavHeader(ww.f, uint32(ww.n))
	end, err := ws.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := ws.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := ws.Write(h); err != nil {
		return err
	}
	_, err = ws.Seek(end, io.SeekStart)
	return err
}
