package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Kind is a kind of audio input that Detect recognises.
type Kind int

const (
	KindUnknown Kind = iota
	KindMP3          // MPEG-1 or MPEG-2 Layer III, with or without an ID3v2 tag
	KindWAV          // RIFF WAVE
	KindOggOpus      // Ogg whose first stream is Opus
)

func (k Kind) String() string {
	switch k {
	case KindMP3:
		return "MP3"
	case KindWAV:
		return "WAV"
	case KindOggOpus:
		return "Ogg Opus"
	}
	return "unknown"
}

// DetectSize is how many bytes Detect wants to see: enough for the first
// Ogg page's OpusHead and for two MP3 frames after some junk.
const DetectSize = 8 << 10

// Detect recognises an input by its first bytes (up to DetectSize of
// them; fewer if the input is shorter). It returns ErrTruncated (wrapped)
// for no bytes, ErrNotOpus for an Ogg stream that is not Opus, and
// ErrUnknownFormat otherwise.
func Detect(head []byte) (Kind, error) {
	switch {
	case len(head) == 0:
		return KindUnknown, fmt.Errorf("%w: empty input", ErrTruncated)
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return KindWAV, nil
	case len(head) >= 4 && string(head[:4]) == "OggS":
		if len(head) >= 27 {
			n := int(head[26])
			if len(head) >= 27+n+8 && string(head[27+n:27+n+8]) == "OpusHead" {
				return KindOggOpus, nil
			}
		}
		return KindUnknown, fmt.Errorf("%w: Ogg stream without an OpusHead on its first page", ErrNotOpus)
	case len(head) >= 10 && string(head[:3]) == "ID3":
		return KindMP3, nil
	}
	// Two chained Layer III frames within the first bytes.
	for i := 0; i+4 <= len(head); i++ {
		if head[i] != 0xff {
			continue
		}
		h, ok := parseMP3Header(head[i:])
		if !ok {
			continue
		}
		if j := i + h.size; j+4 <= len(head) {
			if h2, ok := parseMP3Header(head[j:]); ok && h2.sameStream(h) {
				return KindMP3, nil
			}
		} else if i == 0 && j >= len(head) {
			return KindMP3, nil // one frame, all there is
		}
	}
	return KindUnknown, ErrUnknownFormat
}

// DetectReader reads up to DetectSize bytes of r, detects the kind of
// input, and returns a reader of the whole input (the bytes it read, then
// the rest of r).
func DetectReader(r io.Reader) (Kind, io.Reader, error) {
	head := make([]byte, DetectSize)
	n, err := io.ReadFull(r, head)
	head = head[:n]
	if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
		return KindUnknown, nil, err
	}
	k, derr := Detect(head)
	return k, io.MultiReader(bytes.NewReader(head), r), derr
}
