// Command webradio relays a live stream (an internet radio, or any
// endless MP3, Ogg Opus or WebM over HTTP) to many listeners at once:
// browsers over WebRTC, and audio players (VLC, ffmpeg, an <audio>
// element) as an Ogg Opus stream over HTTP. The stream is read and
// encoded once, whatever the number of listeners; each joins at the live
// point.
//
//	go run ./examples/webradio -source http://radio.example/stream
//
// A browser posts its offer to /offer (a webrtc.SessionDescription as
// JSON: {"type": "offer", "sdp": "..."}, with every candidate in it) and
// sets the JSON answer it gets back; /stream.ogg is the HTTP stream.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/sink/webrtcsink"
)

// radio is a live track played once, in real time, by a Broadcast on the
// Scheduler: one listener of the Scheduler, whatever the number of
// listeners of the radio. Its packets go to a Fanout of WebRTC peers (a
// paced listener: each peer hears from the packet after it connected)
// and to the HTTP stream's clients (buffered listeners: each gets the
// last seconds at once, as from Icecast, so that its player starts at
// once, then the live packets).
type radio struct {
	track *pipeline.Track
	cast  *pipeline.Broadcast
	rtc   *webrtcsink.Server
	fan   *webrtcsink.Fanout
	ogg   *sink.HTTPStream
	mux   *http.ServeMux
}

func newRadio(ctx context.Context, source string, sched *pipeline.Scheduler, udp net.PacketConn, opts ...webrtcsink.Option) (*radio, error) {
	track, err := pipeline.NewTrack(pipeline.OpenHTTP(ctx, source), pipeline.WithLive(10*time.Second))
	if err != nil {
		return nil, err
	}
	select {
	case <-track.Ready(): // the first packet: its channels and pre-skip are the Ogg stream's
	case <-ctx.Done():
		track.Close()
		return nil, ctx.Err()
	}
	head, ok := track.OpusHead()
	if !ok {
		track.Close()
		return nil, track.Err()
	}
	rtc, err := webrtcsink.NewServer(udp, opts...)
	if err != nil {
		track.Close()
		return nil, err
	}
	r := &radio{track: track, rtc: rtc, fan: webrtcsink.NewFanout(), mux: http.NewServeMux()}
	r.cast = pipeline.NewBroadcast(sched, track)
	r.cast.JoinPaced(r.fan.Send)
	r.ogg = sink.NewHTTPStream(func() sink.Queue { return r.cast.JoinBuffered() }, head)
	r.mux.Handle("GET /stream.ogg", r.ogg)
	r.mux.HandleFunc("POST /offer", r.offer)
	return r, nil
}

// offer answers a browser's offer, and adds its peer to the fanout.
func (r *radio) offer(w http.ResponseWriter, req *http.Request) {
	var offer webrtc.SessionDescription
	if err := json.NewDecoder(req.Body).Decode(&offer); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	peer, answer, err := r.rtc.Answer(req.Context(), offer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := r.fan.Add(peer); err != nil {
		peer.Close()
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func (r *radio) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

// Close ends the stream for every listener and releases the radio.
func (r *radio) Close() {
	r.ogg.Close()
	r.cast.Close()
	r.fan.Close()
	r.rtc.Close()
	r.track.Close()
}

func main() {
	source := flag.String("source", "", "the live stream's URL")
	addr := flag.String("addr", "127.0.0.1:8080", "the HTTP address: POST /offer, GET /stream.ogg")
	udpAddr := flag.String("udp", "127.0.0.1:50000", "the UDP address of every WebRTC peer")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	udp, err := net.ListenPacket("udp4", *udpAddr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("relaying %s: POST http://%s/offer, GET http://%s/stream.ogg", *source, ln.Addr(), ln.Addr())
	if err := run(ctx, *source, ln, udp); err != nil {
		log.Fatal(err)
	}
}

// run serves the radio on ln (HTTP) and udp (WebRTC) until ctx ends.
func run(ctx context.Context, source string, ln net.Listener, udp net.PacketConn, opts ...webrtcsink.Option) error {
	sched := pipeline.NewScheduler()
	defer sched.Close()
	r, err := newRadio(ctx, source, sched, udp, opts...)
	if err != nil {
		ln.Close()
		udp.Close()
		return err
	}
	defer r.Close()
	srv := &http.Server{Handler: r}
	context.AfterFunc(ctx, func() { srv.Close() })
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
