package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/id3"
)

// Kind is a kind of audio input that Detect recognises.
type Kind int

const (
	KindUnknown Kind = iota
	KindMP3          // MPEG-1 or MPEG-2 Layer III, with or without an ID3v2 tag
	KindWAV          // RIFF WAVE
	KindOggOpus      // Ogg whose first stream is Opus
	KindRaw          // raw PCM of a stated format (never detected)
	KindFLAC         // FLAC, with or without an ID3v2 tag before it
	KindWebM         // WebM or Matroska (EBML, DocType "webm" or "matroska"); its codec is the demuxer's to tell
)

func (k Kind) String() string {
	switch k {
	case KindMP3:
		return "MP3"
	case KindWAV:
		return "WAV"
	case KindOggOpus:
		return "Ogg Opus"
	case KindRaw:
		return "raw PCM"
	case KindFLAC:
		return "FLAC"
	case KindWebM:
		return "webm"
	}
	return "unknown"
}

// DetectSize is how many bytes Detect wants to see: enough for the first
// Ogg page's OpusHead and for two MP3 frames after some junk.
const DetectSize = 8 << 10

// Detect recognises an input by its first bytes (up to DetectSize of
// them; fewer if the input is shorter). An ID3v2 tag is followed by FLAC
// if "fLaC" comes right after it; a tag that ends beyond head is taken to
// be an MP3's. An EBML header whose DocType is "webm" or "matroska" is
// KindWebM, whatever codec its tracks hold (webm.OpusDemuxer tells).
// Errors: io.ErrUnexpectedEOF (wrapped) for no bytes; ErrUnsupported
// (wrapped) for Ogg that is not Opus, and ErrMPEG25 (which wraps it) for
// MPEG-2.5, which go-mp3 refuses; ErrUnknownFormat (wrapped, for EBML of
// another DocType) otherwise.
func Detect(head []byte) (Kind, error) {
	switch {
	case len(head) == 0:
		return KindUnknown, fmt.Errorf("codec: empty input: %w", io.ErrUnexpectedEOF)
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return KindWAV, nil
	case len(head) >= 4 && string(head[:4]) == "OggS":
		if len(head) >= 27 {
			n := int(head[26])
			if len(head) >= 27+n+8 && string(head[27+n:27+n+8]) == "OpusHead" {
				return KindOggOpus, nil
			}
		}
		return KindUnknown, fmt.Errorf("%w: Ogg stream without an OpusHead on its first page", ErrUnsupported)
	case len(head) >= 4 && string(head[:4]) == "fLaC":
		return KindFLAC, nil
	case len(head) >= 4 && string(head[:4]) == ebmlMagic:
		switch dt, ok := ebmlDocType(head[4:]); {
		case !ok:
			return KindUnknown, fmt.Errorf("%w: EBML header cut short or malformed", ErrUnknownFormat)
		case dt == "webm" || dt == "matroska":
			return KindWebM, nil
		default:
			return KindUnknown, fmt.Errorf("%w: EBML of DocType %q", ErrUnknownFormat, dt)
		}
	case len(head) >= id3.HeaderSize && string(head[:3]) == "ID3":
		if n, ok := id3.TagSize(head); ok && n+4 <= int64(len(head)) && string(head[n:n+4]) == "fLaC" {
			return KindFLAC, nil
		}
		return KindMP3, nil
	}
	switch v := mp3.Sniff(head); v {
	case 0:
		return KindUnknown, ErrUnknownFormat
	case 25:
		return KindUnknown, ErrMPEG25
	default:
		return KindMP3, nil
	}
}

// ContentTypeKind returns the kind of input an HTTP Content-Type names:
// audio/flac, audio/mpeg, audio/wav and audio/ogg or audio/opus with the
// Opus codec, audio/webm and Matroska (and their common variants, as
// audio/x-flac or video/webm), or KindUnknown for any other, for audio/ogg
// without codecs=opus, which may hold another codec, and for WebM whose
// codecs parameter names no Opus. It is a hint: the first bytes (Detect)
// decide.
func ContentTypeKind(contentType string) Kind {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return KindUnknown
	}
	switch mt {
	case "audio/flac", "audio/x-flac":
		return KindFLAC
	case "audio/mpeg", "audio/mp3", "audio/x-mp3", "audio/mpeg3", "audio/x-mpeg":
		return KindMP3
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave":
		return KindWAV
	case "audio/opus":
		return KindOggOpus
	case "audio/ogg", "application/ogg":
		if strings.EqualFold(strings.TrimSpace(params["codecs"]), "opus") {
			return KindOggOpus
		}
	case "audio/webm", "video/webm", "audio/x-matroska", "video/x-matroska", "audio/matroska", "video/matroska":
		codecs, ok := params["codecs"]
		if !ok {
			return KindWebM
		}
		for c := range strings.SplitSeq(codecs, ",") {
			if strings.EqualFold(strings.TrimSpace(c), "opus") {
				return KindWebM
			}
		}
	}
	return KindUnknown
}

// ebmlMagic is the ID of an EBML header, the first bytes of WebM and
// Matroska.
const ebmlMagic = "\x1a\x45\xdf\xa3"

// ebmlDocType returns the DocType of the EBML header whose size and data
// are b ("matroska", the default, if it has none), and whether the header
// is whole in b and well formed.
func ebmlDocType(b []byte) (string, bool) {
	size, n := ebmlVint(b, false)
	if n == 0 || size > uint64(len(b)-n) {
		return "", false
	}
	b = b[n : n+int(size)]
	for len(b) > 0 {
		id, k := ebmlVint(b, true)
		if k == 0 {
			return "", false
		}
		size, m := ebmlVint(b[k:], false)
		if m == 0 || size > uint64(len(b)-k-m) {
			return "", false
		}
		data := b[k+m : k+m+int(size)]
		if id == 0x4282 {
			return strings.TrimRight(string(data), "\x00"), true
		}
		b = b[k+m+int(size):]
	}
	return "matroska", true
}

// ebmlVint reads an EBML variable-size integer at the start of b, with its
// length marker kept (an ID) or not (a size), and its length; 0 if b
// does not hold a valid one.
func ebmlVint(b []byte, marker bool) (uint64, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n := 1
	for m := byte(0x80); b[0]&m == 0; m >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0
	}
	v := uint64(b[0])
	if !marker {
		v &= 0xFF >> n
	}
	for _, x := range b[1:n] {
		v = v<<8 | uint64(x)
	}
	return v, n
}

// DetectReader reads up to DetectSize bytes of r (and, after an ID3v2 tag
// larger than that, on to the four bytes after the tag), detects the kind
// of input, and returns a reader of the whole input: the bytes it read, then
// the rest of r. Closing that reader closes r if r is an io.Closer, so a
// Catcher (or anyone) given it still releases the source.
func DetectReader(r io.Reader) (Kind, io.ReadCloser, error) {
	head := make([]byte, DetectSize)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if tag, ok := id3.TagSize(head); ok && err == nil && tag+4 > int64(len(head)) {
		// A tag with cover art is larger than DetectSize: read on to the
		// four bytes after it, which tell FLAC from MP3. The buffer grows
		// with the bytes that come, not with the tag's size field.
		buf := bytes.NewBuffer(head)
		_, err = io.CopyN(buf, r, tag+4-int64(len(head)))
		head = buf.Bytes()
	}
	rc := &rejoined{Reader: io.MultiReader(bytes.NewReader(head), r), src: r}
	if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
		return KindUnknown, rc, err
	}
	k, derr := Detect(head)
	return k, rc, derr
}

// rejoined is the reader DetectReader returns.
type rejoined struct {
	io.Reader
	src io.Reader
}

func (r *rejoined) Close() error {
	if c, ok := r.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
