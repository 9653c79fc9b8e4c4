package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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

// WAVDecoder reads a WAV stream and outputs its samples as they are:
// 16-bit or 24-bit integer or 32-bit float PCM, any rate and channel count
// (up to transform.MaxChannels), plain or WAVE_FORMAT_EXTENSIBLE. It is a
// catcher.Transform whose output is whole frames of Format.
//
// Transform ends with io.EOF after the data chunk; with ErrTruncated
// (wrapped) if the input ends before the data chunk's size, inside a
// frame, or inside the header; with ErrNotWAV or ErrUnsupportedWAV
// (wrapped) for a header it cannot use. It is not safe for concurrent use.
type WAVDecoder struct {
	f       transform.Format
	header  bool
	left    int64 // bytes of data still to read; -1 reads to EOF
	length  int64 // frames declared; -1 for the streaming form
	partial []byte
	err     error
}

// NewWAVDecoder returns a WAV decoder.
func NewWAVDecoder() *WAVDecoder { return &WAVDecoder{} }

// MinSpace is the largest frame this decoder can output: MaxChannels
// samples of 4 bytes.
func (d *WAVDecoder) MinSpace() int { return transform.MaxChannels * 4 }

// Format returns the stream's format, once ReadHeader or Transform has
// read the header.
func (d *WAVDecoder) Format() transform.Format { return d.f }

// Length returns the number of frames the data chunk declares, or -1 for
// the streaming form (read to the end), once the header has been read.
func (d *WAVDecoder) Length() int64 {
	if !d.header {
		return -1
	}
	return d.length
}

// ReadHeader reads the header from src, up to the start of the samples,
// and returns their format. Transform goes on from there with the same
// source.
func (d *WAVDecoder) ReadHeader(src io.Reader) (transform.Format, error) {
	if d.header || d.err != nil {
		return d.f, d.err
	}
	d.err = d.readHeader(src)
	if d.err == nil {
		d.header = true
	}
	return d.f, d.err
}

func (d *WAVDecoder) readHeader(src io.Reader) error {
	var h [12]byte
	if n, err := io.ReadFull(src, h[:]); err != nil {
		if n == 0 && err == io.EOF {
			return fmt.Errorf("%w: empty input", ErrTruncated)
		}
		return headerErr(err)
	}
	if string(h[:4]) != "RIFF" || string(h[8:12]) != "WAVE" {
		if string(h[:4]) == "RF64" {
			return fmt.Errorf("%w: RF64", ErrUnsupportedWAV)
		}
		return fmt.Errorf("%w: no RIFF WAVE header", ErrNotWAV)
	}
	riffSize := binary.LittleEndian.Uint32(h[4:])
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
				return fmt.Errorf("%w: fmt chunk of %d bytes", ErrUnsupportedWAV, size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(src, b); err != nil {
				return headerErr(err)
			}
			if err := d.parseFmt(b[:size]); err != nil {
				return err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return fmt.Errorf("%w: data chunk before fmt", ErrUnsupportedWAV)
			}
			d.left = int64(size)
			if size == wavStreaming || size == 0 && (riffSize == wavStreaming || riffSize == 0) {
				d.left = -1
			}
			d.length = -1
			if d.left >= 0 {
				d.length = d.left / int64(d.f.BytesPerFrame())
			}
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
		return fmt.Errorf("%w: input ends inside the WAV header", ErrTruncated)
	}
	return err
}

func (d *WAVDecoder) parseFmt(b []byte) error {
	tag := binary.LittleEndian.Uint16(b)
	channels := int(binary.LittleEndian.Uint16(b[2:]))
	rate := int(binary.LittleEndian.Uint32(b[4:]))
	align := int(binary.LittleEndian.Uint16(b[12:]))
	bits := int(binary.LittleEndian.Uint16(b[14:]))
	if tag == wavTagExtensible {
		if len(b) < 40 || string(b[26:40]) != wavGUIDTail {
			return fmt.Errorf("%w: extensible format without a known subformat", ErrUnsupportedWAV)
		}
		tag = binary.LittleEndian.Uint16(b[24:])
	}
	var enc transform.Encoding
	switch {
	case tag == wavTagPCM && bits == 16:
		enc = transform.S16LE
	case tag == wavTagPCM && bits == 24:
		enc = transform.S24LE
	case tag == wavTagFloat && bits == 32:
		enc = transform.F32LE
	default:
		return fmt.Errorf("%w: format tag %#x with %d bits", ErrUnsupportedWAV, tag, bits)
	}
	f := transform.Format{Rate: rate, Channels: channels, Encoding: enc}
	if err := f.Validate(); err != nil || rate == 0 {
		return fmt.Errorf("%w: %d channels at %d Hz", ErrUnsupportedWAV, channels, rate)
	}
	if align != f.BytesPerFrame() {
		return fmt.Errorf("%w: block align %d for %v", ErrUnsupportedWAV, align, f)
	}
	d.f = f
	return nil
}

// Transform writes whole frames of samples into dst.
func (d *WAVDecoder) Transform(dst []byte, src io.Reader) (int, error) {
	if !d.header {
		if _, err := d.ReadHeader(src); err != nil {
			return 0, err
		}
	}
	if d.err != nil {
		return 0, d.err
	}
	bpf := d.f.BytesPerFrame()
	want := len(dst) / bpf * bpf
	if d.left >= 0 {
		if d.left == 0 {
			d.err = io.EOF
			return 0, d.err
		}
		want = int(min(int64(want), d.left))
	}
	n, err := io.ReadAtLeast(src, dst[:want], min(want, bpf))
	whole := n / bpf * bpf
	if d.left >= 0 {
		d.left -= int64(n)
	}
	if err == nil && whole < n {
		// Complete the partial frame.
		k, e := io.ReadFull(src, dst[n:whole+bpf])
		n += k
		if d.left >= 0 {
			d.left -= int64(k)
		}
		whole, err = n/bpf*bpf, e
	}
	switch {
	case err == nil:
		return whole, nil
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		switch {
		case whole < n:
			d.err = fmt.Errorf("%w: input ends inside a frame (%d of %d bytes)", ErrTruncated, n-whole, bpf)
		case d.left > 0:
			d.err = fmt.Errorf("%w: data chunk %d bytes short", ErrTruncated, d.left)
		default:
			d.err = io.EOF
		}
	default:
		d.err = err
	}
	return whole, d.err
}

// RawPCM is a catcher.Transform that passes through PCM of a stated
// format, whole frames at a time. Input that ends inside a frame ends with
// ErrTruncated (wrapped), after the whole frames. It is not safe for
// concurrent use.
type RawPCM struct {
	f   transform.Format
	err error
}

// NewRawPCM returns a pass-through of PCM in format f, or an error
// wrapping transform.ErrFormat if f is invalid.
func NewRawPCM(f transform.Format) (*RawPCM, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &RawPCM{f: f}, nil
}

// Format returns the stated format.
func (r *RawPCM) Format() transform.Format { return r.f }

// MinSpace is one frame.
func (r *RawPCM) MinSpace() int { return r.f.BytesPerFrame() }

// Transform copies whole frames from src into dst.
func (r *RawPCM) Transform(dst []byte, src io.Reader) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	bpf := r.f.BytesPerFrame()
	dst = dst[:len(dst)/bpf*bpf]
	n, err := io.ReadAtLeast(src, dst, bpf)
	whole := n / bpf * bpf
	if err == nil && whole < n {
		k, e := io.ReadFull(src, dst[n:whole+bpf])
		n += k
		whole, err = n/bpf*bpf, e
	}
	switch {
	case err == nil:
		return whole, nil
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		if whole < n {
			r.err = fmt.Errorf("%w: input ends inside a frame (%d of %d bytes)", ErrTruncated, n-whole, bpf)
		} else {
			r.err = io.EOF
		}
	default:
		r.err = err
	}
	return whole, r.err
}

// WAVWriter writes PCM as a WAV file. If the destination is an
// io.WriteSeeker, Close writes the sizes into the header; otherwise the
// header holds 0xFFFFFFFF sizes (the streaming form) unless the length was
// given with WithWAVLength. It is not safe for concurrent use.
type WAVWriter struct {
	w      io.Writer
	f      transform.Format
	n      int64 // data bytes written
	length int64
	closed bool
}

// NewWAVWriter writes the header of a WAV file of format f to w. length
// is the number of frames to come, or -1 if unknown.
func NewWAVWriter(w io.Writer, f transform.Format, length int64) (*WAVWriter, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Rate <= 0 {
		return nil, fmt.Errorf("%w: WAV needs a rate", transform.ErrFormat)
	}
	ww := &WAVWriter{w: w, f: f, length: length}
	size := uint32(wavStreaming)
	if length >= 0 && f.Bytes(length) < wavStreaming-64 {
		size = uint32(f.Bytes(length))
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
func (ww *WAVWriter) Write(p []byte) (int, error) {
	if ww.closed {
		return 0, errors.New("codec: WAVWriter: write after Close")
	}
	n, err := ww.w.Write(p)
	ww.n += int64(n)
	return n, err
}

// Close finishes the file: it writes the pad byte of an odd-sized data
// chunk and, over an io.WriteSeeker, the sizes in the header. It checks
// that whole frames, and as many as announced, were written. It does not
// close the underlying writer.
func (ww *WAVWriter) Close() error {
	if ww.closed {
		return nil
	}
	ww.closed = true
	if ww.n%int64(ww.f.BytesPerFrame()) != 0 {
		return fmt.Errorf("codec: WAV data of %d bytes is not whole frames of %d", ww.n, ww.f.BytesPerFrame())
	}
	if ww.length >= 0 && ww.n != ww.f.Bytes(ww.length) {
		return fmt.Errorf("codec: WAV data of %d frames, %d announced", ww.n/int64(ww.f.BytesPerFrame()), ww.length)
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
