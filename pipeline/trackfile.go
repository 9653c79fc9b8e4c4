package pipeline

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// A stored track is one file: a finished Track's packets and index, with
// checksums, so that a process plays it again without decoding or encoding
// it. Integers are little-endian; every CRC is CRC-32C (Castagnoli).
//
//	offset     size       field
//	0          8          magic "sctrack1"
//	8          4          m: bytes of metadata, at most 64 KiB
//	12         4          block: the data's checksum block, a power of two, 4 KiB to 16 MiB
//	16         8          p: packets
//	24         8          d: bytes of data
//	32         8          pre-skip, in samples at 48 kHz
//	40         8          length: the true length in samples, pre-skip excluded
//	48         m          metadata: JSON (the key, the source's name, title,
//	                      artist, input kind and format, the encoder's settings)
//	48+m       4          CRC of bytes 0 to 48+m
//	52+m       4p         the index: for each packet, its size (uint16) and its
//	                      samples (uint16)
//	52+m+4p    4          CRC of the index
//	56+m+4p    4b         CRC of each block of the data, b = ceil(d/block)
//	56+m+4p+4b 4          CRC of those CRCs
//	60+m+4p+4b d          the data: the framed stream, byte for byte as the
//	                      Track's cache holds it (see package framed)
//
// The file's size is exactly 60+m+4p+4b+d: a truncated or extended file
// is found by its size before anything else is read. Every part is
// checked before the track is served (header, index, every block, every
// record against its index entry: its size and its packet's samples), and
// the data's blocks and records are checked again as the track's cache
// reads them (the file may have changed since), so that no packet that
// fails a check is ever served. A file that fails any check is
// ErrCorruptTrack, wrapped with what was wrong.
const (
	trackMagic     = "sctrack1"
	trackFixed     = 48
	trackBlock     = 64 << 10
	maxTrackMeta   = 64 << 10
	minTrackBlock  = 4 << 10
	maxTrackBlock  = 16 << 20
	trackVersionV1 = 1
)

// ErrCorruptTrack is returned, wrapped with the detail, for a stored
// track that fails its checks: truncated, extended, a flipped byte, a
// record that does not match its index, or a file of another key.
var ErrCorruptTrack = errors.New("pipeline: corrupt stored track")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trackMeta is a stored track's metadata.
type trackMeta struct {
	Version    int    `json:"version"`
	Key        string `json:"key"`
	Name       string `json:"name,omitempty"`
	Title      string `json:"title,omitempty"`
	Artist     string `json:"artist,omitempty"`
	Kind       string `json:"kind"`
	Rate       int    `json:"rate,omitempty"`
	InChannels int    `json:"in_channels,omitempty"`
	Encoding   uint8  `json:"encoding,omitempty"`
	Bitrate    int    `json:"bitrate"`
	FrameNS    int64  `json:"frame_ns"`
	Channels   int    `json:"channels"`
}

func kindNamed(s string) codec.Kind {
	for k := codec.KindUnknown + 1; k.String() != codec.KindUnknown.String(); k++ {
		if k.String() == s {
			return k
		}
	}
	return codec.KindUnknown
}

// writeTrack writes the finished track t, whose key is key, as a stored
// track. It reads t's packets twice (for the block checksums, then to
// write them), with one block's buffer.
func writeTrack(w io.Writer, t *Track, key string) error {
	x, ok := t.Index()
	if !ok || !x.Done() || t.Metadata().Live {
		return errors.New("pipeline: only a finished track can be stored")
	}
	md := t.Metadata()
	meta, err := json.Marshal(trackMeta{
		Version: trackVersionV1, Key: key, Name: md.Name, Title: md.Title, Artist: md.Artist,
		Kind: md.Kind.String(), Rate: md.Format.Rate, InChannels: md.Format.Channels, Encoding: uint8(md.Format.Encoding),
		Bitrate: md.Bitrate, FrameNS: int64(md.Frame), Channels: md.Channels,
	})
	if err != nil {
		return err
	}
	if len(meta) > maxTrackMeta {
		return fmt.Errorf("pipeline: track metadata of %d bytes, more than %d", len(meta), maxTrackMeta)
	}
	p, d := x.Packets(), x.End()

	head := make([]byte, trackFixed, trackFixed+len(meta)+4)
	copy(head, trackMagic)
	binary.LittleEndian.PutUint32(head[8:], uint32(len(meta)))
	binary.LittleEndian.PutUint32(head[12:], trackBlock)
	binary.LittleEndian.PutUint64(head[16:], uint64(p))
	binary.LittleEndian.PutUint64(head[24:], uint64(d))
	binary.LittleEndian.PutUint64(head[32:], uint64(x.PreSkip()))
	binary.LittleEndian.PutUint64(head[40:], uint64(x.DurationSamples()))
	head = append(head, meta...)
	head = binary.LittleEndian.AppendUint32(head, crc32.Checksum(head, castagnoli))

	idx := make([]byte, 0, 4*p+4)
	for i := range p {
		e := x.Entry(i)
		idx = binary.LittleEndian.AppendUint16(idx, uint16(e.Size))
		idx = binary.LittleEndian.AppendUint16(idx, uint16(e.Samples))
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.Checksum(idx, castagnoli))

	buf := make([]byte, trackBlock)
	blocks := make([]byte, 0, 4*(d/trackBlock+2))
	for off := int64(0); off < d; off += trackBlock {
		b := buf[:min(trackBlock, d-off)]
		if _, err := t.c.ReadAt(b, off); err != nil {
			return err
		}
		blocks = binary.LittleEndian.AppendUint32(blocks, crc32.Checksum(b, castagnoli))
	}
	blocks = binary.LittleEndian.AppendUint32(blocks, crc32.Checksum(blocks, castagnoli))

	for _, part := range [][]byte{head, idx, blocks} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	for off := int64(0); off < d; off += trackBlock {
		b := buf[:min(trackBlock, d-off)]
		if _, err := t.c.ReadAt(b, off); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// storedTrack is a stored track's parts, checked.
type storedTrack struct {
	meta      trackMeta
	packets   int64
	data      int64 // bytes of data
	dataAt    int64 // the data's offset in the file
	block     int64
	preSkip   int64
	length    int64
	index     []byte // 4 bytes a packet
	sums      []byte // 4 bytes a block
	maxPacket int
	samples   int64 // the packets' samples, pre-skip included
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptTrack}, args...)...)
}

// readStored reads and checks a stored track's header, index and block
// checksums from f, of size bytes, and checks every block of its data. It
// allocates nothing before the file's size says the parts are there.
func readStored(ctx context.Context, f io.ReaderAt, size int64, key string) (*storedTrack, error) {
	if size < trackFixed+4 {
		return nil, corrupt("%d bytes, less than a header", size)
	}
	var fixed [trackFixed]byte
	if _, err := f.ReadAt(fixed[:], 0); err != nil {
		return nil, fmt.Errorf("pipeline: reading a stored track: %w", err)
	}
	if string(fixed[:8]) != trackMagic {
		return nil, corrupt("bad magic %q", fixed[:8])
	}
	m := int64(binary.LittleEndian.Uint32(fixed[8:]))
	block := int64(binary.LittleEndian.Uint32(fixed[12:]))
	p := binary.LittleEndian.Uint64(fixed[16:])
	d := binary.LittleEndian.Uint64(fixed[24:])
	preSkip := binary.LittleEndian.Uint64(fixed[32:])
	length := binary.LittleEndian.Uint64(fixed[40:])
	switch {
	case m > maxTrackMeta:
		return nil, corrupt("%d bytes of metadata", m)
	case block < minTrackBlock || block > maxTrackBlock || block&(block-1) != 0:
		return nil, corrupt("checksum block of %d bytes", block)
	case d > uint64(size) || p > d/(framed.PrefixSize+1):
		return nil, corrupt("%d packets in %d bytes of data, in a file of %d bytes", p, d, size)
	case preSkip > math.MaxInt32 || length > math.MaxInt64/2:
		return nil, corrupt("pre-skip %d, length %d", preSkip, length)
	}
	b := (int64(d) + block - 1) / block
	want := trackFixed + m + 4 + 4*int64(p) + 4 + 4*b + 4 + int64(d)
	if want != size {
		return nil, corrupt("%d bytes, but its header describes %d (truncated or extended)", size, want)
	}
	head := make([]byte, trackFixed+m+4)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("pipeline: reading a stored track: %w", err)
	}
	if got := binary.LittleEndian.Uint32(head[trackFixed+m:]); got != crc32.Checksum(head[:trackFixed+m], castagnoli) {
		return nil, corrupt("header checksum")
	}
	st := &storedTrack{packets: int64(p), data: int64(d), block: block, preSkip: int64(preSkip), length: int64(length)}
	if err := json.Unmarshal(head[trackFixed:trackFixed+m], &st.meta); err != nil {
		return nil, corrupt("metadata: %v", err)
	}
	if st.meta.Version != trackVersionV1 {
		return nil, corrupt("version %d", st.meta.Version)
	}
	if st.meta.Key != key {
		return nil, corrupt("the file is of %q, not %q", st.meta.Key, key)
	}
	at := int64(len(head))
	var err error
	if st.index, err = readSummed(f, at, 4*st.packets, "index"); err != nil {
		return nil, err
	}
	at += 4*st.packets + 4
	if st.sums, err = readSummed(f, at, 4*b, "block checksums"); err != nil {
		return nil, err
	}
	st.dataAt = at + 4*b + 4

	// The index against itself: sizes in range, and adding up to the data.
	var total, samples int64
	for i := int64(0); i < st.packets; i++ {
		n := int64(binary.LittleEndian.Uint16(st.index[4*i:]))
		s := int64(binary.LittleEndian.Uint16(st.index[4*i+2:]))
		if n < 1 || n > opus.MaxPacketSize || s < 1 || s > 5760 {
			return nil, corrupt("index entry %d: %d bytes, %d samples", i, n, s)
		}
		st.maxPacket = max(st.maxPacket, int(n))
		total += framed.PrefixSize + n
		samples += s
	}
	if total != st.data {
		return nil, corrupt("the index adds up to %d bytes of data, the header says %d", total, st.data)
	}
	if st.length > samples {
		return nil, corrupt("length %d, more than the packets' %d samples", st.length, samples)
	}
	st.samples = samples

	// Every block, and every record against its index entry, before any
	// of it is served: an index whose entries are each in range and add
	// up, but are not the records' (two swapped, say), is found here, not
	// by a listener.
	buf := make([]byte, min(block, st.data))
	rc := recordCheck{st: st}
	for i := int64(0); i < b; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := st.readBlock(f, i, buf); err != nil {
			return nil, err
		}
		if err := rc.write(buf[:min(block, st.data-i*block)]); err != nil {
			return nil, err
		}
	}
	if rc.i != st.packets || len(rc.rec) != 0 {
		return nil, corrupt("the data ends inside packet %d", rc.i)
	}
	return st, nil
}

// recordCheck checks the records of a stored track's data, given in order
// in pieces of any size, against the index: each record's length prefix
// and its packet's samples (which parsing its TOC checks too) must be its
// entry's.
type recordCheck struct {
	st  *storedTrack
	i   int64  // the next record
	rec []byte // the start of record i, when a piece ended inside it
}

func (c *recordCheck) write(p []byte) error {
	for len(p) > 0 {
		if c.i == c.st.packets {
			return corrupt("data past the last packet's record")
		}
		want := framed.PrefixSize + int(binary.LittleEndian.Uint16(c.st.index[4*c.i:]))
		var rec []byte
		switch {
		case len(c.rec) == 0 && len(p) >= want:
			rec, p = p[:want], p[want:]
		default:
			k := min(want-len(c.rec), len(p))
			c.rec, p = append(c.rec, p[:k]...), p[k:]
			if len(c.rec) < want {
				return nil
			}
			rec = c.rec
		}
		if err := c.st.checkRecord(c.i, rec); err != nil {
			return err
		}
		c.rec = c.rec[:0]
		c.i++
	}
	return nil
}

// checkRecord checks record i (its prefix and packet) against its index
// entry.
func (st *storedTrack) checkRecord(i int64, rec []byte) error {
	n := int(binary.LittleEndian.Uint16(st.index[4*i:]))
	if size := int(binary.LittleEndian.Uint16(rec)); size != n {
		return corrupt("packet %d: a record of %d bytes, the index says %d", i, size, n)
	}
	return st.checkPacket(i, rec[framed.PrefixSize:])
}

// checkPacket checks packet i against its index entry.
func (st *storedTrack) checkPacket(i int64, p []byte) error {
	n := int(binary.LittleEndian.Uint16(st.index[4*i:]))
	want := int64(binary.LittleEndian.Uint16(st.index[4*i+2:]))
	if got, err := opus.PacketSamples(p); len(p) != n || err != nil || got != want {
		return corrupt("packet %d: %d bytes of %d samples (%v), the index says %d bytes of %d", i, len(p), got, err, n, want)
	}
	return nil
}

// readSummed reads n bytes at off followed by their CRC, and checks it.
func readSummed(f io.ReaderAt, off, n int64, what string) ([]byte, error) {
	buf := make([]byte, n+4)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("pipeline: reading a stored track's %s: %w", what, err)
	}
	if binary.LittleEndian.Uint32(buf[n:]) != crc32.Checksum(buf[:n], castagnoli) {
		return nil, corrupt("%s checksum", what)
	}
	return buf[:n], nil
}

// readBlock reads block i of the data into buf and checks it; it returns
// the block in buf[:len].
func (st *storedTrack) readBlock(f io.ReaderAt, i int64, buf []byte) error {
	off := i * st.block
	b := buf[:min(st.block, st.data-off)]
	if _, err := f.ReadAt(b, st.dataAt+off); err != nil {
		return fmt.Errorf("pipeline: reading a stored track's data: %w", err)
	}
	if binary.LittleEndian.Uint32(st.sums[4*i:]) != crc32.Checksum(b, castagnoli) {
		return corrupt("data block %d (bytes %d to %d) checksum", i, off, off+int64(len(b)))
	}
	return nil
}

// blockReader reads a stored track's data, checking each block again as
// it goes (the file may have changed since it was checked). It closes the
// file on Close.
type blockReader struct {
	st   *storedTrack
	f    io.ReaderAt
	c    io.Closer
	buf  []byte
	next int64 // the next block
	rest []byte
}

func (r *blockReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		if r.next*r.st.block >= r.st.data {
			return 0, io.EOF
		}
		if err := r.st.readBlock(r.f, r.next, r.buf); err != nil {
			return 0, err
		}
		r.rest = r.buf[:min(r.st.block, r.st.data-r.next*r.st.block)]
		r.next++
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

func (r *blockReader) Close() error {
	if r.c == nil {
		return nil
	}
	return r.c.Close()
}

// storedPackets is the PacketSource of a stored track: its records, each
// checked against its index entry.
type storedPackets struct {
	st *storedTrack
	r  *framed.Reader
	i  int64
}

func (s *storedPackets) NextPacket(src io.Reader) ([]byte, error) {
	if s.r == nil {
		s.r = framed.NewReader(src)
	}
	if s.i == s.st.packets {
		return nil, io.EOF
	}
	p, err := s.r.ReadPacket()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: packet %d: %w", ErrCorruptTrack, s.i, err)
	}
	if err := s.st.checkPacket(s.i, p); err != nil {
		return nil, err
	}
	s.i++
	return p, nil
}

func (s *storedPackets) PreSkip() int64     { return s.st.preSkip }
func (s *storedPackets) Length() int64      { return s.st.length }
func (s *storedPackets) MaxPacketSize() int { return max(s.st.maxPacket, 1) }

// openStoredTrack returns a Track of the checked stored track st, read
// from f (closed with the track). No decoder or encoder runs, and it takes
// no pool slot.
func openStoredTrack(st *storedTrack, f io.ReaderAt, c io.Closer, maxBytes int64) (*Track, error) {
	if maxBytes > 0 && st.data > maxBytes {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("%w: a stored track of %d bytes, more than the bound of %d", catcher.ErrTooLong, st.data, maxBytes)
	}
	m := st.meta
	md := &Metadata{
		Name: m.Name, Title: m.Title, Artist: m.Artist, Kind: kindNamed(m.Kind),
		Format:  transform.Format{Rate: m.Rate, Channels: m.InChannels, Encoding: transform.Encoding(m.Encoding)},
		Bitrate: m.Bitrate, Frame: time.Duration(m.FrameNS), Channels: m.Channels,
	}
	t := &Track{cfg: trackConfig{name: m.Name, bitrate: m.Bitrate, frame: md.Frame, channels: m.Channels}, stored: md}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	r := &blockReader{st: st, f: f, c: c, buf: make([]byte, min(st.block, max(st.data, 1)))}
	f2 := framed.NewFramer(&storedPackets{st: st}, framed.WithCapacity(int(st.packets)))
	t.c = catcher.New(r, catcher.WithTransform(f2), catcher.WithLengthHint(st.data), catcher.WithFinalise(), catcher.WithReadAhead(math.MaxInt64))
	t.c.Preload()
	return t, nil
}
