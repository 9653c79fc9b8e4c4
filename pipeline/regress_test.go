package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/transform"
)

// a command that closes its stdout but keeps running: Read's end()
// holds s.mu across cmd.Wait, so Close cannot take the lock to kill it.
func TestRegressCommandCloseDeadlock(t *testing.T) {
	cmd := exec.Command("sh", "-c", "printf abc; exec >&-; sleep 5")
	s := pipeline.NewCommandSource(cmd)
	readDone := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(s)
		readDone <- err
	}()
	time.Sleep(300 * time.Millisecond) // Read has hit EOF and is in Wait
	closed := make(chan struct{})
	start := time.Now()
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Logf("Close returned after %v", time.Since(start))
	case <-time.After(2 * time.Second):
		t.Errorf("Close blocked for 2 s: end() holds mu across cmd.Wait, Close cannot kill the group")
		<-closed
		t.Logf("Close returned only after %v (when sleep exited by itself)", time.Since(start))
	}
	<-readDone
}

// a background child that keeps stderr: Wait waits for the stderr
// copy; same deadlock.
func TestRegressCommandStderrHeld(t *testing.T) {
	cmd := exec.Command("sh", "-c", "printf abc; sleep 5 >/dev/null &")
	s := pipeline.NewCommandSource(cmd)
	readDone := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(s)
		readDone <- err
	}()
	time.Sleep(300 * time.Millisecond)
	closed := make(chan struct{})
	start := time.Now()
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Logf("Close returned after %v", time.Since(start))
	case <-time.After(2 * time.Second):
		t.Errorf("Close blocked for 2 s behind Wait (stderr held by a child)")
		<-closed
		t.Logf("Close returned only after %v", time.Since(start))
	}
	<-readDone
}

// after a clean exit of the leader, Close does not kill the group:
// a child left running is leaked.
func TestRegressCommandGroupLeakAfterExit(t *testing.T) {
	cmd := exec.Command("sh", "-c", "printf abc; sleep 30 >/dev/null 2>&1 &")
	s := pipeline.NewCommandSource(cmd)
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(got))
	pgid := cmd.Process.Pid
	require.NoError(t, s.Close())
	assert.Eventually(t, func() bool { return groupGone(pgid) }, 10*time.Second, 10*time.Millisecond,
		"a process of the command's group is still running after Close")
	syscall.Kill(-pgid, syscall.SIGKILL) // clean up
}

// a pool slot is held while the encoder blocks on its source.
func TestRegressPoolSlotHeldDuringIO(t *testing.T) {
	pool := pipeline.NewPool(1)
	f := transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}
	pr, pw := io.Pipe()
	defer pw.Close()
	blocked, err := pipeline.NewTrack(pr, pipeline.WithPool(pool), pipeline.WithRawPCM(f))
	require.NoError(t, err)
	defer blocked.Close()
	time.Sleep(100 * time.Millisecond) // its fill is now blocked reading the pipe
	assert.Zero(t, pool.Stats().Busy, "no slot held while the source is read")

	pcm := testutil.Tone(48000, 2, 48000, 440, 0.5)
	other, err := pipeline.NewTrack(bytes.NewReader(pcm), pipeline.WithPool(pool),
		pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}))
	require.NoError(t, err)
	defer other.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = other.NewCursor().NextContext(ctx)
	assert.NoError(t, err, "a track whose source is idle holds the only slot: %+v", pool.Stats())
}

// Metadata of a live Ogg Opus track panics once the index window drops
// packet 0 (Entry(0)).
func TestRegressLiveOggMetadataPanics(t *testing.T) {
	data := testutil.Fixture(t, "prog.opus")
	tr, err := pipeline.NewTrack(bytes.NewReader(data), pipeline.WithLive(20*time.Millisecond), pipeline.WithPacing(nil))
	require.NoError(t, err)
	defer tr.Close()
	<-tr.Done()
	x, _ := tr.Index()
	t.Logf("first %d len %d", x.First(), x.Packets())
	require.Positive(t, x.First())
	assert.NotPanics(t, func() { _ = tr.Metadata() })
}

// an Ogg Opus file whose end trimming exceeds the holdback, read while
// encoding: the reader gives samples past the end, then panics.
func TestRegressPCMHoldbackOggTrim(t *testing.T) {
	// 3 s of 20 ms packets in 1 s pages, trimmed to 2.05 s: the last page
	// (1 s) loses 0.95 s, a legal end trimming (the granule still grows).
	var buf bytes.Buffer
	src := testutil.Fixture(t, "prog.opus")
	tr0, err := pipeline.NewTrack(bytes.NewReader(src))
	require.NoError(t, err)
	pk := packets(t, tr0)
	x0, _ := tr0.Index()
	tr0.Close()
	head := ogg.OpusHead{Version: 1, Channels: 2, PreSkip: uint16(x0.PreSkip()), InputRate: 48000}
	t.Logf("%d packets, preskip %d, samples %d", len(pk), x0.PreSkip(), x0.DecodedSamples())
	ow, err := ogg.NewOpusWriter(&buf, head, ogg.OpusTags{Vendor: "x"})
	require.NoError(t, err)
	for _, p := range pk {
		require.NoError(t, ow.WritePacket(p))
	}
	ow.SetLength(2*48000 + 2400)
	require.NoError(t, ow.Close())
	file := buf.Bytes()

	pr, pw := io.Pipe()
	go func() {
		pw.Write(file)
		time.Sleep(1 * time.Second)
		pw.Close()
	}()
	tr, err := pipeline.NewTrack(pr)
	require.NoError(t, err)
	defer tr.Close()
	r, err := tr.NewPCMReader()
	require.NoError(t, err)
	var got []byte
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("PCMReader.Read panicked: %v (after %d bytes)", v, len(got))
			}
		}()
		b := make([]byte, 4096)
		for {
			n, err := r.Read(b)
			got = append(got, b[:n]...)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
	}()
	x, _ := tr.Index()
	t.Logf("true length %d samples, read %d", x.DurationSamples(), len(got)/4)
	assert.LessOrEqual(t, int64(len(got)/4), x.DurationSamples())
}

type silence struct{}

func (silence) Read(p []byte) (int, error) { clear(p); return len(p) &^ 3, nil }

// a PCMReader at a position the live index has forgotten starts at
// the first packet indexed, silently, and Position claims the position.
func TestRegressPCMLiveForgotten(t *testing.T) {
	tr := newTrack(t, silence{}, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}), pipeline.WithLive(time.Second), pipeline.WithPacing(nil),
		pipeline.WithPool(pipeline.NewPool(1)))
	require.Eventually(t, func() bool { x, _ := tr.Index(); return x.First() > 0 }, 20*time.Second, 10*time.Millisecond)
	x, _ := tr.Index()
	t.Logf("index first %d (from %v), cache oldest %d, first offset %d", x.First(), time.Duration(x.Entry(x.First()).Start)*time.Second/48000, tr.Catcher().Oldest(), x.Entry(x.First()).Offset)
	r, err := tr.NewPCMReader()
	require.NoError(t, err)
	n, err := r.Read(make([]byte, 4096))
	t.Logf("Read at position 0 of a forgotten start: n=%d err=%v, Position %v", n, err, r.Position())
	assert.ErrorIs(t, err, catcher.ErrEvicted, "reading position 0, long forgotten")
	r.Close()
}

type alwaysFails struct{}

func (alwaysFails) Read([]byte) (int, error)       { return 0, errors.New("EIO") }
func (alwaysFails) Seek(int64, int) (int64, error) { return 0, nil }

// Track.Close waits for the source's whole retry schedule: the
// backoff is not interruptible (context.Background) and SeekerSource has no
// closed state.
func TestRegressCloseWaitsForBackoff(t *testing.T) {
	// A schedule of minutes, and a bound of seconds that a busy machine
	// meets with room to spare: a Close that waited for the backoff would
	// take the minutes.
	src := pipeline.NewSeekerSource(alwaysFails{}, pipeline.WithRetry(3, time.Minute))
	tr, err := pipeline.NewTrack(src, pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2}), pipeline.WithPool(pipeline.NewPool(1)))
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	tr.Close()
	t.Logf("Track.Close took %v", time.Since(start))
	assert.Less(t, time.Since(start), 20*time.Second)
}

// a live Ogg Opus track sizes its index window from the encoder's
// frame setting, not the stream's packets.
func TestRegressLiveOggIndexWindow(t *testing.T) {
	data := testutil.Fixture(t, "prog_2500us.opus")
	tr := newTrack(t, bytes.NewReader(data), pipeline.WithLive(time.Second), pipeline.WithPacing(nil))
	<-tr.Done()
	x, _ := tr.Index()
	kept := time.Duration(x.DecodedSamples()-x.Entry(x.First()).Start) * time.Second / 48000
	t.Logf("packets %d, first %d: index keeps %v of a 1 s live window; cache oldest %d of %d", x.Packets(), x.First(), kept, tr.Catcher().Oldest(), tr.Catcher().Len())
	assert.GreaterOrEqual(t, kept, time.Second)
}
func TestRegressHTTPSpliceIgnoredIfRange(t *testing.T) {
	v1 := bytes.Repeat([]byte("A"), 100000)
	v2 := bytes.Repeat([]byte("B"), 100000)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Content-Length", fmt.Sprint(len(v1)))
			w.Write(v1[:50000])
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		var start int
		fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &start)
		w.Header().Set("ETag", `"v2"`) // changed; If-Range ignored
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(v2)-1, len(v2)))
		w.Header().Set("Content-Length", fmt.Sprint(len(v2)-start))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(v2[start:])
	}))
	defer srv.Close()
	s := pipeline.OpenHTTP(context.Background(), srv.URL)
	defer s.Close()
	got, err := io.ReadAll(s)
	t.Logf("err %v, %d bytes, A=%d B=%d", err, len(got), bytes.Count(got, []byte("A")), bytes.Count(got, []byte("B")))
	assert.ErrorIs(t, err, pipeline.ErrChanged, "a 206 whose ETag differs from If-Range's is a change")
	assert.Zero(t, bytes.Count(got, []byte("B")), "no byte of the other file")
}

// groupGone reports whether no process of group pgid runs: none is left,
// or those left are zombies (killed, and waiting for init, which on some
// machines reaps orphans late, to reap them).
func groupGone(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return true
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: the fields after the last ')'.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" {
			return false
		}
	}
	return true
}
