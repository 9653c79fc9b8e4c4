package wav

import (
	"errors"
	"fmt"
	"io"
)

// Seek returns a decoder of the WAV stream src (read from its start) whose
// output starts at frame: the stream's output from there on, to the same
// end. It reads the header, then moves past the frames before frame
// without reading them where src is an io.Seeker that can seek (a file,
// an HTTP source served by range): one seek to the header's end plus
// whole frames; else it reads and drops them. It returns the frame the
// output starts at, which is frame (0 for a negative one).
//
// Errors: ReadHeader's; a frame past the end the data chunk declares, an
// error wrapping io.EOF; a source that ends before frame, one wrapping
// io.ErrUnexpectedEOF; the source's.
func Seek(src io.Reader, frame int64) (*Decoder, int64, error) {
	d := NewDecoder()
	if _, err := d.ReadHeader(src); err != nil {
		return nil, 0, err
	}
	frame = max(frame, 0)
	if d.info.Length >= 0 && frame > d.info.Length {
		return nil, 0, fmt.Errorf("wav: seek to frame %d past the end of %d: %w", frame, d.info.Length, io.EOF)
	}
	n := frame * int64(d.body.in)
	if n == 0 {
		return d, 0, nil
	}
	// The header has been read to the first sample and no further
	// (readHeader reads exactly its chunks), so the offset sought is the
	// current one plus n.
	sought := false
	if s, ok := src.(io.Seeker); ok {
		if _, err := s.Seek(n, io.SeekCurrent); err == nil {
			sought = true
		}
		// A seeker that cannot (a pipe's file, an HTTP source without
		// ranges) leaves its offset as it was: read instead.
	}
	if !sought {
		if m, err := io.CopyN(io.Discard, src, n); err != nil {
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, 0, fmt.Errorf("wav: the input ends %d bytes into the %d before frame %d: %w", m, n, frame, io.ErrUnexpectedEOF)
			}
			return nil, 0, err
		}
	}
	if d.body.left >= 0 {
		d.body.left -= n
	}
	return d, frame, nil
}
