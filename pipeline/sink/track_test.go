//go:build cgo

// The tests that play real tracks: they encode with libopus, so they need
// cgo, which the package itself does not.

package sink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"layeh.com/gopus"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/tracktest"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// TestSenderLoopback plays a track over real UDP on loopback, encrypted,
// through a seek, a loop and a pause, and checks every packet: sequence,
// timestamp, SSRC, marker, and that Opus decodes it.
func TestSenderLoopback(t *testing.T) {
	for _, mode := range []string{"", sink.ModeAES256GCM, sink.ModeXChaCha20Poly1305} {
		t.Run("mode="+mode, func(t *testing.T) {
			tr := tracktest.Load(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var opts []sink.SenderOption
			var r *sink.Receiver
			if mode != "" {
				c, err := sink.NewCipher(mode, make([]byte, 32))
				require.NoError(t, err)
				opts = append(opts, sink.WithCipher(c))
				r = sink.NewReceiver(c)
			}
			conn, got := listen(t, ctx, r)
			out, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
			require.NoError(t, err)
			defer out.Close()

			clk := &fakeClock{t: time.Unix(100, 0)}
			s := sink.NewSender(out, sink.NewPacketizer(0xdeadbeef, sink.WithClock(clk.now)), opts...)
			p := tr.NewPlayer()
			defer p.Close()
			var sent []opus.Packet
			play := func(n int) error {
				for i := 0; n < 0 || i < n; i++ {
					pkt, err := p.Next()
					if err != nil {
						return err
					}
					require.NoError(t, s.Send(pkt))
					sent = append(sent, pkt)
					clk.add(20 * time.Millisecond)
				}
				return nil
			}
			require.NoError(t, play(20))
			require.NoError(t, p.Seek(ctx, 2*time.Second))
			require.NoError(t, play(10))
			p.Pause()
			assert.ErrorIs(t, play(-1), pipeline.ErrPaused)
			clk.add(time.Second)
			p.Resume()
			p.Loop(1)
			assert.ErrorIs(t, play(-1), io.EOF)

			require.Eventually(t, func() bool { return len(got()) == len(sent) }, 5*time.Second, 10*time.Millisecond, "every datagram arrives")
			cancel()
			rs := got()
			dec, err := gopus.NewDecoder(48000, 2)
			require.NoError(t, err)
			jumps := 0
			for i, rc := range rs {
				assert.Equal(t, uint32(0xdeadbeef), rc.h.SSRC)
				assert.Equal(t, sent[i].Data, rc.payload, "packet %d", i)
				pcm, err := dec.Decode(rc.payload, 5760, false)
				require.NoError(t, err, "packet %d decodes", i)
				assert.Equal(t, int(sent[i].Samples)*2, len(pcm))
				if i == 0 {
					assert.True(t, rc.h.Marker)
					continue
				}
				prev := rs[i-1]
				assert.Equal(t, prev.h.Sequence+1, rc.h.Sequence, "packet %d", i)
				d := rc.h.Timestamp - prev.h.Timestamp
				if rc.h.Marker {
					jumps++
					assert.True(t, sent[i-1].Silence, "a marker only after silence")
					assert.Equal(t, uint32(opus.Samples(time.Second+20*time.Millisecond)), d, "the pause's wall time")
					continue
				}
				assert.Equal(t, uint32(sent[i-1].Samples), d, "packet %d: advance by exactly the samples", i)
			}
			assert.Equal(t, 1, jumps, "one pause")
			assert.Equal(t, int64(len(sent)), s.Sent())
		})
	}
}

func TestDCARoundTrip(t *testing.T) {
	tr := tracktest.Load(t)
	for _, meta := range []*sink.DCAMetadata{nil, sink.NewDCAMetadata(2, 128000, true)} {
		var buf bytes.Buffer
		w := sink.NewDCAWriter(&buf, meta)
		p := tr.NewPlayer()
		var want [][]byte
		for {
			pkt, err := p.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if pkt.Silence {
				continue
			}
			want = append(want, pkt.Data)
			_, err = w.Write(pkt.Data)
			require.NoError(t, err)
		}
		p.Close()
		require.NoError(t, w.Flush())
		if meta == nil {
			assert.Equal(t, int(binary.LittleEndian.Uint16(buf.Bytes())), len(want[0]), "DCA0 starts with a frame")
		} else {
			assert.Equal(t, "DCA1", buf.String()[:4])
		}
		r, err := sink.NewDCAReader(&buf)
		require.NoError(t, err)
		if meta != nil {
			require.NotNil(t, r.Metadata())
			assert.Equal(t, 2, r.Metadata().Opus.Channels)
			assert.Equal(t, 128, r.Metadata().Opus.Bitrate)
		} else {
			assert.Nil(t, r.Metadata())
		}
		var got [][]byte
		for {
			b, err := r.ReadPacket()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			got = append(got, append([]byte(nil), b...))
		}
		assert.Equal(t, want, got, "exact packets and length")
	}
}

// A Player is a Source.
var _ sink.Source = (*pipeline.Player)(nil)

func TestWriteOgg(t *testing.T) {
	tr := tracktest.Load(t)
	x, _ := tr.Index()
	var want [][]byte
	p := tr.NewPlayer()
	for {
		pkt, err := p.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if !pkt.Silence {
			want = append(want, bytes.Clone(pkt.Data))
		}
	}
	p.Close()

	for _, length := range []int64{x.DurationSamples(), -1} {
		var buf bytes.Buffer
		head := ogg.OpusHead{Version: 1, Channels: uint8(tr.Metadata().Channels), PreSkip: uint16(x.PreSkip()), InputRate: 48000}
		p := tr.NewPlayer()
		n, err := sink.WriteOgg(context.Background(), &buf, p, head, length)
		p.Close()
		require.NoError(t, err)
		assert.Equal(t, int64(len(want)), n)

		r := ogg.NewReader(&buf)
		var got [][]byte
		var granule int64
		eos := false
		for i := 0; ; i++ {
			pk, err := r.ReadPacket()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			switch i {
			case 0:
				h, err := ogg.ParseOpusHead(pk.Data)
				require.NoError(t, err)
				assert.Equal(t, head.PreSkip, h.PreSkip)
			case 1:
				_, err := ogg.ParseOpusTags(pk.Data)
				require.NoError(t, err)
			default:
				got = append(got, bytes.Clone(pk.Data))
			}
			if pk.Granule >= 0 {
				granule = pk.Granule
			}
			eos = pk.EOS
		}
		assert.Equal(t, want, got, "exact packets")
		assert.True(t, eos, "the stream is ended")
		if length >= 0 {
			assert.Equal(t, x.PreSkip()+x.DurationSamples(), granule, "the exact length")
		} else {
			assert.Equal(t, int64(len(want))*960, granule, "the samples written")
		}
	}
}

// TestWriteOggLength cuts files of a set length from a track: shorter
// than the track, and longer than a source that loops without end. Each
// is the packets that hold the pre-skip and the length, from the start,
// and ends there, its last granule the pre-skip plus the length (the
// granules never going back, as they would if packets past the length
// were written and the end then trimmed).
func TestWriteOggLength(t *testing.T) {
	tr := tracktest.Load(t)
	want := tracktest.Packets(t, tr)
	head, ok := tr.OpusHead()
	require.True(t, ok)
	for _, tc := range []struct {
		name   string
		length int64
		loop   bool
	}{
		{"part of the track", 48000, false},
		{"the track looped", 5 * 48000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tr.NewPlayer()
			defer p.Close()
			if tc.loop {
				p.Loop(-1)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var buf bytes.Buffer
			n, err := sink.WriteOgg(ctx, &buf, p, head, tc.length)
			require.NoError(t, err)
			packets := (int64(head.PreSkip) + tc.length + 959) / 960
			assert.Equal(t, packets, n, "packets written")

			r := ogg.NewReader(&buf)
			var granule int64
			for i := 0; ; i++ {
				pk, err := r.ReadPacket()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				if i >= 2 && i-2 < len(want) { // after a loop back, a transition's packets come first
					assert.Equal(t, want[i-2], pk.Data, "packet %d", i-2)
				}
				if pk.Granule >= 0 {
					assert.GreaterOrEqual(t, pk.Granule, granule, "granules never go back")
					granule = pk.Granule
				}
			}
			assert.Equal(t, int64(head.PreSkip)+tc.length, granule, "the exact length")
		})
	}
}

func TestHTTPStreamBroadcast(t *testing.T) {
	tr := tracktest.Load(t, pipeline.WithBitrate(256000)) // a fast stream fills a stalled client's socket soon
	want := tracktest.Packets(t, tr)
	sched := pipeline.NewScheduler()
	defer sched.Close()
	b := pipeline.NewBroadcast(sched, tr, pipeline.WithBurst(4<<10), pipeline.WithQueueBound(8<<10, true))
	head, ok := tr.OpusHead()
	require.True(t, ok)
	hs := sink.NewHTTPStream(func() sink.Queue { return b.JoinBuffered() }, head, sink.WithWriteTimeout(time.Second))
	srv := httptest.NewUnstartedServer(hs)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	defer srv.Close()
	defer hs.Close()

	// A client that never reads, behind small socket buffers: its queue
	// passes the bound and the broadcast drops it.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stalled, err := d.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer stalled.Close()
	_, err = io.WriteString(stalled, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)

	listen := func(delay time.Duration) <-chan [][]byte {
		ch := make(chan [][]byte, 1)
		go func() {
			time.Sleep(delay)
			resp, err := http.Get(srv.URL)
			if !assert.NoError(t, err) {
				ch <- nil
				return
			}
			defer resp.Body.Close()
			assert.Equal(t, "audio/ogg", resp.Header.Get("Content-Type"))
			or := ogg.NewReader(resp.Body) // checks every page's sequence and checksum
			var got [][]byte
			eos := false
			for i := 0; ; i++ {
				p, err := or.ReadPacket()
				if err == io.EOF {
					break
				}
				if !assert.NoError(t, err) {
					break
				}
				switch i {
				case 0:
					h, err := ogg.ParseOpusHead(p.Data)
					assert.NoError(t, err)
					assert.Equal(t, head, h)
				case 1:
				default:
					got = append(got, bytes.Clone(p.Data))
					eos = p.EOS
				}
			}
			assert.True(t, eos, "the stream ends with its end-of-stream page")
			ch <- got
		}()
		return ch
	}
	early, late := listen(0), listen(time.Second)
	start := tracktest.RunOf(t, want, <-early)
	assert.Zero(t, start, "a client that joins at the start hears it all")
	start = tracktest.RunOf(t, want, <-late)
	assert.Positive(t, start, "a client that joins late hears a burst, not the whole track")
	assert.Less(t, start, len(want)/3+10)

	<-b.Done()
	require.Eventually(t, func() bool { return hs.Stats().Clients == 0 }, 10*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), b.Stats().Dropped, "the stalled client was dropped at its bound")
	st := hs.Stats()
	assert.Equal(t, int64(3), st.Served)
	assert.Equal(t, int64(1), st.Slow)
}
