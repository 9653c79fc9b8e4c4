package s3store

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// Store is a pipeline.Store in a bucket of an S3-compatible server. Each
// blob is one object, its key the Store's prefix, the blob's name and
// ".sct". It is safe for concurrent use, by many processes sharing the
// bucket too.
type Store struct {
	core   minio.Core
	bucket string
	cfg    config
	idle   interface{ CloseIdleConnections() } // the transport, if it can

	// unconditional is set once the server has answered a conditional
	// put with 501: its puts are plain ones from then on (last writer
	// wins, each object whole). Only ever goes from false to true.
	unconditional atomic.Bool

	brk    breaker
	budget budget
	bg     background

	stats struct {
		requests, retries, unavailable, uploads, multipart, kept, aborted atomic.Int64
		trips, probes, suspended                                          atomic.Int64
		marks, trims, evictions                                           atomic.Int64
	}
}

var _ pipeline.Store = (*Store)(nil)

type config struct {
	access, secret string
	creds          bool // access and secret given
	region         string
	prefix         string
	tries          int
	base, cap      time.Duration
	timeout        time.Duration
	partSize       int64
	chunk          int64
	ahead          int
	head           int64
	transport      http.RoundTripper
	breakBase      time.Duration
	breakCap       time.Duration
	clock          pipeline.Clock
	budget         int64
	markEvery      time.Duration
	grace          time.Duration
}

// Option configures a Store.
type Option func(*config)

// WithCredentials sets the access key and secret (by default they are
// read from the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD).
func WithCredentials(access, secret string) Option {
	return func(c *config) { c.access, c.secret, c.creds = access, secret, true }
}

// WithRegion sets the bucket's region ("us-east-1" by default, which
// most servers other than AWS's take whatever theirs).
func WithRegion(region string) Option { return func(c *config) { c.region = region } }

// WithPrefix puts the store's objects under prefix in the bucket (none by
// default): "tracks/", say, to share a bucket with other things.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithRetry sets how often a request is tried (5 times by default; at
// least once) and the wait between tries: base before the second try,
// doubled at each one after, at most cap (100 ms and 2 s by default),
// less a random part of up to a half.
func WithRetry(tries int, base, cap time.Duration) Option {
	return func(c *config) { c.tries, c.base, c.cap = max(tries, 1), max(base, 0), max(cap, base) }
}

// WithRequestTimeout bounds each try of a request, its body included (30
// s by default): a stalled server is tried again after it.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithPartSize sets the size of a multipart upload's parts (16 MiB by
// default; at least S3's 5 MiB). A blob up to that size is uploaded with
// one put.
func WithPartSize(n int64) Option {
	return func(c *config) { c.partSize = max(n, 5<<20) }
}

// WithReadAhead sets how a blob's stream fetches: by ranges of chunk
// bytes (256 KiB by default, at least 4 KiB), up to ahead of them at once
// ahead of the reader (4 by default, at least 1).
func WithReadAhead(chunk int64, ahead int) Option {
	return func(c *config) { c.chunk, c.ahead = max(chunk, 4<<10), max(ahead, 1) }
}

// WithBreaker sets how long the store is left alone after a request
// failed every try (ErrUnavailable): requests fail at once, with
// ErrSuspended, for base (5 s by default); then one request, tried once,
// probes the server while the others still fail at once; a probe that
// fails leaves it alone twice as long again, at most cap (1 min by
// default); one that is answered ends it. A Library meanwhile encodes the
// tracks it loads at once instead of waiting out every load's tries
// against a server that is down. base 0 turns it off: each request is
// tried on its own.
func WithBreaker(base, cap time.Duration) Option {
	return func(c *config) { c.breakBase, c.breakCap = max(base, 0), max(cap, base, 0) }
}

// WithClock sets the clock of the breaker's waits, of the marks of the
// blobs' uses and of the grace period of the budget's trims (the
// system's by default): a pipeline.FakeClock in tests. The waits between a request's
// tries, and their timeouts, are on the system's clock whatever it is.
func WithClock(c pipeline.Clock) Option { return func(cfg *config) { cfg.clock = c } }

// WithBudget keeps the Store's blobs in the bucket within bytes, the
// least recently used removed first (0, the default: no bound; see the
// package's doc, "# Budget"). Every process that shares the bucket's
// prefix is to have the same budget: a Store without one neither trims
// nor records its uses, which the others' trims then do not see. A blob
// larger than the whole budget is not kept: its Commit fails with
// pipeline.ErrStoreFull.
func WithBudget(bytes int64) Option { return func(c *config) { c.budget = max(bytes, 0) } }

// WithBudgetTimes sets how often a Store records a use of a blob it
// reads (at most once every mark, 1 min by default, by each process), and
// the grace period: a trim removes no blob used within it (10 min by
// default), so that a blob being read is not removed from under its
// readers. grace is at least twice mark: a blob read without a pause
// longer than grace less mark is never removed.
func WithBudgetTimes(mark, grace time.Duration) Option {
	return func(c *config) {
		if mark > 0 {
			c.markEvery = mark
		}
		if grace > 0 {
			c.grace = grace
		}
	}
}

// WithHeadSize sets how many bytes Open fetches with its one GET (192
// KiB by default, at least 4 KiB): a stored track's header, index and
// checksums, and for a track of some minutes its first data block too,
// so that its first packet needs no other request. The blob keeps them
// while it is open.
func WithHeadSize(n int64) Option { return func(c *config) { c.head = max(n, 4<<10) } }

// WithTransport sets the HTTP transport (by default a clone of
// http.DefaultTransport's settings, whose idle connections Close closes).
func WithTransport(rt http.RoundTripper) Option { return func(c *config) { c.transport = rt } }

// New returns a Store of bucket on the server at endpoint, a URL:
// "https://s3.eu-central-1.amazonaws.com", "http://127.0.0.1:8333" (a
// SeaweedFS), with the scheme saying whether TLS is used. It does not
// contact the server: one that is down is found by the first request, and
// reported by its error. The bucket must exist. Close releases the
// Store's idle connections.
func New(endpoint, bucket string, opts ...Option) (*Store, error) {
	cfg := config{region: "us-east-1", tries: 5, base: 100 * time.Millisecond, cap: 2 * time.Second,
		timeout: 30 * time.Second, partSize: 16 << 20, chunk: 256 << 10, ahead: 4, head: 192 << 10,
		breakBase: 5 * time.Second, breakCap: time.Minute, clock: pipeline.SystemClock{},
		markEvery: time.Minute, grace: 10 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.grace = max(cfg.grace, 2*cfg.markEvery)
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("s3store: endpoint %q: want http://host[:port] or https://host[:port]", endpoint)
	}
	if bucket == "" {
		return nil, fmt.Errorf("s3store: no bucket")
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}})
	if cfg.creds {
		creds = credentials.NewStaticV4(cfg.access, cfg.secret, "")
	}
	s := &Store{bucket: bucket, cfg: cfg, brk: breaker{clock: cfg.clock, base: cfg.breakBase, cap: cfg.breakCap}}
	s.budget.last = map[string]time.Time{}
	s.budget.sem = make(chan struct{}, 1)
	s.budget.marks = make(chan struct{}, maxMarks)
	s.bg.ctx, s.bg.cancel = context.WithCancel(context.Background())
	rt := cfg.transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		t.ResponseHeaderTimeout = cfg.timeout
		rt = t
	}
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		s.idle = c
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:      creds,
		Secure:     u.Scheme == "https",
		Region:     cfg.region,
		Transport:  rt,
		MaxRetries: 1, // the Store's own tries: see do
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	s.core = minio.Core{Client: c}
	return s, nil
}

// Bucket returns the store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// Key returns the object key of the blob called name.
func (s *Store) Key(name string) string { return s.cfg.prefix + name + ".sct" }

// Close ends the Store's work in the background (the use marks and the
// trim after a Commit, if any are in flight), waits for it, and closes
// the store's idle connections. The Store may still be used after it
// (connections are made again), but records no more uses and trims only
// when Trim is called.
func (s *Store) Close() error {
	s.bg.mu.Lock()
	s.bg.closed = true
	s.bg.mu.Unlock()
	s.bg.cancel()
	s.bg.wg.Wait()
	if s.idle != nil {
		s.idle.CloseIdleConnections()
	}
	return nil
}

// Stats describes what a Store has done.
type Stats struct {
	Requests    int64 // tries of requests made
	Retries     int64 // tries after a first that failed
	Unavailable int64 // requests that failed every try (ErrUnavailable)
	Uploads     int64 // blobs committed: objects written
	Multipart   int64 // of those, written by a multipart upload
	Kept        int64 // blobs not written at Commit because the key had an object already (written by another process first)
	Aborted     int64 // multipart uploads aborted (Abort, a failed Commit, AbortStaleUploads)
	Trips       int64 // times the breaker opened: a request failed every try while it was closed
	Probes      int64 // requests let through an open breaker, each tried once, to see if the server is back
	Suspended   int64 // requests failed at once by an open breaker (ErrSuspended), not made
	Marks       int64 // uses of blobs recorded in the bucket (their use markers put; WithBudget)
	Trims       int64 // trims begun (after a Commit, or by Trim)
	Evictions   int64 // blobs removed by trims to keep the bucket within the budget
}

// Stats returns the store's counts.
func (s *Store) Stats() Stats {
	st := &s.stats
	return Stats{
		Requests: st.requests.Load(), Retries: st.retries.Load(), Unavailable: st.unavailable.Load(),
		Uploads: st.uploads.Load(), Multipart: st.multipart.Load(), Kept: st.kept.Load(), Aborted: st.aborted.Load(),
		Trips: st.trips.Load(), Probes: st.probes.Load(), Suspended: st.suspended.Load(),
		Marks: st.marks.Load(), Trims: st.trims.Load(), Evictions: st.evictions.Load(),
	}
}

// Remove removes the object of name, and its use marker; one that is not
// there is no error.
func (s *Store) Remove(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := s.removeObject(ctx, false, s.Key(name)); err != nil {
		return err
	}
	return s.removeObject(ctx, false, s.useKey(name))
}

// AbortStaleUploads aborts the store's multipart uploads begun more than
// age ago: those of processes that died while uploading, which the
// server keeps (and bills) but never shows as objects. A bucket with a
// lifecycle rule that aborts incomplete multipart uploads needs none of
// this. It returns how many it aborted.
func (s *Store) AbortStaleUploads(ctx context.Context, age time.Duration) (int, error) {
	before := time.Now().Add(-age)
	n := 0
	keyMarker, idMarker := "", ""
	for {
		var res minio.ListMultipartUploadsResult
		err := s.do(ctx, "listing uploads", func(ctx context.Context) error {
			var err error
			res, err = s.core.ListMultipartUploads(ctx, s.bucket, s.cfg.prefix, keyMarker, idMarker, "", 1000)
			return err
		})
		if err != nil {
			return n, err
		}
		for _, u := range res.Uploads {
			if !strings.HasSuffix(u.Key, ".sct") || !u.Initiated.Before(before) {
				continue
			}
			if err := s.abort(ctx, u.Key, u.UploadID); err != nil {
				return n, err
			}
			n++
		}
		if !res.IsTruncated {
			return n, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

func (s *Store) abort(ctx context.Context, key, id string) error {
	err := s.do(ctx, "aborting the upload of "+key, func(ctx context.Context) error {
		err := s.core.AbortMultipartUpload(ctx, s.bucket, key, id)
		if out, _ := classify(err); err != nil && isNotExist(out) {
			return nil // aborted already
		}
		return err
	})
	if err == nil {
		s.stats.aborted.Add(1)
	}
	return err
}

// checkName refuses the names no blob of a pipeline.Store has: empty,
// with a slash, a NUL, or starting with a dot.
func checkName(name string) error {
	if name == "" || len(name) > 200 || strings.ContainsAny(name, `/\`+"\x00") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("s3store: bad blob name %q", name)
	}
	return nil
}
