package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
	"github.com/streamcatcher/streamcatcher/transform"
)

// newS3Store returns a Store of bucket on srv with its default settings
// (ranges of 256 KiB, four ahead).
func newS3Store(b *testing.B, srv *s3test.Server, bucket string) *s3store.Store {
	b.Helper()
	s, err := s3store.New(srv.Endpoint(), bucket, s3store.WithCredentials(s3test.AccessKey, s3test.SecretKey))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// storeTrack encodes key into store with a Library of its own and waits
// for it to be written.
func storeTrack(b *testing.B, store pipeline.Store, key pipeline.Key, opts []pipeline.LibraryOption) {
	b.Helper()
	if err := writeTrack(store, key, opts); err != nil {
		b.Fatal(err)
	}
}

// writeTrack is storeTrack for any goroutine.
func writeTrack(store pipeline.Store, key pipeline.Key, opts []pipeline.LibraryOption) error {
	lib := pipeline.NewLibrary(append(opts, pipeline.WithStore(store))...)
	defer lib.Close()
	h, err := lib.Get(context.Background(), key)
	if err != nil {
		return err
	}
	<-h.Track().Done()
	h.Release()
	deadline := time.Now().Add(5 * time.Minute)
	for lib.Stats().Writes == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%v not written", key)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// s3FirstPacket plays key from a new Library of opts until its first
// packet, seeking to at first if at > 0, and checks that it was encoded
// or not, as stored says.
func s3FirstPacket(b *testing.B, opts []pipeline.LibraryOption, key pipeline.Key, at time.Duration, stored bool) {
	s3FirstPacketThen(b, opts, key, at, stored, nil)
}

// s3FirstPacketThen is s3FirstPacket, calling then (if not nil) at the
// first packet, before the Library is closed.
func s3FirstPacketThen(b *testing.B, opts []pipeline.LibraryOption, key pipeline.Key, at time.Duration, stored bool, then func()) {
	ctx := context.Background()
	lib := pipeline.NewLibrary(opts...)
	defer lib.Close()
	p, err := lib.Play(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	if at > 0 {
		if err := p.Seek(ctx, at); err != nil {
			b.Fatal(err)
		}
	}
	for {
		if _, err := p.Next(); err == nil {
			break
		} else if err != pipeline.ErrUnderrun {
			b.Fatal(err)
		}
		runtime.Gosched()
	}
	if then != nil {
		then()
	}
	// Encodes, not DiskHits: a disk hit may be counted by the load a
	// moment after the first packet.
	if st := lib.Stats(); stored == (st.Encodes == 1) {
		b.Fatalf("stored %v, but encodes %d", stored, st.Encodes)
	}
}

// s3QueueSeek plays key from a new Library of opts through a Queue
// whose entry is sought to at at once, until the packet that holds at,
// and checks that the track was not encoded and that the packet came
// from a segment read at the target (the track's cache short of it).
func s3QueueSeek(b *testing.B, opts []pipeline.LibraryOption, key pipeline.Key, at time.Duration) {
	lib := pipeline.NewLibrary(opts...)
	defer lib.Close()
	q := pipeline.NewQueue(lib)
	defer q.Close()
	id := q.Enqueue(key)
	q.Seek(id, at)
	target := int64(at / time.Millisecond * 48)
	for {
		pk, err := q.Next()
		if err == nil && pk.Position+pk.Samples > target {
			break
		}
		if err != nil && err != pipeline.ErrUnderrun {
			b.Fatal(err)
		}
		runtime.Gosched()
	}
	if st := lib.Stats(); st.Encodes != 0 {
		b.Fatalf("encodes %d", st.Encodes)
	}
	h, err := lib.Get(context.Background(), key)
	if err != nil {
		b.Fatal(err)
	}
	defer h.Release()
	if h.Track().Progress() > at {
		b.Fatalf("the track's cache read to %v, past the target", h.Track().Progress())
	}
}

// BenchmarkS3TimeToFirstPacket is the time from a Get to the first
// packet of a track, by a Library that has just started: read from an S3
// bucket (versitygw on loopback), from a DirStore, or encoded afresh; the
// same tracks as BenchmarkTimeToFirstPacket (an MP3 of 3 s; a WAV of 4
// minutes at 44.1 kHz, resampled). from=s3 makes a new Store for each
// load, its first request on a new connection, as a process that has just
// started; from=s3-kept uses one Store for every load, as a process does
// (its connections kept open between loads): the fair comparison with the
// DirStore, whose files need no connection. requests is the Store's
// requests begun by the first packet. seek=end is the time to the packet
// of the track's last second instead, sought at once by a Player
// (Player.Seek: the cache read up to the target, in order);
// seek=end/queue, by a Queue (Queue.Seek: a segment read from the
// target's block, the blocks before it not read).
func BenchmarkS3TimeToFirstPacket(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.Bucket(b)
	sources := map[string][]byte{
		"mp3-3s":   codecFile(b, "", "prog_48000.mp3"),
		"raw-4min": testutil.Tone(44100, 2, 44100*240, 440, 0.5),
	}
	open := func(_ context.Context, s string) (io.Reader, error) { return bytes.NewReader(sources[s]), nil }
	for _, src := range []string{"mp3-3s", "raw-4min"} {
		key := pipeline.Key{Source: src}
		opts := []pipeline.LibraryOption{pipeline.WithOpener(open)}
		if src == "raw-4min" {
			opts = append(opts, pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 44100, Channels: 2})))
		}
		dir := b.TempDir()
		ds, err := pipeline.NewDirStore(dir, 0)
		if err != nil {
			b.Fatal(err)
		}
		storeTrack(b, ds, key, opts)
		s3 := newS3Store(b, srv, bucket)
		storeTrack(b, s3, key, opts)
		s3.Close()
		size := ds.Bytes()

		seeks := []time.Duration{0}
		if src == "raw-4min" {
			seeks = append(seeks, 239*time.Second)
		}
		for _, at := range seeks {
			name := fmt.Sprintf("track=%s", src)
			if at > 0 {
				name += "/seek=end"
			}
			b.Run(name+"/from=s3", func(b *testing.B) {
				b.SetBytes(size)
				var requests int64
				for b.Loop() {
					s := newS3Store(b, srv, bucket)
					s3FirstPacketThen(b, append(opts, pipeline.WithStore(s)), key, at, true, func() { requests += s.Stats().Requests })
					s.Close()
				}
				b.ReportMetric(float64(requests)/float64(b.N), "requests")
			})
			b.Run(name+"/from=s3-kept", func(b *testing.B) {
				b.SetBytes(size)
				s := newS3Store(b, srv, bucket)
				defer s.Close()
				s3FirstPacket(b, append(opts, pipeline.WithStore(s)), key, at, true) // the connections made
				var requests int64
				for b.Loop() {
					before := s.Stats().Requests
					s3FirstPacketThen(b, append(opts, pipeline.WithStore(s)), key, at, true, func() { requests += s.Stats().Requests - before })
				}
				b.ReportMetric(float64(requests)/float64(b.N), "requests")
			})
			b.Run(name+"/from=dirstore", func(b *testing.B) {
				b.SetBytes(size)
				for b.Loop() {
					s, err := pipeline.NewDirStore(dir, 0)
					if err != nil {
						b.Fatal(err)
					}
					s3FirstPacket(b, append(opts, pipeline.WithStore(s)), key, at, true)
				}
			})
			if at > 0 {
				b.Run(name+"/queue/from=s3", func(b *testing.B) {
					for b.Loop() {
						s := newS3Store(b, srv, bucket)
						s3QueueSeek(b, append(opts, pipeline.WithStore(s)), key, at)
						s.Close()
					}
				})
				b.Run(name+"/queue/from=dirstore", func(b *testing.B) {
					for b.Loop() {
						s, err := pipeline.NewDirStore(dir, 0)
						if err != nil {
							b.Fatal(err)
						}
						s3QueueSeek(b, append(opts, pipeline.WithStore(s)), key, at)
					}
				})
			}
			if at == 0 {
				b.Run(name+"/from=encode", func(b *testing.B) {
					for b.Loop() {
						s3FirstPacket(b, opts, key, 0, false)
					}
				})
			}
		}
	}
}

// BenchmarkS3Get is one ranged GET of an object's first bytes (the
// stored four-minute track's), read whole, with minio-go against
// versitygw on loopback: by a new client (a new connection) each time,
// or by one client (its connection kept): what the server's answer to
// one request costs, the floor under a stored track's first packet.
func BenchmarkS3Get(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.Bucket(b)
	key := pipeline.Key{Source: "raw-4min"}
	src := testutil.Tone(44100, 2, 44100*240, 440, 0.5)
	open := func(context.Context, string) (io.Reader, error) { return bytes.NewReader(src), nil }
	s := newS3Store(b, srv, bucket)
	storeTrack(b, s, key, []pipeline.LibraryOption{pipeline.WithOpener(open),
		pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 44100, Channels: 2}))})
	object := s.Key(key.StoreName())
	s.Close()
	newClient := func() (*minio.Client, *http.Transport) {
		t := http.DefaultTransport.(*http.Transport).Clone()
		c, err := minio.New(srv.Addr, &minio.Options{
			Creds:     credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""),
			Region:    "us-east-1",
			Transport: t,
		})
		if err != nil {
			b.Fatal(err)
		}
		return c, t
	}
	get := func(c *minio.Client, n int64) {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(0, n-1); err != nil {
			b.Fatal(err)
		}
		body, _, _, err := minio.Core{Client: c}.GetObject(context.Background(), bucket, object, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer body.Close()
		if m, err := io.Copy(io.Discard, body); err != nil || m != n {
			b.Fatalf("read %d of %d bytes: %v", m, n, err)
		}
	}
	for _, n := range []int64{4 << 10, 192 << 10} {
		b.Run(fmt.Sprintf("bytes=%d/client=new", n), func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				c, t := newClient()
				get(c, n)
				t.CloseIdleConnections()
			}
		})
		b.Run(fmt.Sprintf("bytes=%d/client=kept", n), func(b *testing.B) {
			b.SetBytes(n)
			c, t := newClient()
			defer t.CloseIdleConnections()
			get(c, n)
			for b.Loop() {
				get(c, n)
			}
		})
	}
}

// BenchmarkS3SteadyPlayback is 1,000 listeners on a Scheduler in real
// time, spread over 100 tracks of 30 s stored in an S3 bucket (versitygw
// on loopback), each track loaded by a Library that has just started and
// read from the bucket as it plays (10 s ahead: the default), played to
// the end. One operation is the whole playback; underruns (a deadline
// whose packet was not read yet) must be 0, and are reported, with the
// packets sent, their lateness and the store's requests.
func BenchmarkS3SteadyPlayback(b *testing.B) {
	const (
		tracks    = 100
		listeners = 1000
		seconds   = 30
	)
	srv := s3test.Start(b)
	bucket := srv.Bucket(b)
	keys := make([]pipeline.Key, tracks)
	open := func(_ context.Context, s string) (io.Reader, error) {
		var i int
		fmt.Sscanf(s, "tone-%d", &i)
		return bytes.NewReader(testutil.Tone(48000, 2, 48000*seconds, 200+10*float64(i), 0.5)), nil
	}
	opts := []pipeline.LibraryOption{pipeline.WithOpener(open),
		pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}))}
	store := newS3Store(b, srv, bucket)
	for i := range keys {
		keys[i] = pipeline.Key{Source: fmt.Sprintf("tone-%d", i)}
	}
	var wg sync.WaitGroup
	errs := make([]error, tracks)
	for w := range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := w; i < tracks; i += runtime.GOMAXPROCS(0) {
				errs[i] = writeTrack(store, keys[i], opts)
			}
		})
	}
	wg.Wait()
	store.Close()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}

	for b.Loop() {
		s := newS3Store(b, srv, bucket)
		lib := pipeline.NewLibrary(append(opts, pipeline.WithStore(s), pipeline.WithBudget(0))...)
		sched := pipeline.NewScheduler()
		ctx := context.Background()
		ls := make([]*pipeline.Listener, listeners)
		send := func(pipeline.Packet) error { return nil }
		for i := range ls {
			p, err := lib.Play(ctx, keys[i%tracks])
			if err != nil {
				b.Fatal(err)
			}
			ls[i] = sched.Add(p, send)
		}
		var st pipeline.ListenerStats
		var p99, worst time.Duration
		for _, l := range ls {
			select {
			case <-l.Done():
			case <-time.After(10 * time.Minute):
				b.Fatal("playback did not end")
			}
			x := l.Stats()
			st.Packets += x.Packets
			st.Underruns += x.Underruns
			st.Resyncs += x.Resyncs
			st.Late += x.Late
			p99, worst = max(p99, x.Lateness.P99), max(worst, x.Lateness.Max)
		}
		sched.Close()
		ls3 := lib.Stats()
		lib.Close()
		ss := s.Stats()
		s.Close()
		if ls3.DiskHits != tracks || ls3.Encodes != 0 {
			b.Fatalf("disk hits %d, encodes %d", ls3.DiskHits, ls3.Encodes)
		}
		b.ReportMetric(float64(st.Underruns), "underruns")
		b.ReportMetric(float64(st.Resyncs), "resyncs")
		b.ReportMetric(float64(st.Late), "late")
		b.ReportMetric(float64(st.Packets), "packets")
		b.ReportMetric(float64(p99.Microseconds()), "worst-p99-µs")
		b.ReportMetric(float64(worst.Microseconds()), "max-late-µs")
		b.ReportMetric(float64(ss.Requests), "requests")
	}
}
