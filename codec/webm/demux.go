package webm

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// DefaultMaxPacket is the largest audio packet an OpusDemuxer accepts by
// default: ogg.DefaultMaxPacket, 8 KiB, which holds 120 ms at Opus's
// highest bitrate.
const DefaultMaxPacket = ogg.DefaultMaxPacket

// maxPrivate bounds the CodecPrivate read: an OpusHead is at most 21
// bytes and one a channel. A larger one (Vorbis's headers, say) is
// skipped unread, and is an error only if the track is Opus.
const maxPrivate = 1 << 10

// maxLaced is the most frames a laced block holds (its count is a byte).
const maxLaced = 256

// DemuxOption configures an OpusDemuxer.
type DemuxOption func(*demuxConfig)

type demuxConfig struct{ maxPacket int }

// WithMaxPacket sets the largest audio packet the demuxer accepts (and so
// the Framer's MinSpace): DefaultMaxPacket by default, at most
// opus.MaxPacketSize, the largest packet RFC 6716 allows. A larger packet
// in the stream ends it with opus.ErrCorruptPacket, and a block larger
// than 256 of them with ErrCorrupt. It panics if n is out of range.
func WithMaxPacket(n int) DemuxOption {
	if n < 1 || n > opus.MaxPacketSize {
		panic(fmt.Sprintf("webm: WithMaxPacket(%d): want 1 to %d", n, opus.MaxPacketSize))
	}
	return func(c *demuxConfig) { c.maxPacket = n }
}

// track is what the demuxer keeps of a TrackEntry.
type track struct {
	number    uint64
	kind      uint64 // TrackType: 1 video, 2 audio, ...
	codec     string
	private   []byte
	bigPriv   int64 // the size of a CodecPrivate too large to read, or 0
	delay     int64 // CodecDelay, ns
	preRoll   int64 // SeekPreRoll, ns
	rate      float64
	channels  uint64
	encodings bool // ContentEncodings: compressed or encrypted
}

// OpusDemuxer reads a WebM or Matroska file and yields the Opus packets
// of its first audio track, exactly as they are in its blocks. It is a
// framed.PacketSource and a catcher.Stater (its state is an ogg.OpusInfo,
// once the headers are read), like ogg.OpusDemuxer. It reads its input
// as a stream, without seeking; Seek starts one at a cluster of a file
// that can seek.
//
// It is not safe for concurrent use; State may be called by the goroutine
// that drives it.
type OpusDemuxer struct {
	cfg  demuxConfig
	r    *reader
	src  io.Reader
	info *ogg.OpusInfo // nil until the headers have been read

	scale    int64 // TimestampScale, ns
	duration float64
	track    track
	segData  int64 // the offset of the Segment's data
	segEnd   int64 // the offset past the Segment's data, or -1 (unknown size)
	cues     int64 // the Cues' offset from SeekHead, relative to segData, or -1
	clusters int64 // the offset of the first Cluster, or -1

	inCluster  bool
	clusterEnd int64  // the offset past the current Cluster's data, or -1
	clusterTS  int64  // the current Cluster's Timestamp, in TimestampScale ticks
	blockTS    int64  // the timestamp of the track's latest block, in ticks
	pending    header // an element read that ended an unknown-size Cluster, if hasPending
	hasPending bool

	block   []byte   // the current block's data, reused
	frames  [][]byte // the current block's frames, reused
	next    int      // the first of frames not yet returned
	packets int64    // packets returned
	total   int64    // samples of the packets returned
	discard int64    // samples of DiscardPadding seen, at 48 kHz
	padded  bool     // some block had a DiscardPadding
	length  int64
	ended   bool
}

// NewOpusDemuxer returns a demuxer of the WebM or Matroska file it is
// given in NextPacket.
func NewOpusDemuxer(opts ...DemuxOption) *OpusDemuxer {
	d := &OpusDemuxer{cfg: demuxConfig{maxPacket: DefaultMaxPacket}, length: -1, scale: 1000000, segEnd: -1, cues: -1, clusters: -1}
	for _, o := range opts {
		o(&d.cfg)
	}
	return d
}

// Info returns the stream's headers, and whether they have been read.
func (d *OpusDemuxer) Info() (ogg.OpusInfo, bool) {
	if d.info == nil {
		return ogg.OpusInfo{}, false
	}
	return *d.info, true
}

// State returns the ogg.OpusInfo once the headers have been read, else
// nil. The value is never changed afterwards.
func (d *OpusDemuxer) State() any {
	if d.info == nil {
		return nil
	}
	return *d.info
}

// PreSkip returns the OpusHead's pre-skip (see the package doc for how it
// relates to the track's CodecDelay).
func (d *OpusDemuxer) PreSkip() int64 {
	if d.info == nil {
		return 0
	}
	return int64(d.info.Head.PreSkip)
}

// Duration returns the duration the Segment's Info announces, and whether
// it does (a live recording's does not). It is an estimate, at the
// file's timestamp precision (a millisecond as ffmpeg writes it); Length
// is exact.
func (d *OpusDemuxer) Duration() (time.Duration, bool) {
	if d.info == nil || d.duration <= 0 {
		return 0, false
	}
	return time.Duration(d.duration * float64(d.scale)), true
}

// MaxPacketSize returns the largest audio packet accepted (WithMaxPacket).
func (d *OpusDemuxer) MaxPacketSize() int { return d.cfg.maxPacket }

// Size is the memory the demuxer holds: its read buffer and its block
// buffer (see catcher.Sizer).
func (d *OpusDemuxer) Size() int64 {
	if d.r == nil {
		return 0
	}
	return readerBuf + int64(cap(d.block)) + int64(cap(d.frames))*24
}

// Length returns the stream's true length in samples at 48 kHz (pre-skip
// excluded) once NextPacket has returned io.EOF and a block had a
// DiscardPadding: the packets' samples, less the pre-skip and the
// DiscardPadding; -1 otherwise (the packets' total less the pre-skip, as
// framed.PacketSource says). A demuxer made by Seek counts from the
// cluster it started at.
func (d *OpusDemuxer) Length() int64 { return d.length }

// ReadHeaders reads the EBML header, and the Segment's elements up to its
// first Cluster (SeekHead, Info, Tracks, Tags), if they have not been
// read yet. Errors: ErrNotWebM, ErrUnsupported, ErrCorrupt, io.ErrUnexpectedEOF
// (wrapped), or the source's.
func (d *OpusDemuxer) ReadHeaders(src io.Reader) error {
	if d.info != nil {
		return nil
	}
	if d.r == nil || d.src != src {
		d.r, d.src = newReader(src, 0), src
	}
	if err := d.readEBMLHeader(); err != nil {
		return err
	}
	if err := d.readSegmentHeader(); err != nil {
		return err
	}
	var tracks []track
	var tags tagValues
	var app string
	for {
		if d.segEnd >= 0 && d.r.off >= d.segEnd {
			break
		}
		h, err := d.r.next()
		if err == io.EOF && d.segEnd < 0 {
			break
		}
		if err != nil {
			return fmt.Errorf("webm: Segment's headers: %w", unexpected(err))
		}
		if h.id == idCluster {
			d.clusters = h.off
			d.inCluster, d.clusterEnd = true, h.end()
			break
		}
		if h.id == idEBML && d.segEnd < 0 {
			d.pending, d.hasPending = h, true
			break
		}
		if h.size == unknownSize || d.segEnd >= 0 && h.end() > d.segEnd {
			return fmt.Errorf("%w: %s at offset %d overruns the Segment", ErrCorrupt, name(h.id), h.off)
		}
		switch h.id {
		case idSeekHead:
			err = d.readSeekHead(h)
		case idInfo:
			err = d.r.children(h, func(c header) error {
				var err error
				switch c.id {
				case idTimestampScale:
					var v uint64
					if v, err = d.r.uint(c); err == nil && (v == 0 || v > uint64(time.Second)) {
						err = fmt.Errorf("%w: TimestampScale %d ns", ErrCorrupt, v)
					}
					d.scale = int64(v)
				case idDuration:
					d.duration, err = d.r.float(c)
				case idTitle:
					tags.title, err = d.r.string(c)
				case idWritingApp:
					app, err = d.r.string(c)
				case idMuxingApp:
					if app == "" {
						app, err = d.r.string(c)
					}
				}
				return err
			})
		case idTracks:
			tracks, err = d.readTracks(h)
		case idTags:
			err = d.readTags(h, &tags)
		}
		if err != nil {
			return err
		}
		if err := d.r.skip(h.end() - d.r.off); err != nil {
			return fmt.Errorf("webm: %s at offset %d: %w", name(h.id), h.off, err)
		}
	}
	return d.pickTrack(tracks, tags, app)
}

func (d *OpusDemuxer) readEBMLHeader() error {
	h, err := d.r.next()
	if err != nil || h.id != idEBML {
		if err == nil || errors.Is(err, ErrCorrupt) || err == io.EOF {
			return fmt.Errorf("%w: no EBML header", ErrNotWebM)
		}
		return fmt.Errorf("webm: EBML header: %w", err)
	}
	if h.size > 1<<10 {
		return fmt.Errorf("%w: EBML header of %d bytes", ErrNotWebM, h.size)
	}
	docType := "matroska" // the default
	err = d.r.children(h, func(c header) error {
		var v uint64
		var err error
		switch c.id {
		case idDocType:
			docType, err = d.r.string(c)
		case idEBMLReadVersion:
			if v, err = d.r.uint(c); err == nil && v > 1 {
				err = fmt.Errorf("%w: EBMLReadVersion %d", ErrUnsupported, v)
			}
		case idEBMLMaxIDLength:
			if v, err = d.r.uint(c); err == nil && v > 4 {
				err = fmt.Errorf("%w: EBMLMaxIDLength %d", ErrUnsupported, v)
			}
		case idEBMLMaxSizeLength:
			if v, err = d.r.uint(c); err == nil && v > 8 {
				err = fmt.Errorf("%w: EBMLMaxSizeLength %d", ErrUnsupported, v)
			}
		case idDocTypeReadVersion:
			if v, err = d.r.uint(c); err == nil && v > 4 {
				err = fmt.Errorf("%w: DocTypeReadVersion %d (Matroska 4 is the latest)", ErrUnsupported, v)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("webm: EBML header: %w", err)
	}
	if docType != "webm" && docType != "matroska" {
		return fmt.Errorf("%w: DocType %q", ErrNotWebM, docType)
	}
	return nil
}

func (d *OpusDemuxer) readSegmentHeader() error {
	for {
		h, err := d.r.next()
		if err != nil {
			return fmt.Errorf("%w: no Segment after the EBML header: %w", ErrNotWebM, unexpected(err))
		}
		switch h.id {
		case idSegment:
			d.segData, d.segEnd = h.data, h.end()
			return nil
		case idVoid, idCRC32:
			if h.size == unknownSize {
				return fmt.Errorf("%w: %s of unknown size", ErrCorrupt, name(h.id))
			}
			if err := d.r.skip(h.size); err != nil {
				return fmt.Errorf("webm: %s at offset %d: %w", name(h.id), h.off, err)
			}
		default:
			return fmt.Errorf("%w: %s after the EBML header, not a Segment", ErrNotWebM, name(h.id))
		}
	}
}

func (d *OpusDemuxer) readSeekHead(h header) error {
	return d.r.children(h, func(c header) error {
		if c.id != idSeek {
			return nil
		}
		var id, pos uint64
		var hasPos bool
		err := d.r.children(c, func(e header) error {
			var err error
			switch e.id {
			case idSeekID:
				var b []byte
				if b, err = d.r.bytes(e, 4); err == nil {
					for _, x := range b {
						id = id<<8 | uint64(x)
					}
				}
			case idSeekPosition:
				pos, err = d.r.uint(e)
				hasPos = true
			}
			return err
		})
		if err == nil && id == idCues && hasPos && pos < 1<<56 {
			d.cues = int64(pos)
		}
		return err
	})
}

func (d *OpusDemuxer) readTracks(h header) ([]track, error) {
	var tracks []track
	err := d.r.children(h, func(c header) error {
		if c.id != idTrackEntry {
			return nil
		}
		if len(tracks) >= 128 {
			return fmt.Errorf("%w: more than 128 tracks", ErrUnsupported)
		}
		var t track
		err := d.r.children(c, func(e header) error {
			var err error
			switch e.id {
			case idTrackNumber:
				t.number, err = d.r.uint(e)
			case idTrackType:
				t.kind, err = d.r.uint(e)
			case idCodecID:
				t.codec, err = d.r.string(e)
			case idCodecPrivate:
				if e.size > maxPrivate {
					t.bigPriv = e.size
					return nil
				}
				t.private, err = d.r.bytes(e, maxPrivate)
			case idCodecDelay:
				var v uint64
				v, err = d.r.uint(e)
				t.delay = int64(min(v, 1<<62))
			case idSeekPreRoll:
				var v uint64
				v, err = d.r.uint(e)
				t.preRoll = int64(min(v, 1<<62))
			case idContentEncodings:
				t.encodings = true
			case idAudio:
				err = d.r.children(e, func(a header) error {
					var err error
					switch a.id {
					case idSamplingFrequency:
						t.rate, err = d.r.float(a)
					case idChannels:
						t.channels, err = d.r.uint(a)
					}
					return err
				})
			}
			return err
		})
		tracks = append(tracks, t)
		return err
	})
	return tracks, err
}

// tagValues are the file's title and artist, from its Info or Tags.
type tagValues struct{ title, artist string }

// readTags reads the first TITLE and ARTIST of the Tags' SimpleTags (at
// any level), which take precedence over Info's Title.
func (d *OpusDemuxer) readTags(h header, tv *tagValues) error {
	var title, artist string
	var simple func(h header, depth int) error
	simple = func(h header, depth int) error {
		if depth > 8 {
			return nil // nested deeper than any tagger writes: skipped
		}
		var n, v string
		err := d.r.children(h, func(c header) error {
			var err error
			switch c.id {
			case idTagName:
				n, err = d.r.string(c)
			case idTagString:
				if c.size <= maxString { // a longer value (lyrics, say) is skipped
					v, err = d.r.string(c)
				}
			case idSimpleTag:
				err = simple(c, depth+1)
			}
			return err
		})
		switch {
		case err != nil:
		case n == "TITLE" && title == "":
			title = v
		case n == "ARTIST" && artist == "":
			artist = v
		}
		return err
	}
	err := d.r.children(h, func(c header) error {
		if c.id != idTag {
			return nil
		}
		return d.r.children(c, func(s header) error {
			if s.id != idSimpleTag {
				return nil
			}
			return simple(s, 0)
		})
	})
	if err != nil {
		return err
	}
	if title != "" {
		tv.title = title
	}
	if artist != "" {
		tv.artist = artist
	}
	return nil
}

// pickTrack takes the first audio track, which must be Opus, and makes
// the OpusInfo.
func (d *OpusDemuxer) pickTrack(tracks []track, tv tagValues, app string) error {
	if tracks == nil {
		return fmt.Errorf("%w: no Tracks before the first Cluster", ErrNotWebM)
	}
	var t *track
	var codecs []string
	for i := range tracks {
		codecs = append(codecs, tracks[i].codec)
		if tracks[i].kind == 2 && t == nil {
			t = &tracks[i]
		}
	}
	switch {
	case t == nil:
		return fmt.Errorf("%w: no audio track (tracks: %q); decode it with a command source (ffmpeg)", ErrUnsupported, codecs)
	case t.codec != "A_OPUS":
		return fmt.Errorf("%w: audio codec %s, not Opus (A_OPUS); decode it with a command source (ffmpeg)", ErrUnsupported, t.codec)
	case t.encodings:
		return fmt.Errorf("%w: Opus track with ContentEncodings (compressed or encrypted)", ErrUnsupported)
	case t.number == 0:
		return fmt.Errorf("%w: audio track without a TrackNumber", ErrCorrupt)
	case t.bigPriv > 0:
		return fmt.Errorf("%w: Opus track's CodecPrivate of %d bytes, more than an OpusHead's %d", ErrCorrupt, t.bigPriv, maxPrivate)
	}
	head, err := ogg.ParseOpusHead(t.private)
	if err != nil {
		return fmt.Errorf("%w: Opus track's CodecPrivate: %w", ErrCorrupt, err)
	}
	d.track = *t
	info := ogg.OpusInfo{Head: head, Tags: ogg.OpusTags{Vendor: app}}
	if tv.title != "" {
		info.Tags.Comments = append(info.Tags.Comments, "TITLE="+tv.title)
	}
	if tv.artist != "" {
		info.Tags.Comments = append(info.Tags.Comments, "ARTIST="+tv.artist)
	}
	d.info = &info
	return nil
}

// NextPacket returns the next packet of the Opus track, valid until the
// next call. Errors: io.EOF at the end (of the Segment, of the file for a
// Segment of unknown size, or at the EBML header of a file that
// follows); ErrNotWebM, ErrUnsupported or ErrCorrupt, wrapped;
// io.ErrUnexpectedEOF (wrapped) for a file cut short, after every whole
// block before the cut; opus.ErrCorruptPacket (wrapped) for a packet with
// invalid framing or over the size limit.
func (d *OpusDemuxer) NextPacket(src io.Reader) ([]byte, error) {
	if err := d.ReadHeaders(src); err != nil {
		return nil, err
	}
	for d.next == len(d.frames) {
		if d.ended {
			return nil, io.EOF
		}
		if err := d.advance(); err != nil {
			if err == io.EOF {
				d.ended = true
				if d.padded {
					d.length = max(0, d.total-d.PreSkip()-d.discard)
				}
			}
			return nil, err
		}
	}
	p := d.frames[d.next]
	d.next++
	n, err := opus.PacketSamples(p)
	if err != nil {
		return nil, fmt.Errorf("%w (packet %d of the track)", err, d.packets)
	}
	if len(p) > d.cfg.maxPacket {
		return nil, fmt.Errorf("%w: packet %d of the track is %d bytes, more than the limit %d (WithMaxPacket)",
			opus.ErrCorruptPacket, d.packets, len(p), d.cfg.maxPacket)
	}
	d.packets++
	d.total += n
	return p, nil
}

// clusterChild reports whether id may be a child of a Cluster: any other
// ends a Cluster of unknown size.
func clusterChild(id uint32) bool {
	switch id {
	case idTimestamp, idPosition, idPrevSize, idSimpleBlock, idBlockGroup, idEncryptedBlock, idSilentTracks, idVoid, idCRC32:
		return true
	}
	return false
}

// advance reads elements until a block of the track gives frames, or the
// Segment ends (io.EOF).
func (d *OpusDemuxer) advance() error {
	for {
		if d.inCluster && d.clusterEnd >= 0 && d.r.off >= d.clusterEnd {
			d.inCluster = false
		}
		var h header
		if d.hasPending {
			h, d.hasPending = d.pending, false
		} else {
			if d.segEnd >= 0 && d.r.off >= d.segEnd {
				return io.EOF
			}
			var err error
			if h, err = d.r.next(); err == io.EOF {
				if d.segEnd >= 0 || d.inCluster && d.clusterEnd >= 0 {
					return fmt.Errorf("webm: file ends at offset %d, inside the Segment: %w", d.r.off, io.ErrUnexpectedEOF)
				}
				return io.EOF
			} else if err != nil {
				return fmt.Errorf("webm: %w", err)
			}
		}
		if d.inCluster {
			if d.clusterEnd < 0 && !clusterChild(h.id) {
				d.inCluster = false
				d.pending, d.hasPending = h, true
				continue
			}
			if h.size == unknownSize || d.clusterEnd >= 0 && h.end() > d.clusterEnd || d.segEnd >= 0 && h.end() > d.segEnd {
				return fmt.Errorf("%w: %s at offset %d overruns its Cluster", ErrCorrupt, name(h.id), h.off)
			}
			var err error
			switch h.id {
			case idTimestamp:
				var v uint64
				v, err = d.r.uint(h)
				d.clusterTS = int64(min(v, 1<<56))
			case idSimpleBlock:
				err = d.readBlock(h)
			case idBlockGroup:
				err = d.readGroup(h)
			}
			if err != nil {
				return err
			}
			if err := d.r.skip(h.end() - d.r.off); err != nil {
				return fmt.Errorf("webm: %s at offset %d: %w", name(h.id), h.off, err)
			}
			if d.next < len(d.frames) {
				return nil
			}
			continue
		}
		switch {
		case h.id == idCluster:
			if h.size != unknownSize && d.segEnd >= 0 && h.end() > d.segEnd {
				return fmt.Errorf("%w: Cluster at offset %d overruns the Segment", ErrCorrupt, h.off)
			}
			d.inCluster, d.clusterEnd, d.clusterTS = true, h.end(), 0
		case h.id == idEBML && d.segEnd < 0:
			return io.EOF // another file follows the live stream
		case h.size == unknownSize:
			return fmt.Errorf("%w: %s at offset %d has an unknown size", ErrCorrupt, name(h.id), h.off)
		case d.segEnd >= 0 && h.end() > d.segEnd:
			return fmt.Errorf("%w: %s at offset %d overruns the Segment", ErrCorrupt, name(h.id), h.off)
		default:
			if err := d.r.skip(h.size); err != nil {
				return fmt.Errorf("webm: %s at offset %d: %w", name(h.id), h.off, err)
			}
		}
	}
}

// readGroup reads a BlockGroup: its Block and DiscardPadding.
func (d *OpusDemuxer) readGroup(h header) error {
	var pad int64
	var ours bool
	err := d.r.children(h, func(c header) error {
		var err error
		switch c.id {
		case idBlock:
			if d.next < len(d.frames) {
				return fmt.Errorf("%w: BlockGroup at offset %d with two Blocks", ErrCorrupt, h.off)
			}
			err = d.readBlock(c)
			ours = d.next < len(d.frames)
		case idDiscardPadding:
			pad, err = d.r.int(c)
		}
		return err
	})
	if err != nil {
		return err
	}
	if ours && pad > 0 {
		// ns to samples at 48 kHz, rounded
		d.discard += (min(pad, 1<<50)*opus.SampleRate + int64(time.Second)/2) / int64(time.Second)
		d.padded = true
	}
	return nil
}

// readBlock reads a SimpleBlock or Block: the frames of the track's, the
// others skipped unread.
//
//	track number (vint) | timestamp (int16) | flags | [frames-1 | sizes] | frames
func (d *OpusDemuxer) readBlock(h header) error {
	start := d.r.off
	num, _, err := d.r.vint()
	if err != nil {
		return fmt.Errorf("webm: %s at offset %d: %w", name(h.id), h.off, err)
	}
	if d.r.off-start > h.size {
		return fmt.Errorf("%w: %s at offset %d of %d bytes", ErrCorrupt, name(h.id), h.off, h.size)
	}
	if num != d.track.number {
		return nil // the caller skips the rest
	}
	hdr := d.r.tmp[:3] // the timestamp and the flags
	if d.r.off-start+3 > h.size {
		return fmt.Errorf("%w: %s at offset %d of %d bytes", ErrCorrupt, name(h.id), h.off, h.size)
	}
	if err := d.r.full(hdr); err != nil {
		return fmt.Errorf("webm: %s at offset %d: %w", name(h.id), h.off, err)
	}
	d.blockTS = d.clusterTS + int64(int16(uint16(hdr[0])<<8|uint16(hdr[1])))
	lacing := hdr[2] >> 1 & 3
	n := h.end() - d.r.off
	limit := int64(maxLaced)*int64(d.cfg.maxPacket+d.cfg.maxPacket/255+8) + 1
	if n > limit {
		return fmt.Errorf("%w: %s at offset %d of %d bytes, more than the limit %d (256 packets of WithMaxPacket's size)", ErrCorrupt, name(h.id), h.off, h.size, limit)
	}
	if int64(cap(d.block)) < n {
		// Grown by doubling, so that blocks that grow a little at a time
		// do not cost an allocation each.
		d.block = make([]byte, min(max(n, 2*int64(cap(d.block)), 1<<10), max(n, limit)))
	}
	if cap(d.frames) == 0 {
		d.frames = make([][]byte, 0, 16)
	}
	b := d.block[:n]
	if err := d.r.full(b); err != nil {
		return fmt.Errorf("webm: %s at offset %d cut short: %w", name(h.id), h.off, err)
	}
	frames, err := unlace(b, lacing, d.frames[:0])
	if err != nil {
		return fmt.Errorf("%w: %s at offset %d: %w", ErrCorrupt, name(h.id), h.off, err)
	}
	d.frames, d.next = frames, 0
	return nil
}

// errLacing is the detail of a bad lacing.
var errLacing = errors.New("frame sizes do not fit the block")

// unlace splits a block's data after its flags into its frames, by its
// lacing: 0 none, 1 Xiph, 2 fixed-size, 3 EBML.
func unlace(b []byte, lacing byte, frames [][]byte) ([][]byte, error) {
	if lacing == 0 {
		return append(frames, b), nil
	}
	if len(b) < 1 {
		return nil, errLacing
	}
	count := int(b[0]) + 1
	b = b[1:]
	var sizes [maxLaced]int
	switch lacing {
	case 1: // Xiph: each size but the last as 255s and a byte below
		for i := range count - 1 {
			for {
				if len(b) == 0 {
					return nil, errLacing
				}
				v := b[0]
				b = b[1:]
				sizes[i] += int(v)
				if v < 255 {
					break
				}
			}
		}
	case 3: // EBML: the first size a vint, the others signed differences
		if count == 1 {
			break
		}
		v, k, err := vintAt(b)
		if err != nil {
			return nil, err
		}
		b = b[k:]
		if v > uint64(len(b)) {
			return nil, errLacing
		}
		sizes[0] = int(v)
		for i := 1; i < count-1; i++ {
			v, k, err := vintAt(b)
			if err != nil {
				return nil, err
			}
			b = b[k:]
			diff := int64(v) - (1<<(7*k-1) - 1)
			sizes[i] = sizes[i-1] + int(diff)
			if sizes[i] < 0 || sizes[i] > len(b) {
				return nil, errLacing
			}
		}
	case 2: // fixed: the data split evenly
		if len(b)%count != 0 {
			return nil, fmt.Errorf("%d bytes in %d frames of one size", len(b), count)
		}
		for i := range count - 1 {
			sizes[i] = len(b) / count
		}
	}
	for i := range count - 1 {
		if sizes[i] > len(b) {
			return nil, errLacing
		}
		frames = append(frames, b[:sizes[i]])
		b = b[sizes[i]:]
	}
	return append(frames, b), nil
}

// vintAt reads a variable-size integer at the start of b, and its length.
func vintAt(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errLacing
	}
	n := leadingZeros(b[0])
	if n > 7 || len(b) < n+1 {
		return 0, 0, errLacing
	}
	v := uint64(b[0]) & (0xFF >> (n + 1))
	for _, x := range b[1 : n+1] {
		v = v<<8 | uint64(x)
	}
	return v, n + 1, nil
}
