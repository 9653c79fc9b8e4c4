package framed

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Reader reads the records of a framed stream from an io.Reader (a file, a
// catcher.Reader, a network connection), copying each packet into a buffer
// of its own that grows to the largest packet it has read. Over an
// io.Seeker it can resume at any record boundary with SeekRecord. For
// listeners of a cached stream, a Cursor reads the same packets without a
// copy or a buffer. A Reader is not safe for concurrent use.
type Reader struct {
	r      io.Reader
	prefix [PrefixSize]byte
	buf    []byte
}

// NewReader returns a reader of the records in r.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

type contextReader interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
}

// ReadPacket returns the next packet, valid until the next call. Errors:
// io.EOF at the end of the stream (between records);
// io.ErrUnexpectedEOF, wrapped, if it ends inside a record; ErrCorrupt,
// wrapped, for a length prefix out of range; or the reader's error.
func (pr *Reader) ReadPacket() ([]byte, error) {
	return pr.ReadPacketContext(context.Background())
}

// ReadPacketContext is ReadPacket with a context that ends a wait for
// bytes, when the underlying reader has a ReadContext method (as a
// catcher.Reader has). A record cut short by ctx leaves the reader in the
// middle of it: seek back to the record before reading on.
func (pr *Reader) ReadPacketContext(ctx context.Context) ([]byte, error) {
	if _, err := pr.readFull(ctx, pr.prefix[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("framed: stream ends inside a length prefix: %w", io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	n := int(binary.LittleEndian.Uint16(pr.prefix[:]))
	if n < 1 || n > opus.MaxPacketSize {
		return nil, fmt.Errorf("%w: record length %d", ErrCorrupt, n)
	}
	if cap(pr.buf) < n {
		pr.buf = make([]byte, n)
	}
	p := pr.buf[:n]
	if _, err := pr.readFull(ctx, p); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("framed: stream ends inside a %d-byte packet: %w", n, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	return p, nil
}

func (pr *Reader) readFull(ctx context.Context, p []byte) (int, error) {
	cr, ok := pr.r.(contextReader)
	if !ok {
		return io.ReadFull(pr.r, p)
	}
	done := 0
	for done < len(p) {
		n, err := cr.ReadContext(ctx, p[done:])
		done += n
		if err != nil {
			if err == io.EOF && done > 0 {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}

// SeekRecord moves to the record at byte offset off (an Entry's Offset).
// The underlying reader must be an io.Seeker.
func (pr *Reader) SeekRecord(off int64) error {
	s, ok := pr.r.(io.Seeker)
	if !ok {
		return fmt.Errorf("framed: Reader over %T cannot seek", pr.r)
	}
	_, err := s.Seek(off, io.SeekStart)
	return err
}
