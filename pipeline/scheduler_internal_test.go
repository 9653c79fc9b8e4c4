package pipeline

import (
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
