// Package ogg reads and writes Ogg streams (RFC 3533) and carries Opus in
// them (RFC 7845), packet for packet and exact to the sample.
//
// Reader and Writer are our own page reader and writer: CRC checked,
// lacing, packets continued across pages, several packets a page, granule
// positions. OpusDemuxer and OpusWriter add the OpusHead and OpusTags
// headers, the pre-skip and end trimming by the last granule position, so
// that an Ogg Opus file read and written back keeps every packet byte for
// byte and its exact length. (pion's ogg packages join a page's packets and
// ignore the pre-skip, so they cannot serve exact lengths.)
//
// A chained file (several logical streams one after another, as an
// Icecast radio stream is at each change of song) is read to the end of
// its first link; the Reader then returns ErrChained, naming the next
// link, rather than io.EOF, so that the rest is never dropped silently.
// An OpusDemuxer made WithChains goes on across the links instead, and
// resynchronises on the next capture pattern after spliced or damaged
// bytes (a radio stream's reconnect): what a live track of a radio needs.
//
// Truncated input gives errors that wrap io.ErrUnexpectedEOF.
package ogg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// An Ogg page (RFC 3533, section 6), all fields little-endian:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| capture pattern "OggS"                                        |  0
//	+---------------+---------------+-------------------------------+
//	| version (0)   | header type   | granule position ...          |  4
//	+---------------+---------------+                               |
//	|                    ... (64 bits, -1: no packet ends here)     |  8
//	+               +---------------+-------------------------------+
//	|               | bitstream serial number ...                   | 12
//	+---------------+---------------+-------------------------------+
//	|               | page sequence number ...                      | 16
//	+---------------+---------------+-------------------------------+
//	|               | CRC-32 of the page, this field as zeros ...   | 20
//	+---------------+---------------+-------------------------------+
//	|               | segments (n)  | lacing values (n bytes) ...   | 24
//	+---------------+---------------+-------------------------------+
//	| body: the sum of the lacing values, in bytes ...              |
//
// Header type bits: 0x01 the first packet continues one from the previous
// page; 0x02 first page of the stream (BOS); 0x04 last page (EOS). A packet
// is the concatenation of lacing values of 255 ended by one below 255; a
// page whose last lacing value is 255 leaves its last packet open.
const (
	oggHeaderSize = 27
	oggMaxSegs    = 255
	oggMaxBody    = oggMaxSegs * 255

	oggContinued = 0x01
	oggBOS       = 0x02
	oggEOS       = 0x04

	// MaxPacket bounds a packet read from an Ogg stream (a header packet
	// with cover art can be large); a longer one is ErrBadPage.
	MaxPacket = 16 << 20
)

// oggCRC is the table of the Ogg checksum: CRC-32 with polynomial
// 0x04c11db7, not reflected, initial value 0, no final xor.
var oggCRC = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

func oggChecksum(crc uint32, b []byte) uint32 {
	for _, v := range b {
		crc = crc<<8 ^ oggCRC[byte(crc>>24)^v]
	}
	return crc
}

// Packet is one packet of an Ogg logical stream.
type Packet struct {
	// Data is the packet. It is valid until the next call to ReadPacket.
	Data []byte
	// Granule is the granule position of the page on which the packet
	// ends if it is the last packet to end on that page, and -1 otherwise.
	Granule int64
	// Serial is the logical stream's serial number.
	Serial uint32
	// BOS is set on the first packet of the stream.
	BOS bool
	// EOS is set on the last packet of a page marked end of stream.
	EOS bool
}

// Reader reads the packets of an Ogg stream, checking each page's checksum
// and sequence. It follows the first logical stream (the serial number of
// the first page) and skips the pages of others multiplexed with it; it
// ends with io.EOF after that stream's end-of-stream page when the input
// ends there, or at the end of the input after a whole page; with
// ErrChained when another logical stream follows the end of its own (a
// page marked BOS, whatever its serial number: a file made by
// concatenating two with the same one is a chain too). It is not safe for
// concurrent use.
type Reader struct {
	r      pushback
	hdr    [oggHeaderSize + oggMaxSegs]byte
	body   [oggMaxBody]byte
	segs   []byte // lacing values of the current page not yet consumed
	pos    int    // offset in body of the next packet
	page   pageInfo
	pkt    []byte // the packet being assembled across pages
	open   bool   // pkt continues on the next page
	serial uint32
	seq    uint32
	pages  int64 // pages of our stream read so far
	npk    int64 // packets returned so far
	bos    bool  // the first page was marked BOS
	eos    bool
	end    error // once the end-of-stream page is consumed: what follows it (io.EOF or ErrChained)
	offset int64 // bytes consumed from r

	// For a demuxer that follows chains (see OpusDemuxer's WithChains).
	resync  bool      // skip damaged or spliced bytes to the next capture pattern; allow lost pages
	next    *pageInfo // the first page of the next link, read (in hdr and body) but not taken
	pending bool      // next is to be taken as the current link's first page by readPage
	linkAt  int64     // offset of the current link's first page
	skipped int64     // bytes skipped by resynchronisation, in all
	spliced bool      // bytes were skipped since the last page taken: the next BOS page starts a link
	scratch []byte    // the bytes of a damaged page, rescanned
}

// maxJunk bounds the bytes a resynchronising Reader skips in a row
// looking for a page: a radio stream's splice costs at most a page
// (65307 bytes) and the bytes a dropped connection cut short.
const maxJunk = 256 << 10

// pushback is a reader with bytes given back to be read again first.
type pushback struct {
	r    io.Reader
	back []byte
}

func (b *pushback) Read(p []byte) (int, error) {
	if len(b.back) > 0 {
		n := copy(p, b.back)
		b.back = b.back[n:]
		return n, nil
	}
	return b.r.Read(p)
}

type pageInfo struct {
	flags   byte
	granule int64
	serial  uint32
	seq     uint32
	nsegs   int
	size    int // body bytes
	last    int // index of the last lacing value < 255, or -1
	at      int64
}

// NewReader returns a reader of the packets in r.
func NewReader(r io.Reader) *Reader { return &Reader{r: pushback{r: r}} }

// size is the memory the Reader holds.
func (o *Reader) size() int64 {
	return int64(len(o.hdr) + len(o.body) + cap(o.pkt) + cap(o.scratch))
}

// Packets returns the number of packets of the current link returned so
// far.
func (o *Reader) Packets() int64 { return o.npk }

// ReadPacket returns the next packet of the stream. Errors: io.EOF at the
// end; ErrChained, wrapped, when another logical stream follows; an error
// wrapping io.ErrUnexpectedEOF when the input ends inside a page or a
// packet; ErrBadPage, wrapped, for a damaged page.
func (o *Reader) ReadPacket() (Packet, error) {
	if !o.open {
		o.pkt = o.pkt[:0]
	}
	for {
		for len(o.segs) > 0 {
			n := 0
			i := 0
			for ; i < len(o.segs); i++ {
				n += int(o.segs[i])
				if o.segs[i] < 255 {
					break
				}
			}
			done := i < len(o.segs)
			if done {
				i++
			}
			if len(o.pkt)+n > MaxPacket {
				return Packet{}, fmt.Errorf("%w: packet longer than %d bytes", ErrBadPage, MaxPacket)
			}
			o.pkt = append(o.pkt, o.body[o.pos:o.pos+n]...)
			o.pos += n
			idx := o.page.nsegs - len(o.segs) + i - 1
			o.segs = o.segs[i:]
			if !done {
				o.open = true
				break
			}
			o.open = false
			p := Packet{Data: o.pkt, Granule: -1, Serial: o.serial, BOS: o.npk == 0 && o.bos}
			o.npk++
			if idx == o.page.last {
				p.Granule = o.page.granule
				p.EOS = o.page.flags&oggEOS != 0
			}
			return p, nil
		}
		if o.eos {
			if o.open {
				return Packet{}, fmt.Errorf("%w: last packet left open on the end-of-stream page", ErrBadPage)
			}
			if o.end == nil {
				o.end = o.afterEnd()
			}
			return Packet{}, o.end
		}
		if err := o.readPage(); err != nil {
			return Packet{}, err
		}
	}
}

// afterEnd looks at what follows the end-of-stream page: nothing (io.EOF);
// the first page of the next link (ErrChained), under a serial number of
// its own or, in a file made by concatenation, ours; pages of a stream
// multiplexed with ours that goes on after it, which are skipped; bytes
// that are not a page at all, which are not audio and are ignored. A page
// that is damaged or cut short is an error.
func (o *Reader) afterEnd() error {
	for {
		pi, err := o.readRawPage()
		switch {
		case err == io.EOF || errors.Is(err, errNotPage):
			return io.EOF
		case err != nil:
			return err
		case pi.flags&oggBOS != 0:
			// The next link, even under our serial number: RFC 3533 asks
			// for a new one, but files concatenated as they are reuse it.
			return o.chained(pi)
		case pi.serial == o.serial && !o.resync:
			return fmt.Errorf("%w: page %d of stream %d after its end-of-stream page", ErrBadPage, pi.seq, pi.serial)
		}
	}
}

func (o *Reader) chained(pi pageInfo) error {
	o.next = &pi
	return fmt.Errorf("%w: logical stream %d starts at offset %d, after the %d packets of stream %d", ErrChained, pi.serial, pi.at, o.npk, o.serial)
}

// errNotPage is the error of bytes that do not start with a capture
// pattern.
var errNotPage = fmt.Errorf("%w: no capture pattern", ErrBadPage)

// readRawPage reads one page into hdr and body and checks its checksum.
// It returns io.EOF if the input ends before the page starts. A
// resynchronising Reader skips damaged bytes to the next capture pattern
// instead of failing (up to maxJunk in a row).
func (o *Reader) readRawPage() (pageInfo, error) {
	junk := int64(0)
	for {
		pi, hn, bn, err := o.readOnePage()
		if err == nil || !o.resync || err == io.EOF || junk >= maxJunk {
			return pi, err
		}
		// Give back what this attempt read, from the next capture
		// pattern on (or its last 3 bytes, which may begin one). A page
		// cut short by the end of the input is the end, unless another
		// begins within it (the cut page's length took in the next).
		o.scratch = append(append(o.scratch[:0], o.hdr[:hn]...), o.body[:bn]...)
		i := bytes.Index(o.scratch[min(1, len(o.scratch)):], []byte("OggS"))
		if !errors.Is(err, ErrBadPage) && i < 0 {
			return pi, err
		}
		skip := len(o.scratch) - min(3, len(o.scratch)-1)
		if i >= 0 {
			skip = 1 + i
		}
		back := o.scratch[skip:]
		o.r.back = append(append(make([]byte, 0, len(back)+len(o.r.back)), back...), o.r.back...)
		o.offset -= int64(len(back))
		junk += int64(skip)
		o.skipped += int64(skip)
		o.spliced = true
	}
}

// readOnePage reads one page into hdr and body and checks its checksum,
// and returns the bytes of hdr and of body it read, even on failure (the
// checksum field as it was).
func (o *Reader) readOnePage() (pi pageInfo, hn, bn int, err error) {
	at := o.offset
	n, err := io.ReadFull(&o.r, o.hdr[:oggHeaderSize])
	o.offset += int64(n)
	hn = n
	if !bytes.HasPrefix(o.hdr[:min(n, 4)], []byte("OggS")[:min(n, 4)]) || n >= 4 && string(o.hdr[:4]) != "OggS" {
		return pageInfo{}, hn, 0, fmt.Errorf("%w at offset %d", errNotPage, at)
	}
	if err != nil {
		if err == io.EOF || n == 0 {
			return pageInfo{}, hn, 0, err // the end, or the source's error, between pages
		}
		return pageInfo{}, hn, 0, truncated(err, "header")
	}
	h := o.hdr[:]
	if h[4] != 0 {
		return pageInfo{}, hn, 0, fmt.Errorf("%w: version %d at offset %d", ErrBadPage, h[4], at)
	}
	pi = pageInfo{
		flags:   h[5],
		granule: int64(binary.LittleEndian.Uint64(h[6:])),
		serial:  binary.LittleEndian.Uint32(h[14:]),
		seq:     binary.LittleEndian.Uint32(h[18:]),
		nsegs:   int(h[26]),
		last:    -1,
		at:      at,
	}
	crc := binary.LittleEndian.Uint32(h[22:])
	n, err = io.ReadFull(&o.r, o.hdr[oggHeaderSize:oggHeaderSize+pi.nsegs])
	o.offset += int64(n)
	hn += n
	if err != nil {
		return pageInfo{}, hn, 0, truncated(err, "lacing values")
	}
	for i, v := range o.hdr[oggHeaderSize : oggHeaderSize+pi.nsegs] {
		pi.size += int(v)
		if v < 255 {
			pi.last = i
		}
	}
	n, err = io.ReadFull(&o.r, o.body[:pi.size])
	o.offset += int64(n)
	bn = n
	if err != nil {
		return pageInfo{}, hn, bn, truncated(err, "body")
	}
	h[22], h[23], h[24], h[25] = 0, 0, 0, 0
	sum := oggChecksum(oggChecksum(0, o.hdr[:oggHeaderSize+pi.nsegs]), o.body[:pi.size])
	binary.LittleEndian.PutUint32(h[22:], crc)
	if sum != crc {
		return pageInfo{}, hn, bn, fmt.Errorf("%w: checksum %08x, want %08x (page %d of stream %d at offset %d)", ErrBadPage, sum, crc, pi.seq, pi.serial, at)
	}
	return pi, hn, bn, nil
}

// readPage reads the next page of our stream into hdr and body. A
// resynchronising Reader (see resync) takes a page after a splice as it
// comes: a first page (BOS) starts the next link, whatever came before;
// lost pages are allowed, and a packet they cut is dropped.
func (o *Reader) readPage() error {
	for {
		var pi pageInfo
		var err error
		if o.pending {
			pi, o.pending = *o.next, false // the next link's first page, read already
		} else {
			pi, err = o.readRawPage()
		}
		if err == io.EOF {
			if o.open {
				return fmt.Errorf("ogg: input ends inside a packet: %w", io.ErrUnexpectedEOF)
			}
			if o.pages == 0 {
				return fmt.Errorf("ogg: no page: %w", io.ErrUnexpectedEOF)
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
		splice := o.resync && o.spliced && o.pages > 0 && pi.flags&oggBOS != 0
		if splice {
			o.open = false // a packet cut by the splice: lost
		}
		if o.pages == 0 {
			o.serial = pi.serial
			o.bos = pi.flags&oggBOS != 0
			o.linkAt = pi.at
		} else if pi.serial != o.serial {
			if pi.flags&oggBOS == 0 || o.pages < 2 && !splice {
				continue // another logical stream, multiplexed with ours
			}
			// The first page of a stream after ours has had pages past
			// its first: every stream of a group begins before that
			// (RFC 3533), so this is the next link of a chain, and ours
			// ended without its end-of-stream page.
			if o.open {
				return fmt.Errorf("%w: logical stream %d starts at offset %d inside a packet of stream %d", ErrBadPage, pi.serial, pi.at, o.serial)
			}
			o.eos, o.end = true, o.chained(pi)
			return nil
		} else if pi.flags&oggBOS != 0 {
			// A first page under our serial number: the next link of a
			// chain that reuses it, ours having ended without its
			// end-of-stream page.
			if o.open {
				return fmt.Errorf("%w: logical stream %d starts again at offset %d inside one of its packets", ErrBadPage, pi.serial, pi.at)
			}
			o.eos, o.end = true, o.chained(pi)
			return nil
		} else if pi.seq != o.seq+1 {
			if !o.resync {
				return fmt.Errorf("%w: page %d follows page %d (pages lost)", ErrBadPage, pi.seq, o.seq)
			}
			o.open = false // pages lost: the packet they cut with them
		}
		o.spliced = false
		cont := pi.flags&oggContinued != 0
		if cont != o.open {
			if o.open {
				if !o.resync {
					return fmt.Errorf("%w: page %d does not continue the open packet", ErrBadPage, pi.seq)
				}
				o.open = false
			} else if o.pages > 0 && !o.resync {
				return fmt.Errorf("%w: page %d continues a packet that was not open", ErrBadPage, pi.seq)
			}
		}
		if cont && !o.open {
			// The page continues a packet begun before the input started
			// (or before pages were lost): skip that part.
			skip := 0
			i := 0
			for ; i < pi.nsegs; i++ {
				skip += int(o.hdr[oggHeaderSize+i])
				if o.hdr[oggHeaderSize+i] < 255 {
					i++
					break
				}
			}
			o.segs, o.pos = o.hdr[oggHeaderSize+i:oggHeaderSize+pi.nsegs], skip
		} else {
			o.segs, o.pos = o.hdr[oggHeaderSize:oggHeaderSize+pi.nsegs], 0
		}
		if !o.open {
			o.pkt = o.pkt[:0]
		}
		o.page, o.seq = pi, pi.seq
		o.pages++
		o.eos = pi.flags&oggEOS != 0
		return nil
	}
}

// nextLink makes a Reader that returned ErrChained read the next link of
// the chain, from the first page that ended the link before, and reports
// whether there is one.
func (o *Reader) nextLink() bool {
	if o.next == nil || o.end == nil || !errors.Is(o.end, ErrChained) {
		return false
	}
	o.segs, o.pos, o.pkt, o.open = nil, 0, o.pkt[:0], false
	o.pages, o.npk, o.bos, o.eos, o.end = 0, 0, false, false, nil
	o.pending = true
	return true
}

// truncated is the error of the input ending inside a page: it wraps
// io.ErrUnexpectedEOF, and the source's own error when that says more.
func truncated(err error, what string) error {
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("ogg: input ends inside the %s of a page: %w", what, io.ErrUnexpectedEOF)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("ogg: input ends inside the %s of a page: %w", what, err)
	}
	return err
}

// Writer writes packets into the pages of one Ogg logical stream. The
// caller decides where pages end (Flush), except that a page is also
// ended when its 255 lacing values are used up; a packet too long for the
// rest of a page continues on the next. Close ends the stream. It is not
// safe for concurrent use.
type Writer struct {
	w       io.Writer
	serial  uint32
	seq     uint32
	segs    []byte
	body    []byte
	page    []byte // the page being written, reused
	granule int64  // of the last packet completed on the pending page, or -1
	cont    bool   // the pending page starts inside a packet
	started bool   // a page has been written (the next is not BOS)
	closed  bool
	err     error // sticky: the first write error, or the result of Close
}

// NewWriter returns a writer of a logical stream with the given serial
// number into w.
func NewWriter(w io.Writer, serial uint32) *Writer {
	return &Writer{w: w, serial: serial, granule: -1, segs: make([]byte, 0, oggMaxSegs)}
}

// WritePacket adds p to the pending page; granule is the granule position
// after it (the page's granule position if it is the last packet to end on
// that page). p is copied.
func (o *Writer) WritePacket(p []byte, granule int64) error {
	if o.err != nil {
		return o.err
	}
	if o.closed {
		return ErrClosed
	}
	for {
		room := oggMaxSegs - len(o.segs)
		if room == 0 {
			// The page is full at a packet's end: the next page starts
			// with a new packet.
			if err := o.flush(0); err != nil {
				return err
			}
			continue
		}
		need := len(p)/255 + 1
		if need <= room {
			for range len(p) / 255 {
				o.segs = append(o.segs, 255)
			}
			o.segs = append(o.segs, byte(len(p)%255))
			o.body = append(o.body, p...)
			o.granule = granule
			return nil
		}
		for range room {
			o.segs = append(o.segs, 255)
		}
		o.body = append(o.body, p[:room*255]...)
		p = p[room*255:]
		if err := o.flush(0); err != nil {
			return err
		}
		o.cont = true
	}
}

// Flush writes the pending page, if any.
func (o *Writer) Flush() error {
	if o.err != nil {
		return o.err
	}
	if o.closed {
		return ErrClosed
	}
	if len(o.segs) == 0 {
		return nil
	}
	return o.flush(0)
}

// SetGranule replaces the granule position of the pending page (as for
// end trimming on the last page). It has no effect if no packet ends on
// the pending page.
func (o *Writer) SetGranule(g int64) {
	if o.granule != -1 {
		o.granule = g
	}
}

// Close writes the pending page marked end of stream (an empty one if
// nothing is pending). Later writes return ErrClosed; later calls to Close
// return what the first returned. It does not close the underlying writer.
func (o *Writer) Close() error {
	if o.closed || o.err != nil {
		o.closed = true
		return o.err
	}
	o.closed = true
	return o.flush(oggEOS)
}

func (o *Writer) flush(flags byte) error {
	if o.cont {
		flags |= oggContinued
	}
	if !o.started {
		flags |= oggBOS
	}
	n := oggHeaderSize + len(o.segs) + len(o.body)
	if cap(o.page) < n {
		o.page = make([]byte, n)
	}
	page := o.page[:n]
	clear(page[:oggHeaderSize])
	copy(page, "OggS")
	page[5] = flags
	binary.LittleEndian.PutUint64(page[6:], uint64(o.granule))
	binary.LittleEndian.PutUint32(page[14:], o.serial)
	binary.LittleEndian.PutUint32(page[18:], o.seq)
	page[26] = byte(len(o.segs))
	copy(page[oggHeaderSize:], o.segs)
	copy(page[oggHeaderSize+len(o.segs):], o.body)
	binary.LittleEndian.PutUint32(page[22:], oggChecksum(0, page))
	if _, err := o.w.Write(page); err != nil {
		o.err = err
		return err
	}
	o.seq++
	o.started = true
	o.segs, o.body, o.granule, o.cont = o.segs[:0], o.body[:0], -1, false
	return nil
}
