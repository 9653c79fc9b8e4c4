package webrtcsink_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink/webrtcsink"
)

// A track played to a WebRTC peer: the Server answers the peer's offer
// (a browser's, sent over the program's own signalling; here a pion peer
// in the same process), and a Scheduler sends the player's packets to it.
func Example() {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	w, err := webrtcsink.NewServer(conn, webrtcsink.WithLoopback())
	if err != nil {
		panic(err)
	}
	defer w.Close()

	// The listener's side: an offer to receive audio.
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		panic(err)
	}
	browser, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		panic(err)
	}
	defer browser.Close()
	heard := make(chan struct{})
	browser.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			close(heard)
		}
	})
	if _, err := browser.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		panic(err)
	}
	offer, err := browser.CreateOffer(nil)
	if err != nil {
		panic(err)
	}
	gathered := webrtc.GatheringCompletePromise(browser)
	if err := browser.SetLocalDescription(offer); err != nil {
		panic(err)
	}
	<-gathered

	// The server's side: answer, and play once connected.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	peer, answer, err := w.Answer(ctx, *browser.LocalDescription())
	if err != nil {
		panic(err)
	}
	if err := browser.SetRemoteDescription(answer); err != nil {
		panic(err)
	}
	select {
	case <-peer.Connected():
	case <-ctx.Done():
		panic("not connected")
	}
	f, err := os.Open("../../../testdata/prog.webm") // WebM Opus: played as it is
	if err != nil {
		panic(err)
	}
	tr, err := pipeline.NewTrack(f)
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	p := tr.NewPlayer()
	defer p.Close()
	sched := pipeline.NewScheduler()
	defer sched.Close() // first: the scheduler drives the player until then
	sched.Add(p, peer.Send)
	select {
	case <-heard:
		fmt.Println("the peer hears the track")
	case <-ctx.Done():
		fmt.Println("nothing heard")
	}
	// Output: the peer hears the track
}
