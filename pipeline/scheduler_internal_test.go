package pipeline

import (
	"context"
	"io"
	"math"
	"runtime"
	"testing"
	"time"
)

// Each duration falls in a bucket whose top is above it and within a
// quarter octave of it.
func TestHistogramBuckets(t *testing.T) {
	for d := time.Duration(0); d < 10*time.Second; d = d*11/10 + 1 {
		i := bucketOf(d)
		top := bucketTop(i)
		if i < 71 && top < d.Truncate(time.Microsecond) {
			t.Fatalf("%v in bucket %d whose top is %v", d, i, top)
		}
		if d >= 4*time.Microsecond && i < 71 && float64(top) > 1.26*float64(d) {
			t.Fatalf("%v in bucket %d whose top is %v: too coarse", d, i, top)
		}
		if i > 0 && bucketTop(i-1) > d {
			t.Fatalf("%v in bucket %d, but bucket %d reaches %v", d, i, i-1, bucketTop(i-1))
		}
	}
	var h histogram
	for i := range 1000 {
		h.add(time.Duration(i) * time.Microsecond)
	}
	p := h.percentiles()
	if p.Count != 1000 || p.Max != 999*time.Microsecond {
		t.Fatalf("%+v", p)
	}
	if p.P50 < 500*time.Microsecond || p.P50 > 630*time.Microsecond || p.P99 < 990*time.Microsecond {
		t.Fatalf("percentiles %+v", p)
	}
}

// A quantile is never reported above the largest duration seen, and the
// last bucket (which has no top) reports the largest.
func TestHistogramQuantilesWithinMax(t *testing.T) {
	var h histogram
	for range 100 {
		h.add(time.Second)
	}
	if p := h.percentiles(); p.P50 != time.Second || p.P999 != time.Second || p.Max != time.Second {
		t.Fatalf("100 × 1 s: %+v", p)
	}
	var g histogram
	for range 100 {
		g.add(1900 * time.Nanosecond)
	}
	if p := g.percentiles(); p.P50 != 1900*time.Nanosecond || p.Max != 1900*time.Nanosecond {
		t.Fatalf("100 × 1.9 µs: %+v", p)
	}
	var far histogram
	far.add(time.Hour)
	if p := far.percentiles(); bucketOf(time.Hour) != buckets-1 || p.P50 != time.Hour {
		t.Fatalf("1 h: bucket %d, %+v", bucketOf(time.Hour), p)
	}
}

// A shard's histogram counts past 2^32 packets.
func TestShardHistogramDoesNotWrap(t *testing.T) {
	var h bigHistogram
	var c [buckets]uint32
	c[bucketOf(500*time.Microsecond)] = math.MaxUint32
	h.merge(&c, 500*time.Microsecond)
	var two [buckets]uint32
	two[bucketOf(500*time.Microsecond)] = 2
	h.merge(&two, 500*time.Microsecond)
	if p := h.percentiles(); p.Count != math.MaxUint32+2 || p.P50 != 500*time.Microsecond {
		t.Fatalf("%+v", p)
	}
}

// NextContext sees a close that comes between its look at the queue and
// its wait: the channel it waits on is read under the same lock.
func TestNextContextSeesClose(t *testing.T) {
	b := &Broadcast{cfg: broadcastConfig{bound: 1 << 20}}
	for i := range 5000 {
		l := &BufferedListener{b: b, ready: make(chan struct{})}
		res := make(chan error, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		go func() { _, err := l.NextContext(ctx); res <- err }()
		if i%2 == 0 {
			runtime.Gosched()
		}
		l.close(nil)
		err := <-res
		cancel()
		if err != io.EOF {
			t.Fatalf("iteration %d: NextContext after close: %v", i, err)
		}
	}
}
