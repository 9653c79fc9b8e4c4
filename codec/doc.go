// Package codec detects what an input is and decodes it to the PCM a
// pipeline wants; its subpackages hold one format each.
//
// # The map
//
//	codec          Detect and DetectReader (MP3, FLAC, WAV, Ogg Opus, WebM by their
//	               first bytes; ContentTypeKind by the HTTP Content-Type); NewDecoder, a Transform built inside the fill that
//	               detects the input, reads its header and converts its PCM
//	               (encoding, channels, rate) to the format asked for
//	codec/mp3      MP3 to PCM through our own Layer III decoder (or go-mp3,
//	               fenced): our frame walk, exact lengths from the LAME tag,
//	               damage skipped and reported
//	codec/flac     FLAC to PCM through mewkiz/flac, fenced: any depth, 1 to 8
//	               channels, exact lengths from the STREAMINFO, the seek table
//	codec/wav      WAV in (u8, s16, s24, f32, f64) and out (s16, s24, f32),
//	               and raw PCM of a stated format, through one bounded reader
//	codec/ogg      Ogg pages (our own reader and writer) and the Opus mapping
//	               (OpusHead, OpusTags, demuxer, writer), exact to the sample
//	codec/webm     WebM and Matroska: the Opus track's packets as they are
//	               (our own streaming EBML reader), exact lengths from
//	               DiscardPadding, Cues and Seek; other codecs refused
//	codec/opus     Opus packets without decoding: TOC, framing, durations,
//	               limits, the silence frame
//	codec/framed   the packet store: the Framer that puts packets in a cache,
//	               its Index (time to packet), and the Cursor, a listener's
//	               position that lends packets without copying them
//	codec/libopus  Opus encoding and decoding through libopus (gopus): the
//	               only package with cgo
//
// Every package but libopus builds with CGO_ENABLED=0, so a service that
// only serves Ogg Opus it already has (demuxed, framed, sent) needs no C
// compiler. The decoders and the Framer are catcher.Transforms (satisfied
// structurally), so that inside a catcher.Catcher a track is decoded and
// encoded once however many listeners read it:
//
//	dec, _ := codec.NewDecoder(libopus.Format(2)) // 48 kHz stereo s16
//	enc, _ := libopus.NewEncoder(libopus.Format(2))
//	c := catcher.New(file, catcher.WithTransform(catcher.Chain(dec, framed.NewFramer(enc))))
//	cur := framed.NewCursor(c) // one per listener: tens of bytes
//
// What a decoder learns of its input (codec.Source, mp3.Info, flac.Info, wav.Info,
// ogg.OpusInfo, which webm.OpusDemuxer publishes too) and the
// framed.Index are published with the bytes they describe, typed:
// catcher.StateOf[framed.Index](c).
//
// # Errors
//
// Bad input gives an error wrapping a sentinel of the package that found it
// (ErrNotMP3, ErrCorrupt, ErrUnsupported, ErrBadPage, ErrNotOpus,
// ErrCorruptPacket, ...), after everything before the damage has been
// decoded; input cut short gives one wrapping io.ErrUnexpectedEOF, and a
// partial frame of PCM one wrapping transform.ErrPartialFrame. Never a
// panic, and no allocation sized by an unchecked length field.
package codec
