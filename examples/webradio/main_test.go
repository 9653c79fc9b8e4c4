package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline/sink/webrtcsink"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The HTTP client's idle connections end on their own timers.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// onAir is an internet radio on loopback: an endless MP3 stream, a file's
// frames again and again, which the radio's live track reads in real
// time.
func onAir(t *testing.T) *httptest.Server {
	frames := testutil.Fixture(t, "prog_notag.mp3") // frames alone: no tag to repeat
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		for r.Context().Err() == nil {
			if _, err := w.Write(frames); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// browser is a pion peer on loopback that listens as a browser does: it
// offers to receive audio, posts its offer to the radio, and keeps the
// payloads of the RTP packets it hears, and whether the first had the
// marker bit.
type browser struct {
	pc     *webrtc.PeerConnection
	wg     sync.WaitGroup
	mu     sync.Mutex
	heard  [][]byte
	marker bool
}

func listen(t *testing.T, radioURL string) *browser {
	t.Helper()
	m := &webrtc.MediaEngine{}
	require.NoError(t, m.RegisterDefaultCodecs())
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	b := &browser{pc: pc}
	t.Cleanup(func() {
		_ = pc.Close()
		b.wg.Wait()
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		b.wg.Add(1)
		defer b.wg.Done()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			b.mu.Lock()
			if len(b.heard) == 0 {
				b.marker = p.Marker
			}
			b.heard = append(b.heard, bytes.Clone(p.Payload))
			b.mu.Unlock()
		}
	})
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered

	body, err := json.Marshal(pc.LocalDescription())
	require.NoError(t, err)
	resp, err := http.Post(radioURL+"/offer", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var answer webrtc.SessionDescription
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	require.NoError(t, pc.SetRemoteDescription(answer))
	return b
}

// packets returns what b has heard so far.
func (b *browser) packets() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.heard...)
}

// waitFor waits until f is true, failing after a minute.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// index returns where run starts in all, or -1: from there on, run's
// packets are all's, in order, but for those one side lost (a peer's UDP
// socket, or a slow HTTP client's queue, drops some on a loaded machine):
// three quarters of run at least are found, each a few packets at most
// after the last.
func index(all, run [][]byte) int {
	const ahead = 8 // packets of all that one found may skip
	for k := range len(run) / 4 {
		for i := range all {
			if !bytes.Equal(all[i], run[k]) {
				continue
			}
			j, hits := i+1, 1
			for _, p := range run[k+1:] {
				for d := 0; d < ahead && j+d < len(all); d++ {
					if bytes.Equal(all[j+d], p) {
						j += d + 1
						hits++
						break
					}
				}
			}
			if hits >= len(run)*3/4 {
				return i
			}
		}
	}
	return -1
}

// TestWebRadio runs the program on a radio on loopback: two browsers
// that join at once and one that joins later hear the same stream over
// WebRTC, the late one from the live point (no backlog: its first packet
// is one the others heard after it joined, with the marker bit), and an
// HTTP client gets an Ogg Opus stream of it: a burst of the last seconds,
// then the packets the browsers hear.
func TestWebRadio(t *testing.T) {
	source := onAir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, source.URL, ln, udp, webrtcsink.WithLoopback()) }()
	defer func() {
		cancel()
		assert.NoError(t, <-done)
	}()
	url := "http://" + ln.Addr().String()

	early := []*browser{listen(t, url), listen(t, url)}
	for _, b := range early {
		waitFor(t, "an early browser hears 50 packets", func() bool { return len(b.packets()) >= 50 })
	}
	before := len(early[0].packets())
	late := listen(t, url)
	waitFor(t, "the late browser hears 50 packets", func() bool { return len(late.packets()) >= 50 })

	heard := late.packets()[:50]
	for i, b := range early {
		waitFor(t, "the early browsers hear what the late one did", func() bool { return index(b.packets(), heard) >= 0 })
		at := index(b.packets(), heard)
		if i == 0 {
			assert.GreaterOrEqual(t, at, before, "the late browser's first packet came after it joined: got %d; want >= %d", at, before)
		}
	}
	late.mu.Lock()
	assert.True(t, late.marker, "the late browser's first packet has the marker bit")
	late.mu.Unlock()

	resp, err := http.Get(url + "/stream.ogg")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "audio/ogg", resp.Header.Get("Content-Type"))
	r := ogg.NewReader(resp.Body)
	pk, err := r.ReadPacket()
	require.NoError(t, err)
	head, err := ogg.ParseOpusHead(pk.Data)
	require.NoError(t, err)
	assert.Equal(t, uint8(2), head.Channels)
	var audio [][]byte // the tags, the burst of the last seconds, then the live packets
	for len(audio) < 300 {
		pk, err := r.ReadPacket()
		require.NoError(t, err)
		audio = append(audio, bytes.Clone(pk.Data))
	}
	tail := audio[len(audio)-50:]
	waitFor(t, "the browsers hear what the HTTP client did", func() bool { return index(early[0].packets(), tail) >= 0 })
}
