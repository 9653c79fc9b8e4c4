package sink_test

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a wall clock a test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func pk(ts int64, silence bool) opus.Packet {
	return opus.Packet{Data: []byte{0xfc}, Timestamp: ts, Samples: 960, Silence: silence}
}

func TestPacketizer(t *testing.T) {
	clk := &fakeClock{t: time.Unix(0, 0)}
	pz := sink.NewPacketizer(7, sink.WithStart(65534, 1<<32-1920), sink.WithClock(clk.now))
	var hs []sink.Header
	next := func(p opus.Packet) { hs = append(hs, pz.Next(p)); clk.add(20 * time.Millisecond) }
	next(pk(0, false))
	next(pk(960, false))
	next(pk(1920, false)) // sequence and timestamp wrap here
	for i := range 5 {
		next(pk(2880+int64(i)*960, true))
	}
	clk.add(time.Second) // a pause
	next(pk(7680, false))
	next(pk(8640, false))
	next(pk(8640+9600, false)) // the player's clock jumps (a live skip)

	for i, h := range hs {
		assert.Equal(t, uint32(7), h.SSRC)
		assert.Equal(t, uint8(sink.PayloadTypeDiscord), h.PayloadType)
		assert.Equal(t, uint16(65534+i), h.Sequence, "packet %d", i)
	}
	assert.Equal(t, uint32(1<<32-1920), hs[0].Timestamp)
	assert.Equal(t, uint32(0), hs[2].Timestamp, "wraps")
	marks := []int{}
	for i := 1; i < len(hs); i++ {
		if hs[i].Marker {
			marks = append(marks, i)
		}
	}
	assert.True(t, hs[0].Marker, "the first packet")
	assert.Equal(t, []int{8, 10}, marks, "after the silence, and at the jump")
	for i := 1; i < 8; i++ {
		assert.Equal(t, uint32(960), hs[i].Timestamp-hs[i-1].Timestamp, "packet %d", i)
	}
	assert.Equal(t, uint32(opus.Samples(time.Second+20*time.Millisecond)), hs[8].Timestamp-hs[7].Timestamp, "the wall time since the last silence frame")
	assert.Equal(t, uint32(960), hs[9].Timestamp-hs[8].Timestamp)
	assert.Equal(t, uint32(9600), hs[10].Timestamp-hs[9].Timestamp)
}

// received is one datagram as the test's receiver opened it.
type received struct {
	h       sink.Header
	payload []byte
}

// listen starts a receiver on loopback that opens every datagram with r
// (or reads it as plain RTP when r is nil) until ctx ends.
func listen(t *testing.T, ctx context.Context, r *sink.Receiver) (*net.UDPConn, func() []received) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	_ = conn.SetReadBuffer(4 << 20)
	var mu sync.Mutex
	var got []received
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, _, err := conn.ReadFromUDP(buf)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				continue
			}
			p := append([]byte(nil), buf[:n]...)
			var rc received
			if r != nil {
				rc.h, rc.payload, err = r.Open(p)
				if !assert.NoError(t, err) {
					continue
				}
			} else {
				// Plain RTP is parsed by pion/rtp, a reader of its own.
				var rp rtp.Packet
				if !assert.NoError(t, rp.Unmarshal(p)) {
					continue
				}
				assert.Equal(t, uint8(2), rp.Version)
				rc.h = sink.Header{PayloadType: rp.PayloadType, Marker: rp.Marker, Sequence: rp.SequenceNumber, Timestamp: rp.Timestamp, SSRC: rp.SSRC}
				rc.payload = rp.Payload
			}
			mu.Lock()
			got = append(got, rc)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { wg.Wait(); conn.Close() })
	return conn, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func TestBatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var dests []*net.UDPConn
	var gots []func() []received
	for range 3 {
		c, got := listen(t, ctx, nil)
		dests = append(dests, c)
		gots = append(gots, got)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer conn.Close()
	b := sink.NewBatch(conn, 16)
	var senders []*sink.Sender
	for i, d := range dests {
		senders = append(senders, sink.NewSender(b.To(d.LocalAddr().(*net.UDPAddr)), sink.NewPacketizer(uint32(i))))
	}
	for i := range 100 {
		for _, s := range senders {
			require.NoError(t, s.Send(pk(int64(i)*960, false)))
		}
	}
	require.NoError(t, b.Flush())
	for _, got := range gots {
		require.Eventually(t, func() bool { return len(got()) == 100 }, 5*time.Second, 10*time.Millisecond)
	}
	n, calls := b.Stats()
	assert.Equal(t, int64(300), n)
	if runtime.GOOS == "linux" {
		assert.LessOrEqual(t, calls, int64(300/16+1), "sendmmsg: many datagrams a call")
	}
}
