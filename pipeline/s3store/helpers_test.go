package s3store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/s3store"
	"github.com/streamcatcher/streamcatcher/transform"
)

// The test tracks: "short" is the 3-second MP3 fixture (one checksum
// block, within the bytes Open fetches); "long" is 10 seconds of noise as
// raw PCM (a stored track of several blocks, read by range).
var (
	shortKey = pipeline.Key{Source: "short"}
	longKey  = pipeline.Key{Source: "long"}
	rawPCM   = pipeline.WithTrackOptions(pipeline.WithRawPCM(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}))
)

// sources opens the test tracks, counting the opens.
type sources struct {
	mu    sync.Mutex // guards opens
	opens int
	data  map[string][]byte
}

func newSources(t testing.TB) *sources {
	return &sources{data: map[string][]byte{"short": testutil.Fixture(t, "prog_48000.mp3"), "long": noise(10)}}
}

func (s *sources) open(_ context.Context, source string) (io.Reader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens++
	d, ok := s.data[source]
	if !ok {
		return nil, errors.New("no such source: " + source)
	}
	return bytes.NewReader(d), nil
}

func (s *sources) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// noise is n seconds of pseudo-random 16-bit stereo PCM at 48 kHz, which
// codes at about its bitrate.
func noise(seconds int) []byte {
	b := make([]byte, 4*48000*seconds)
	x := uint32(1)
	for i := 0; i < len(b); i += 2 {
		x = x*1664525 + 1013904223
		binary.LittleEndian.PutUint16(b[i:], uint16(x>>16)/4)
	}
	return b
}

// newStore returns a Store of bucket on the server at endpoint, with the
// tests' settings (small ranges and parts, short waits) before opts.
func newStore(t testing.TB, endpoint, bucket string, opts ...s3store.Option) *s3store.Store {
	t.Helper()
	base := []s3store.Option{
		s3store.WithCredentials(s3test.AccessKey, s3test.SecretKey),
		s3store.WithRetry(4, 10*time.Millisecond, 200*time.Millisecond),
		s3store.WithReadAhead(16<<10, 3),
		s3store.WithHeadSize(64 << 10), // the long track's data read by range, past it
	}
	s, err := s3store.New(endpoint, bucket, append(base, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// newLibrary returns a Library of the test tracks in store, closed at
// the test's end.
func newLibrary(t testing.TB, src *sources, store pipeline.Store, opts ...pipeline.LibraryOption) *pipeline.Library {
	t.Helper()
	lib := pipeline.NewLibrary(append([]pipeline.LibraryOption{pipeline.WithOpener(src.open), pipeline.WithStore(store), rawPCM}, opts...)...)
	t.Cleanup(func() { lib.Close() })
	return lib
}

// packetsOf waits for the track of h to end and returns its packets (a
// copy each), and the error that ended them (io.EOF at the end).
func packetsOf(t testing.TB, h *pipeline.Hold) ([][]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cur := h.Track().NewCursor()
	var out [][]byte
	for {
		p, err := cur.NextContext(ctx)
		if err != nil {
			require.NoError(t, ctx.Err(), "the track did not end")
			return out, err
		}
		out = append(out, bytes.Clone(p.Data))
	}
}

// playAll returns every packet of the track of h, which must end
// cleanly.
func playAll(t testing.TB, h *pipeline.Hold) [][]byte {
	t.Helper()
	got, err := packetsOf(t, h)
	require.Equal(t, io.EOF, err)
	return got
}

// stored encodes the track of key into store with a Library of its own,
// waits for it to be written, and returns its packets.
func stored(t testing.TB, store pipeline.Store, key pipeline.Key) [][]byte {
	t.Helper()
	return storedFrom(t, store, key, newSources(t))
}

// storedFrom is stored with the track's source in src.
func storedFrom(t testing.TB, store pipeline.Store, key pipeline.Key, src *sources) [][]byte {
	t.Helper()
	lib := pipeline.NewLibrary(pipeline.WithOpener(src.open), pipeline.WithStore(store), rawPCM)
	defer lib.Close()
	h, err := lib.Get(context.Background(), key)
	require.NoError(t, err)
	want := playAll(t, h)
	h.Release()
	eventually(t, func() bool { return lib.Stats().Writes == 1 }, "the track written")
	return want
}

// eventually waits for cond, polling, for a generous time.
func eventually(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		require.False(t, time.Now().After(deadline), what)
		time.Sleep(2 * time.Millisecond)
	}
}
