package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// Create returns a writer of the object of name, which keeps what is
// written in memory, a part at a time (WithPartSize). Nothing is visible
// before Commit: a blob of one part is put whole by Commit; a larger one
// is a multipart upload, its parts uploaded as they fill, completed by
// Commit, aborted by Abort or a Commit that fails, so that an object is
// whole or absent. Commit asks for the object only if the key has none
// (If-None-Match: *): of processes that commit one key at once, the first
// writes it and the others keep it (Stats.Kept), since a key's encodings
// are one track. A server that does not do conditional writes (501) gets
// plain ones, where the last writer wins and each object is still whole.
// The writer's requests use ctx. With a budget (WithBudget), a blob
// larger than the whole of it is refused (pipeline.ErrStoreFull, from
// the Write that passes it, and Commit), and each object written starts
// a trim in the background.
func (s *Store) Create(ctx context.Context, name string) (pipeline.BlobWriter, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return &writer{s: s, ctx: ctx, name: name, key: s.Key(name)}, nil
}

// writer is a blob being written. It belongs to one goroutine.
type writer struct {
	s     *Store
	ctx   context.Context
	name  string
	key   string
	n     int64        // bytes written
	buf   bytes.Buffer // the part being filled
	id    string       // the multipart upload's, once begun
	parts []minio.CompletePart
	done  bool
	err   error // the first failed part's
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if b := w.s.cfg.budget; b > 0 && w.n+int64(len(p)) > b {
		w.err = fmt.Errorf("%w: %s: more than %d bytes", pipeline.ErrStoreFull, w.key, b)
		return 0, w.err
	}
	w.n += int64(len(p))
	n := 0
	for len(p) > 0 {
		k := min(len(p), int(w.s.cfg.partSize)-w.buf.Len())
		w.buf.Write(p[:k])
		p, n = p[k:], n+k
		if w.buf.Len() == int(w.s.cfg.partSize) {
			if err := w.upload(); err != nil {
				w.err = err
				return n, err
			}
		}
	}
	return n, nil
}

// upload sends the part filled, beginning the multipart upload first if
// it is the first part.
func (w *writer) upload() error {
	s := w.s
	if w.id == "" {
		err := s.do(w.ctx, "beginning the upload of "+w.key, func(ctx context.Context) error {
			var err error
			w.id, err = s.core.NewMultipartUpload(ctx, s.bucket, w.key, minio.PutObjectOptions{})
			return err
		})
		if err != nil {
			return err
		}
	}
	num := len(w.parts) + 1
	data := w.buf.Bytes()
	err := s.do(w.ctx, fmt.Sprintf("uploading part %d of %s", num, w.key), func(ctx context.Context) error {
		p, err := s.core.PutObjectPart(ctx, s.bucket, w.key, w.id, num, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
		if err == nil {
			w.parts = append(w.parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		}
		return err
	})
	if err != nil {
		return err
	}
	w.buf.Reset()
	return nil
}

// Commit puts the object, or completes its multipart upload: see Create.
func (w *writer) Commit() error {
	if w.done {
		return ErrClosed
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.commit()
	}
	if err != nil && w.id != "" {
		w.abort()
	}
	return err
}

func (w *writer) commit() error {
	s := w.s
	if w.id != "" && w.buf.Len() > 0 {
		if err := w.upload(); err != nil {
			return err
		}
	}
	for {
		conditional := !s.unconditional.Load()
		var opts minio.PutObjectOptions
		if conditional {
			opts.SetMatchETagExcept("*")
		}
		var err error
		if w.id == "" {
			data := w.buf.Bytes()
			err = s.do(w.ctx, "putting "+w.key, func(ctx context.Context) error {
				_, err := s.core.PutObject(ctx, s.bucket, w.key, bytes.NewReader(data), int64(len(data)), "", "", opts)
				return err
			})
		} else {
			err = s.do(w.ctx, "completing the upload of "+w.key, func(ctx context.Context) error {
				_, err := s.core.CompleteMultipartUpload(ctx, s.bucket, w.key, w.id, w.parts, opts)
				return err
			})
		}
		switch {
		case err == nil:
			s.stats.uploads.Add(1)
			if w.id != "" {
				s.stats.multipart.Add(1)
			}
			s.trimSoon()
			return nil
		case errors.Is(err, errPrecondition) && conditional:
			// Another process wrote the key first: its object is this
			// key's encoding too, and whole.
			s.stats.kept.Add(1)
			if w.id != "" {
				w.abort()
				w.id = ""
			}
			s.used(w.name) // an encoding of it wanted here, of the one there
			return nil
		case errors.Is(err, errNotImplemented) && conditional:
			s.unconditional.Store(true)
			continue
		}
		return err
	}
}

// Abort aborts the multipart upload, if one was begun.
func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = bytes.Buffer{}
	if w.id == "" {
		return nil
	}
	return w.abort()
}

// abort aborts the upload, on a context of its own: the writer's may have
// ended, and an upload left would stay on the server.
func (w *writer) abort() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), time.Minute)
	defer cancel()
	return w.s.abort(ctx, w.key, w.id)
}
