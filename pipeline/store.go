package pipeline

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Store keeps finished encodings (stored tracks, see Library) by name, so
// that a process plays them again without encoding them. DirStore keeps
// them in a directory; an object store (S3-compatible, read by range)
// fits the same interface, so that many processes share one set of
// encodings. A Store is safe for concurrent use.
type Store interface {
	// Open returns the blob called name, or an error wrapping
	// fs.ErrNotExist if there is none.
	Open(ctx context.Context, name string) (Blob, error)
	// Create returns a writer of a new blob called name, which no Open
	// sees until its Commit has returned nil: a blob is whole or absent,
	// whatever happens to the process while it is written.
	Create(ctx context.Context, name string) (BlobWriter, error)
	// Remove removes the blob called name; removing a blob that is not
	// there is no error.
	Remove(ctx context.Context, name string) error
}

// Blob is a stored blob being read: its bytes by range, and its size.
type Blob interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// BlobStreamer is a Blob that also reads a range of itself in order,
// better than by ReadAt calls one after another: a blob of an object
// store fetches the bytes ahead of the reads, by range, several at once.
// The Library reads a stored track's data through it when its Blob has
// it (a type assertion, as io.Copy looks for WriterTo): the track's cache
// from the data's first byte, and a Queue's seek past what the cache has
// read from the block of its target, so that one blob may have several
// streams open at once, each read by a goroutine of its own.
type BlobStreamer interface {
	Blob
	// Stream returns a reader of the n bytes at off, in order, ending
	// with io.EOF after them (io.ErrUnexpectedEOF, or the store's error,
	// if they cannot all be read). It may start fetching at once. The
	// reader belongs to one goroutine, but its Close may be called from
	// another while a Read is in progress, and makes that Read return;
	// Close stops any fetching ahead and waits for it. The Blob's Close
	// comes after the stream's.
	Stream(off, n int64) io.ReadCloser
}

// BlobWriter writes a new blob. Exactly one of Commit and Abort must be
// called; Commit makes the blob visible (replacing one of that name), or
// reports why it could not. A store shared by many processes may instead
// keep a blob of that name that another process committed first, and
// return nil: a name is one key's encoding, whichever process wrote it.
type BlobWriter interface {
	io.Writer
	Commit() error
	Abort() error
}

// ErrStoreFull is returned by a DirStore's Commit for a blob larger than
// its whole budget, which it does not keep.
var ErrStoreFull = errors.New("pipeline: blob larger than the store's budget")

// DirStore is a Store in a directory, with a byte budget: after each
// Commit, the least recently opened or written files are removed until
// the directory is within it. Each blob is one file, its name and
// ".sct"; a blob is written to a temporary file, synced and renamed, so
// that a crash leaves either the whole file or none (temporary files left
// by a crash are removed by NewDirStore). Opening a file marks it used
// (its modification time), so the order survives restarts. Only files
// ending in ".sct" are the store's: anything else in the directory is left
// alone, and not counted.
type DirStore struct {
	dir    string
	budget int64

	mu    sync.Mutex // guards the fields below
	files map[string]*dirFile
	lru   fileHeap
	bytes int64
	clock func() time.Time
}

type dirFile struct {
	name string
	size int64
	used time.Time
	at   int // its place in the heap
}

const (
	storeExt = ".sct"
	storeTmp = ".sct.tmp-"
)

// NewDirStore returns a store in dir, made if need be, of at most budget
// bytes (0: no bound). It removes the temporary files a crash may have
// left, and counts the files there.
func NewDirStore(dir string, budget int64) (*DirStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &DirStore{dir: dir, budget: max(budget, 0), files: map[string]*dirFile{}, clock: time.Now}
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.Contains(n, storeTmp):
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		case strings.HasSuffix(n, storeExt) && e.Type().IsRegular():
			info, err := e.Info()
			if err != nil {
				continue // removed since
			}
			d.addLocked(strings.TrimSuffix(n, storeExt), info.Size(), info.ModTime())
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.trimLocked("")
	return d, nil
}

// Dir returns the store's directory.
func (d *DirStore) Dir() string { return d.dir }

// Bytes returns the bytes of the store's files.
func (d *DirStore) Bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bytes
}

// Len returns the number of the store's files.
func (d *DirStore) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.files)
}

func checkName(name string) error {
	if name == "" || len(name) > 200 || strings.ContainsAny(name, `/\`+"\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("pipeline: bad blob name %q", name)
	}
	return nil
}

func (d *DirStore) path(name string) string { return filepath.Join(d.dir, name+storeExt) }

// Open opens the file of name and marks it used.
func (d *DirStore) Open(ctx context.Context, name string) (Blob, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			d.forget(name)
		}
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	now := d.clock()
	_ = os.Chtimes(d.path(name), time.Time{}, now) // the order across restarts; best effort
	d.mu.Lock()
	if df, ok := d.files[name]; ok {
		df.used = now
		heap.Fix(&d.lru, df.at)
	} else {
		d.addLocked(name, info.Size(), now)
	}
	d.mu.Unlock()
	return fileBlob{f, info.Size()}, nil
}

type fileBlob struct {
	*os.File
	size int64
}

func (b fileBlob) Size() int64 { return b.size }

// Create returns a writer of a temporary file in the directory, renamed to
// name's file by Commit.
func (d *DirStore) Create(ctx context.Context, name string) (BlobWriter, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(d.dir, name+storeTmp+"*")
	if err != nil {
		return nil, err
	}
	return &dirWriter{d: d, name: name, f: f}, nil
}

type dirWriter struct {
	d    *DirStore
	name string
	f    *os.File
	n    int64
	done bool
}

func (w *dirWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, os.ErrClosed
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	return n, err
}

// Commit syncs the file, renames it to its name and syncs the directory.
func (w *dirWriter) Commit() error {
	if w.done {
		return os.ErrClosed
	}
	w.done = true
	tmp := w.f.Name()
	if w.d.budget > 0 && w.n > w.d.budget {
		w.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%w: %d bytes, the budget is %d", ErrStoreFull, w.n, w.d.budget)
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, w.d.path(w.name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if dir, err := os.Open(w.d.dir); err == nil {
		_ = dir.Sync() // the rename itself, durable; not every system can
		dir.Close()
	}
	d := w.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.files[w.name]; ok {
		d.removeLocked(old)
	}
	d.addLocked(w.name, w.n, d.clock())
	d.trimLocked(w.name)
	return nil
}

// Abort removes the temporary file.
func (w *dirWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

// Remove removes the file of name.
func (d *DirStore) Remove(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := os.Remove(d.path(name))
	d.forget(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (d *DirStore) forget(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if df, ok := d.files[name]; ok {
		d.removeLocked(df)
	}
}

func (d *DirStore) addLocked(name string, size int64, used time.Time) {
	df := &dirFile{name: name, size: size, used: used}
	d.files[name] = df
	heap.Push(&d.lru, df)
	d.bytes += size
}

func (d *DirStore) removeLocked(df *dirFile) {
	heap.Remove(&d.lru, df.at)
	delete(d.files, df.name)
	d.bytes -= df.size
}

// trimLocked removes the least recently used files until the store is
// within its budget, keeping keep.
func (d *DirStore) trimLocked(keep string) {
	var kept *dirFile
	for d.budget > 0 && d.bytes > d.budget && d.lru.Len() > 0 {
		df := heap.Pop(&d.lru).(*dirFile)
		if df.name == keep {
			kept = df
			continue
		}
		delete(d.files, df.name)
		d.bytes -= df.size
		os.Remove(d.path(df.name))
	}
	if kept != nil {
		heap.Push(&d.lru, kept)
	}
}

// fileHeap orders files by last use, the oldest first.
type fileHeap []*dirFile

func (h fileHeap) Len() int           { return len(h) }
func (h fileHeap) Less(i, j int) bool { return h[i].used.Before(h[j].used) }
func (h fileHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}
func (h *fileHeap) Push(x any) {
	df := x.(*dirFile)
	df.at = len(*h)
	*h = append(*h, df)
}
func (h *fileHeap) Pop() any {
	old := *h
	df := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return df
}
