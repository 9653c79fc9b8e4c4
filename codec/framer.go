package codec

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/streamcatcher/streamcatcher/transform"
)

// The framed packet stream, as a Framer writes it into a cache, is a
// sequence of records, one per Opus packet, with nothing before, between
// or after them:
//
//	offset  size  field
//	0       2     n, the packet's length in bytes: little-endian uint16,
//	              1 <= n <= MaxPacketSize
//	2       n     the Opus packet, byte for byte as the encoder or the Ogg
//	              file gave it (its TOC byte first)
//
// A record never straddles two chunks of a cache (MinSpace is the largest
// record). The stream holds no timing: a packet's duration is in its TOC,
// and the pre-skip, start samples and true length are in the Framer's
// Index. A reader can start at any record boundary the Index lists.
const (
	// PrefixSize is the size of a framed packet's length prefix.
	PrefixSize = 2

	// MaxRecordSize is the largest framed packet: the Framer's MinSpace.
	MaxRecordSize = PrefixSize + MaxPacketSize
)

// Index is the state of a Framer: where each packet of the framed stream
// starts, in bytes and in samples. A Catcher publishes it with the length
// it describes (Catcher.State returns it as an any holding an Index), so
// it can be read without a lock while encoding goes on.
//
// An Index is immutable: its slices are views of append-only arrays, never
// written below their length after it was returned. It is safe for
// concurrent use.
type Index struct {
	// Offsets[i] is the byte offset of packet i's record.
	Offsets []int64
	// Starts[i] is the first sample of packet i at 48 kHz, counted from
	// the start of the decoded stream, pre-skip included.
	Starts []int64
	// End is the byte offset after the last record.
	End int64
	// Samples is the total duration of the packets, pre-skip included.
	Samples int64
	// PreSkip is the number of samples to drop from the start of the
	// decoded stream.
	PreSkip int
	// Length is the true length of the stream in samples, pre-skip
	// excluded, once Done; before that, Samples less PreSkip so far.
	Length int64
	// Done reports that the stream has ended: no packet will be added.
	Done bool
	// Uniform is the duration of every packet in samples if they all have
	// the same (every packet but the last, once Done), else 0.
	Uniform int
}

// Len returns the number of packets.
func (x Index) Len() int { return len(x.Offsets) }

// Duration returns the true duration of the stream (so far, until Done).
func (x Index) Duration() time.Duration {
	return transform.Opus.Duration(x.Length)
}

// Find returns the packet that holds sample pos of the stream (pos counts
// from 0 after the pre-skip) and how many samples of that packet's decoded
// output come before pos. pos past the end gives Len() and 0. It is O(1)
// when packets are uniform, O(log n) otherwise.
func (x Index) Find(pos int64) (packet int, skip int) {
	s := max(pos, 0) + int64(x.PreSkip)
	n := len(x.Starts)
	if n == 0 || s >= x.Samples {
		return n, 0
	}
	var i int
	if x.Uniform > 0 {
		i = min(int(s/int64(x.Uniform)), n-1)
	} else {
		i = sort.Search(n, func(i int) bool { return x.Starts[i] > s }) - 1
	}
	return i, int(s - x.Starts[i])
}

// PreRoll is the decoder pre-roll of RFC 7845 (section 4.6): after a seek,
// decoding starts 80 ms earlier and that output is dropped, so that the
// decoder has converged by the target.
const PreRoll = 3840

// DecodeFrom returns where to start decoding to play from sample pos (counted
// after the pre-skip): the packet PreRoll samples earlier (or the first),
// and how many decoded samples to drop from its start (pass them to
// WithPreSkip of a fresh OpusDecoder). pos past the end gives Len() and 0.
func (x Index) DecodeFrom(pos int64) (packet int, drop int64) {
	s := max(pos, 0) + int64(x.PreSkip)
	if len(x.Starts) == 0 || s >= x.Samples {
		return len(x.Starts), 0
	}
	i, _ := x.Find(max(0, s-PreRoll) - int64(x.PreSkip))
	return i, s - x.Starts[i]
}

// FindTime is Find for a time from the start (after the pre-skip).
func (x Index) FindTime(d time.Duration) (packet int, skip int) {
	return x.Find(transform.Opus.Frames(d))
}

// Framer is the Transform that puts Opus packets into a cache: it takes
// packets from a PacketSource (an encoder reading PCM, or an Ogg Opus
// demuxer reading pages), validates each (ParsePacket), writes it as a
// length-prefixed record (see PrefixSize) and records it in its Index. It
// is a catcher.Transform and a catcher.Stater: its State is an Index.
//
// A Framer is driven by one goroutine at a time (as a Transform is); its
// State values are immutable and may be read from any goroutine.
type Framer struct {
	src     PacketSource
	offsets []int64 // append-only; published views never see writes
	starts  []int64 // append-only
	end     int64
	samples int64
	uniform int // -1 until the first packet; then the common size or 0
	last    int // duration of the last packet
	length  int64
	done    bool
}

// NewFramer returns a Framer of the packets of src.
func NewFramer(src PacketSource) *Framer {
	return &Framer{src: src, uniform: -1, length: -1}
}

// MinSpace is MaxRecordSize: one whole record.
func (f *Framer) MinSpace() int { return MaxRecordSize }

// Transform writes the next packet's record into dst. It follows the
// catcher.Transform contract: (n, nil) for one record; (0, io.EOF) at the
// end of the packets; an error from the source, or ErrCorruptPacket for
// an invalid packet, ends the stream.
func (f *Framer) Transform(dst []byte, src io.Reader) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	p, err := f.src.NextPacket(src)
	if err == io.EOF {
		f.done = true
		f.length = f.src.Length()
		return 0, io.EOF
	}
	if err != nil {
		return 0, err
	}
	n, err := PacketSamples(p)
	if err != nil {
		return 0, fmt.Errorf("%w (packet %d)", err, len(f.offsets))
	}
	if len(dst) < PrefixSize+len(p) {
		return 0, fmt.Errorf("codec: Framer given %d bytes, less than MinSpace", len(dst))
	}
	binary.LittleEndian.PutUint16(dst, uint16(len(p)))
	copy(dst[PrefixSize:], p)
	f.offsets = append(f.offsets, f.end)
	f.starts = append(f.starts, f.samples)
	f.end += int64(PrefixSize + len(p))
	f.samples += int64(n)
	switch {
	case f.uniform == -1:
		f.uniform = n
	case f.uniform > 0 && f.last != f.uniform:
		f.uniform = 0 // a short packet that was not the last
	}
	f.last = n
	return PrefixSize + len(p), nil
}

// State returns the Index of the records written so far.
func (f *Framer) State() any { return f.Index() }

// Index returns the Index of the records written so far.
func (f *Framer) Index() Index {
	k := len(f.offsets)
	x := Index{
		Offsets: f.offsets[:k:k],
		Starts:  f.starts[:k:k],
		End:     f.end,
		Samples: f.samples,
		PreSkip: f.src.PreSkip(),
		Done:    f.done,
		Uniform: max(f.uniform, 0),
	}
	if x.Uniform > 0 && f.last != f.uniform && (!f.done || f.last > f.uniform) {
		// A different packet at the end: uniform only if it is the
		// last and shorter.
		x.Uniform = 0
	}
	x.Length = max(0, f.samples-int64(x.PreSkip))
	if f.done && f.length >= 0 {
		x.Length = min(f.length, x.Length)
	}
	return x
}

// PacketReader reads the records of a framed packet stream (see
// PrefixSize). Over an io.ReadSeeker (a catcher.Reader, a file) it can
// resume at any record boundary with SeekPacket. It is not safe for
// concurrent use.
type PacketReader struct {
	r   io.Reader
	buf [MaxRecordSize]byte
}

// NewPacketReader returns a reader of the records in r.
func NewPacketReader(r io.Reader) *PacketReader { return &PacketReader{r: r} }

type contextReader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
}

// ReadPacket returns the next packet, valid until the next call. Errors:
// io.EOF at the end of the stream (between records); ErrTruncated,
// wrapped, if it ends inside a record; ErrCorruptPacket, wrapped, for a
// length prefix out of range; or the reader's error.
func (pr *PacketReader) ReadPacket() ([]byte, error) {
	return pr.ReadPacketContext(context.Background())
}

// ReadPacketContext is ReadPacket with a context that ends a wait for
// bytes, when the underlying reader has a ReadContext method (as a
// catcher.Reader has). A record cut short by ctx leaves the reader in the
// middle of it: seek back to the record before reading on.
func (pr *PacketReader) ReadPacketContext(ctx context.Context) ([]byte, error) {
	if _, err := pr.readFull(ctx, pr.buf[:PrefixSize]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stream ends inside a length prefix", ErrTruncated)
		}
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(pr.buf[:]))
	if n < 1 || n > MaxPacketSize {
		return nil, fmt.Errorf("%w: record length %d", ErrCorruptPacket, n)
	}
	p := pr.buf[PrefixSize : PrefixSize+n]
	if _, err := pr.readFull(ctx, p); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stream ends inside a %d-byte packet", ErrTruncated, n)
		}
		return nil, err
	}
	return p, nil
}

func (pr *PacketReader) readFull(ctx context.Context, p []byte) (int, error) {
	cr, ok := pr.r.(contextReader)
	if !ok {
		return io.ReadFull(pr.r, p)
	}
	done := 0
	for done < len(p) {
		n, err := cr.ReadContext(ctx, p[done:])
		done += n
		if err != nil {
			if err == io.EOF && done > 0 {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}

// SeekPacket moves to the record at byte offset off (an Offsets entry of
// the Index). The reader must be an io.Seeker.
func (pr *PacketReader) SeekPacket(off int64) error {
	s, ok := pr.r.(io.Seeker)
	if !ok {
		return fmt.Errorf("codec: PacketReader over %T cannot seek", pr.r)
	}
	_, err := s.Seek(off, io.SeekStart)
	return err
}
