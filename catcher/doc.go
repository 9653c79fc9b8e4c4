// Package catcher is a shared, seekable, almost-lockless cache over a
// one-way stream.
//
// A Catcher reads its source once, on demand, and keeps what it read in
// memory; any number of goroutines read it through their own Readers, each at
// its own position, seeking freely. A file, a decoder or a command's output
// is read (and transformed) once however many readers it has.
//
//	c := catcher.New(src)
//	defer c.Close()
//	r := c.NewReader() // one per goroutine; r.Clone() for another at the same place
//	io.Copy(dst, r)
//
// # Storage
//
// The cache is a rope: a list of chunks allocated as the stream grows, sized
// by a Growth strategy (Constant, Linear, Geometric) and, for the first, by
// an optional length hint. No chunk is moved or copied while the stream
// grows. Bytes below the published length never change, so reading them
// takes no lock: a reader loads the published snapshot (length, chunk list,
// transform state) with one atomic load and copies. A Reader remembers its
// chunk, so sequential reads are O(1); a seek costs O(log chunks).
//
// # Filling and waiting
//
// Bytes not yet cached are read by a fill goroutine that the Catcher starts
// when someone waits for them; it reads on to the read-ahead past the
// furthest satisfied wait, publishing as it goes, then exits. One fills at
// a time. A reader waiting for bytes sleeps (no spinning, no goroutine of
// its own) and is woken only when its byte is published, and its context
// can end the wait even while the source is blocked in Read; a wait that
// ends so leaves no demand behind. Catcher.Ready gives a channel for
// callers that must never block; Preload and Load read ahead without
// readers.
//
// # Lending
//
// Catcher.View lends cached bytes without a copy: the slice is the cache's
// own memory, valid for as long as it is held (chunks never move, cached
// bytes never change), so a consumer of whole units, such as a packet
// cursor, needs no buffer of its own.
//
// # Ends and errors
//
// A clean end of the source is io.EOF for every reader that reaches it. A
// source error is kept and returned to every reader that reaches its offset;
// the bytes before it stay readable. WithMaxBytes ends an over-long stream
// with ErrTooLong; WithWindow keeps only the newest bytes of an endless one
// (readers left behind get ErrEvicted); Close releases the source and the
// memory, and readers then get ErrClosed. Done is a channel closed at the
// end, whichever it is.
//
// When the stream ends, the Catcher releases what only the fill needed:
// the source (closed, if it is an io.Closer), the transform and its
// buffers. Stats.Resident counts every byte the Catcher holds, chunks,
// scratch, the transform's memory while it runs (see Sizer) and then its
// state, so that a byte budget can rest on it.
//
// # Transforms
//
// A Transform runs inside the fill, so its output (decoded audio, framed
// packets) is computed once and cached. Its contract lists each legal
// return; MinSpace keeps its units whole within a chunk; a Stater's state is
// published with the length so that it can be read lock-free at any time,
// and StateOf reads it typed. Chain composes transforms, Deferred builds
// one inside the fill from the stream's first bytes (so New never reads
// the source), and NewTransformReader runs one without a cache.
package catcher
