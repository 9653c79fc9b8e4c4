// Package webm reads the Opus track of a WebM or Matroska file (YouTube's
// itag 251, a browser's MediaRecorder, ffmpeg's and mkvmerge's .webm and
// .mka) and passes its packets through as they are: no decoding, no
// encoding. OpusDemuxer is a framed.PacketSource, as ogg.OpusDemuxer is,
// and publishes the same state, an ogg.OpusInfo, so a track framed from
// WebM is one framed from Ogg Opus to everything downstream.
//
// The EBML reader is our own, not at-wat/ebml-go: it reads a stream
// through an io.Reader without seeking (a download, a command's output),
// takes elements of unknown size as live writers write them, bounds every
// length field before it allocates, and keeps byte offsets for the Cues.
//
// # What is read
//
// An EBML element is an ID, a size and its data. Both ID and size are
// variable-size integers, whose first byte's leading zeros say how many
// bytes follow:
//
//	first byte   length  ID (marker kept)         size (marker dropped)
//	1xxx xxxx    1       0x80 - 0xFE              0 - 2^7-2
//	01xx xxxx    2       0x4000 - 0x7FFF          0 - 2^14-2
//	001x xxxx    3       0x200000 - 0x3FFFFF      0 - 2^21-2
//	0001 xxxx    4       0x10000000 - 0x1FFFFFFF  0 - 2^28-2
//	...          up to 8 (sizes only)             all value bits 1: unknown size
//
// The elements read, at their levels (others, Void and CRC-32 among them,
// are skipped unread, at most 4 KiB held at a time):
//
//	EBML           DocType "webm" or "matroska"; EBMLReadVersion 1,
//	               DocTypeReadVersion at most 4
//	Segment        known or unknown size (then it runs to the end of the
//	               input, or to the EBML header of a file that follows)
//	  SeekHead     the Seek to the Cues: their offset in the Segment
//	  Info         TimestampScale (ns a tick; 1000000 by default),
//	               Duration (ticks, a float), Title, MuxingApp, WritingApp
//	  Tracks       TrackEntry: TrackNumber, TrackType (2: audio), CodecID,
//	               CodecPrivate (the OpusHead), CodecDelay and SeekPreRoll
//	               (ns), Audio {SamplingFrequency, Channels},
//	               ContentEncodings (refused)
//	  Tags         SimpleTag TITLE and ARTIST, before the first Cluster
//	  Cluster      known or unknown size (then it ends at the next element
//	               that cannot be its child: a Cluster, the Cues, Tags, ...)
//	    Timestamp  ticks
//	    SimpleBlock
//	    BlockGroup Block, DiscardPadding (ns, signed), BlockDuration
//	  Cues         CuePoint: CueTime (ticks), CueTrackPositions {CueTrack,
//	               CueClusterPosition (bytes from the Segment's data)}
//
// A SimpleBlock's or Block's data holds frames of one track:
//
//	offset  size  field
//	0       1-8   track number, a variable-size integer
//	+0      2     timestamp, big-endian int16 ticks from the Cluster's
//	+2      1     flags: bits 1-2 the lacing: 00 none, 01 Xiph, 11 EBML,
//	              10 fixed-size
//	+3      1     laced only: the number of frames less one (n-1)
//	+4      ...   laced only: the sizes of the first n-1 frames: Xiph, each
//	              as 255s and a last byte below 255; EBML, the first as a
//	              size and the others as signed differences from the one
//	              before; fixed-size, none (the data split evenly)
//	...           the frames, end to end; the last takes what is left
//
// Blocks of other tracks are skipped unread after their track number. A
// block of the Opus track is read whole before any of its packets is
// returned: a file cut inside a block gives the packets before it, then
// io.ErrUnexpectedEOF, never a partial packet. A block is at most 256
// packets of the size limit (WithMaxPacket), strings 4 KiB, a
// CodecPrivate 1 KiB; a length field over its bound is an error naming the
// element and its size, read before anything is allocated.
//
// # Pre-skip, CodecDelay and the length
//
// The OpusHead in CodecPrivate gives the pre-skip (samples at 48 kHz) and
// Matroska's CodecDelay gives it again in nanoseconds; ffmpeg writes both
// and they agree (312 samples, 6500000 ns). Where they disagree, the
// OpusHead's wins: it is exact, it is what an Opus decoder reads, and it
// is the head the track's packets are written out with (as Ogg Opus,
// say). The true length is the packets' samples less the pre-skip and
// less the positive DiscardPadding of the blocks (ns, rounded to samples
// at 48 kHz), which muxers put on the last block; without a
// DiscardPadding, Length is -1: the packets' total less the pre-skip.
// Info's Duration, a float in ticks that writers round, is only an
// estimate (OpusDemuxer.Duration).
//
// # Other codecs
//
// A file whose first audio track is not Opus (A_VORBIS, A_AAC, ...), or
// that has no audio track (V_VP9 alone), gives ErrUnsupported naming its
// codec. Such input is for a command source: ffmpeg decodes it to PCM
// (pipeline.NewCommandSource), which a pipeline then encodes.
//
// # Seeking
//
// ReadCues reads a seekable file's Cues; Seek starts a demuxer at the
// Cluster of the cue at or before the seek pre-roll before a time. Files
// written to a pipe or recorded live have no Cues (ErrNoCues): read them
// from the start.
package webm
