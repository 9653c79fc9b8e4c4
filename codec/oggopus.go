package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
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

// PacketSource yields Opus packets for a Framer: an Opus encoder reading
// PCM, or an Ogg Opus demuxer reading pages.
type PacketSource interface {
	// NextPacket reads what it needs from src and returns the next
	// packet, valid until the next call. It returns io.EOF (and no
	// packet) at the end of the stream, or another error. Every call
	// passes the same src.
	NextPacket(src io.Reader) ([]byte, error)

	// PreSkip is the number of samples at 48 kHz to drop from the start
	// of the decoded stream. It is valid once NextPacket has returned a
	// packet or an error.
	PreSkip() int

	// Length is the true length of the decoded stream in samples at
	// 48 kHz, pre-skip excluded. It is valid once NextPacket has returned
	// io.EOF; -1 means unknown (the packets' total less the pre-skip).
	Length() int64
}

// OggOpusDemuxer reads an Ogg Opus stream and yields its audio packets,
// exactly as they are in the pages. It is a PacketSource. Its zero value
// is not usable; call NewOggOpusDemuxer. It is not safe for concurrent
// use.
type OggOpusDemuxer struct {
	r       *OggReader
	src     io.Reader
	head    OpusHead
	tags    OpusTags
	headers bool  // head and tags have been read
	total   int64 // samples of the packets returned so far
	start   int64 // granule position of the stream's first sample (RFC 7845 4.0)
	started bool  // start is known
	last    int64 // the latest granule position seen, or -1
	length  int64
	ended   bool
}

// NewOggOpusDemuxer returns a demuxer of the Ogg Opus stream it is given
// in NextPacket.
func NewOggOpusDemuxer() *OggOpusDemuxer { return &OggOpusDemuxer{last: -1, length: -1} }

// Head returns the stream's OpusHead, valid once NextPacket has returned a
// packet (or ReadHeaders has returned).
func (d *OggOpusDemuxer) Head() OpusHead { return d.head }

// Tags returns the stream's OpusTags, valid as Head.
func (d *OggOpusDemuxer) Tags() OpusTags { return d.tags }

// PreSkip returns the OpusHead's pre-skip.
func (d *OggOpusDemuxer) PreSkip() int { return int(d.head.PreSkip) }

// Length returns the stream's true length in samples (pre-skip excluded)
// once NextPacket has returned io.EOF: the last granule position, less the
// pre-skip and the starting granule position; -1 before that.
func (d *OggOpusDemuxer) Length() int64 { return d.length }

// ReadHeaders reads the OpusHead and OpusTags from src, if they have not
// been read yet. Errors wrap ErrNotOpus, ErrBadPage or ErrTruncated.
func (d *OggOpusDemuxer) ReadHeaders(src io.Reader) error {
	if d.headers {
		return nil
	}
	if d.r == nil || d.src != src {
		d.r, d.src = NewOggReader(src), src
	}
	p, err := d.r.ReadPacket()
	if err != nil {
		return notOpus(err)
	}
	if d.head, err = ParseOpusHead(p.Data); err != nil {
		return err
	}
	if p, err = d.r.ReadPacket(); err != nil {
		return notOpus(err)
	}
	if d.tags, err = ParseOpusTags(p.Data); err != nil {
		return err
	}
	d.headers = true
	return nil
}

func notOpus(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: stream ends before its headers", ErrNotOpus)
	}
	if errors.Is(err, ErrBadPage) && !errors.Is(err, ErrTruncated) {
		return fmt.Errorf("%w: %w", ErrNotOpus, err)
	}
	return err
}

// NextPacket returns the next audio packet. Errors: io.EOF at the end;
// ErrNotOpus, ErrBadPage or ErrTruncated, wrapped; ErrCorruptPacket for a
// packet with invalid framing.
func (d *OggOpusDemuxer) NextPacket(src io.Reader) ([]byte, error) {
	if d.ended {
		return nil, io.EOF
	}
	if err := d.ReadHeaders(src); err != nil {
		return nil, err
	}
	p, err := d.r.ReadPacket()
	if err == io.EOF {
		d.ended = true
		if d.last >= 0 {
			d.length = max(0, min(d.last-d.start, d.total)-int64(d.head.PreSkip))
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	n, err := PacketSamples(p.Data)
	if err != nil {
		return nil, fmt.Errorf("%w (packet %d of the Ogg stream)", err, d.r.npk)
	}
	d.total += int64(n)
	if p.Granule >= 0 {
		if !d.started {
			d.start, d.started = max(0, p.Granule-d.total), true
		}
		d.last = p.Granule
	}
	return p.Data, nil
}

// OggOption configures an OggOpusWriter.
type OggOption func(*oggConfig)

type oggConfig struct {
	serial   uint32
	pageTime int // samples at 48 kHz
}

// WithSerial sets the Ogg stream's serial number. The default is
// 0x53434f50.
func WithSerial(s uint32) OggOption { return func(c *oggConfig) { c.serial = s } }

// WithPageDuration sets how much audio a page holds at most (a page ends
// before the packet that would take it past d). The default is one second,
// as opusenc does. Shorter pages let a listener start sooner. It panics if
// d is not positive.
func WithPageDuration(d time.Duration) OggOption {
	if d <= 0 {
		panic(fmt.Sprintf("codec: page duration %v", d))
	}
	return func(c *oggConfig) { c.pageTime = max(1, int(d*48000/time.Second)) }
}

// OggOpusWriter writes Opus packets as an Ogg Opus stream: the OpusHead and
// OpusTags pages, then the audio packets, several to a page, each page's
// granule position the total samples of the packets ending on it or
// before, and the last page marked end of stream with its granule position
// trimmed to the true length. It is not safe for concurrent use.
type OggOpusWriter struct {
	w       *OggWriter
	cfg     oggConfig
	preskip int64
	total   int64 // samples of the packets written
	inPage  int   // samples in the pending page
	closed  bool
}

// NewOggOpusWriter writes the header pages of an Ogg Opus stream with head
// and tags to w and returns a writer of its packets.
func NewOggOpusWriter(w io.Writer, head OpusHead, tags OpusTags, opts ...OggOption) (*OggOpusWriter, error) {
	cfg := oggConfig{serial: 0x53434f50, pageTime: 48000}
	for _, o := range opts {
		o(&cfg)
	}
	ow := &OggOpusWriter{w: NewOggWriter(w, cfg.serial), cfg: cfg, preskip: int64(head.PreSkip)}
	if err := ow.w.WritePacket(head.Marshal(), 0); err != nil {
		return nil, err
	}
	if err := ow.w.Flush(); err != nil {
		return nil, err
	}
	if err := ow.w.WritePacket(tags.Marshal(), 0); err != nil {
		return nil, err
	}
	if err := ow.w.Flush(); err != nil {
		return nil, err
	}
	return ow, nil
}

// WritePacket adds an audio packet. Its duration is read from its TOC; an
// invalid packet is ErrCorruptPacket and is not written.
func (ow *OggOpusWriter) WritePacket(p []byte) error {
	if ow.closed {
		return errors.New("codec: OggOpusWriter: write after Close")
	}
	n, err := PacketSamples(p)
	if err != nil {
		return err
	}
	if ow.inPage > 0 && ow.inPage+n > ow.cfg.pageTime {
		if err := ow.w.Flush(); err != nil {
			return err
		}
		ow.inPage = 0
	}
	ow.total += int64(n)
	ow.inPage += n
	return ow.w.WritePacket(p, ow.total)
}

// Close writes the last page, marked end of stream. length is the true
// length in samples at 48 kHz, pre-skip excluded: the last granule
// position becomes pre-skip plus length, which trims the end of the last
// packet. A negative length trims nothing. A length longer than the
// packets written allows is an error. Close does not close the underlying
// writer.
func (ow *OggOpusWriter) Close(length int64) error {
	if ow.closed {
		return nil
	}
	ow.closed = true
	if length >= 0 {
		g := ow.preskip + length
		if g > ow.total {
			return fmt.Errorf("codec: length %d longer than the %d samples written after pre-skip", length, ow.total-ow.preskip)
		}
		ow.w.SetGranule(g)
	}
	return ow.w.End()
}
