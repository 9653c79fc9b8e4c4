package webm

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
)

// Element IDs read, with their class bits (as the Matroska specification
// writes them).
const (
	idEBML               = 0x1A45DFA3
	idEBMLVersion        = 0x4286
	idEBMLReadVersion    = 0x42F7
	idEBMLMaxIDLength    = 0x42F2
	idEBMLMaxSizeLength  = 0x42F3
	idDocType            = 0x4282
	idDocTypeReadVersion = 0x4285
	idVoid               = 0xEC
	idCRC32              = 0xBF

	idSegment      = 0x18538067
	idSeekHead     = 0x114D9B74
	idSeek         = 0x4DBB
	idSeekID       = 0x53AB
	idSeekPosition = 0x53AC

	idInfo           = 0x1549A966
	idTimestampScale = 0x2AD7B1
	idDuration       = 0x4489
	idTitle          = 0x7BA9
	idMuxingApp      = 0x4D80
	idWritingApp     = 0x5741

	idTracks            = 0x1654AE6B
	idTrackEntry        = 0xAE
	idTrackNumber       = 0xD7
	idTrackType         = 0x83
	idCodecID           = 0x86
	idCodecPrivate      = 0x63A2
	idCodecDelay        = 0x56AA
	idSeekPreRoll       = 0x56BB
	idAudio             = 0xE1
	idSamplingFrequency = 0xB5
	idChannels          = 0x9F
	idContentEncodings  = 0x6D80

	idTags      = 0x1254C367
	idTag       = 0x7373
	idSimpleTag = 0x67C8
	idTagName   = 0x45A3
	idTagString = 0x4487

	idCluster        = 0x1F43B675
	idTimestamp      = 0xE7
	idPosition       = 0xA7
	idPrevSize       = 0xAB
	idSimpleBlock    = 0xA3
	idBlockGroup     = 0xA0
	idBlock          = 0xA1
	idBlockDuration  = 0x9B
	idDiscardPadding = 0x75A2
	idEncryptedBlock = 0xAF
	idSilentTracks   = 0x5854
	idBlockVirtual   = 0xA2

	idCues               = 0x1C53BB6B
	idCuePoint           = 0xBB
	idCueTime            = 0xB3
	idCueTrackPositions  = 0xB7
	idCueTrack           = 0xF7
	idCueClusterPosition = 0xF1
)

// names of the elements that errors mention.
var names = map[uint32]string{
	idEBML: "EBML", idDocType: "DocType", idSegment: "Segment", idSeekHead: "SeekHead",
	idInfo: "Info", idTracks: "Tracks", idTrackEntry: "TrackEntry", idCodecID: "CodecID",
	idCodecPrivate: "CodecPrivate", idTags: "Tags", idTagName: "TagName", idTagString: "TagString",
	idTitle: "Title", idMuxingApp: "MuxingApp", idWritingApp: "WritingApp", idCluster: "Cluster",
	idSimpleBlock: "SimpleBlock", idBlockGroup: "BlockGroup", idBlock: "Block", idCues: "Cues",
	idCuePoint: "CuePoint", idTimestampScale: "TimestampScale", idDuration: "Duration",
	idSamplingFrequency: "SamplingFrequency", idDiscardPadding: "DiscardPadding",
	idVoid: "Void", idCRC32: "CRC-32", idAudio: "Audio", idTimestamp: "Timestamp",
}

func name(id uint32) string {
	if n, ok := names[id]; ok {
		return n
	}
	return fmt.Sprintf("element %#x", id)
}

// unknownSize is the size of an element whose size field has all its
// value bits set: it runs to the end of its parent, or until an element
// that cannot be its child.
const unknownSize = -1

// maxString bounds the strings read (DocType, CodecID, titles, tags): a
// longer one is an error, or, for a tag's value, skipped.
const maxString = 4 << 10

// header is an element's ID and size, and where it is.
type header struct {
	id   uint32
	size int64 // unknownSize, or the data's length
	off  int64 // the element's first byte (its ID) in the file
	data int64 // the data's first byte
}

// end is the offset just past the element's data, or -1 for an unknown
// size.
func (h header) end() int64 {
	if h.size == unknownSize {
		return -1
	}
	return h.data + h.size
}

// reader reads EBML elements from a stream, without seeking: IDs and
// sizes, leaf values bounded before any allocation, and skips that
// discard without keeping. off is the offset of the next byte in the
// file.
type reader struct {
	br  *bufio.Reader
	off int64
	tmp [8]byte // scratch for small values: a local array would escape to the heap through bufio
}

// readerBuf is the reader's buffer: enough for every header and leaf
// value that is not a block, so one Read of the source serves many
// elements.
const readerBuf = 4 << 10

func newReader(src io.Reader, off int64) *reader {
	return &reader{br: bufio.NewReaderSize(src, readerBuf), off: off}
}

// unexpected turns io.EOF inside an element into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// next reads an element's ID and size. It returns io.EOF if the stream
// ends before its first byte, and an error wrapping io.ErrUnexpectedEOF
// if it ends inside the header.
func (r *reader) next() (header, error) {
	h := header{off: r.off}
	b, err := r.br.ReadByte()
	if err != nil {
		return h, err
	}
	r.off++
	n := leadingZeros(b)
	if n > 3 {
		return h, fmt.Errorf("%w: invalid element ID %#02x at offset %d", ErrCorrupt, b, h.off)
	}
	id := uint32(b)
	for range n {
		if b, err = r.br.ReadByte(); err != nil {
			return h, fmt.Errorf("element ID at offset %d cut short: %w", h.off, unexpected(err))
		}
		r.off++
		id = id<<8 | uint32(b)
	}
	h.id = id
	size, all, err := r.vint()
	if err != nil {
		return h, fmt.Errorf("size of %s at offset %d: %w", name(id), h.off, err)
	}
	h.size = int64(size)
	if all {
		h.size = unknownSize
	} else if size > math.MaxInt64/2 {
		return h, fmt.Errorf("%w: %s at offset %d of %d bytes", ErrCorrupt, name(id), h.off, size)
	}
	h.data = r.off
	return h, nil
}

// leadingZeros is the number of zero bits before the first set bit of
// b's, 8 for 0.
func leadingZeros(b byte) int {
	n := 0
	for m := byte(0x80); m != 0 && b&m == 0; m >>= 1 {
		n++
	}
	return n
}

// vint reads a variable-size integer with its length marker removed (an
// element size, a block's track number), and whether all its value bits
// were set (an unknown size).
func (r *reader) vint() (v uint64, all bool, err error) {
	b, err := r.br.ReadByte()
	if err != nil {
		return 0, false, unexpected(err)
	}
	r.off++
	n := leadingZeros(b)
	if n > 7 {
		return 0, false, fmt.Errorf("%w: invalid variable-size integer %#02x at offset %d", ErrCorrupt, b, r.off-1)
	}
	v = uint64(b) & (0xFF >> (n + 1))
	for range n {
		if b, err = r.br.ReadByte(); err != nil {
			return 0, false, unexpected(err)
		}
		r.off++
		v = v<<8 | uint64(b)
	}
	return v, v == 1<<(7*(n+1))-1, nil
}

// skip discards the next n bytes without keeping them.
func (r *reader) skip(n int64) error {
	for n > 0 {
		k := int(min(n, readerBuf))
		d, err := r.br.Discard(k)
		r.off += int64(d)
		n -= int64(d)
		if err != nil {
			return unexpected(err)
		}
	}
	return nil
}

// full reads len(p) bytes.
func (r *reader) full(p []byte) error {
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	return unexpected(err)
}

// uint reads an unsigned integer element's data (0 to 8 bytes).
func (r *reader) uint(h header) (uint64, error) {
	if h.size < 0 || h.size > 8 {
		return 0, fmt.Errorf("%w: %s at offset %d is an integer of %d bytes", ErrCorrupt, name(h.id), h.off, h.size)
	}
	clear(r.tmp[:])
	if err := r.full(r.tmp[8-h.size:]); err != nil {
		return 0, fmt.Errorf("%s at offset %d: %w", name(h.id), h.off, err)
	}
	return binary.BigEndian.Uint64(r.tmp[:]), nil
}

// int reads a signed integer element's data (0 to 8 bytes).
func (r *reader) int(h header) (int64, error) {
	v, err := r.uint(h)
	if err != nil || h.size == 0 {
		return 0, err
	}
	shift := 64 - 8*uint(h.size)
	return int64(v<<shift) >> shift, nil
}

// float reads a float element's data (0, 4 or 8 bytes).
func (r *reader) float(h header) (float64, error) {
	switch h.size {
	case 0:
		return 0, nil
	case 4:
		v, err := r.uint(h)
		return float64(math.Float32frombits(uint32(v))), err
	case 8:
		v, err := r.uint(h)
		return math.Float64frombits(v), err
	}
	return 0, fmt.Errorf("%w: %s at offset %d is a float of %d bytes", ErrCorrupt, name(h.id), h.off, h.size)
}

// bytes reads an element's data of at most limit bytes.
func (r *reader) bytes(h header, limit int) ([]byte, error) {
	if h.size < 0 || h.size > int64(limit) {
		return nil, fmt.Errorf("%w: %s at offset %d of %d bytes, more than the limit %d", ErrCorrupt, name(h.id), h.off, h.size, limit)
	}
	p := make([]byte, h.size)
	if err := r.full(p); err != nil {
		return nil, fmt.Errorf("%s at offset %d: %w", name(h.id), h.off, err)
	}
	return p, nil
}

// string reads a string element's data of at most maxString bytes,
// without the NUL bytes that may pad it.
func (r *reader) string(h header) (string, error) {
	p, err := r.bytes(h, maxString)
	return strings.TrimRight(string(p), "\x00"), err
}

// children calls f for each child of the master element parent, whose
// size must be known: f reads what it wants of the child, and whatever
// it leaves is skipped. A child overrunning its parent, or of unknown
// size, is ErrCorrupt; a stream ending inside, io.ErrUnexpectedEOF
// (wrapped).
func (r *reader) children(parent header, f func(h header) error) error {
	if parent.size == unknownSize {
		return fmt.Errorf("%w: %s at offset %d has an unknown size", ErrCorrupt, name(parent.id), parent.off)
	}
	end := parent.end()
	for r.off < end {
		h, err := r.next()
		if err != nil {
			return fmt.Errorf("inside %s at offset %d: %w", name(parent.id), parent.off, unexpected(err))
		}
		if h.size == unknownSize || h.end() > end {
			return fmt.Errorf("%w: %s at offset %d overruns %s at offset %d", ErrCorrupt, name(h.id), h.off, name(parent.id), parent.off)
		}
		if err := f(h); err != nil {
			return err
		}
		if r.off > h.end() {
			return fmt.Errorf("%w: %s at offset %d read past its end", ErrCorrupt, name(h.id), h.off)
		}
		if err := r.skip(h.end() - r.off); err != nil {
			return fmt.Errorf("%s at offset %d: %w", name(h.id), h.off, err)
		}
	}
	return nil
}
