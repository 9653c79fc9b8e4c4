// Package flac decodes FLAC to PCM, exact to the sample, through
// github.com/mewkiz/flac, fenced.
//
// Our own reader parses what comes before the audio: an ID3v2 tag, which
// some taggers put before the "fLaC" marker, is skipped; the STREAMINFO
// block gives the format and the exact length; the SEEKTABLE block, if
// any, is kept (Info.SeekTable and Info.Locate say where a sample's frame
// starts in the input, for a seek that reads ahead); other blocks (tags,
// pictures, padding) are skipped as they stream by, so no allocation is
// sized by a block's length field. The frames are then handed to
// mewkiz/flac one at a time; every call into it is fenced, a panic
// becoming ErrDecoderPanic.
//
// Samples of 8, 12, 16, 20 and 24 bits (the depths mewkiz/flac decodes)
// and 1 to 8 channels are output interleaved in the transform package's
// encodings: up to 16 bits as s16le, 20 and 24 as s24le, shifted left to
// fill the sample (so 8-bit FLAC is the high byte of s16le, as the wav
// package outputs u8). Other depths, 32-bit FLAC among them, are refused
// with ErrUnsupported when the header is read.
//
// The output is the STREAMINFO's total samples exactly: frames beyond it
// are cut and bytes after it (an ID3v1 tag, say) are not read. A stream
// that ends before gives an error wrapping io.ErrUnexpectedEOF; a damaged
// frame (a bad sync code, a CRC mismatch) ends the stream with
// ErrCorrupt, after every frame before it.
package flac

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/mewkiz/flac/frame"

	"github.com/streamcatcher/streamcatcher/internal/id3"
	"github.com/streamcatcher/streamcatcher/transform"
)

// A FLAC stream as read here (integers big-endian):
//
//	"ID3" tag (optional): 3-byte "ID3", version (2), flags (1), size (4,
//	         synchsafe: 7 bits a byte), the tag; a 10-byte footer if flags
//	         has bit 4
//	"fLaC"   the marker
//	blocks   each: last-block flag (1 bit), type (7 bits), body length (24
//	         bits), the body. STREAMINFO (type 0) comes first; SEEKTABLE is
//	         type 3; 127 is invalid
//	frames   each starts with the sync code 0b11111111111110 and ends with a
//	         CRC-16 of the frame
//
// STREAMINFO's 34 bytes: minimum and maximum block size (16 bits each),
// minimum and maximum frame size (24 bits each), sample rate (20 bits),
// channels - 1 (3 bits), bits a sample - 1 (5 bits), total samples (36
// bits, 0: unknown), the MD5 of the decoded samples (128 bits).
// A SEEKTABLE holds 18-byte points: the first sample of the frame (64 bits;
// all ones for a placeholder), its offset from the first frame's header
// (64 bits) and its samples (16 bits).

const (
	typeStreamInfo = 0
	typeSeekTable  = 3
	typeInvalid    = 127

	streamInfoSize = 34
	seekPointSize  = 18
	placeholder    = math.MaxUint64
)

// SeekPoint is a point of a FLAC seek table: the frame whose first sample
// is Sample starts Offset bytes after the first frame's header.
type SeekPoint struct {
	Sample  int64 // the frame's first sample
	Offset  int64 // from the first frame's header (Info.FramesAt) to this frame's
	Samples int   // the frame's samples
}

// Info is what a FLAC stream's header says: the State that a Decoder
// publishes once it has read the header (catcher.StateOf[flac.Info]). Its
// SeekTable is shared by every copy: it must not be modified.
type Info struct {
	// SampleRate, Channels and Bits are the stream's, from its STREAMINFO.
	SampleRate, Channels, Bits int
	// Format is the format of the decoder's output (see the package doc).
	Format transform.Format
	// Length is the exact number of samples (per channel) the stream
	// decodes to, or -1 if the STREAMINFO does not say.
	Length int64
	// MinBlock and MaxBlock are the smallest and largest frames, in
	// samples, that the STREAMINFO announces.
	MinBlock, MaxBlock int
	// MD5 is the STREAMINFO's MD5 of the decoded samples (zero: unknown).
	// The decoder does not check it.
	MD5 [16]byte
	// FramesAt is the byte offset in the input of the first frame's
	// header: after the ID3v2 tag, if any, and the metadata blocks.
	FramesAt int64
	// SeekTable holds the seek table's points in order, placeholders left
	// out, or is nil if the stream has no seek table.
	SeekTable []SeekPoint
}

// Locate returns where to start reading to reach sample: the byte offset in
// the input of the frame of the last seek point at or before sample, and
// that frame's first sample (decoding from there, sample comes after
// sample-first samples). ok is false if the stream has no seek table, no
// point at or before sample, or sample is out of range.
func (i Info) Locate(sample int64) (at, first int64, ok bool) {
	if sample < 0 || i.Length >= 0 && sample >= i.Length {
		return 0, 0, false
	}
	k := -1
	for j, p := range i.SeekTable {
		if p.Sample > sample {
			break
		}
		k = j
	}
	if k < 0 {
		return 0, 0, false
	}
	p := i.SeekTable[k]
	return i.FramesAt + p.Offset, p.Sample, true
}

// Seek returns a decoder of the FLAC stream r that starts at the frame
// of the last seek point at or before sample (Info.Locate), or at the
// first frame if no point is that early, and the sample that frame
// starts with: its output is the stream's from there, to the same end.
// It reads the header from r's start, then moves r to the frame; the
// decoder reads r with Transform from there. Errors: ErrNoSeekTable for
// a stream without a seek table; a sample out of range (wrapping
// ErrUnsupported); ReadInfo's and r's.
func Seek(r io.ReadSeeker, sample int64) (*Decoder, int64, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	d := NewDecoder()
	info, err := d.ReadInfo(r)
	if err != nil {
		return nil, 0, err
	}
	if info.SeekTable == nil {
		return nil, 0, ErrNoSeekTable
	}
	if sample < 0 || info.Length >= 0 && sample >= info.Length {
		return nil, 0, fmt.Errorf("%w: seek to sample %d of a stream of %d", ErrUnsupported, sample, info.Length)
	}
	at, first, ok := info.Locate(sample)
	if !ok {
		at, first = info.FramesAt, 0
	}
	if _, err := r.Seek(at, io.SeekStart); err != nil {
		return nil, 0, err
	}
	d.in = counter{n: at}
	d.in.attach(r)
	d.samples = first
	return d, first, nil
}

// maxFrameChannels is the most channels a FLAC frame holds.
const maxFrameChannels = 8

// Decoder decodes FLAC to PCM (see the package doc for the output). It is
// a catcher.Transform, a catcher.Stater (its state is an Info, once the
// header has been read) and a catcher.Sizer.
//
// Transform ends with io.EOF after the STREAMINFO's total samples (or, if
// it does not say, at the end of the input); after everything that could
// be decoded, with an error wrapping io.ErrUnexpectedEOF if the input ends
// inside the header, inside a frame, or before the total samples;
// ErrCorrupt (wrapped, with the frame's offset and what was wrong) at a
// damaged frame; ErrNotFLAC or ErrUnsupported (wrapped) for a header it
// cannot use; or the source's error. It is not safe for concurrent use.
type Decoder struct {
	in     counter
	info   Info
	header bool

	out     []byte // decoded PCM not yet returned
	outR    int
	samples int64 // samples put into out
	ended   bool
	final   error // set when ended
}

// NewDecoder returns a FLAC decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// MinSpace is the largest frame of output: 8 samples of 3 bytes.
func (d *Decoder) MinSpace() int { return maxFrameChannels * 3 }

// Size is the memory the decoder holds (see catcher.Sizer).
func (d *Decoder) Size() int64 {
	n := int64(cap(d.out) + 18*len(d.info.SeekTable))
	if d.in.br != nil {
		n += int64(d.in.br.Size())
	}
	// mewkiz/flac's frame: 4 bytes a sample of every channel, per frame.
	return n + int64(d.info.MaxBlock*d.info.Channels*4)
}

// Format returns the output's format, once ReadInfo or Transform has read
// the header (the zero Format before).
func (d *Decoder) Format() transform.Format { return d.info.Format }

// Info returns what ReadInfo returns, once the header has been read (the
// zero Info before). It is for the goroutine that drives the decoder;
// others read the published state.
func (d *Decoder) Info() Info { return d.info }

// State returns the Info once the header has been read, else nil.
func (d *Decoder) State() any {
	if !d.header {
		return nil
	}
	return d.info
}

// ReadInfo reads the header from src, up to the first frame, and returns
// what it says. Transform goes on from there with the same source.
func (d *Decoder) ReadInfo(src io.Reader) (Info, error) {
	if d.header || d.ended {
		return d.info, d.headerErr()
	}
	d.in.attach(src)
	if err := d.readHeader(); err != nil {
		d.end(err)
		return d.info, err
	}
	d.header = true
	return d.info, nil
}

// headerErr is the error ReadInfo returns once the header has been tried.
func (d *Decoder) headerErr() error {
	if d.header {
		return nil
	}
	return d.final
}

// counter is the buffered reader the decoder reads its source through: it
// counts the bytes consumed and keeps the source's own error.
type counter struct {
	br  *bufio.Reader
	src errReader
	n   int64 // bytes consumed
}

// errReader remembers the first error of its reader other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

func (c *counter) attach(src io.Reader) {
	if c.br == nil {
		c.src.r = src
		c.br = bufio.NewReaderSize(&c.src, 32<<10)
	}
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *counter) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// full reads len(p) bytes; a short read is io.ErrUnexpectedEOF (or the
// source's error).
func (c *counter) full(p []byte, what string) error {
	if _, err := io.ReadFull(c, p); err != nil {
		return c.cut(err, what)
	}
	return nil
}

// skip discards n bytes.
func (c *counter) skip(n int64, what string) error {
	m, err := c.br.Discard(int(min(n, math.MaxInt32)))
	c.n += int64(m)
	for err == nil && int64(m) < n {
		n -= int64(m)
		m, err = c.br.Discard(int(min(n, math.MaxInt32)))
		c.n += int64(m)
	}
	if err != nil {
		return c.cut(err, what)
	}
	return nil
}

// cut turns an error of reading what into the decoder's: the source's
// own error, or io.ErrUnexpectedEOF (wrapped) for the input ending.
func (c *counter) cut(err error, what string) error {
	if c.src.err != nil {
		return c.src.err
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("flac: input ends inside %s (offset %d): %w", what, c.n, io.ErrUnexpectedEOF)
	}
	return err
}

// readHeader reads an ID3v2 tag, the marker and the metadata blocks.
func (d *Decoder) readHeader() error {
	c := &d.in
	var m [10]byte
	if n, err := io.ReadFull(c, m[:4]); err != nil {
		if n == 0 && err == io.EOF && c.src.err == nil {
			return fmt.Errorf("flac: empty input: %w", io.ErrUnexpectedEOF)
		}
		return c.cut(err, "the marker")
	}
	if string(m[:3]) == "ID3" {
		if err := c.full(m[4:10], "the ID3v2 header"); err != nil {
			return err
		}
		size, ok := id3.TagSize(m[:])
		if !ok {
			return fmt.Errorf("%w: ID3v2 tag with a size that is not synchsafe", ErrNotFLAC)
		}
		if err := c.skip(size-id3.HeaderSize, "the ID3v2 tag"); err != nil {
			return err
		}
		if err := c.full(m[:4], "the marker"); err != nil {
			return err
		}
	}
	if string(m[:4]) != "fLaC" {
		return fmt.Errorf("%w: no fLaC marker at offset %d (found %q)", ErrNotFLAC, c.n-4, m[:4])
	}
	for first := true; ; first = false {
		var h [4]byte
		at := c.n
		if err := c.full(h[:], "a metadata block header"); err != nil {
			return err
		}
		last, typ := h[0]&0x80 != 0, int(h[0]&0x7f)
		size := int64(h[1])<<16 | int64(h[2])<<8 | int64(h[3])
		switch {
		case first && typ != typeStreamInfo:
			return fmt.Errorf("%w: first metadata block is of type %d, not STREAMINFO", ErrNotFLAC, typ)
		case typ == typeInvalid:
			return fmt.Errorf("%w: metadata block of the invalid type 127 at offset %d", ErrCorrupt, at)
		case typ == typeStreamInfo && !first:
			return fmt.Errorf("%w: a second STREAMINFO at offset %d", ErrCorrupt, at)
		case typ == typeStreamInfo:
			if size != streamInfoSize {
				return fmt.Errorf("%w: STREAMINFO of %d bytes, not %d", ErrNotFLAC, size, streamInfoSize)
			}
			var b [streamInfoSize]byte
			if err := c.full(b[:], "the STREAMINFO"); err != nil {
				return err
			}
			if err := d.streamInfo(b); err != nil {
				return err
			}
		case typ == typeSeekTable && d.info.SeekTable == nil:
			if err := d.seekTable(size, at); err != nil {
				return err
			}
		default:
			if err := c.skip(size, fmt.Sprintf("the metadata block at offset %d", at)); err != nil {
				return err
			}
		}
		if last {
			d.info.FramesAt = c.n
			return nil
		}
	}
}

// streamInfo reads the STREAMINFO block's body.
func (d *Decoder) streamInfo(b [streamInfoSize]byte) error {
	x := binary.BigEndian.Uint64(b[10:18])
	rate := int(x >> 44)
	ch := int(x>>41&7) + 1
	bits := int(x>>36&31) + 1
	total := int64(x & (1<<36 - 1))
	i := Info{SampleRate: rate, Channels: ch, Bits: bits, Length: total,
		MinBlock: int(binary.BigEndian.Uint16(b[0:])), MaxBlock: int(binary.BigEndian.Uint16(b[2:]))}
	copy(i.MD5[:], b[18:])
	if total == 0 {
		i.Length = -1
	}
	switch {
	case rate == 0:
		return fmt.Errorf("%w: STREAMINFO with a sample rate of 0", ErrUnsupported)
	case bits != 8 && bits != 12 && bits != 16 && bits != 20 && bits != 24:
		return fmt.Errorf("%w: %d bits a sample (mewkiz/flac decodes 8, 12, 16, 20 and 24)", ErrUnsupported, bits)
	case bits <= 16:
		i.Format.Encoding = transform.S16LE
	default:
		i.Format.Encoding = transform.S24LE
	}
	i.Format.Rate, i.Format.Channels = rate, ch
	d.info = i
	return nil
}

// seekTable reads a SEEKTABLE block of size bytes that starts at offset at,
// a point at a time: what it holds grows with what was read, not with the
// length field.
func (d *Decoder) seekTable(size, at int64) error {
	if size%seekPointSize != 0 {
		return fmt.Errorf("%w: SEEKTABLE at offset %d of %d bytes, not a multiple of %d", ErrCorrupt, at, size, seekPointSize)
	}
	points := []SeekPoint{}
	var b [seekPointSize]byte
	for k := int64(0); k < size/seekPointSize; k++ {
		if err := d.in.full(b[:], "the SEEKTABLE"); err != nil {
			return err
		}
		s, off := binary.BigEndian.Uint64(b[:]), binary.BigEndian.Uint64(b[8:])
		if s == placeholder {
			continue
		}
		if s >= 1<<36 || off >= 1<<62 {
			return fmt.Errorf("%w: SEEKTABLE point %d out of range (sample %d, offset %d)", ErrCorrupt, k, s, off)
		}
		p := SeekPoint{Sample: int64(s), Offset: int64(off), Samples: int(binary.BigEndian.Uint16(b[16:]))}
		if n := len(points); n > 0 && (p.Sample <= points[n-1].Sample || p.Offset < points[n-1].Offset) {
			return fmt.Errorf("%w: SEEKTABLE point %d (sample %d, offset %d) not after the one before", ErrCorrupt, k, p.Sample, p.Offset)
		}
		points = append(points, p)
	}
	d.info.SeekTable = points
	return nil
}

// Transform writes decoded PCM into dst, whole frames of Format. See the
// type's doc for its ends.
func (d *Decoder) Transform(dst []byte, src io.Reader) (int, error) {
	if !d.header && !d.ended {
		if _, err := d.ReadInfo(src); err != nil {
			return 0, err
		}
	}
	bpf := d.info.Format.BytesPerFrame()
	for {
		if k := len(d.out) - d.outR; k > 0 {
			n := copy(dst[:len(dst)-len(dst)%bpf], d.out[d.outR:])
			d.outR += n
			return n, nil
		}
		if d.ended {
			return 0, d.final
		}
		if d.info.Length >= 0 && d.samples >= d.info.Length {
			d.end(io.EOF)
			continue
		}
		at := d.in.n
		f, err := d.parseFenced()
		if err != nil {
			d.end(d.frameErr(err, at))
			continue
		}
		if err := d.check(f, at); err != nil {
			d.end(err)
			continue
		}
		d.emit(f)
	}
}

// parseFenced parses the next frame, turning a panic into an error.
func (d *Decoder) parseFenced() (f *frame.Frame, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%w: %v", ErrDecoderPanic, r)
		}
	}()
	return frame.Parse(&d.in)
}

// frameErr is the error that ends the stream when the frame at offset at
// could not be read.
func (d *Decoder) frameErr(err error, at int64) error {
	switch {
	case d.in.src.err != nil:
		return d.in.src.err
	case err == io.EOF && d.in.n == at:
		if d.info.Length >= 0 && d.samples < d.info.Length {
			return fmt.Errorf("flac: %d samples of the %d the STREAMINFO announces: %w", d.samples, d.info.Length, io.ErrUnexpectedEOF)
		}
		return io.EOF
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("flac: input ends inside the frame at offset %d: %w", at, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w: frame at offset %d: %w", ErrCorrupt, at, err)
}

// check refuses a frame that does not match the STREAMINFO.
func (d *Decoder) check(f *frame.Frame, at int64) error {
	i := d.info
	ch := f.Channels.Count()
	switch {
	case ch != i.Channels || len(f.Subframes) != ch:
		return fmt.Errorf("%w: frame at offset %d has %d channels; the STREAMINFO says %d", ErrUnsupported, at, ch, i.Channels)
	case int(f.BitsPerSample) != i.Bits:
		return fmt.Errorf("%w: frame at offset %d has %d bits a sample; the STREAMINFO says %d", ErrUnsupported, at, f.BitsPerSample, i.Bits)
	case f.SampleRate != 0 && int(f.SampleRate) != i.SampleRate:
		return fmt.Errorf("%w: frame at offset %d is at %d Hz; the STREAMINFO says %d", ErrUnsupported, at, f.SampleRate, i.SampleRate)
	}
	for _, s := range f.Subframes {
		if len(s.Samples) != int(f.BlockSize) {
			return fmt.Errorf("%w: frame at offset %d: a subframe of %d samples in a block of %d", ErrCorrupt, at, len(s.Samples), f.BlockSize)
		}
	}
	return nil
}

// emit interleaves the frame's samples into out, up to the stream's
// length.
func (d *Decoder) emit(f *frame.Frame) {
	n := int(f.BlockSize)
	if d.info.Length >= 0 {
		n = int(min(int64(n), d.info.Length-d.samples))
	}
	d.samples += int64(n)
	ch := len(f.Subframes)
	bps := d.info.Format.Encoding.BytesPerSample()
	size := n * ch * bps
	if cap(d.out) < size {
		d.out = make([]byte, size)
	}
	d.out, d.outR = d.out[:size], 0
	o := d.out
	shift := uint(0)
	switch d.info.Format.Encoding {
	case transform.S16LE:
		shift = uint(16 - d.info.Bits)
		for c, s := range f.Subframes {
			for j, v := range s.Samples[:n] {
				binary.LittleEndian.PutUint16(o[(j*ch+c)*2:], uint16(v<<shift))
			}
		}
	default:
		shift = uint(24 - d.info.Bits)
		for c, s := range f.Subframes {
			for j, v := range s.Samples[:n] {
				v <<= shift
				k := (j*ch + c) * 3
				o[k], o[k+1], o[k+2] = byte(v), byte(v>>8), byte(v>>16)
			}
		}
	}
}

// end ends the stream with err (io.EOF for a clean end).
func (d *Decoder) end(err error) {
	d.ended, d.final = true, err
}
