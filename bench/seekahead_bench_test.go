package bench_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// heldSource gives its first head bytes at once and the rest once open
// is closed: a track whose encode has just started.
type heldSource struct {
	r    io.Reader
	open chan struct{}
}

func (h *heldSource) Read(p []byte) (int, error) {
	<-h.open
	return h.r.Read(p)
}

// BenchmarkSeekAhead is the time from a Queue's Seek 3 minutes into a
// 4-minute MP3 whose encode has just started (its first 200 KB read, the
// rest held back) to the packet at the target: the segment's encode from
// the target (the frame walk over the reopened file, the decoder's
// warm-up, the resampler's and encoder's start). The median is reported
// (ms/seek-median); the goal is under 100 ms.
func BenchmarkSeekAhead(b *testing.B) {
	data := bytes.Repeat(testutil.Fixture(b, "prog_notag.mp3"), 81) // about 4 minutes
	seekAhead(b, data, 200<<10)
}

// BenchmarkSeekAheadOgg is BenchmarkSeekAhead for a 4-minute Ogg Opus
// file (prog.opus's packets 80 times over, pages of a second) whose
// demux has just started (its first 50 KB read): the segment's bisection
// of the reopened file's pages, and its first packets copied; nothing is
// encoded.
func BenchmarkSeekAheadOgg(b *testing.B) {
	d := ogg.NewOpusDemuxer()
	src := bytes.NewReader(testutil.Fixture(b, "prog.opus"))
	var one [][]byte
	for {
		p, err := d.NextPacket(src)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, bytes.Clone(p))
	}
	info, _ := d.Info()
	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, info.Head, info.Tags)
	if err != nil {
		b.Fatal(err)
	}
	for range 80 {
		for _, p := range one {
			if err := w.WritePacket(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	seekAhead(b, out.Bytes(), 50<<10)
}

// seekAhead measures a seek 3 minutes into data, a source whose first
// head bytes are read at once and the rest held back, reopened whole.
func seekAhead(b *testing.B, data []byte, head int64) {
	target := 3 * time.Minute
	var took []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		held := make(chan struct{})
		opens := 0
		open := func(_ context.Context, _ string) (io.Reader, error) {
			opens++ // the Library's load and the segment's reopen, one after the other
			r := bytes.NewReader(data)
			if opens == 1 {
				return io.MultiReader(io.LimitReader(r, head), &heldSource{r: r, open: held}), nil
			}
			return r, nil
		}
		lib := pipeline.NewLibrary(pipeline.WithOpener(open))
		q := pipeline.NewQueue(lib)
		id := q.Enqueue(pipeline.Key{Source: "long"})
		for {
			if _, err := q.Next(); err == nil {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		start := time.Now()
		q.Seek(id, target)
		for {
			pk, err := q.Next()
			if err == nil && pk.Position+pk.Samples > int64(target/time.Millisecond)*48 {
				break
			}
			if err != nil && err != pipeline.ErrUnderrun {
				b.Fatal(err)
			}
			if err != nil {
				time.Sleep(100 * time.Microsecond)
			}
		}
		took = append(took, time.Since(start))
		close(held)
		q.Close()
		lib.Close()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/1e6, "ms/seek-median")
}
