// Package codec decodes MP3, WAV and raw PCM, encodes and decodes Opus,
// reads and writes Ogg Opus, and frames Opus packets into a cache with an
// index that maps time to packets.
//
// Every decoder and encoder here is a catcher.Transform (or, for packet
// sources, feeds one), so that inside a catcher.Catcher a track is decoded
// and encoded once however many listeners read it:
//
//	enc, _ := codec.NewOpusEncoder(transform.Opus)
//	c := catcher.New(file, catcher.WithTransform(
//		catcher.Chain(codec.NewMP3Decoder(), codec.NewFramer(enc))))
//
// # Inputs
//
// Detect and DetectReader tell MP3 (with or without ID3v2), WAV and Ogg
// Opus apart by their first bytes.
//
// MP3Decoder decodes MPEG-1 and MPEG-2 Layer III through
// github.com/hajimehoshi/go-mp3, which always gives 16-bit stereo at the
// file's rate. go-mp3 is unmaintained and panics on some corrupt frames, so
// every call into it is fenced: a panic becomes ErrDecoderPanic and that
// decoder is dropped. Our own frame-header walk feeds it one validated
// frame at a time (it never sees a Seek, so it never scans ahead), skips
// tags and damaged regions, and resynchronises on a chain of valid
// headers. The LAME/Xing frame is parsed and not decoded; the encoder
// delay plus go-mp3's 529-sample decoder delay are trimmed from the start
// and the padding from the end, so a whole file decodes to exactly its
// original length, sample-aligned.
//
// WAVDecoder reads 16- and 24-bit integer and 32-bit float WAV, plain or
// WAVE_FORMAT_EXTENSIBLE, at any rate and channel count, including the
// streaming form (sizes 0xFFFFFFFF) read to the end; WAVWriter writes
// them. RawPCM passes through PCM of a stated transform.Format.
//
// # Opus
//
// OpusEncoder (libopus through layeh.com/gopus) encodes 48 kHz mono or
// stereo in frames of 2.5 to 60 ms (20 ms by default). Its pre-skip is the
// constant 312 samples (120 in restricted low delay), since gopus does not
// expose the lookahead; the last partial frame is padded with silence and
// the true length kept. OpusDecoder turns a framed stream back into PCM,
// dropping the pre-skip, stopping at the true length and concealing
// corrupt packets. ParsePacket reads a packet's TOC and framing (RFC 6716,
// section 3) without decoding it; libopus is never handed an empty or
// invalid packet.
//
// # Ogg
//
// OggReader and OggWriter are our own page reader and writer (RFC 3533):
// CRC checked, lacing, packets continued across pages, several packets a
// page, granule positions. OggOpusDemuxer and OggOpusWriter add OpusHead
// and OpusTags (RFC 7845), the pre-skip, and end trimming by the last
// granule position, so an Ogg Opus file read and written back keeps every
// packet byte for byte and its exact length.
//
// # Framing and the index
//
// The Framer is the one place where packets enter a cache, from an
// OpusEncoder or an OggOpusDemuxer (any PacketSource). It writes each
// packet as a 2-byte length and the packet (see PrefixSize for the layout)
// and keeps an Index: the byte offset and start sample of every packet,
// the pre-skip and the true length. The Index is the Framer's State, so
// the Catcher publishes it with the bytes it describes and readers use it
// without a lock while encoding goes on. Index.Find maps a sample to a
// packet by binary search (O(1) when packets are uniform); PacketReader
// reads packets from any record boundary of a catcher.Reader or any
// io.ReadSeeker.
//
// # Errors
//
// Bad input gives an error wrapping one of the sentinels in errors.go
// (ErrNotMP3, ErrTruncated, ErrCorrupt, ErrUnsupportedWAV, ErrNotWAV,
// ErrNotOpus, ErrBadPage, ErrCorruptPacket, ErrUnknownFormat), after
// everything before the damage has been decoded; never a panic, and no
// allocation sized by an unchecked length field.
package codec
