package catcher

import "sort"

// chunk is one piece of the cache. buf is allocated at its full size and
// never moved. Bytes of buf below the published length are immutable; the
// filler writes only above it.
type chunk struct {
	start int64 // offset in the stream of buf[0]; immutable
	buf   []byte
}

// rope is the list of chunks at one moment. A rope is immutable once
// published: the filler makes a new one whenever a chunk is added, dropped
// or replaced. Chunk i holds stream offsets [chunks[i].start,
// chunks[i+1].start); the last chunk holds [start, snapshot.n).
type rope struct {
	chunks []*chunk
}

// oldest is the first offset the rope still holds, or n if it holds none.
func (r *rope) oldest(n int64) int64 {
	if len(r.chunks) == 0 {
		return n
	}
	return r.chunks[0].start
}

// find returns the index of the chunk holding off, which must be in
// [oldest, n). hint is an index to try first (a handle's last chunk), so
// that sequential reads do not search.
func (r *rope) find(off int64, hint int) int {
	cs := r.chunks
	if hint >= 0 && hint < len(cs) && cs[hint].start <= off {
		if hint+1 == len(cs) || off < cs[hint+1].start {
			return hint
		}
		if hint+2 == len(cs) || off < cs[hint+2].start {
			return hint + 1
		}
	}
	// The first chunk whose successor starts after off.
	return sort.Search(len(cs)-1, func(i int) bool { return cs[i+1].start > off })
}

// end is the stream offset just past chunk i's bytes in a snapshot of n
// bytes.
func (r *rope) end(i int, n int64) int64 {
	if i+1 < len(r.chunks) {
		return r.chunks[i+1].start
	}
	return n
}

// copyAt copies bytes from offset off into p, up to n, the published length,
// starting the search at chunk hint. It returns the bytes copied and the
// index of the chunk it ended in. off must be in [oldest, n).
func (r *rope) copyAt(p []byte, off, n int64, hint int) (int, int) {
	i := r.find(off, hint)
	done := 0
	for {
		c := r.chunks[i]
		end := r.end(i, n)
		k := copy(p[done:], c.buf[off-c.start:end-c.start])
		done += k
		off += int64(k)
		if done == len(p) || off >= n {
			return done, i
		}
		i++
	}
}
