//go:build cgo

package webrtcsink_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"layeh.com/gopus"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/tracktest"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink/webrtcsink"
)

// receiver is a pion peer on loopback that receives one audio track, as
// a browser does: it offers a recvonly transceiver.
type receiver struct {
	pc   *webrtc.PeerConnection
	wg   sync.WaitGroup
	mu   sync.Mutex
	pkts []*rtp.Packet
	// after, if set, is called with each packet's count, outside mu.
	after func(n int)
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	r := &receiver{pc: pc}
	t.Cleanup(r.close)
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		r.wg.Add(1)
		defer r.wg.Done()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.pkts = append(r.pkts, p)
			n := len(r.pkts)
			r.mu.Unlock()
			if r.after != nil {
				r.after(n)
			}
		}
	})
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return r
}

func (r *receiver) offer() webrtc.SessionDescription { return *r.pc.LocalDescription() }

func (r *receiver) close() {
	_ = r.pc.Close()
	r.wg.Wait()
}

func (r *receiver) received() []*rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*rtp.Packet(nil), r.pkts...)
}

// connect answers r's offer on w and applies the answer.
func connect(t *testing.T, w *webrtcsink.Server, r *receiver) *webrtcsink.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, answer, err := w.Answer(ctx, r.offer())
	require.NoError(t, err)
	require.NoError(t, r.pc.SetRemoteDescription(answer))
	return peer
}

func waitConnected(t *testing.T, peers ...*webrtcsink.Peer) {
	t.Helper()
	for _, p := range peers {
		select {
		case <-p.Connected():
		case <-time.After(20 * time.Second):
			t.Fatal("peer did not connect")
		}
	}
}

func newServer(t *testing.T, opts ...webrtcsink.Option) *webrtcsink.Server {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	w, err := webrtcsink.NewServer(conn, append([]webrtcsink.Option{webrtcsink.WithLoopback()}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	return w
}

// checkStream checks that got is one RTP stream, numbered as we number
// it: one SSRC, the sequence up by one and the timestamp by 960 a packet
// (or whole frames more, after a resync),
// every payload decoded by Opus; it returns the payloads.
func checkStream(t *testing.T, got []*rtp.Packet) [][]byte {
	t.Helper()
	require.NotEmpty(t, got)
	dec, err := gopus.NewDecoder(48000, 2)
	require.NoError(t, err)
	var payloads [][]byte
	for i, p := range got {
		assert.Equal(t, got[0].SSRC, p.SSRC)
		assert.Equal(t, uint8(webrtcsink.PayloadTypeOpus), p.PayloadType)
		if i > 0 {
			assert.Equal(t, got[i-1].SequenceNumber+1, p.SequenceNumber, "packet %d: no gap, no duplicate", i)
			// One frame later; or whole frames later where the Scheduler,
			// held up on a busy machine, let the time it missed pass (a
			// resync: the timeline jumps, the packets do not).
			d := p.Timestamp - got[i-1].Timestamp
			assert.True(t, d >= 960 && d%960 == 0 && d < 1<<31, "packet %d: %d samples after the last, not whole frames", i, d)
		}
		pcm, err := dec.Decode(p.Payload, 960, false)
		require.NoError(t, err, "packet %d decodes", i)
		assert.Len(t, pcm, 960*2)
		payloads = append(payloads, p.Payload)
	}
	return payloads
}

// splitSilence returns payloads without its trailing silence frames, and
// how many there were.
func splitSilence(payloads [][]byte) ([][]byte, int) {
	n := 0
	for n < len(payloads) && bytes.Equal(payloads[len(payloads)-1-n], []byte(opus.SilenceFrame)) {
		n++
	}
	return payloads[:len(payloads)-n], n
}

func TestPeer(t *testing.T) {
	tr := tracktest.Load(t)
	want := tracktest.Packets(t, tr)
	w := newServer(t)
	r := newReceiver(t)
	peer := connect(t, w, r)
	waitConnected(t, peer)

	sched := pipeline.NewScheduler()
	defer sched.Close()
	p := tr.NewPlayer()
	defer p.Close()
	l := sched.Add(p, peer.Send)
	<-l.Done()
	require.NoError(t, l.Err())
	total := len(want) + 5
	require.Eventually(t, func() bool { return len(r.received()) >= total }, 10*time.Second, 10*time.Millisecond)

	got := r.received()
	require.Len(t, got, total)
	assert.True(t, got[0].Marker, "the first packet carries the marker")
	sound, silence := splitSilence(checkStream(t, got))
	assert.Equal(t, want, sound, "every packet of the track, exactly, from the first")
	assert.Equal(t, 5, silence, "and the five silence frames at its end")
	assert.Equal(t, int64(total), peer.Sent())

	// The remote side hangs up: the peer ends, and Send says so.
	r.close()
	select {
	case <-peer.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("peer did not end")
	}
	assert.ErrorIs(t, peer.Err(), webrtcsink.ErrPeerClosed)
	assert.ErrorIs(t, peer.Send(opus.Packet{Data: want[0], Samples: 960}), webrtcsink.ErrPeerClosed)
	assert.Equal(t, 0, w.Stats().Peers)
}

// Peer.Close returns once the peer's connection is closed and its
// goroutine has ended, not before.
func TestPeerCloseWaits(t *testing.T) {
	w := newServer(t)
	r := newReceiver(t)
	peer := connect(t, w, r)
	waitConnected(t, peer)
	require.NoError(t, peer.Close())
	assert.True(t, webrtcsink.ReaderEnded(peer), "the RTCP reader has ended when Close returns")
	assert.ErrorIs(t, peer.Err(), webrtcsink.ErrPeerClosed)
	require.NoError(t, peer.Close(), "a second Close")
}

func TestFanout(t *testing.T) {
	tr := tracktest.Load(t)
	want := tracktest.Packets(t, tr)
	w := newServer(t)
	// The peer that never connects is another server's, whose connect
	// timeout is short but for seconds: added to the fanout just after its
	// answer, it fails there. The peers that connect have the default
	// timeout, so that a busy machine's slow setting up fails none of them.
	wLate := newServer(t, webrtcsink.WithConnectTimeout(5*time.Second))
	// Queues that hold the whole track: a writer that a busy machine holds
	// up loses no packet, and every receiver can be checked for all.
	f := webrtcsink.NewFanout(webrtcsink.WithShards(3), webrtcsink.WithShardQueue(len(want)+16))
	defer f.Close()

	const n = 10
	rs := make([]*receiver, n)
	peers := make([]*webrtcsink.Peer, n)
	for i := range rs {
		rs[i] = newReceiver(t)
	}
	// Receiver 9 hangs up after 20 packets.
	hangUp := make(chan struct{})
	var once sync.Once
	rs[9].after = func(k int) {
		if k == 20 {
			once.Do(func() { go func() { rs[9].close(); close(hangUp) }() })
		}
	}
	// Receiver 8 never takes its answer: its peer never connects.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	peers[8], _, err = wLate.Answer(ctx, rs[8].offer())
	require.NoError(t, err)
	require.NoError(t, f.Add(peers[8]))
	for i, r := range rs[:8] {
		peers[i] = connect(t, w, r)
	}
	peers[9] = connect(t, w, rs[9])
	for i, p := range peers {
		if i != 8 {
			require.NoError(t, f.Add(p))
		}
	}
	assert.ErrorIs(t, f.Add(peers[0]), webrtcsink.ErrFanoutPeer)
	assert.ErrorIs(t, peers[0].Send(opus.Packet{}), webrtcsink.ErrFanoutPeer)
	waitConnected(t, append(peers[:8:8], peers[9])...)

	sched := pipeline.NewScheduler()
	defer sched.Close()
	b := pipeline.NewBroadcast(sched, tr)
	b.JoinPaced(f.Send)
	<-b.Done()
	<-hangUp
	select {
	case <-peers[8].Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the peer that never connected was not ended")
	}
	assert.ErrorIs(t, peers[8].Err(), webrtcsink.ErrPeerFailed)
	select {
	case <-peers[9].Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the peer whose receiver hung up was not ended")
	}
	assert.ErrorIs(t, peers[9].Err(), webrtcsink.ErrPeerClosed)

	// Every other peer heard the whole broadcast from its start, every
	// packet once and in order, numbered alike.
	var first []*rtp.Packet
	for i, r := range rs[:8] {
		require.Eventually(t, func() bool {
			got := r.received()
			return len(got) > 0 && bytes.Equal(got[len(got)-1].Payload, []byte(opus.SilenceFrame)) && len(splitSilence2(got)) == 5
		}, 10*time.Second, 10*time.Millisecond, "receiver %d heard the end", i)
		got := r.received()
		sound, silence := splitSilence(checkStream(t, got))
		assert.Equal(t, 5, silence)
		start := tracktest.RunOf(t, want, sound)
		assert.Less(t, start, 3, "receiver %d heard the broadcast from its start", i)
		if i == 0 {
			first = got
		} else {
			assert.Equal(t, first[0].SequenceNumber, got[0].SequenceNumber)
			assert.Equal(t, first[0].Timestamp, got[0].Timestamp)
		}
	}
	assert.GreaterOrEqual(t, len(rs[9].received()), 20)
	assert.Less(t, len(rs[9].received()), len(want))
	assert.Empty(t, rs[8].received())

	st := f.Stats()
	assert.Equal(t, 8, st.Peers, "the failed and the closed peers left their shards")
	assert.Equal(t, 3, st.Shards)
	assert.Zero(t, st.Dropped)
	ws := w.Stats()
	assert.Zero(t, ws.Failed)
	assert.Equal(t, int64(9), ws.Connected)
	assert.Equal(t, 8, ws.Peers)
	ls := wLate.Stats()
	assert.Equal(t, int64(1), ls.Failed)
	assert.Zero(t, ls.Connected)
	assert.Zero(t, ls.Peers)
}

// splitSilence2 returns the trailing silence frames of got.
func splitSilence2(got []*rtp.Packet) []*rtp.Packet {
	i := len(got)
	for i > 0 && bytes.Equal(got[i-1].Payload, []byte(opus.SilenceFrame)) {
		i--
	}
	return got[i:]
}

// labelled is packet i of a test stream: 20 ms, its number in its last
// byte.
func labelled(i int) opus.Packet {
	return opus.Packet{Data: []byte{0xfc, 0xff, byte(i)}, Samples: 960, Timestamp: int64(i) * 960}
}

// checkJoinedLive sends packets 0 to 49 through send while r's peer is
// not connected (its connection comes up only when r takes the answer,
// which apply gives it), then 50 to 99 once it is, one at a time, each
// awaited, and checks that r heard exactly those sent after the peer
// connected: no backlog from its connection's setting up, the first with
// the marker bit, then each packet alone as it was sent.
func checkJoinedLive(t *testing.T, r *receiver, peer *webrtcsink.Peer, apply func(), send func(opus.Packet) error) {
	t.Helper()
	for i := range 50 {
		require.NoError(t, send(labelled(i)))
	}
	apply()
	waitConnected(t, peer)
	for i := 50; i < 100; i++ {
		require.NoError(t, send(labelled(i)))
		require.Eventually(t, func() bool { return len(r.received()) >= i-49 }, 10*time.Second, time.Millisecond,
			"packet %d heard", i)
		require.Len(t, r.received(), i-49, "packet %d came alone: nothing held back before it", i)
	}
	got := r.received()
	assert.True(t, got[0].Marker, "the first packet heard starts the stream")
	for k, p := range got {
		assert.Equal(t, []byte{0xfc, 0xff, byte(50 + k)}, p.Payload, "packet %d heard is packet %d sent", k, 50+k)
		if k > 0 {
			assert.Equal(t, got[k-1].SequenceNumber+1, p.SequenceNumber)
			assert.Equal(t, got[k-1].Timestamp+960, p.Timestamp)
			assert.False(t, p.Marker)
		}
	}
	// The receiver can hear the last packet before the writer has counted
	// it: the count is awaited, then must be exactly that.
	require.Eventually(t, func() bool { return peer.Sent() >= 50 }, 10*time.Second, time.Millisecond, "the last packet counted")
	assert.Equal(t, int64(50), peer.Sent(), "only the packets after the connection were sent")
}

// A peer whose connection takes a while to come up hears its own
// player's packets from the first sent once it has connected.
func TestPeerJoinsLive(t *testing.T) {
	w := newServer(t)
	r := newReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, answer, err := w.Answer(ctx, r.offer())
	require.NoError(t, err)
	checkJoinedLive(t, r, peer, func() { require.NoError(t, r.pc.SetRemoteDescription(answer)) }, peer.Send)
}

// A fanout's peer whose connection takes a while to come up joins at the
// live point: what the fanout sent meanwhile, queued for its writer or
// not, is not sent to it.
func TestFanoutJoinsLive(t *testing.T) {
	w := newServer(t)
	f := webrtcsink.NewFanout(webrtcsink.WithShards(1), webrtcsink.WithShardQueue(256))
	defer f.Close()
	r := newReceiver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, answer, err := w.Answer(ctx, r.offer())
	require.NoError(t, err)
	require.NoError(t, f.Add(peer))
	checkJoinedLive(t, r, peer, func() { require.NoError(t, r.pc.SetRemoteDescription(answer)) }, f.Send)
	assert.Zero(t, f.Stats().Dropped)
}
