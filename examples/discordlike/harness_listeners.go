package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
)

// webListener is a listener in this process that joins a guild the way
// the page does, over real sockets: a pion PeerConnection signalled by
// HTTP, or an HTTP client of the Ogg stream. It decodes what it hears.
type webListener struct {
	kind string // "WebRTC" or "HTTP"

	mu        sync.Mutex // guards the fields below
	packets   int64
	samples   int64 // decoded
	undecoded int64
	peak      float64 // the loudest 20 ms, dBFS
	first     time.Duration
	firstAt   time.Time // when the first packet came
	early     int64     // packets in the joinWindow from the first: about 75 at the live point
	err       error
}

// joinWindow is how long after its first packet a listener's packets are
// counted (webListener.early): a paced listener joins at the live point
// and hears no more than real time, 75 packets of 20 ms; a burst at join
// (a backlog, a catch-up) shows as more.
const joinWindow = 1500 * time.Millisecond

// take decodes one packet with dec and records it.
func (l *webListener) take(dec *libopus.PacketDecoder, packet []byte, start time.Time) {
	pcm, err := dec.Decode(packet)
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	db := 10 * math.Log10(sum/float64(max(len(pcm), 1))/(32768*32768)+1e-12)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.undecoded++
		return
	}
	now := time.Now()
	if l.packets == 0 {
		l.first, l.firstAt = now.Sub(start), now
		l.peak = -200
	}
	if now.Sub(l.firstAt) < joinWindow {
		l.early++
	}
	l.packets++
	l.samples += int64(len(pcm) / 2)
	l.peak = max(l.peak, db)
}

func (l *webListener) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		l.err = err
	}
}

// listenWebRTC joins guild from base (the page's URL) as a pion peer
// until ctx ends.
func (l *webListener) listenWebRTC(ctx context.Context, base, guild string) {
	start := time.Now()
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		l.fail(err)
		return
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		l.fail(err)
		return
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		l.fail(err)
		return
	}
	tracks := make(chan *webrtc.TrackRemote, 1) // one audio track is offered
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		select {
		case tracks <- t:
		default:
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		l.fail(err)
		return
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		l.fail(err)
		return
	}
	<-gathered
	body, _ := json.Marshal(pc.LocalDescription())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"guild/"+guild+"/webrtc", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.fail(fmt.Errorf("signalling: %w", err))
		return
	}
	var answer webrtc.SessionDescription
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		l.fail(fmt.Errorf("signalling: %s", resp.Status))
		return
	}
	if err := pc.SetRemoteDescription(answer); err != nil {
		l.fail(err)
		return
	}
	var t *webrtc.TrackRemote
	select {
	case t = <-tracks:
	case <-ctx.Done():
		return
	}
	dec, err := libopus.NewPacketDecoder(2)
	if err != nil {
		l.fail(err)
		return
	}
	defer context.AfterFunc(ctx, func() { pc.Close() })() // ends ReadRTP
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return // the connection closed
		}
		l.take(dec, p.Payload, start)
	}
}

// listenHTTP reads the guild's Ogg Opus stream until ctx ends.
func (l *webListener) listenHTTP(ctx context.Context, base, guild string) {
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"guild/"+guild+"/stream.ogg", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.fail(err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.fail(fmt.Errorf("GET stream: %s", resp.Status))
		return
	}
	dec, err := libopus.NewPacketDecoder(2)
	if err != nil {
		l.fail(err)
		return
	}
	r := ogg.NewReader(resp.Body)
	for n := 0; ; n++ {
		p, err := r.ReadPacket()
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				l.fail(err)
			}
			return
		}
		if n < 2 { // OpusHead and OpusTags
			continue
		}
		l.take(dec, p.Data, start)
	}
}

// snapshot returns the listener's numbers.
func (l *webListener) snapshot() webListener {
	l.mu.Lock()
	defer l.mu.Unlock()
	return webListener{kind: l.kind, packets: l.packets, samples: l.samples, undecoded: l.undecoded, peak: l.peak, first: l.first, early: l.early, err: l.err}
}
