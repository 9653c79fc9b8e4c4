package mp3

import "fmt"

// layer3 is our own Layer III decoder (ISO 11172-3, 13818-3, and
// MPEG-2.5): it decodes one frame at a time, keeping the bit reservoir
// and the filter banks' state from frame to frame. It allocates nothing
// per frame. It is not safe for concurrent use.
type layer3 struct {
	res  reservoir
	si   sideInfo
	mode frameMode
}

// prepare reads a frame's side information (checking its CRC if it has
// one) and finds its main data in the bit reservoir. ok is false, with a
// nil error, when the frame takes main data from frames not seen (at the
// start of a stream or after a gap): it cannot be decoded, but what it
// carries is kept for the frames after it.
func (l *layer3) prepare(f frame) (main []byte, ok bool, err error) {
	h, b := f.h, f.data
	o := h.sideInfoOffset() + h.sideInfoSize()
	if len(b) < o {
		return nil, false, fmt.Errorf("%w: a %d-byte frame", errSideInfo, len(b))
	}
	if !crcOK(h, b) {
		l.res.frame(0, b[o:])
		return nil, false, errCRC
	}
	l.mode = modeOf(h, b)
	if err := l.si.parse(h, l.mode, b); err != nil {
		l.res.frame(0, b[o:])
		return nil, false, err
	}
	main, ok = l.res.frame(l.si.mainDataBegin, b[o:])
	return main, ok, nil
}

// reset forgets the stream's state: after a gap, the bit reservoir of
// the frames before it is lost.
func (l *layer3) reset() { l.res.reset() }
