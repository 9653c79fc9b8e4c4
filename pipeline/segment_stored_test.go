//go:build cgo

package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
	"github.com/streamcatcher/streamcatcher/transform"
)

// span is a range of a stored file's bytes that a store was asked for.
type span struct{ off, end int64 }

// spans keeps the ranges a store was asked for.
type spans struct {
	mu  sync.Mutex // guards all
	all []span
}

func (s *spans) add(off, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, span{off, off + n})
}

func (s *spans) get() []span {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.all)
}

// readsIn returns the ranges of rs that have a byte in [from, to).
func readsIn(rs []span, from, to int64) []span {
	var in []span
	for _, r := range rs {
		if r.off < to && r.end > from {
			in = append(in, r)
		}
	}
	return in
}

// readFrom returns the end of the bytes from off on that rs cover
// without a gap.
func readFrom(rs []span, off int64) int64 {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b span) int { return int(a.off - b.off) })
	for _, r := range rs {
		if r.off <= off {
			off = max(off, r.end)
		}
	}
	return off
}

// countingStore is a Store whose blobs' ReadAt calls are kept (its
// blobs do not stream: a DirStore's do not).
type countingStore struct {
	pipeline.Store
	reads *spans
}

func (s countingStore) Open(ctx context.Context, name string) (pipeline.Blob, error) {
	b, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return countingBlob{Blob: b, reads: s.reads}, nil
}

type countingBlob struct {
	pipeline.Blob
	reads *spans
}

func (b countingBlob) ReadAt(p []byte, off int64) (int, error) {
	b.reads.add(off, int64(len(p)))
	return b.Blob.ReadAt(p, off)
}

// rangeProxy is a reverse proxy in front of an S3 server that keeps the
// ranges that GETs of an object ask for, as they are asked, and flips a
// byte of the object (at damage, if not negative) in the responses that
// hold it: an object store whose copy of a track has one bad byte, which
// it serves by range.
type rangeProxy struct {
	srv    *httptest.Server
	reads  spans
	object string // the path's suffix of the object whose reads are kept
	damage int64
}

func newRangeProxy(t *testing.T, upstream, object string, damage int64) *rangeProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	require.NoError(t, err)
	p := &rangeProxy{object: object, damage: damage}
	rt := &http.Transport{}
	rp := &httputil.ReverseProxy{
		Transport: rt,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // the host the request was signed for
			p.asked(r.In)
		},
		ModifyResponse: p.modify,
		ErrorLog:       log.New(io.Discard, "", 0), // the reads a closed stream cancels
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(func() {
		p.srv.Close()
		rt.CloseIdleConnections()
	})
	return p
}

// asked keeps the range a GET of the object asks for ("bytes=a-b"; the
// s3store asks for one in every GET).
func (p *rangeProxy) asked(r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, p.object) {
		return
	}
	a, b, ok := strings.Cut(strings.TrimPrefix(r.Header.Get("Range"), "bytes="), "-")
	from, err1 := strconv.ParseInt(a, 10, 64)
	to, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		p.reads.add(0, 1<<62) // the whole object, as far as this test is concerned
		return
	}
	p.reads.add(from, to+1-from)
}

// modify damages a response that holds the byte at damage.
func (p *rangeProxy) modify(res *http.Response) error {
	r := res.Request
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, p.object) || res.StatusCode/100 != 2 {
		return nil
	}
	off := int64(0)
	if cr := res.Header.Get("Content-Range"); cr != "" { // "bytes a-b/size"
		a, _, _ := strings.Cut(strings.TrimPrefix(cr, "bytes "), "-")
		v, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return fmt.Errorf("Content-Range %q: %w", cr, err)
		}
		off = v
	}
	if p.damage < off || p.damage >= off+res.ContentLength {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	body[p.damage-off] ^= 0x10
	res.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// storedLong is a stored track of 40 s of noise (raw PCM), several
// dozen 64 KiB blocks: its key, its Library option, the opener, the
// stored file's bytes, its packets and the file's layout.
type storedLong struct {
	key  pipeline.Key
	raw  pipeline.LibraryOption
	o    *opener
	file []byte
	want [][]byte
	l    layout
}

func newStoredLong(t *testing.T) storedLong {
	t.Helper()
	s := storedLong{key: pipeline.Key{Source: "long"}, o: newOpener(t)}
	s.raw = pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}))
	s.o.data["long"] = noise(40)
	_, path, want := storeOf(t, s.o, s.key, s.raw)
	file, err := os.ReadFile(path)
	require.NoError(t, err)
	s.file, s.want, s.l = file, want, layoutOf(t, file)
	return s
}

// recordAt is the offset of packet i's record in the stored file.
func (s storedLong) recordAt(i int) int64 {
	off := int64(s.l.data)
	for _, p := range s.want[:i] {
		off += 2 + int64(len(p))
	}
	return off
}

// blockOf is the offset in the stored file of the 64 KiB data block that
// holds the byte at off.
func (s storedLong) blockOf(off int64) int64 {
	return int64(s.l.data) + (off-int64(s.l.data))/65536*65536
}

// A stored store's copy of the track, for each store: a DirStore whose
// blobs' reads are kept, and an S3 bucket (versitygw) behind a proxy
// that keeps the ranges asked for and, damage if not negative, serves
// that byte of the file flipped.
func storedStores(t *testing.T, s storedLong, damage int64) map[string]func(*testing.T) (pipeline.Store, func() []span) {
	return map[string]func(*testing.T) (pipeline.Store, func() []span){
		"dirstore": func(t *testing.T) (pipeline.Store, func() []span) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, s.key.StoreName()+".sct"), s.file, 0o644))
			ds, err := pipeline.NewDirStore(dir, 0)
			require.NoError(t, err)
			reads := &spans{}
			var store pipeline.Store = countingStore{Store: ds, reads: reads}
			if damage >= 0 {
				store = changingStore{Store: store, at: damage}
			}
			return store, reads.get
		},
		"s3": func(t *testing.T) (pipeline.Store, func() []span) {
			srv := s3test.Start(t)
			bucket := srv.Bucket(t)
			put := newS3(t, srv.Endpoint(), bucket)
			w, err := put.Create(context.Background(), s.key.StoreName())
			require.NoError(t, err)
			_, err = w.Write(s.file)
			require.NoError(t, err)
			require.NoError(t, w.Commit())
			p := newRangeProxy(t, srv.Endpoint(), "/"+s.key.StoreName()+".sct", damage)
			return newS3(t, p.srv.URL, bucket), p.reads.get
		},
	}
}

// newS3 is an S3 Store of bucket at endpoint that reads by small ranges:
// Open fetches 64 KiB (the file's parts before its data, and its first
// bytes of data), then ranges of up to 16 KiB, three ahead.
func newS3(t *testing.T, endpoint, bucket string) *s3store.Store {
	t.Helper()
	s, err := s3store.New(endpoint, bucket,
		s3store.WithCredentials(s3test.AccessKey, s3test.SecretKey),
		s3store.WithRetry(4, 10*time.Millisecond, 200*time.Millisecond),
		s3store.WithReadAhead(16<<10, 3),
		s3store.WithHeadSize(64<<10))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// storedQueue is a Queue on a Library of a store, whose tracks' caches
// are paced on a clock that does not move unless the test moves it: s's
// track enqueued, its first packet given, and the track held (h).
type storedQueue struct {
	clock *pipeline.FakeClock
	lib   *pipeline.Library
	q     *pipeline.Queue
	id    pipeline.EntryID
	first pipeline.Packet
	h     *pipeline.Hold
	ended []pipeline.Event // the queue's EventEnded, if asked for (then it ends when empty)
}

func startStoredQueue(t *testing.T, s storedLong, store pipeline.Store, ends bool) *storedQueue {
	t.Helper()
	sq := &storedQueue{clock: pipeline.NewFakeClock(time.Unix(0, 0))}
	sq.lib = newLibrary(t, s.o, s.raw, pipeline.WithStore(store), pipeline.WithStoreReadAhead(25, sq.clock))
	var opts []pipeline.QueueOption
	if ends {
		opts = append(opts, pipeline.WithEndWhenEmpty(), pipeline.WithEventFunc(func(ev pipeline.Event) {
			if ev.Kind == pipeline.EventEnded {
				sq.ended = append(sq.ended, ev)
			}
		}))
	}
	sq.q = pipeline.NewQueue(sq.lib, opts...)
	sq.id = sq.q.Enqueue(s.key)
	sq.first = nextPacket(t, sq.q)
	h, err := sq.lib.Get(context.Background(), s.key)
	require.NoError(t, err)
	sq.h = h
	return sq
}

// A Queue's seek to 38 s into a stored track of 40 s, right after it is
// opened, whose cache is filled at a pace held still (a FakeClock that
// does not move: its first blocks only), is made from a segment of the
// stored records read from the store at the target's block: the packets
// after the jump are the stored ones, byte-equal, at their exact
// positions, to the track's end, where the queue's entry ends; the track's
// own cache stays where its pace left it, and the blocks between its first
// ones and the target's are never read (the DirStore's reads, the S3
// server's ranges, kept).
func TestQueueSeekStored(t *testing.T) {
	s := newStoredLong(t)
	for name, open := range storedStores(t, s, -1) {
		t.Run(name, func(t *testing.T) {
			store, reads := open(t)
			sq := startStoredQueue(t, s, store, true)
			lib, q, id, first, h := sq.lib, sq.q, sq.id, sq.first, sq.h
			defer q.Close()
			defer h.Release()
			tr := h.Track()
			require.EqualValues(t, 1, lib.Stats().DiskHits, "played from the store")

			const target = 38 * time.Second
			q.Seek(id, target)
			var (
				played []pipeline.Packet // from the jump on
				before = first.Position
				jumped bool
			)
			for deadline := time.Now().Add(time.Minute); ; {
				pk, err := q.Next()
				if err == pipeline.ErrUnderrun {
					require.False(t, time.Now().After(deadline), "the seek made, and played to the track's end")
					time.Sleep(100 * time.Microsecond)
					continue
				}
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				if !jumped && pk.Position == before+960 { // plays on where it was meanwhile
					before = pk.Position
					continue
				}
				jumped = true
				pk.Data = bytes.Clone(pk.Data)
				played = append(played, pk)
			}
			x, ok := tr.Index()
			require.True(t, ok)
			pre, u := x.PreSkip(), int64(960)
			i0 := int((int64(target/time.Millisecond)*48 + pre) / u)
			seg := i0 - 4 // the segment's first packet: the 80 ms pre-roll before the target's
			assert.Less(t, x.Packets(), seg, "the track's own cache not there: the packets came from a segment")
			assert.EqualValues(t, 1, pipeline.SegmentsMade(tr))

			require.NotEmpty(t, played)
			assert.True(t, played[0].Silence, "a silence frame in place of the target's packet")
			var silent int
			for k, pk := range played {
				if i0+k >= len(s.want) {
					require.True(t, pk.Silence, "packet %d after the jump: past the track's end, the queue's silence", k)
					silent++
					continue
				}
				require.Equal(t, int64(i0+k)*u-pre, pk.Position, "packet %d after the jump at its exact position", k)
				if k > 0 {
					require.False(t, pk.Silence || pk.Seam, "packet %d after the jump", k)
					require.Equal(t, s.want[i0+k], pk.Data, "packet %d after the jump: the stored one", k)
				}
			}
			assert.Equal(t, len(s.want)-i0, len(played)-silent, "played from the target to the track's end")
			require.Len(t, sq.ended, 1)
			assert.Equal(t, pipeline.EndFinished, sq.ended[0].Reason, "the entry ended at the track's end: %v", sq.ended[0].Err)

			// The reads: the file's first bytes on (its parts, the
			// cache's first blocks at its pace, and what the store
			// fetched ahead of them), then the segment's, from its first
			// block on; none between, four blocks at least.
			// The cache's reads ahead (an S3 stream's ranges, asked for
			// at once by goroutines of their own) may be seen out of
			// order for a moment: they are waited for.
			to := s.blockOf(s.recordAt(seg))
			var rs []span
			var prefix int64
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				rs = reads()
				prefix = readFrom(rs, 0)
				if len(readsIn(rs, prefix, to)) == 0 || time.Now().After(deadline) {
					break
				}
			}
			assert.LessOrEqual(t, prefix, to-4*65536, "the cache's reads stop four blocks or more before the target's")
			assert.Empty(t, readsIn(rs, prefix, to), "no read of the blocks before the target's but the cache's first")
			assert.NotEmpty(t, readsIn(rs, to, to+1), "the target's block read")
			t.Logf("%d reads: bytes 0 to %d, then %d to the end, %d; data from %d", len(rs), prefix, to, len(s.file), s.l.data)
			assert.Zero(t, lib.Stats().Corrupt)
		})
	}
}

// The same seek, where the store's copy has a bad byte in the target's
// block (in the payload of a packet after the target's, which the
// records' own checks against the index do not see): the segment's check
// of that block fails, and it gives no packet.
// The queue then plays on where it was, waiting for the track's own
// packets, which its cache reads in order from the store up to the bad
// block; that block fails its check there, and the entry ends with
// ErrCorruptTrack after the packets before it, each the stored one at its
// position: no packet of the bad block, nor of the target, is played. The
// Library counts the copy corrupt and removes it.
func TestQueueSeekStoredDamaged(t *testing.T) {
	s := newStoredLong(t)
	const target = 38 * time.Second
	pre := int64(312) // libopus's pre-skip, checked below
	i0 := int((int64(target/time.Millisecond)*48 + pre) / 960)
	seg := s.blockOf(s.recordAt(i0 - 4))
	damage := s.recordAt(i0+2) + 2 + int64(len(s.want[i0+2]))/2 // in the payload of a packet after the target's
	require.Equal(t, seg, s.blockOf(damage), "in the segment's first block")
	for name, open := range storedStores(t, s, damage) {
		t.Run(name, func(t *testing.T) {
			store, _ := open(t)
			sq := startStoredQueue(t, s, store, true)
			lib, q, id, first, h := sq.lib, sq.q, sq.id, sq.first, sq.h
			defer q.Close()
			tr := h.Track()
			x, _ := tr.Index()
			require.Equal(t, pre, x.PreSkip())

			q.Seek(id, target)
			played := []pipeline.Packet{first}
			for deadline := time.Now().Add(time.Minute); ; {
				pk, err := q.Next()
				if err == pipeline.ErrUnderrun {
					require.False(t, time.Now().After(deadline), "the entry ended")
					time.Sleep(100 * time.Microsecond)
					continue
				}
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				pk.Data = bytes.Clone(pk.Data)
				played = append(played, pk)
			}
			h.Release()
			require.Len(t, sq.ended, 1)
			assert.Equal(t, pipeline.EndFailed, sq.ended[0].Reason)
			assert.ErrorIs(t, sq.ended[0].Err, pipeline.ErrCorruptTrack)
			t.Logf("ended: %v", sq.ended[0].Err)
			var last int64 = -1
			for k, pk := range played {
				if pk.Silence {
					continue
				}
				i := int((pk.Position + pre) / 960)
				require.Equal(t, int64(i)*960-pre, pk.Position, "packet %d on the grid", k)
				require.Equal(t, s.want[i], pk.Data, "packet %d, the track's %d: the stored one", k, i)
				require.LessOrEqual(t, s.recordAt(i+1), seg, "packet %d, the track's %d: before the bad block", k, i)
				last = pk.Position
			}
			t.Logf("played %d packets, the last at %v; the bad block holds the track from packet %d", len(played), time.Duration(last)*time.Second/48000, i0-4)
			assert.Greater(t, last, int64(0), "the packets before the bad block played")
			eventually(t, func() bool { return lib.Stats().Corrupt == 1 }, "counted corrupt")
			assert.EqualValues(t, 1, pipeline.SegmentsMade(tr))
		})
	}
}

// A Queue's seek to 30 s into the stored track, made from a segment as
// in TestQueueSeekStored, goes back onto the track's own packets once
// the track's cache has passed the player (the clock moved on: its pace
// reads the rest), with no transition: the stream goes on packet for
// packet, each the stored one at its position, no silence frame, and the
// queue is no longer on the segment.
func TestQueueSeekStoredBack(t *testing.T) {
	s := newStoredLong(t)
	for name, open := range storedStores(t, s, -1) {
		t.Run(name, func(t *testing.T) {
			store, _ := open(t)
			sq := startStoredQueue(t, s, store, false)
			clock, q, id, first, h := sq.clock, sq.q, sq.id, sq.first, sq.h
			defer q.Close()
			defer h.Release()
			tr := h.Track()

			const target = 30 * time.Second
			q.Seek(id, target)
			before := first.Position
			for n := 0; ; n++ {
				pk := nextPacket(t, q)
				if pk.Position == before+960 {
					before = pk.Position
					require.Less(t, n, 2000, "the seek made")
					continue
				}
				require.True(t, pk.Silence, "a silence frame in place of the target's packet")
				before = pk.Position
				break
			}
			x, _ := tr.Index()
			pre := x.PreSkip()
			i0 := int((before + pre) / 960)
			require.Equal(t, int64(i0)*960-pre, before, "the target's packet")
			for k := 1; k <= 100; k++ { // from the segment
				pk := nextPacket(t, q)
				require.Equal(t, before+int64(k)*960, pk.Position, "packet %d after the jump", k)
				require.False(t, pk.Silence || pk.Seam, "packet %d after the jump", k)
				require.Equal(t, s.want[i0+k], pk.Data, "packet %d after the jump", k)
			}
			assert.Equal(t, 1, pipeline.SegmentPlayers(tr), "on the segment")
			x, _ = tr.Index()
			require.Less(t, x.Packets(), i0, "the cache not there yet")

			clock.Advance(time.Minute) // the pace reads the rest
			waitTrack(t, tr)
			require.NoError(t, tr.Err())
			for k := 101; i0+k < len(s.want); k++ {
				pk := nextPacket(t, q)
				require.Equal(t, before+int64(k)*960, pk.Position, "packet %d after the jump", k)
				require.False(t, pk.Silence || pk.Seam, "packet %d after the jump", k)
				require.Equal(t, s.want[i0+k], pk.Data, "packet %d after the jump", k)
				if k == 101 {
					assert.Zero(t, pipeline.SegmentPlayers(tr), "back on the track's packets")
				}
			}
			assert.EqualValues(t, 1, pipeline.SegmentsMade(tr))
		})
	}
}

// checkedStore is a Store whose blobs check their contract with the
// track that reads them: no ReadAt or Stream after the blob's Close, and
// no read or stream in progress at it; what breaks it is kept in
// broken. Their reads at or past from wait for gate, or (a stream's) for
// the stream's Close, which makes a Read in progress return.
type checkedStore struct {
	pipeline.Store
	from int64
	gate chan struct{}

	mu      sync.Mutex // guards broken and waiting
	broken  []string
	waiting int // reads held at the gate
}

func (s *checkedStore) Open(ctx context.Context, name string) (pipeline.Blob, error) {
	b, err := s.Store.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	cb := &checkedBlob{Blob: b, s: s}
	if bs, ok := b.(pipeline.BlobStreamer); ok {
		return &checkedStreamer{checkedBlob: cb, bs: bs}, nil
	}
	return cb, nil
}

func (s *checkedStore) fail(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken = append(s.broken, what)
}

func (s *checkedStore) held(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting += n
}

func (s *checkedStore) state() (broken []string, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.broken), s.waiting
}

type checkedBlob struct {
	pipeline.Blob
	s *checkedStore

	mu     sync.Mutex // guards closed and users
	closed bool
	users  int // reads and streams in progress
}

func (b *checkedBlob) use(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		b.s.fail(what + " after Close")
	}
	b.users++
}

func (b *checkedBlob) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users--
}

func (b *checkedBlob) ReadAt(p []byte, off int64) (int, error) {
	b.use("ReadAt")
	defer b.done()
	if off+int64(len(p)) > b.s.from {
		b.s.held(1)
		<-b.s.gate
		b.s.held(-1)
	}
	return b.Blob.ReadAt(p, off)
}

func (b *checkedBlob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.users > 0 {
		b.s.fail(fmt.Sprintf("Close with %d reads or streams in progress", b.users))
	}
	b.closed = true
	return b.Blob.Close()
}

type checkedStreamer struct {
	*checkedBlob
	bs pipeline.BlobStreamer
}

func (b *checkedStreamer) Stream(off, n int64) io.ReadCloser {
	b.use("Stream")
	return &checkedStream{ReadCloser: b.bs.Stream(off, n), b: b.checkedBlob, off: off, closing: make(chan struct{})}
}

type checkedStream struct {
	io.ReadCloser
	b       *checkedBlob
	off     int64 // of the next Read
	closing chan struct{}
	once    sync.Once
}

func (s *checkedStream) Read(p []byte) (int, error) {
	if s.off+int64(len(p)) > s.b.s.from {
		s.b.s.held(1)
		select {
		case <-s.b.s.gate:
		case <-s.closing:
		}
		s.b.s.held(-1)
	}
	n, err := s.ReadCloser.Read(p)
	s.off += int64(n)
	return n, err
}

func (s *checkedStream) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closing)
		err = s.ReadCloser.Close()
		s.b.done()
	})
	return err
}

// A Library closed while a segment of a stored track reads its target's
// block (a read the store holds) reads nothing from the blob after its
// Close, nor closes it under a read: a segment's stream (S3) is closed,
// and its Read in progress returns, without waiting for the store; a
// ReadAt (a DirStore's) is waited for, and the blob closed after it.
// The segment's goroutine ends with the Library's Close (goleak).
func TestStoredSegmentClose(t *testing.T) {
	s := newStoredLong(t)
	const target = 38 * time.Second
	seg := s.blockOf(s.recordAt(int((int64(target/time.Millisecond)*48+312)/960) - 4))
	for name, open := range storedStores(t, s, -1) {
		t.Run(name, func(t *testing.T) {
			store, _ := open(t)
			cs := &checkedStore{Store: store, from: seg, gate: make(chan struct{})}
			clock := pipeline.NewFakeClock(time.Unix(0, 0))
			lib := pipeline.NewLibrary(pipeline.WithOpener(s.o.open), s.raw, pipeline.WithStore(cs), pipeline.WithStoreReadAhead(25, clock))
			q := pipeline.NewQueue(lib)
			id := q.Enqueue(s.key)
			nextPacket(t, q)
			q.Seek(id, target)
			eventually(t, func() bool {
				if _, err := q.Next(); err != nil && err != pipeline.ErrUnderrun {
					require.NoError(t, err)
				}
				_, waiting := cs.state()
				return waiting > 0
			}, "the segment reads the target's block")
			q.Close()
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				lib.Close()
			}()
			_, streams := store.(*s3store.Store)
			if streams {
				select {
				case <-closed: // the stream closed: its Read returned
				case <-time.After(30 * time.Second):
					close(cs.gate)
					t.Fatal("the Library's Close waited for the store's read")
				}
				close(cs.gate)
			} else {
				time.Sleep(20 * time.Millisecond) // room for a Close under the read
				close(cs.gate)
				<-closed
			}
			broken, waiting := cs.state()
			assert.Empty(t, broken, "the blob's contract kept")
			assert.Zero(t, waiting)
		})
	}
}
