package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// Open fetches the first bytes of the object of name (WithHeadSize: a
// stored track's header, index and checksums, and its first data block,
// for a track of some minutes) with one ranged
// GET, which tells its size and ETag too; the blob's reads then fetch by
// range, each asking for that ETag, so that an object replaced or
// removed meanwhile is ErrChanged, never spliced. The blob's reads use
// ctx: the Library's, which its Close ends. An object that is not there
// is an error wrapping fs.ErrNotExist. With a budget, the blob's use is
// recorded once its first bytes have been served, not before (at its
// stream's second Read, a read past the bytes Open fetched, or its
// Close), so that the marker's put does not run beside a track's first
// packet.
func (s *Store) Open(ctx context.Context, name string) (pipeline.Blob, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	b := &blob{s: s, ctx: ctx, name: name, key: s.Key(name)}
	err := s.do(ctx, "reading "+b.key, func(ctx context.Context) error {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(0, s.cfg.head-1); err != nil {
			return err
		}
		body, info, h, err := s.core.GetObject(ctx, s.bucket, b.key, opts)
		if err != nil {
			var er minio.ErrorResponse
			if errors.As(err, &er) && er.Code == "InvalidRange" { // an empty object
				b.size, b.etag, b.head = 0, "", nil
				return nil
			}
			return err
		}
		defer body.Close()
		size, err := totalSize(h.Get("Content-Range"), info.Size)
		if err != nil {
			return err
		}
		head := make([]byte, min(size, s.cfg.head))
		if err := readFull(body, head); err != nil {
			return err
		}
		b.size, b.etag, b.head = size, info.ETag, head
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// totalSize reads an object's size from a Content-Range header, "bytes
// 0-65535/1234567"; without one, the whole object was sent, of n bytes.
func totalSize(cr string, n int64) (int64, error) {
	if cr == "" {
		return n, nil
	}
	i := strings.LastIndexByte(cr, '/')
	size, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if i < 0 || err != nil || size < 0 {
		return 0, fmt.Errorf("%w: Content-Range %q", ErrRefused, cr)
	}
	return size, nil
}

// blob is an object being read. Its fields are set by Open and then only
// read: ReadAt may be called in parallel.
type blob struct {
	s    *Store
	ctx  context.Context
	name string
	key  string
	etag string // asked for by every read; "" for an empty object
	size int64
	head []byte // the object's first bytes
}

var _ pipeline.BlobStreamer = (*blob)(nil)

func (b *blob) Size() int64 { return b.size }

// Close records the blob's use (WithBudget), if its reads have not: a
// blob's use is recorded after its first bytes are served, not before.
func (b *blob) Close() error {
	b.s.used(b.name)
	return nil
}

// ReadAt reads len(p) bytes at off: from the bytes Open fetched if they
// are there, else by a ranged GET.
func (b *blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3store: negative offset %d", off)
	}
	if off >= b.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.size-off))
	if err := b.read(b.ctx, p[:n], off); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// read fills p, within the object, from off.
func (b *blob) read(ctx context.Context, p []byte, off int64) error {
	if off+int64(len(p)) <= int64(len(b.head)) {
		copy(p, b.head[off:])
		return nil
	}
	err := b.s.do(ctx, fmt.Sprintf("reading %s bytes %d to %d", b.key, off, off+int64(len(p))), func(ctx context.Context) error {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(off, off+int64(len(p))-1); err != nil {
			return err
		}
		if err := opts.SetMatchETag(b.etag); err != nil {
			return err
		}
		body, _, _, err := b.s.core.GetObject(ctx, b.s.bucket, b.key, opts)
		if err != nil {
			return err
		}
		defer body.Close()
		return readFull(body, p)
	})
	if errors.Is(err, errPrecondition) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s: %w", ErrChanged, b.key, err)
	}
	if err == nil {
		b.s.used(b.name) // a blob read for longer than the grace period stays used
	}
	return err
}

// Stream returns a reader of the n bytes at off that gives first those
// of them that Open fetched, then fetches the others by ranges of the
// store's chunk size, several at once ahead of the reads (WithReadAhead),
// each range tried again on its own. The first ranges are smaller (a
// quarter of a chunk, then half), so that the first bytes come sooner.
// No fetch begins before the first Read has returned: a stored track's
// first block, which Open fetched, is checked and served without the
// fetches of the blocks after it running meanwhile.
func (b *blob) Stream(off, n int64) io.ReadCloser {
	n = max(min(n, b.size-off), 0)
	ctx, cancel := context.WithCancel(b.ctx)
	first := min(b.s.cfg.chunk, max(b.s.cfg.chunk/4, 4<<10))
	s := &stream{b: b, end: off + n, next: off, size: first, ctx: ctx, cancel: cancel}
	if off < int64(len(b.head)) && n > 0 {
		s.cur = b.head[off:min(int64(len(b.head)), off+n)]
		s.next += int64(len(s.cur))
		s.held = true
	}
	return s
}

// stream reads a range of a blob in order, fetching ahead. Read belongs
// to one goroutine; Close may be called from another meanwhile.
type stream struct {
	b      *blob
	end    int64 // the range's end
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex     // guards closed, and wg's Adds against its Wait
	closed  bool           // Close has been called: no more fetches start
	wg      sync.WaitGroup // the fetches
	pending []chan fetched // the fetches begun and not yet read, in order; the reader's alone
	next    int64          // the offset of the next fetch to begin; the reader's alone
	size    int64          // the size of the next fetch: a quarter of a chunk at first, doubled at each one up to a chunk; the reader's alone
	cur     []byte         // what is left of the chunk being read (at first, of the bytes Open fetched: read only); the reader's alone
	held    bool           // no fetch is begun before the first Read has returned; the reader's alone
	marked  bool           // the blob's use recorded, at the first Read after the first bytes; the reader's alone
	err     error          // the error that ended the stream; the reader's alone
}

type fetched struct {
	b   []byte
	err error
}

func (s *stream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.held {
		s.held = false // the next Read begins the fetches, and records the use
	} else {
		if !s.marked {
			s.marked = true
			s.b.s.used(s.b.name)
		}
		if len(s.cur) > 0 {
			s.fill()
		}
	}
	if len(s.cur) == 0 {
		s.fill()
		if len(s.pending) == 0 {
			if s.ctx.Err() != nil {
				s.err = ErrClosed
				return 0, s.err
			}
			s.err = io.EOF
			return 0, io.EOF
		}
		select {
		case f := <-s.pending[0]:
			s.pending = s.pending[1:]
			if f.err != nil {
				s.err = f.err
				return 0, f.err
			}
			s.cur = f.b
			s.fill()
		case <-s.ctx.Done():
			s.err = ErrClosed
			return 0, s.err
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// fill begins fetches until as many as the store's read-ahead are
// pending, or the range is all asked for.
func (s *stream) fill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.pending) < s.b.s.cfg.ahead && s.next < s.end {
		at, n := s.next, min(s.size, s.end-s.next)
		s.next += n
		s.size = min(2*s.size, s.b.s.cfg.chunk)
		ch := make(chan fetched, 1)
		s.pending = append(s.pending, ch)
		s.wg.Go(func() {
			buf := make([]byte, n)
			err := s.b.read(s.ctx, buf, at)
			ch <- fetched{buf, err}
		})
	}
}

// Close stops the fetches, and waits for them.
func (s *stream) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
