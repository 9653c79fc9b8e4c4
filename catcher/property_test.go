package catcher_test

import (
	"fmt"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// propDrawConfig draws a Catcher configuration and its source.
func propDrawConfig(t *rapid.T) propConfig {
	maxLen := 64 << 10
	if testing.Short() {
		maxLen = 6 << 10
	}
	var cfg propConfig
	cfg.srcLen = rapid.IntRange(0, maxLen).Draw(t, "srcLen")
	cfg.dataSeed = rapid.Uint64().Draw(t, "dataSeed")
	cfg.srcSeed = rapid.Uint64().Draw(t, "srcSeed")
	cfg.maxRead = rapid.SampledFrom([]int{1, 3, 17, 256, 1000, 5000, 1 << 16}).Draw(t, "maxRead")
	cfg.withLast = rapid.Bool().Draw(t, "withLast")
	cfg.failAt = -1
	if rapid.IntRange(0, 3).Draw(t, "failing") == 0 {
		cfg.failAt = rapid.IntRange(0, cfg.srcLen).Draw(t, "failAt")
	}
	if rapid.IntRange(0, 3).Draw(t, "bounded") == 0 {
		cfg.maxBytes = rapid.Int64Range(1, int64(cfg.srcLen)+8).Draw(t, "maxBytes")
	}
	cfg.growth = rapid.IntRange(0, 3).Draw(t, "growth")
	cfg.start = rapid.IntRange(1, 64).Draw(t, "start")
	cfg.gmax = rapid.IntRange(cfg.start, 4096).Draw(t, "gmax")
	switch rapid.IntRange(0, 3).Draw(t, "hintKind") {
	case 1: // exact
		cfg.hint = int64(cfg.srcLen)
	case 2: // smaller
		cfg.hint = rapid.Int64Range(0, int64(cfg.srcLen)).Draw(t, "hint")
	case 3: // larger
		cfg.hint = int64(cfg.srcLen) + rapid.Int64Range(1, 10_000).Draw(t, "hintExtra")
	}
	if rapid.IntRange(0, 4).Draw(t, "windowed") == 0 {
		cfg.window = rapid.Int64Range(1, 4096).Draw(t, "window")
	}
	cfg.finalise = rapid.Bool().Draw(t, "finalise")
	cfg.preload = rapid.Bool().Draw(t, "preload")
	return cfg
}

// propOpGen generates operations on a stream of about srcLen bytes, reads
// most often.
func propOpGen(srcLen int) *rapid.Generator[propOp] {
	kinds := []propOpKind{
		propRead, propRead, propRead, propRead, propRead, propRead,
		propSeek, propSeek, propSeek, propClone, propNewReader,
		propReadAt, propReadAt, propWriteTo, propBuffered, propReady,
		propReaderReady, propStats, propCloseReader, propWait,
	}
	offsets := rapid.OneOf(
		rapid.Int64Range(-8, int64(srcLen)+64),
		rapid.SampledFrom([]int64{0, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1}),
	)
	return rapid.Custom(func(t *rapid.T) propOp {
		op := propOp{kind: rapid.SampledFrom(kinds).Draw(t, "kind")}
		op.h = rapid.IntRange(0, 7).Draw(t, "h")
		switch op.kind {
		case propRead:
			op.size = rapid.IntRange(0, 6000).Draw(t, "size")
			op.ctx = rapid.IntRange(0, propNumCtx-1).Draw(t, "ctx")
			if op.ctx == propCtxTimeout {
				op.delay = time.Duration(rapid.IntRange(0, 2000).Draw(t, "delay")) * time.Microsecond
			}
		case propReadAt:
			op.size = rapid.IntRange(0, 6000).Draw(t, "size")
			op.off = offsets.Draw(t, "off")
		case propSeek:
			op.whence = rapid.IntRange(io.SeekStart, io.SeekEnd).Draw(t, "whence")
			op.off = offsets.Draw(t, "off")
			if op.whence != io.SeekStart && rapid.Bool().Draw(t, "small") {
				op.off = rapid.Int64Range(-300, 300).Draw(t, "delta")
			}
		case propReady:
			op.off = offsets.Draw(t, "off")
		}
		return op
	})
}

// TestPropertyInterleavings runs random operations from several goroutines,
// each with its own Readers, on random configurations, and checks every
// result against a model of the stream: every byte at its offset, the end
// exactly at the source's length (or at its failure, or at MaxBytes), the
// offsets the model expects, errors only where they are due.
func TestPropertyInterleavings(t *testing.T) {
	maxWorkers, maxOps := 16, 60
	if testing.Short() {
		maxWorkers, maxOps = 8, 25
	}
	rapid.Check(t, func(t *rapid.T) {
		cfg := propDrawConfig(t)
		nw := rapid.IntRange(2, maxWorkers).Draw(t, "workers")
		gen := propOpGen(cfg.srcLen)
		ops := make([][]propOp, nw)
		for i := range ops {
			ops[i] = rapid.SliceOfN(gen, 0, maxOps).Draw(t, fmt.Sprintf("ops%d", i))
		}
		// Sometimes the first worker closes the Catcher among its operations.
		if rapid.IntRange(0, 4).Draw(t, "closeMidway") == 0 {
			at := rapid.IntRange(0, len(ops[0])).Draw(t, "closeAt")
			ops[0] = append(ops[0][:at:at], append([]propOp{{kind: propClose}}, ops[0][at:]...)...)
		}

		e := cfg.newEnv()
		defer e.c.Close()
		propRunWorkers(e, ops)
		if f := e.failures(); f != "" {
			t.Fatalf("%v\n%s", cfg, f)
		}
	})
}

// propRunWorkers runs each list of operations in its own goroutine, all
// started together, then checks that no read is left waiting and that the
// stream ends as the model says. A Catcher still in use after a minute is
// closed, so that the test fails rather than hangs.
func propRunWorkers(e *propEnv, ops [][]propOp) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, list := range ops {
		w := e.newWorker(i)
		wg.Go(func() {
			defer w.closeAll()
			<-start
			for _, op := range list {
				w.run(op)
			}
		})
	}
	close(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		e.failf("operations still running after a minute; closing the Catcher")
		e.close()
		<-done
	}
	if e.closeStarted.Load() {
		return
	}
	if st := e.c.Stats(); st.Waiting != 0 {
		e.failf("%d reads still counted as waiting when none is", st.Waiting)
	}
	// The whole stream, read once more after all that.
	w := e.newWorker(len(ops))
	defer w.closeAll()
	w.run(propOp{kind: propWait})
	w.run(propOp{kind: propWriteTo})
	w.run(propOp{kind: propStats})
	// The source was read once: it handed out the stream's bytes, no more
	// (a stream cut by MaxBytes reads a little past its end to see that).
	if e.m.endErr != catcher.ErrTooLong && int64(e.src.off) != e.m.end {
		e.failf("the source handed out %d bytes for a stream of %d", e.src.off, e.m.end)
	}
}
