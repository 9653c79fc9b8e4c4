package sink_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// chanQueue is a Queue fed by a test: a packet per send, io.EOF once the
// channel is closed, or an endless supply of packets.
type chanQueue struct {
	ch      chan opus.Packet
	endless bool
	err     error // given once ch is closed, instead of io.EOF
	left    atomic.Bool
}

func (q *chanQueue) Next() (opus.Packet, error) {
	if q.endless {
		return opus.Packet{Data: testPacket(7), Samples: 960}, nil
	}
	select {
	case p, ok := <-q.ch:
		return q.got(p, ok)
	default:
		return opus.Packet{}, opus.ErrUnderrun
	}
}

func (q *chanQueue) NextContext(ctx context.Context) (opus.Packet, error) {
	select {
	case p, ok := <-q.ch:
		return q.got(p, ok)
	case <-ctx.Done():
		return opus.Packet{}, ctx.Err()
	}
}

func (q *chanQueue) got(p opus.Packet, ok bool) (opus.Packet, error) {
	if !ok {
		if q.err != nil {
			return opus.Packet{}, q.err
		}
		return opus.Packet{}, io.EOF
	}
	return p, nil
}

func (q *chanQueue) Leave() { q.left.Store(true) }

// testPacket is a 20 ms CELT packet whose payload says i.
func testPacket(i int) []byte { return fmt.Appendf([]byte{0xfc}, "packet %d", i) }

var testHead = ogg.OpusHead{Version: 1, Channels: 2, PreSkip: 312, InputRate: 48000}

// readOgg reads an Ogg Opus stream's headers, then n audio packets (all
// of them to the end if n < 0), checking the pages as it goes; it returns
// the packets, copied, and whether the end-of-stream page was read.
func readOgg(t *testing.T, r io.Reader, n int) (pkts [][]byte, eos bool) {
	t.Helper()
	or := ogg.NewReader(r)
	p, err := or.ReadPacket()
	require.NoError(t, err)
	h, err := ogg.ParseOpusHead(p.Data)
	require.NoError(t, err)
	assert.Equal(t, testHead.PreSkip, h.PreSkip)
	p, err = or.ReadPacket()
	require.NoError(t, err)
	_, err = ogg.ParseOpusTags(p.Data)
	require.NoError(t, err)
	for n < 0 || len(pkts) < n {
		p, err := or.ReadPacket()
		if err == io.EOF && n < 0 {
			break
		}
		require.NoError(t, err)
		pkts = append(pkts, append([]byte(nil), p.Data...))
		eos = p.EOS
	}
	return pkts, eos
}

func TestHTTPStream(t *testing.T) {
	q := &chanQueue{ch: make(chan opus.Packet)}
	hs := sink.NewHTTPStream(func() sink.Queue { return q }, testHead)
	srv := httptest.NewServer(hs)
	defer srv.Close()
	defer hs.Close()

	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "audio/ogg", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-cache, no-store", resp.Header.Get("Cache-Control"))
	body := bufio.NewReader(resp.Body)

	// A page is flushed as soon as it holds 100 ms: the client reads the
	// first five packets while the stream is still live.
	go func() {
		for i := range 5 {
			q.ch <- opus.Packet{Data: testPacket(i), Samples: 960}
		}
	}()
	got, _ := readOgg(t, body, 5)
	for i, p := range got {
		assert.Equal(t, testPacket(i), p)
	}
	// A silence frame is not audio and is left out; then the stream ends.
	go func() {
		q.ch <- opus.Packet{Data: []byte(opus.SilenceFrame), Samples: 960, Silence: true}
		for i := 5; i < 12; i++ {
			q.ch <- opus.Packet{Data: testPacket(i), Samples: 960}
		}
		close(q.ch)
	}()
	rest, eos := readOgg2(t, body)
	assert.True(t, eos, "the stream ends with its end-of-stream page")
	require.Len(t, rest, 7)
	for i, p := range rest {
		assert.Equal(t, testPacket(5+i), p)
	}
	require.Eventually(t, func() bool { return hs.Stats().Clients == 0 }, 5*time.Second, time.Millisecond)
	assert.True(t, q.left.Load(), "the queue is left when the client's stream ends")
	st := hs.Stats()
	assert.Equal(t, sink.HTTPStats{Served: 1, Packets: 12, Bytes: st.Bytes}, st)
	assert.Greater(t, st.Bytes, int64(12*len(testPacket(0))))
}

// readOgg2 reads the audio packets that follow the ones already read from
// an Ogg stream whose headers and first pages were read by readOgg, to the
// end: it continues with the same page sequence by reading raw pages.
func readOgg2(t *testing.T, r *bufio.Reader) (pkts [][]byte, eos bool) {
	t.Helper()
	for {
		var hdr [27]byte
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return pkts, eos
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, "OggS", string(hdr[:4]))
		segs := make([]byte, hdr[26])
		_, err := io.ReadFull(r, segs)
		require.NoError(t, err)
		var pkt []byte
		for _, s := range segs {
			b := make([]byte, s)
			_, err := io.ReadFull(r, b)
			require.NoError(t, err)
			pkt = append(pkt, b...)
			if s < 255 {
				pkts, pkt = append(pkts, pkt), nil
			}
		}
		eos = hdr[5]&4 != 0
	}
}

func TestHTTPStreamRequests(t *testing.T) {
	q := &chanQueue{ch: make(chan opus.Packet)}
	hs := sink.NewHTTPStream(func() sink.Queue { return q }, testHead, sink.WithMaxClients(1))
	srv := httptest.NewServer(hs)
	defer srv.Close()

	resp, err := http.Post(srv.URL, "audio/ogg", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	resp, err = http.Head(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "audio/ogg", resp.Header.Get("Content-Type"))
	assert.Zero(t, hs.Stats().Served, "HEAD joins nothing")

	first, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer first.Body.Close()
	body := bufio.NewReader(first.Body)
	readOgg(t, body, 0) // the headers came: the client is in
	second, err := http.Get(srv.URL)
	require.NoError(t, err)
	second.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, second.StatusCode, "over the client limit")
	assert.Equal(t, int64(1), hs.Stats().Refused)

	// Close ends the client's stream properly and waits for its handler.
	require.NoError(t, hs.Close())
	pkts, eos := readOgg2(t, body)
	assert.Empty(t, pkts)
	assert.True(t, eos)
	assert.Zero(t, hs.Stats().Clients)
	resp, err = http.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "closed")
}

func TestHTTPStreamDropsSlow(t *testing.T) {
	t.Run("queue", func(t *testing.T) {
		q := &chanQueue{ch: make(chan opus.Packet), err: opus.ErrSlowListener}
		hs := sink.NewHTTPStream(func() sink.Queue { return q }, testHead)
		srv := httptest.NewServer(hs)
		defer srv.Close()
		defer hs.Close()
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		close(q.ch) // the queue drops its listener
		pkts, eos := readOgg(t, bufio.NewReader(resp.Body), -1)
		assert.Empty(t, pkts)
		assert.False(t, eos, "a dropped client's stream is cut, not ended")
		require.Eventually(t, func() bool { return hs.Stats().Slow == 1 }, 5*time.Second, time.Millisecond)
	})
	t.Run("write timeout", func(t *testing.T) {
		// A client that reads nothing, behind small socket buffers, with a
		// queue that always has a packet: the writes stall, time out, and
		// the client is dropped, while another is served meanwhile. The
		// timeout is long enough that the client that reads is never
		// taken for slow on a busy machine, whose reader may be held up
		// for a moment.
		hs := sink.NewHTTPStream(func() sink.Queue { return &chanQueue{endless: true} }, testHead,
			sink.WithWriteTimeout(3*time.Second))
		srv := httptest.NewUnstartedServer(hs)
		srv.Listener = smallBuffers{srv.Listener}
		srv.Start()
		defer srv.Close()
		defer hs.Close()

		d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		}}
		stalled, err := d.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		defer stalled.Close()
		_, err = fmt.Fprintf(stalled, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)

		other, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer other.Body.Close()
		body := bufio.NewReader(other.Body)
		readOgg(t, body, 100) // served while the other stalls
		var read atomic.Int64
		go func() { // and kept reading, so that it is never slow itself
			n, _ := io.Copy(io.Discard, body)
			read.Add(n)
		}()
		require.Eventually(t, func() bool { return hs.Stats().Slow == 1 }, 60*time.Second, time.Millisecond)
		sent := hs.Stats().Bytes
		require.Eventually(t, func() bool { return hs.Stats().Bytes > sent+1<<20 }, 60*time.Second, time.Millisecond,
			"the other client is still served after the slow one was dropped")
		assert.Equal(t, int64(1), hs.Stats().Slow)
		assert.Equal(t, int64(1), hs.Stats().Clients)
	})
}

// smallBuffers is a listener whose connections have small send buffers,
// so that a client that does not read stalls its writer at once.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}
