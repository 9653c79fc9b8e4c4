package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline"
)

// audioAt returns n bytes of the radio's audio from position pos: byte i
// is i mod 251, so that any splice or stray metadata byte shows.
func audioAt(pos, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((pos + i) % 251)
	}
	return b
}

// icyBlock returns a metadata block: its length byte, then s padded with
// NULs to a multiple of 16.
func icyBlock(s string) []byte {
	l := (len(s) + 15) / 16
	b := make([]byte, 1+16*l)
	b[0] = byte(l)
	copy(b[1:], s)
	return b
}

// icecast is an Icecast-like server on loopback. Connection k is sent the
// live stream from the live point start(k): blocks intervals of audio,
// each followed by a metadata block (meta(k, b), the b-th of the
// connection) when the client asked with Icy-MetaData: 1 and interval >
// 0, with icy-metaint: interval. Connection k is dropped after drop(k)
// bytes of its body when that is >= 0; else the handler ends the body.
type icecast struct {
	interval int
	metaint  string // the icy-metaint header sent; strconv.Itoa(interval) if ""
	name     string // the icy-name header sent, if any
	blocks   int
	meta     func(conn, block int) []byte
	drop     func(conn int) int
	// audio, if set, is connection k's audio from its live point (an
	// Ogg chain, an MP3), sent in place of the blocks of audioAt, with a
	// metadata block after every interval of it when ICY is on.
	audio func(conn int) []byte

	mu    sync.Mutex
	conns int
	asked []string // each request's Icy-MetaData
}

// start is connection k's live point: the stream went on meanwhile.
func start(k int) int { return k * 100000 }

func (ic *icecast) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ic.mu.Lock()
	k := ic.conns
	ic.conns++
	ic.asked = append(ic.asked, r.Header.Get("Icy-MetaData"))
	ic.mu.Unlock()
	icy := ic.interval > 0 && r.Header.Get("Icy-MetaData") == "1"
	w.Header().Set("Content-Type", "audio/mpeg")
	if ic.name != "" {
		w.Header().Set("icy-name", ic.name)
	}
	if icy {
		v := ic.metaint
		if v == "" {
			v = strconv.Itoa(ic.interval)
		}
		w.Header().Set("icy-metaint", v)
	}
	var body bytes.Buffer
	size := ic.interval
	if !icy {
		size = 4096
	}
	switch {
	case ic.audio != nil && icy:
		a := ic.audio(k)
		for b := 0; len(a) > 0; b++ {
			n := min(len(a), ic.interval)
			body.Write(a[:n])
			if a = a[n:]; len(a) > 0 || n == ic.interval {
				body.Write(ic.meta(k, b))
			}
		}
	case ic.audio != nil:
		body.Write(ic.audio(k))
	default:
		for b := 0; b < ic.blocks; b++ {
			body.Write(audioAt(start(k)+b*size, size))
			if icy {
				body.Write(ic.meta(k, b))
			}
		}
	}
	var out http.ResponseWriter = w
	if ic.drop != nil && ic.drop(k) >= 0 {
		out = &dropper{ResponseWriter: w, left: ic.drop(k)}
	}
	out.Write(body.Bytes())
}

func (ic *icecast) stats() (int, []string) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	return ic.conns, append([]string(nil), ic.asked...)
}

// titled is the metadata of a stream whose title changes every second
// block, through titles.
func titled(titles ...string) func(conn, block int) []byte {
	return func(_, b int) []byte {
		return icyBlock("StreamTitle='" + titles[b/2%len(titles)] + "';StreamUrl='http://radio.example/';")
	}
}

// readN reads n bytes of s, then closes it.
func readN(t *testing.T, s *pipeline.HTTPSource, n int) []byte {
	t.Helper()
	got := make([]byte, n)
	_, err := io.ReadFull(s, got)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return got
}

// change is a StreamTitle without its time.
type change struct {
	Title     string
	Offset    int64
	Reconnect bool
}

func changes(s *pipeline.HTTPSource) []change {
	var c []change
	for _, t := range s.Titles() {
		c = append(c, change{t.Title, t.Offset, t.Reconnect})
	}
	return c
}

func TestICYTitles(t *testing.T) {
	const quoted = `It's "Quoted"; O'Brien - Don't Stop`
	titles := []string{"One - First", quoted, "Caf\xe9 Ol\xe9", ""}
	want := []string{"One - First", quoted, "Café Olé", ""}
	for _, interval := range []int{8192, 16} {
		t.Run(strconv.Itoa(interval), func(t *testing.T) {
			ic := &icecast{interval: interval, blocks: 9, meta: titled(titles...)}
			s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
			// A player reads the titles while the source is read, without
			// a lock (the race detector checks it): they only grow.
			done, seen := make(chan struct{}), make(chan int)
			go func() {
				n := 0
				for {
					select {
					case <-done:
						seen <- n
						return
					default:
					}
					titles := s.Titles()
					if len(titles) < n {
						panic("the titles shrank")
					}
					n = len(titles)
					runtime.Gosched()
				}
			}()
			got := readN(t, s, 9*interval)
			close(done)
			assert.LessOrEqual(t, <-seen, 4)
			assert.True(t, bytes.Equal(audioAt(0, 9*interval), got), "the audio is exactly the stream's, without its metadata")
			// Block b follows audio byte (b+1)*interval; the reads stop
			// before the ninth block.
			var wantc []change
			for b := 0; b < 8; b += 2 {
				wantc = append(wantc, change{want[b/2], int64(b+1) * int64(interval), false})
			}
			assert.Equal(t, wantc, changes(s))
			last, ok := s.Title()
			require.True(t, ok)
			assert.Equal(t, "http://radio.example/", last.URL)
			assert.False(t, last.Time.IsZero())
			assert.Zero(t, s.Reconnects())
			conns, asked := ic.stats()
			assert.Equal(t, 1, conns)
			assert.Equal(t, []string{"1"}, asked, "the source asks for ICY metadata")
		})
	}
}

func TestICYWithoutMetaint(t *testing.T) {
	// The server sends no icy-metaint: nothing is stripped.
	ic := &icecast{blocks: 3}
	s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	got, err := io.ReadAll(s)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(audioAt(0, 3*4096), got))
	assert.Nil(t, s.Titles())
	require.NoError(t, s.Close())
}

func TestICYReconnect(t *testing.T) {
	const interval = 64
	block := len(icyBlock("StreamTitle='A';"))
	tests := []struct {
		name   string
		drop   int // bytes of connection 0's body
		got    int // audio bytes it delivers
		titles int // its titles parsed
	}{
		// The third block, C, is cut short.
		{"mid-block", 3*interval + 2*block + 1 + 5, 3 * interval, 2},
		{"after the length byte", 3*interval + 2*block + 1, 3 * interval, 2},
		{"at the length byte", 3*interval + 2*block, 3 * interval, 2},
		{"mid-audio", 3*(interval+block) + 10, 3*interval + 10, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ic := &icecast{interval: interval, blocks: 8, meta: func(k, b int) []byte {
				return icyBlock("StreamTitle='" + string(rune('A'+b)) + "';")
			}, drop: func(k int) int {
				if k == 0 {
					return tc.drop
				}
				return -1
			}}
			s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
			got := readN(t, s, tc.got+2*interval)
			want := append(audioAt(start(0), tc.got), audioAt(start(1), 2*interval)...)
			assert.True(t, bytes.Equal(want, got), "the live point joined again, no stray byte")
			assert.Equal(t, int64(1), s.Reconnects())
			g := int64(tc.got)
			var wantc []change
			for b := 0; b < tc.titles; b++ {
				wantc = append(wantc, change{string(rune('A' + b)), int64(b+1) * interval, false})
			}
			wantc = append(wantc, change{"", g, true}, change{"A", g + interval, false})
			assert.Equal(t, wantc, changes(s), "the titles, the reconnect marked where the audio jumps")
			conns, _ := ic.stats()
			assert.Equal(t, 2, conns)
		})
	}
}

func TestICYNoLengthReconnects(t *testing.T) {
	// A radio stream without ICY metadata (icy-name, no Content-Length, no
	// validator): a drop is a reconnect, not the end nor an error.
	ic := &icecast{name: "Radio", blocks: 4, drop: func(k int) int {
		if k == 0 {
			return 5000
		}
		return -1
	}}
	s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	got := readN(t, s, 5000+4*4096)
	assert.True(t, bytes.Equal(append(audioAt(start(0), 5000), audioAt(start(1), 4*4096)...), got))
	assert.Equal(t, int64(1), s.Reconnects())
	assert.Equal(t, []change{{"", 5000, true}}, changes(s))
}

// A response with no length, no validator and none of a radio's headers
// (a download generated as it is sent) is no radio: a drop fails, rather
// than start it again and splice its first bytes after what was read.
func TestNoLengthDownloadNotRadio(t *testing.T) {
	ic := &icecast{blocks: 4, drop: func(k int) int {
		if k == 0 {
			return 5000
		}
		return -1
	}}
	s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	got, err := io.ReadAll(s)
	require.Error(t, err)
	assert.True(t, bytes.Equal(audioAt(0, 5000), got), "what came before the drop, and nothing spliced after it")
	assert.Zero(t, s.Reconnects())
}

func TestICYHostile(t *testing.T) {
	full := func(s string) []byte { // length byte 255: 4080 bytes
		b := make([]byte, 1+16*255)
		b[0] = 255
		copy(b[1:], s)
		return b
	}
	t.Run("255 every time", func(t *testing.T) {
		ic := &icecast{interval: 16, blocks: 6, meta: func(_, b int) []byte { return full("StreamTitle='Long';") }}
		s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
		got := readN(t, s, 6*16)
		assert.True(t, bytes.Equal(audioAt(0, 6*16), got))
		assert.Equal(t, []change{{"Long", 16, false}}, changes(s))
	})
	t.Run("255 of garbage", func(t *testing.T) {
		ic := &icecast{interval: 16, blocks: 6, meta: func(_, b int) []byte { return full("\xff\x00garbage") }}
		s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
		got, err := io.ReadAll(s)
		require.ErrorIs(t, err, pipeline.ErrICY)
		assert.Contains(t, err.Error(), "not Key='value'")
		assert.True(t, bytes.Equal(audioAt(0, 16), got), "the audio before the bad block")
		conns, _ := ic.stats()
		assert.Equal(t, 1, conns, "no reconnect mends a bad block")
		require.NoError(t, s.Close())
	})
	t.Run("every block cut short", func(t *testing.T) {
		// Each connection ends within its first block: the source
		// reconnects each time, and says so.
		ic := &icecast{interval: 16, blocks: 2, meta: titled("T"), drop: func(int) int { return 16 + 3 }}
		s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
		got := readN(t, s, 3*16)
		assert.True(t, bytes.Equal(append(append(audioAt(start(0), 16), audioAt(start(1), 16)...), audioAt(start(2), 16)...), got))
		assert.GreaterOrEqual(t, s.Reconnects(), int64(2))
		assert.Equal(t, []change{{"", 16, true}, {"", 32, true}}, changes(s)[:2])
	})
	for _, v := range []string{"0", "-16", "abc", "99999999"} {
		t.Run("icy-metaint "+v, func(t *testing.T) {
			ic := &icecast{interval: 16, metaint: v, blocks: 2, meta: titled("T")}
			s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
			_, err := io.ReadAll(s)
			require.ErrorIs(t, err, pipeline.ErrICY)
			assert.Contains(t, err.Error(), "icy-metaint")
			conns, _ := ic.stats()
			assert.Equal(t, 1, conns)
			require.NoError(t, s.Close())
		})
	}
}

func TestICYClose(t *testing.T) {
	// Close during a radio stream's reads ends them with ErrClosed.
	ic := &icecast{interval: 16, blocks: 4, meta: titled("T")}
	s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	buf := make([]byte, 16)
	_, err := io.ReadFull(s, buf)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = s.Read(buf)
	assert.True(t, errors.Is(err, pipeline.ErrClosed), "got %v; want ErrClosed", err)
}

func TestICYEndIsADrop(t *testing.T) {
	// An ICY stream has no end: a response that ends (a server restarted,
	// a proxy's timeout) is reconnected to, at the live point.
	ic := &icecast{interval: 32, blocks: 2, meta: titled("T")}
	s := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	got := readN(t, s, 5*32)
	want := append(append(audioAt(start(0), 64), audioAt(start(1), 64)...), audioAt(start(2), 32)...)
	assert.True(t, bytes.Equal(want, got))
	assert.Equal(t, int64(2), s.Reconnects())
	assert.Equal(t, int64(-1), s.Size(), "a radio stream has no length")
	assert.Equal(t, []change{{"T", 32, false}, {"", 64, true}, {"T", 96, false}, {"", 128, true}}, changes(s))
}
