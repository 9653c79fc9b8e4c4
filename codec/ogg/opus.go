package ogg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// OpusHead is the identification header of an Ogg Opus stream (RFC 7845,
// section 5.1):
//
//	 0               8       9       10      12              16      18      19
//	+---------------+-------+-------+-------+---------------+-------+-------+
//	| "OpusHead"    | ver 1 | chans | pre-  | input rate    | gain  | map   |
//	|               |       |       | skip  | (LE uint32)   | (LE)  | family|
//	+---------------+-------+-------+-------+---------------+-------+-------+
//	then, for mapping family != 0: stream count, coupled count, one byte a
//	channel.
type OpusHead struct {
	Version      uint8  // 1; only the major version (high nibble) must be 0
	Channels     uint8  // output channels, at least 1
	PreSkip      uint16 // samples at 48 kHz to drop from the start of the decoded stream
	InputRate    uint32 // the original input's rate, for information; 0 if unknown
	OutputGain   int16  // Q7.8 dB to apply on output
	Family       uint8  // channel mapping family; 0 is mono or stereo in one stream
	MappingTable []byte // for mapping family != 0: stream count, coupled count, channel mapping
}

// ParseOpusHead parses an OpusHead packet. Errors wrap ErrNotOpus.
func ParseOpusHead(p []byte) (OpusHead, error) {
	var h OpusHead
	if len(p) < 19 || string(p[:8]) != "OpusHead" {
		return h, fmt.Errorf("%w: first packet is not an OpusHead", ErrNotOpus)
	}
	h.Version, h.Channels = p[8], p[9]
	h.PreSkip = binary.LittleEndian.Uint16(p[10:])
	h.InputRate = binary.LittleEndian.Uint32(p[12:])
	h.OutputGain = int16(binary.LittleEndian.Uint16(p[16:]))
	h.Family = p[18]
	if h.Version>>4 != 0 {
		return h, fmt.Errorf("%w: OpusHead version %d", ErrNotOpus, h.Version)
	}
	if h.Channels == 0 {
		return h, fmt.Errorf("%w: OpusHead with 0 channels", ErrNotOpus)
	}
	if h.Family == 0 {
		if h.Channels > 2 {
			return h, fmt.Errorf("%w: mapping family 0 with %d channels", ErrNotOpus, h.Channels)
		}
		return h, nil
	}
	n := 2 + int(h.Channels)
	if len(p) < 19+n {
		return h, fmt.Errorf("%w: OpusHead channel mapping table cut short", ErrNotOpus)
	}
	h.MappingTable = append([]byte(nil), p[19:19+n]...)
	return h, nil
}

// Marshal returns the OpusHead packet.
func (h OpusHead) Marshal() []byte {
	p := make([]byte, 19, 19+len(h.MappingTable))
	copy(p, "OpusHead")
	p[8], p[9] = h.Version, h.Channels
	binary.LittleEndian.PutUint16(p[10:], h.PreSkip)
	binary.LittleEndian.PutUint32(p[12:], h.InputRate)
	binary.LittleEndian.PutUint16(p[16:], uint16(h.OutputGain))
	p[18] = h.Family
	return append(p, h.MappingTable...)
}

// OpusTags is the comment header of an Ogg Opus stream (RFC 7845, section
// 5.2): "OpusTags", a vendor string and user comments, each a
// little-endian uint32 length and UTF-8 bytes, then optional binary data.
type OpusTags struct {
	Vendor   string
	Comments []string // "NAME=value"
	Extra    []byte   // bytes after the comments, kept as they are
}

// ParseOpusTags parses an OpusTags packet. Errors wrap ErrNotOpus.
func ParseOpusTags(p []byte) (OpusTags, error) {
	var t OpusTags
	if len(p) < 16 || string(p[:8]) != "OpusTags" {
		return t, fmt.Errorf("%w: second packet is not an OpusTags", ErrNotOpus)
	}
	p = p[8:]
	str := func() (string, error) {
		if len(p) < 4 {
			return "", fmt.Errorf("%w: OpusTags cut short", ErrNotOpus)
		}
		n := binary.LittleEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) {
			return "", fmt.Errorf("%w: OpusTags string of %d bytes, %d left", ErrNotOpus, n, len(p)-4)
		}
		s := string(p[4 : 4+n])
		p = p[4+n:]
		return s, nil
	}
	var err error
	if t.Vendor, err = str(); err != nil {
		return t, err
	}
	if len(p) < 4 {
		return t, fmt.Errorf("%w: OpusTags without comment count", ErrNotOpus)
	}
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if uint64(count) > uint64(len(p)/4) { // each comment takes at least 4 bytes
		return t, fmt.Errorf("%w: %d comments in %d bytes", ErrNotOpus, count, len(p))
	}
	t.Comments = make([]string, 0, count)
	for range count {
		c, err := str()
		if err != nil {
			return t, err
		}
		t.Comments = append(t.Comments, c)
	}
	if len(p) > 0 {
		t.Extra = append([]byte(nil), p...)
	}
	return t, nil
}

// Marshal returns the OpusTags packet.
func (t OpusTags) Marshal() []byte {
	p := []byte("OpusTags")
	p = binary.LittleEndian.AppendUint32(p, uint32(len(t.Vendor)))
	p = append(p, t.Vendor...)
	p = binary.LittleEndian.AppendUint32(p, uint32(len(t.Comments)))
	for _, c := range t.Comments {
		p = binary.LittleEndian.AppendUint32(p, uint32(len(c)))
		p = append(p, c...)
	}
	return append(p, t.Extra...)
}

// OpusInfo is what an Ogg Opus stream's headers say: the State that an
// OpusDemuxer publishes, through a framed.Framer, once it has read them.
type OpusInfo struct {
	Head OpusHead
	Tags OpusTags
}

// DefaultMaxPacket is the largest audio packet an OpusDemuxer accepts by
// default: 8 KiB holds 120 ms at Opus's highest bitrate (510 kbit/s, 7650
// bytes) with its framing; every encoder stays well below it.
const DefaultMaxPacket = 8 << 10

// DemuxOption configures an OpusDemuxer.
type DemuxOption func(*demuxConfig)

type demuxConfig struct {
	maxPacket int
	chains    bool
}

// WithChains makes the demuxer go on across the links of a chained stream
// (an Icecast radio's Ogg Opus, new headers at each song) rather than stop
// at the end of the first with ErrChained: at each link it reads the new
// OpusHead and OpusTags and goes on yielding audio packets, and its State
// is then the Links read so far. It also resynchronises after damaged or
// spliced bytes (a radio stream's reconnect: the old connection's page cut
// short, then the new connection's first pages): it skips to the next
// capture pattern (at most 256 KiB in a row) and goes on, with the new
// headers if a link starts there; pages lost take the packet they cut
// with them. It is for live streams: a file is read as it is by default.
//
// A later link's channel count may differ from the first's (each packet's
// TOC says its own), and so may its pre-skip: the demuxer's PreSkip stays
// the first link's, and a later link's pre-skip samples are played, not
// dropped, since the receiver's decoder runs on across links, warm from the
// link before. Length, at the end, is the packets' samples less the first
// link's pre-skip and the last link's end trimming.
func WithChains() DemuxOption { return func(c *demuxConfig) { c.chains = true } }

// MaxLinks is how many links the Links of an OpusDemuxer made WithChains
// keep: the newest, since a radio plays for days.
const MaxLinks = 64

// Link is one logical stream of a chain, as an OpusDemuxer made
// WithChains read it.
type Link struct {
	OpusInfo
	// Start is the decoded sample at which the link's first audio packet
	// starts: the samples of every packet before it, pre-skip included,
	// as framed.Index counts (Index.Entry(i).Start).
	Start int64
	// Offset is the byte offset of the link's first page in the input.
	Offset int64
	// Skipped is the number of damaged or spliced bytes skipped since the
	// link before began (a radio stream's reconnect), or 0.
	Skipped int64
}

// Links is the State of an OpusDemuxer made WithChains, once the first
// link's headers are read: the links read so far, the oldest first, the
// last MaxLinks of them. It must not be changed.
type Links []Link

// At returns the link that holds decoded sample s (pre-skip included, as
// Link.Start), and whether one does: the last link that starts at or
// before s.
func (l Links) At(s int64) (Link, bool) {
	for i := len(l) - 1; i >= 0; i-- {
		if l[i].Start <= s {
			return l[i], true
		}
	}
	return Link{}, false
}

// WithMaxPacket sets the largest audio packet the demuxer accepts (and so
// the Framer's MinSpace): DefaultMaxPacket by default, at most
// opus.MaxPacketSize, the largest packet RFC 6716 allows. A larger packet
// in the stream ends it with opus.ErrCorruptPacket. It panics if n is out
// of range.
func WithMaxPacket(n int) DemuxOption {
	if n < 1 || n > opus.MaxPacketSize {
		panic(fmt.Sprintf("ogg: WithMaxPacket(%d): want 1 to %d", n, opus.MaxPacketSize))
	}
	return func(c *demuxConfig) { c.maxPacket = n }
}

// OpusDemuxer reads an Ogg Opus stream and yields its audio packets,
// exactly as they are in the pages. It is a framed.PacketSource and a
// catcher.Stater (its state is an OpusInfo, once the headers are read; or
// the Links, WithChains). It is not safe for concurrent use; State may be
// called by the goroutine that drives it.
type OpusDemuxer struct {
	cfg     demuxConfig
	r       *Reader
	src     io.Reader
	info    *OpusInfo // nil until the headers have been read; the current link's
	preSkip int64     // the first link's pre-skip
	total   int64     // samples of the current link's packets returned so far
	before  int64     // samples of the earlier links' packets
	start   int64     // granule position of the link's first sample (RFC 7845 4.0)
	started bool      // start is known
	last    int64     // the latest granule position seen, or -1
	length  int64
	ended   bool
	links   Links // WithChains: copied on write, never changed once made

	linkSkipped int64 // the Reader's skipped bytes when the current link's headers were read
}

// NewOpusDemuxer returns a demuxer of the Ogg Opus stream it is given in
// NextPacket.
func NewOpusDemuxer(opts ...DemuxOption) *OpusDemuxer {
	d := &OpusDemuxer{cfg: demuxConfig{maxPacket: DefaultMaxPacket}, last: -1, length: -1}
	for _, o := range opts {
		o(&d.cfg)
	}
	return d
}

// Info returns the stream's headers, and whether they have been read.
func (d *OpusDemuxer) Info() (OpusInfo, bool) {
	if d.info == nil {
		return OpusInfo{}, false
	}
	return *d.info, true
}

// State returns the OpusInfo once the headers have been read, else nil;
// WithChains, the Links. The value is never changed afterwards.
func (d *OpusDemuxer) State() any {
	if d.info == nil {
		return nil
	}
	if d.cfg.chains {
		return d.links
	}
	return *d.info
}

// PreSkip returns the OpusHead's pre-skip (the first link's, WithChains).
func (d *OpusDemuxer) PreSkip() int64 { return d.preSkip }

// MaxPacketSize returns the largest audio packet accepted (WithMaxPacket).
func (d *OpusDemuxer) MaxPacketSize() int { return d.cfg.maxPacket }

// Size is the memory the demuxer holds: its page buffer above all (see
// catcher.Sizer).
func (d *OpusDemuxer) Size() int64 {
	if d.r == nil {
		return 0
	}
	return d.r.size()
}

// Length returns the stream's true length in samples (pre-skip excluded)
// once NextPacket has returned io.EOF: the last granule position, less the
// pre-skip and the starting granule position; -1 before that.
func (d *OpusDemuxer) Length() int64 { return d.length }

// ReadHeaders reads the OpusHead and OpusTags from src, if they have not
// been read yet. Errors wrap ErrNotOpus, ErrBadPage or io.ErrUnexpectedEOF.
func (d *OpusDemuxer) ReadHeaders(src io.Reader) error {
	if d.info != nil {
		return nil
	}
	if d.r == nil || d.src != src {
		d.r, d.src = NewReader(src), src
		d.r.resync = d.cfg.chains
	}
	return d.readHeaders()
}

// readHeaders reads the headers of the link the Reader is at.
func (d *OpusDemuxer) readHeaders() error {
	p, err := d.r.ReadPacket()
	if err != nil {
		return notOpus(err)
	}
	var info OpusInfo
	if info.Head, err = ParseOpusHead(p.Data); err != nil {
		return err
	}
	if p, err = d.r.ReadPacket(); err != nil {
		return notOpus(err)
	}
	if info.Tags, err = ParseOpusTags(p.Data); err != nil {
		return err
	}
	if d.info == nil {
		d.preSkip = int64(info.Head.PreSkip)
	}
	d.info = &info
	if d.cfg.chains {
		l := Link{OpusInfo: info, Start: d.before, Offset: d.r.linkAt, Skipped: d.r.skipped - d.linkSkipped}
		keep := d.links[max(0, len(d.links)-MaxLinks+1):]
		d.links = append(append(make(Links, 0, len(keep)+1), keep...), l)
	}
	d.linkSkipped = d.r.skipped
	return nil
}

func notOpus(err error) error {
	if err == io.EOF || errors.Is(err, ErrChained) {
		return fmt.Errorf("%w: stream ends before its headers", ErrNotOpus)
	}
	if errors.Is(err, ErrBadPage) {
		return fmt.Errorf("%w: %w", ErrNotOpus, err)
	}
	return err
}

// NextPacket returns the next audio packet. Errors: io.EOF at the end;
// ErrChained (wrapped) after the last packet when another logical stream
// follows (not WithChains, which goes on); ErrNotOpus, ErrBadPage or
// io.ErrUnexpectedEOF, wrapped; opus.ErrCorruptPacket for a packet with
// invalid framing or over the size limit.
func (d *OpusDemuxer) NextPacket(src io.Reader) ([]byte, error) {
	if d.ended {
		return nil, io.EOF
	}
	if err := d.ReadHeaders(src); err != nil {
		return nil, err
	}
	p, err := d.r.ReadPacket()
	for d.cfg.chains && errors.Is(err, ErrChained) && d.r.nextLink() {
		d.before += d.total
		d.total, d.start, d.started, d.last = 0, 0, false, -1
		if err = d.readHeaders(); err != nil {
			return nil, err
		}
		p, err = d.r.ReadPacket()
	}
	if err == io.EOF || errors.Is(err, ErrChained) {
		if d.last >= 0 {
			d.length = max(0, d.before+min(d.last-d.start, d.total)-d.preSkip)
		}
		if err == io.EOF {
			d.ended = true
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	n, err := opus.PacketSamples(p.Data)
	if err != nil {
		return nil, fmt.Errorf("%w (packet %d of the Ogg stream)", err, d.r.Packets())
	}
	if len(p.Data) > d.cfg.maxPacket {
		return nil, fmt.Errorf("%w: packet %d of the Ogg stream is %d bytes, more than the limit %d (WithMaxPacket)",
			opus.ErrCorruptPacket, d.r.Packets(), len(p.Data), d.cfg.maxPacket)
	}
	d.total += n
	if p.Granule >= 0 {
		if !d.started {
			d.start, d.started = max(0, p.Granule-d.total), true
		}
		d.last = p.Granule
	}
	return p.Data, nil
}

// OpusWriterOption configures an OpusWriter.
type OpusWriterOption func(*writerConfig)

type writerConfig struct {
	serial   uint32
	pageTime int64 // samples at 48 kHz
}

// WithSerial sets the Ogg stream's serial number. The default is
// 0x53434f50.
func WithSerial(s uint32) OpusWriterOption { return func(c *writerConfig) { c.serial = s } }

// WithPageDuration sets how much audio a page holds at most (a page ends
// before the packet that would take it past d). The default is one second,
// as opusenc does. Shorter pages let a listener start sooner. It panics if
// d is not positive.
func WithPageDuration(d time.Duration) OpusWriterOption {
	if d <= 0 {
		panic(fmt.Sprintf("ogg: page duration %v", d))
	}
	return func(c *writerConfig) { c.pageTime = max(1, opus.Samples(d)) }
}

// OpusWriter writes Opus packets as an Ogg Opus stream: the OpusHead and
// OpusTags pages, then the audio packets, several to a page, each page's
// granule position the total samples of the packets ending on it or
// before, and the last page marked end of stream with its granule position
// trimmed to the true length (SetLength). It is not safe for concurrent
// use.
type OpusWriter struct {
	w       *Writer
	cfg     writerConfig
	preskip int64
	total   int64 // samples of the packets written
	inPage  int64 // samples in the pending page
	length  int64 // -1: untrimmed
	closed  bool
	err     error // the result of Close
}

// NewOpusWriter writes the header pages of an Ogg Opus stream with head
// and tags to w and returns a writer of its packets.
func NewOpusWriter(w io.Writer, head OpusHead, tags OpusTags, opts ...OpusWriterOption) (*OpusWriter, error) {
	cfg := writerConfig{serial: 0x53434f50, pageTime: opus.SampleRate}
	for _, o := range opts {
		o(&cfg)
	}
	ow := &OpusWriter{w: NewWriter(w, cfg.serial), cfg: cfg, preskip: int64(head.PreSkip), length: -1}
	for _, p := range [][]byte{head.Marshal(), tags.Marshal()} {
		if err := ow.w.WritePacket(p, 0); err != nil {
			return nil, err
		}
		if err := ow.w.Flush(); err != nil {
			return nil, err
		}
	}
	return ow, nil
}

// WritePacket adds an audio packet. Its duration is read from its TOC; an
// invalid packet is opus.ErrCorruptPacket and is not written.
func (ow *OpusWriter) WritePacket(p []byte) error {
	if ow.closed {
		return ErrClosed
	}
	n, err := opus.PacketSamples(p)
	if err != nil {
		return err
	}
	// A page ends before a packet that would take it past the page
	// duration, or that its lacing values cannot hold whole (as libopusenc
	// does: a packet split across pages reaches a listener a page later).
	if ow.inPage > 0 && (ow.inPage+n > ow.cfg.pageTime || len(p)/255+1 > oggMaxSegs-len(ow.w.segs)) {
		if err := ow.w.Flush(); err != nil {
			return err
		}
		ow.inPage = 0
	}
	ow.total += n
	ow.inPage += n
	return ow.w.WritePacket(p, ow.total)
}

// Flush ends the pending page now, if any packet is on it, and writes it:
// a live stream's writer flushes when it has nothing more to send, so that
// its listener hears each packet as soon as it comes.
func (ow *OpusWriter) Flush() error {
	if ow.closed {
		return ErrClosed
	}
	ow.inPage = 0
	return ow.w.Flush()
}

// SetLength sets the true length of the stream in samples at 48 kHz,
// pre-skip excluded (a framed.Index's Length once Done): at Close the last
// granule position becomes the pre-skip plus length, which trims the end
// of the last packet. A negative length, the default, trims nothing.
func (ow *OpusWriter) SetLength(n int64) { ow.length = n }

// Close writes the last page, marked end of stream, with the length set by
// SetLength. A length longer than the packets written allow is ErrLength
// (wrapped); the last page is written all the same, untrimmed. Later calls
// return what the first returned. Close does not close the underlying
// writer.
func (ow *OpusWriter) Close() error {
	if ow.closed {
		return ow.err
	}
	ow.closed = true
	var lerr error
	if ow.length >= 0 {
		if g := ow.preskip + ow.length; g > ow.total {
			lerr = fmt.Errorf("%w: length %d, %d samples written after the pre-skip", ErrLength, ow.length, ow.total-ow.preskip)
		} else {
			ow.w.SetGranule(g)
		}
	}
	ow.err = errors.Join(ow.w.Close(), lerr)
	return ow.err
}
