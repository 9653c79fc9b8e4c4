package s3store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
)

// usePrefix is the folder, under the Store's prefix, of the use markers:
// the marker of the blob called name is the empty object
// <prefix>.use/<name>, whose LastModified is its last recorded use. No
// blob's key is there: a blob's name does not start with a dot.
const usePrefix = ".use/"

// markers is the most marks a Store has in flight at once: a read that
// finds as many is not marked now (its blob's next read is).
const maxMarks = 4

// listPage is the number of keys a listing asks for at a time (S3's
// most).
const listPage = 1000

// useKey returns the key of the use marker of the blob called name.
func (s *Store) useKey(name string) string { return s.cfg.prefix + usePrefix + name }

// budget is a Store's state for its byte budget: the uses it recorded
// lately, and its one trim at a time.
type budget struct {
	mu    sync.Mutex           // guards last, swept, trimmed, wanted and waiting
	last  map[string]time.Time // when this Store last recorded a use of each name, on its clock
	swept time.Time            // when last was last cleared of entries older than the mark interval

	trimmed time.Time // when the last trim began, on the Store's clock
	wanted  bool      // a Commit asked for a trim within the trim interval
	waiting bool      // a goroutine waits for the end of the interval to run the trim wanted

	// marks holds a token for each mark in flight: at most maxMarks.
	marks chan struct{}

	// sem holds a token while a trim runs: at most one at a time in a
	// Store.
	sem chan struct{}
	// again is set by a request for a trim (a Commit) that found one
	// running: the trim that holds sem runs once more before it lets go,
	// so that no request is lost.
	again atomic.Bool
}

// background is a Store's work done away from its callers (marks, the
// trims after a Commit), ended by Close.
type background struct {
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed, and wg's Adds against its Wait
	closed bool
	wg     sync.WaitGroup
}

// goBackground runs f on a goroutine of its own, with the background
// context, unless the Store is closed.
func (s *Store) goBackground(f func(ctx context.Context)) bool {
	s.bg.mu.Lock()
	defer s.bg.mu.Unlock()
	if s.bg.closed {
		return false
	}
	s.bg.wg.Go(func() { f(s.bg.ctx) })
	return true
}

// used records a use of the blob called name, if the Store has a budget
// and has not recorded one in the last mark interval: it puts the blob's
// use marker, on a goroutine of its own, so that no read waits for it. A
// mark that fails is forgotten, so that the next read of the blob tries
// again rather than a mark interval later; so is one that finds maxMarks
// marks in flight, which is not made.
func (s *Store) used(name string) {
	if s.cfg.budget <= 0 {
		return
	}
	now := s.cfg.clock.Now()
	b := &s.budget
	b.mu.Lock()
	if now.Sub(b.swept) >= s.cfg.markEvery { // forget the uses too old to matter
		for n, at := range b.last {
			if now.Sub(at) >= s.cfg.markEvery {
				delete(b.last, n)
			}
		}
		b.swept = now
	}
	if at, ok := b.last[name]; ok && now.Sub(at) < s.cfg.markEvery {
		b.mu.Unlock()
		return
	}
	select {
	case b.marks <- struct{}{}:
	default:
		b.mu.Unlock()
		return // as many marks in flight as there may be: the next read marks
	}
	b.last[name] = now
	b.mu.Unlock()
	if !s.goBackground(func(ctx context.Context) {
		defer func() { <-b.marks }()
		err := s.background(ctx, "marking the use of "+s.Key(name), func(ctx context.Context) error {
			_, err := s.core.PutObject(ctx, s.bucket, s.useKey(name), strings.NewReader(""), 0, "", "", minio.PutObjectOptions{})
			return err
		})
		if err == nil {
			s.stats.marks.Add(1)
			return
		}
		s.forgetMark(name, now)
	}) {
		<-b.marks
	}
}

// background runs op as do does, for the Store's work in the background
// (marks, and the trims after a Commit): its tries, but not its breaker,
// which that work neither waits on nor opens, so that a burst of marks
// failing (a Preload of many stored tracks, say) does not suspend every
// read.
func (s *Store) background(ctx context.Context, what string, op func(ctx context.Context) error) error {
	return s.try(ctx, what, false, op)
}

// request runs op by do, or by background if bg.
func (s *Store) request(ctx context.Context, bg bool, what string, op func(ctx context.Context) error) error {
	if bg {
		return s.background(ctx, what, op)
	}
	return s.do(ctx, what, op)
}

// forgetMark forgets the use of name recorded at at, if it is still the
// last recorded: its mark failed, and the next read tries again.
func (s *Store) forgetMark(name string, at time.Time) {
	b := &s.budget
	b.mu.Lock()
	defer b.mu.Unlock()
	if last, ok := b.last[name]; ok && last.Equal(at) {
		delete(b.last, name)
	}
}

// trimSoon asks for a trim after a Commit: one is started on a goroutine
// of its own, or the one running runs again. Trims of a Store begin at
// most once a mark interval (WithBudgetTimes), on its clock, so that a
// Store committing many blobs does not list the whole prefix at each: a
// Commit within the interval after a trim began only asks for one at its
// end, which a Trim meanwhile makes needless.
func (s *Store) trimSoon() {
	if s.cfg.budget <= 0 {
		return
	}
	b := &s.budget
	b.mu.Lock()
	if next := b.trimmed.Add(s.cfg.markEvery); !b.trimmed.IsZero() && s.cfg.clock.Now().Before(next) {
		b.wanted = true
		if b.waiting {
			b.mu.Unlock()
			return
		}
		b.waiting = true
		b.mu.Unlock()
		if !s.goBackground(func(ctx context.Context) {
			err := s.cfg.clock.Wait(ctx, next)
			b.mu.Lock()
			b.waiting = false
			wanted := b.wanted && err == nil
			b.wanted = false
			b.mu.Unlock()
			if wanted {
				s.trimSoon()
			}
		}) {
			b.mu.Lock()
			b.waiting = false
			b.mu.Unlock()
		}
		return
	}
	b.mu.Unlock()
	b.again.Store(true)
	s.kickTrim()
}

// kickTrim starts a background trim if one was asked for and none is
// running.
func (s *Store) kickTrim() {
	if !s.budget.again.Load() {
		return
	}
	select {
	case s.budget.sem <- struct{}{}:
	default:
		return // the one running sees again
	}
	if !s.goBackground(func(ctx context.Context) {
		for s.budget.again.Swap(false) {
			_, _ = s.trim(ctx, true) // its failure is counted by try; the next Commit asks again
		}
		<-s.budget.sem
		s.kickTrim() // asked for between the last Swap and the release
	}) {
		<-s.budget.sem
	}
}

// Trim removes the least recently used blobs from the bucket until the
// Store's blobs are within its budget (WithBudget), keeping those used
// within the grace period (WithBudgetTimes), and their use markers, and
// the markers left of blobs that are gone; it returns how many blobs it
// removed. A Store trims by itself after a Commit, in the background, at
// most once a mark interval (a Commit within it asks for a trim at its
// end, which a Trim meanwhile does instead); Trim is for a process that wants it done now (at start, say). It waits
// for a trim of the Store's in progress, so that one runs at a time. A
// Store without a budget has nothing to trim.
func (s *Store) Trim(ctx context.Context) (int, error) {
	if s.cfg.budget <= 0 {
		return 0, nil
	}
	select {
	case s.budget.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer s.kickTrim() // one asked for meanwhile
	defer func() { <-s.budget.sem }()
	return s.trim(ctx, false)
}

// listedBlob is a blob of the store as a listing shows it.
type listedBlob struct {
	name string
	size int64
	used time.Time // the later of the object's LastModified and its marker's
}

// trim is Trim's work: see the package's doc, "# Budget". The caller
// holds the budget's sem. bg: a trim in the background, whose requests
// are made by background.
func (s *Store) trim(ctx context.Context, bg bool) (int, error) {
	s.stats.trims.Add(1)
	s.budget.mu.Lock()
	s.budget.trimmed = s.cfg.clock.Now()
	s.budget.wanted = false // this trim is the one wanted
	s.budget.mu.Unlock()
	blobs := map[string]*listedBlob{}
	markers := map[string]time.Time{}
	err := s.list(ctx, bg, func(o minio.ObjectInfo) {
		rest, ok := strings.CutPrefix(o.Key, s.cfg.prefix)
		if !ok {
			return
		}
		if name, ok := strings.CutPrefix(rest, usePrefix); ok {
			if checkName(name) == nil {
				markers[name] = o.LastModified
			}
			return
		}
		name, ok := strings.CutSuffix(rest, ".sct")
		if !ok || checkName(name) != nil {
			return // not a blob of the store's
		}
		blobs[name] = &listedBlob{name: name, size: o.Size, used: o.LastModified}
	})
	if err != nil {
		return 0, err
	}
	now := s.cfg.clock.Now()
	var total int64
	order := make([]*listedBlob, 0, len(blobs))
	for _, b := range blobs {
		if m, ok := markers[b.name]; ok && m.After(b.used) {
			b.used = m
		}
		total += b.size
		order = append(order, b)
	}
	// The least recently used first; of blobs used in the same second
	// (a listing's times are whole seconds), the first by name, so that
	// every process orders one listing the same way.
	slices.SortFunc(order, func(a, b *listedBlob) int {
		return cmp.Or(a.used.Compare(b.used), strings.Compare(a.name, b.name))
	})
	removed := 0
	for _, b := range order {
		if total <= s.cfg.budget || now.Sub(b.used) < s.cfg.grace {
			break // within the budget, or every blob left used within the grace period
		}
		if err := s.removeObject(ctx, bg, s.Key(b.name)); err != nil {
			return removed, err
		}
		total -= b.size
		removed++
		s.stats.evictions.Add(1)
		delete(markers, b.name) // removed below, with the others of blobs gone
		if err := s.removeObject(ctx, bg, s.useKey(b.name)); err != nil {
			return removed, err
		}
	}
	// Markers of blobs that are gone: a use recorded as another process
	// removed the blob, or a blob removed by hand. One younger than the
	// grace period may be of a blob being written: it is left for a
	// later trim.
	for name, at := range markers {
		if _, ok := blobs[name]; !ok && now.Sub(at) >= s.cfg.grace {
			if err := s.removeObject(ctx, bg, s.useKey(name)); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// list calls f for each object under the Store's prefix, a page of
// listPage at a time, each page a request tried on its own (by
// background if bg).
func (s *Store) list(ctx context.Context, bg bool, f func(minio.ObjectInfo)) error {
	after := ""
	owner := false
	for {
		var page []minio.ObjectInfo
		err := s.request(ctx, bg, fmt.Sprintf("listing %s after %q", s.bucket, after), func(ctx context.Context) error {
			page = page[:0]
			opts := minio.ListObjectsOptions{Prefix: s.cfg.prefix, Recursive: true, StartAfter: after, MaxKeys: listPage, FetchOwner: &owner}
			for o := range s.core.ListObjectsIter(ctx, s.bucket, opts) {
				if o.Err != nil {
					return o.Err
				}
				page = append(page, o)
				if len(page) == listPage {
					break // the next page is the next request's
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, o := range page {
			if !strings.HasSuffix(o.Key, "/") { // a folder, not an object
				f(o)
			}
		}
		if len(page) < listPage {
			return nil
		}
		after = page[len(page)-1].Key
	}
}

// removeObject removes the object of key; one that is not there is no
// error. bg: by background.
func (s *Store) removeObject(ctx context.Context, bg bool, key string) error {
	return s.request(ctx, bg, "removing "+key, func(ctx context.Context) error {
		err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
		if out, _ := classify(err); err != nil && isNotExist(out) {
			return nil
		}
		return err
	})
}
