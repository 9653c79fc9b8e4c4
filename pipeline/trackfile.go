package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"
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
// is found by its size before anything else is read. The parts before
// the data (header, index, block checksums) are read at once and checked
// before the track is served, the index against itself too (its sizes add
// up to the data); the data is checked as the track's cache reads it,
// each block against its checksum before any of its bytes are taken, each
// record against its index entry (its size and its packet's samples), so
// that a track is served after one read of its first parts, from a store
// read by range as well as from a file, and no packet that fails a check
// is ever served. A file that fails any check is ErrCorruptTrack, wrapped
// with what was wrong.
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
	// starts is, for each block of the data, the first sample of the
	// packet its first byte belongs to: when a player reaches it.
	starts []int64
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorruptTrack}, args...)...)
}

// readStored reads and checks a stored track's header, index and block
// checksums from f, of size bytes: the fixed header, then every other part
// before the data in one read. It allocates nothing before the file's
// size says the parts are there. The data is not read: blockReader and
// storedPackets check it as it is read.
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Header, index and block checksums, each followed by its CRC.
	parts := make([]byte, want-int64(d))
	if _, err := f.ReadAt(parts, 0); err != nil {
		return nil, fmt.Errorf("pipeline: reading a stored track: %w", err)
	}
	head, rest := parts[:trackFixed+m+4], parts[trackFixed+m+4:]
	if !summed(head) {
		return nil, corrupt("header checksum")
	}
	if !bytes.Equal(head[:trackFixed], fixed[:]) {
		return nil, corrupt("the header changed while it was read")
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
	idx, sums := rest[:4*st.packets+4], rest[4*st.packets+4:]
	if !summed(idx) {
		return nil, corrupt("index checksum")
	}
	if !summed(sums) {
		return nil, corrupt("block checksums checksum")
	}
	st.index, st.sums = idx[:4*st.packets], sums[:4*b]
	st.dataAt = int64(len(parts))

	// The index against itself: sizes in range, and adding up to the data.
	var total, samples int64
	st.starts = make([]int64, 0, b)
	for i := int64(0); i < st.packets; i++ {
		n := int64(binary.LittleEndian.Uint16(st.index[4*i:]))
		s := int64(binary.LittleEndian.Uint16(st.index[4*i+2:]))
		if n < 1 || n > opus.MaxPacketSize || s < 1 || s > 5760 {
			return nil, corrupt("index entry %d: %d bytes, %d samples", i, n, s)
		}
		st.maxPacket = max(st.maxPacket, int(n))
		total += framed.PrefixSize + n
		for int64(len(st.starts)) < b && int64(len(st.starts))*block < total {
			st.starts = append(st.starts, samples) // a block that begins in this packet
		}
		samples += s
	}
	if total != st.data {
		return nil, corrupt("the index adds up to %d bytes of data, the header says %d", total, st.data)
	}
	if st.length > samples {
		return nil, corrupt("length %d, more than the packets' %d samples", st.length, samples)
	}
	st.samples = samples
	return st, nil
}

// summed reports whether b ends with the CRC of the bytes before it.
func summed(b []byte) bool {
	n := len(b) - 4
	return binary.LittleEndian.Uint32(b[n:]) == crc32.Checksum(b[:n], castagnoli)
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

// errBlobRead wraps the error of a blob that could not be read: the
// store's, not the track's, which is not corrupt for it.
var errBlobRead = errors.New("pipeline: reading a stored track's data")

// errBlobClosed is what a read of a stored track's blob returns after the
// blob's Close (see storedBlob).
var errBlobClosed = fmt.Errorf("pipeline: stored track's blob closed: %w", ErrClosed)

// recordAt returns the offset in the data of packet i's record: the
// records before it, each its size and a prefix.
func (st *storedTrack) recordAt(i int64) int64 {
	off := int64(0)
	for k := range i {
		off += framed.PrefixSize + int64(binary.LittleEndian.Uint16(st.index[4*k:]))
	}
	return off
}

// storedBlob is a stored track's blob, read by the track's cache and by
// its segments (see copyStored), each from a goroutine of its own. Each
// ReadAt, and each stream of it, holds it open: its Close (the cache's
// source's, at the track's Close or at the end of its fill) refuses the
// reads and streams asked for after it (errBlobClosed) and closes the
// blob once the last of those in progress is done, at once if none is.
// So no read is made on a closed blob, and Close never waits for one
// (the cache's Close calls it while its fill may be reading). Safe for
// concurrent use.
type storedBlob struct {
	f io.ReaderAt
	c io.Closer // closed by Close; nil: none

	mu     sync.Mutex // guards users and closed
	users  int        // reads and streams in progress
	closed bool       // Close has been called
}

// hold takes the blob for a read, or reports false if it is closed.
func (b *storedBlob) hold() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.users++
	return true
}

// release gives back a hold, and closes the blob if it was the last
// after Close.
func (b *storedBlob) release() {
	b.mu.Lock()
	b.users--
	last := b.closed && b.users == 0
	b.mu.Unlock()
	if last && b.c != nil {
		b.c.Close()
	}
}

func (b *storedBlob) ReadAt(p []byte, off int64) (int, error) {
	if !b.hold() {
		return 0, errBlobClosed
	}
	defer b.release()
	return b.f.ReadAt(p, off)
}

// stream returns a reader of the n bytes at off through the blob's
// Stream, holding the blob open until the reader's Close; nil if the
// blob is no BlobStreamer, or is closed (its ReadAt then says so).
func (b *storedBlob) stream(off, n int64) io.ReadCloser {
	bs, ok := b.f.(BlobStreamer)
	if !ok || !b.hold() {
		return nil
	}
	return &heldStream{ReadCloser: bs.Stream(off, n), release: sync.OnceFunc(b.release)}
}

// Close closes the blob, now if no read is in progress, else when the
// last one ends; it returns the blob's Close error if it closed it.
func (b *storedBlob) Close() error {
	b.mu.Lock()
	was := b.closed
	b.closed = true
	now := !was && b.users == 0
	b.mu.Unlock()
	if now && b.c != nil {
		return b.c.Close()
	}
	return nil
}

// heldStream is a stream of a storedBlob, which holds it until its Close.
type heldStream struct {
	io.ReadCloser
	release func()
}

func (s *heldStream) Close() error {
	err := s.ReadCloser.Close()
	s.release()
	return err
}

// readBlock reads block i of the data into buf and checks it; it returns
// the block in buf[:len].
func (st *storedTrack) readBlock(f io.ReaderAt, i int64, buf []byte) error {
	off := i * st.block
	b := buf[:min(st.block, st.data-off)]
	if _, err := f.ReadAt(b, st.dataAt+off); err != nil {
		return fmt.Errorf("%w: %w", errBlobRead, err)
	}
	return st.checkBlock(i, b)
}

// checkBlock checks b, block i of the data, against its checksum.
func (st *storedTrack) checkBlock(i int64, b []byte) error {
	if binary.LittleEndian.Uint32(st.sums[4*i:]) != crc32.Checksum(b, castagnoli) {
		off := i * st.block
		return corrupt("data block %d (bytes %d to %d) checksum", i, off, off+int64(len(b)))
	}
	return nil
}

// blockReader reads a stored track's data, checking each block before
// any of its bytes are given out. It reads through the blob's Stream if it
// is a BlobStreamer (an object store fetching ahead), else block by block
// with ReadAt. It closes the stream and the blob on Close.
type blockReader struct {
	st    *storedTrack
	pacer *pacer // asks the cache for the data at its pace; nil if it is read whole at once. Set before the first Read
	f     io.ReaderAt
	c     io.Closer
	s     io.ReadCloser // the blob's stream of the data, if it is a BlobStreamer; set before the first Read
	buf   []byte
	next  int64 // the next block
	rest  []byte
}

func (r *blockReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		off := r.next * r.st.block
		if off >= r.st.data {
			return 0, io.EOF
		}
		b := r.buf[:min(r.st.block, r.st.data-off)]
		if r.s != nil {
			if _, err := io.ReadFull(r.s, b); err != nil {
				return 0, fmt.Errorf("%w: %w", errBlobRead, err)
			}
			if err := r.st.checkBlock(r.next, b); err != nil {
				return 0, err
			}
		} else if err := r.st.readBlock(r.f, r.next, r.buf); err != nil {
			return 0, err
		}
		r.rest = b
		r.next++
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// Close may be called while a Read is in progress (the cache's Close): a
// stream's Close makes its Read return.
func (r *blockReader) Close() error {
	if r.pacer != nil {
		r.pacer.stop()
	}
	if r.s != nil {
		r.s.Close()
	}
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
		if errors.Is(err, errBlobRead) || errors.Is(err, ErrCorruptTrack) {
			return nil, err // the store's error, or a block that failed its check
		}
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

// storedPace is how a stored track's data is read into its cache: ahead
// packets ahead of the time since it was opened, on clock; the whole of
// it at once if ahead is 0.
type storedPace struct {
	ahead int
	clock Clock
}

// openStoredTrack returns a Track of the checked stored track st, read
// from f (closed with the track) at the pace asked. No decoder or encoder
// runs, and it takes no pool slot.
//
// A paced track's cache reads a block of the data when the time since the
// track was opened comes within pace.ahead packets (counted at the
// track's mean packet duration) of the block's first packet, or when a
// reader waits for it (Track.Ready, a Player's Seek, a Cursor's
// NextContext), whichever comes first: the fetches of a store read by
// range stay ahead of the players, who start at the beginning and play
// at most in real time, and a track left after its first minute is not
// fetched whole. The pace is on the clock, not on the players' positions,
// because the cache does not know them: a cursor is a packet number the
// cache never sees, and a Player never waits on the cache (Next says
// ErrUnderrun, and a Scheduler tries again at the next deadline), so a
// fill that waited for its readers to ask would run dry under every
// scheduled player. The cache is one stream from the first byte on: a
// Player's Seek past what is read waits for the reading of everything
// before its target (at the store's speed, not the clock's: the wait asks
// for it). A Queue's seek there does not: it is made from a segment (see
// segment.go) of the track's own records, read from the blob at the
// target's block, which the cache shares (storedBlob), and the queue
// goes back onto the cache's packets once the cache has passed it.
func openStoredTrack(st *storedTrack, f io.ReaderAt, c io.Closer, maxBytes int64, pace storedPace) (*Track, error) {
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
	b := &storedBlob{f: f, c: c}
	t.segs.st, t.segs.blob = st, b // its segments read it too (copyStored)
	r := &blockReader{st: st, f: b, c: b, buf: make([]byte, min(st.block, max(st.data, 1)))}
	r.s = b.stream(st.dataAt, st.data)
	f2 := framed.NewFramer(&storedPackets{st: st}, framed.WithCapacity(int(st.packets)))
	if pace.ahead <= 0 || len(st.starts) == 0 {
		t.c = catcher.New(r, catcher.WithTransform(f2), catcher.WithLengthHint(st.data), catcher.WithFinalise(), catcher.WithReadAhead(math.MaxInt64))
		t.c.Preload()
		return t, nil
	}
	// Read as far as the pacer or a reader asks, a block past a wait.
	t.c = catcher.New(r, catcher.WithTransform(f2), catcher.WithLengthHint(st.data), catcher.WithFinalise(), catcher.WithReadAhead(st.block))
	r.pacer = newPacer(st, t.c, pace) // before it starts: its first demand may start the fill, and end it
	r.pacer.start()
	return t, nil
}

// pacer asks a stored track's cache for each block of its data when the
// time since the track was opened comes within its read-ahead of the
// block's first packet (see openStoredTrack). It ends when the last block
// has been asked for, or at stop, which the cache's source (blockReader)
// calls as it is closed: stop must come after start.
type pacer struct {
	st     *storedTrack
	c      *catcher.Catcher
	clock  Clock
	ahead  int64 // samples
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
}

func newPacer(st *storedTrack, c *catcher.Catcher, pace storedPace) *pacer {
	clock := pace.clock
	if clock == nil {
		clock = SystemClock{}
	}
	mean := st.samples / max(st.packets, 1)
	p := &pacer{st: st, c: c, clock: clock, ahead: int64(pace.ahead) * mean, done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

// start starts the pacer, its time from now.
func (p *pacer) start() { go p.run(p.clock.Now()) }

// run asks for the blocks due, then waits until the next one is.
func (p *pacer) run(start time.Time) {
	defer close(p.done)
	st := p.st
	next := 0 // the first block not asked for
	for next < len(st.starts) {
		due := st.preSkip + opus.Samples(p.clock.Now().Sub(start)) + p.ahead
		for next < len(st.starts) && st.starts[next] <= due {
			next++
		}
		if next > 0 {
			p.c.Ready(min(int64(next)*st.block, st.data) - 1) // a demand on the fill, not a wait
		}
		if next == len(st.starts) {
			return
		}
		at := start.Add(opus.Duration(st.starts[next] - st.preSkip - p.ahead))
		select {
		case <-p.c.Done():
			return
		default:
		}
		if err := p.clock.Wait(p.ctx, at); err != nil {
			return
		}
	}
}

// stop ends the pacer and waits for it.
func (p *pacer) stop() {
	p.cancel()
	<-p.done
}
