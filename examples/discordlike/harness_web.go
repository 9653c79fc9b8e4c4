package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/sink/webrtcsink"
)

//go:embed page.html
var page []byte

// web is the server's web side: a page listing the guilds, where a browser
// joins a guild's channel and hears it over WebRTC; the same audio as an
// HTTP Ogg Opus stream; and what each guild is playing.
//
// A guild's channel, once someone listens, is a live Track: the server
// relays the Opus packets it hears from the guild's bot, as they come and
// without decoding them, into an Ogg stream that the Track frames as it
// is; one Broadcast of that Track feeds a Fanout to every WebRTC peer (one
// numbering, peers sharded over writers) and an HTTPStream to every HTTP
// client. So however many listen, the channel is read once.
type web struct {
	con    *console
	cat    *catalogue
	sched  *pipeline.Scheduler
	rtc    *webrtcsink.Server
	rtcErr error

	quit chan struct{} // closed by close: ends the relays

	mu       sync.Mutex // guards the fields below
	channels map[string]*channel
	reports  []browserReport
	closed   bool
}

func newWeb(con *console, cat *catalogue, sched *pipeline.Scheduler, udpAddr string) *web {
	w := &web{con: con, cat: cat, sched: sched, quit: make(chan struct{}), channels: make(map[string]*channel)}
	conn, err := net.ListenPacket("udp", udpAddr)
	if err == nil {
		var opts []webrtcsink.Option
		if ip := conn.LocalAddr().(*net.UDPAddr).IP; ip.IsLoopback() {
			opts = append(opts, webrtcsink.WithLoopback())
		}
		w.rtc, err = webrtcsink.NewServer(conn, opts...)
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		w.rtcErr = fmt.Errorf("WebRTC on %s: %w", udpAddr, err)
		con.linef("%v; the page will have no WebRTC", w.rtcErr)
	}
	return w
}

// channel is one guild's voice channel as the web side sees it.
type channel struct {
	guild   string
	track   atomic.Int64 // now playing, from the packets' labels
	pos     atomic.Int64 // samples
	heard   atomic.Int64
	updated atomic.Int64 // unix nanoseconds of the last packet

	relaying atomic.Bool        // set once the live track is started
	in       chan relayedPacket // packets for the relay, when relaying

	// The live side: start runs startLive once, which sets the fields
	// below and then closes ready; they are read only after ready.
	start  sync.Once
	ready  chan struct{} // closed once the live side is up (or failed)
	err    error
	live   *pipeline.Track
	bcast  *pipeline.Broadcast
	fanout *webrtcsink.Fanout
	stream *sink.HTTPStream
	peers  atomic.Int64
}

// relayedPacket is a packet for a channel's relay, with its label.
type relayedPacket struct {
	payload []byte
	label
}

// relay is given every packet the voice server hears, with its label.
func (w *web) relay(guild string, payload []byte, l label) {
	w.mu.Lock()
	ch := w.channels[guild]
	if ch == nil {
		if w.closed {
			w.mu.Unlock()
			return
		}
		ch = &channel{guild: guild, in: make(chan relayedPacket, 256), ready: make(chan struct{})}
		ch.track.Store(-1)
		w.channels[guild] = ch
	}
	w.mu.Unlock()
	ch.heard.Add(1)
	ch.updated.Store(time.Now().UnixNano())
	if l.ok {
		ch.track.Store(int64(l.track))
		ch.pos.Store(l.pos)
	}
	if ch.relaying.Load() {
		select {
		case ch.in <- relayedPacket{append([]byte(nil), payload...), l}:
		default: // the relay is behind: its broadcast will skip
		}
	}
}

// heard returns how many packets the guild's channel has had.
func (w *web) heard(guild string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch := w.channels[guild]; ch != nil {
		return ch.heard.Load()
	}
	return 0
}

// joinPreSkip is the pre-skip of a stream heard from the middle of a
// track: 80 ms, the pre-roll RFC 7845 (section 4.6) gives a decoder that
// starts mid-stream to converge, whose output before is not the track's
// audio. It is more than any Opus encoder's own pre-skip (312 samples for
// libopus's at 48 kHz).
const joinPreSkip = 3840

// heardHead is the Ogg Opus head of a stream of packets as the server
// heard them (a relayed channel, a recording), stereo, whose first packet
// is first. Its pre-skip is the track's own when that packet starts a
// track (its label's position is negative: minus the samples of the
// track's pre-skip it holds), else joinPreSkip. Either way the stream's
// length is that of its packets less the pre-skip, its granule positions
// counted from its first packet.
func heardHead(first label) ogg.OpusHead {
	skip := int64(joinPreSkip)
	if first.ok && first.pos < 0 && -first.pos < skip {
		skip = -first.pos
	}
	return ogg.OpusHead{Version: 1, Channels: 2, PreSkip: uint16(skip), InputRate: 48000}
}

// heardTags are the Ogg Opus tags of such a stream, titled.
func heardTags(title string) ogg.OpusTags {
	return ogg.OpusTags{Vendor: "discordlike", Comments: []string{"TITLE=" + title}}
}

// open starts the guild's live side on first use and waits for it.
func (w *web) open(ctx context.Context, guild string) (*channel, error) {
	w.mu.Lock()
	ch := w.channels[guild]
	closed := w.closed
	w.mu.Unlock()
	if ch == nil || closed {
		return nil, fmt.Errorf("no guild %q is on the air", guild)
	}
	ch.start.Do(func() { go w.startLive(ch) })
	select {
	case <-ch.ready:
		return ch, ch.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (w *web) startLive(ch *channel) {
	defer close(ch.ready)
	pr, pw := io.Pipe()
	var err error
	ch.live, err = pipeline.NewTrack(pr, pipeline.WithLive(10*time.Second), pipeline.WithName(ch.guild+" (live)"))
	if err != nil {
		ch.err = err
		return
	}
	ch.relaying.Store(true)
	go relayOgg(pw, ch.in, w.quit, ch.guild)
	select {
	case <-ch.live.Ready():
	case <-time.After(10 * time.Second):
	}
	if err := ch.live.Err(); err != nil {
		ch.err = fmt.Errorf("live track: %w", err)
		ch.live.Close()
		return
	}
	ch.bcast = pipeline.NewBroadcast(w.sched, ch.live)
	ch.fanout = webrtcsink.NewFanout()
	ch.bcast.JoinPaced(ch.fanout.Send)
	head, ok := ch.live.OpusHead()
	if !ok {
		head = heardHead(label{})
	}
	ch.stream = sink.NewHTTPStream(func() sink.Queue { return ch.bcast.JoinBuffered() }, head, sink.WithTags(heardTags(ch.guild)))
}

// relayOgg is a channel's relay: packets from in, Ogg Opus pages to pw, a
// page a packet so that the live track has each packet as soon as it
// came, until quit is closed. The head, whose pre-skip depends on the
// first packet (heardHead), waits for it.
func relayOgg(pw *io.PipeWriter, in <-chan relayedPacket, quit <-chan struct{}, title string) {
	defer pw.Close()
	var ow *ogg.OpusWriter
	for {
		select {
		case p := <-in:
			if ow == nil {
				var err error
				if ow, err = ogg.NewOpusWriter(pw, heardHead(p.label), heardTags(title)); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			if err := ow.WritePacket(p.payload); err != nil {
				return
			}
			if err := ow.Flush(); err != nil {
				return
			}
		case <-quit:
			return
		}
	}
}

// routes adds the web side's handlers.
func (w *web) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-cache")
		_, _ = rw.Write(page)
	})
	mux.HandleFunc("GET /favicon.ico", func(rw http.ResponseWriter, _ *http.Request) {
		// No icon: say so once, for a day, rather than 404 on every load.
		rw.Header().Set("Cache-Control", "max-age=86400")
		rw.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /guilds", w.serveGuilds)
	mux.HandleFunc("POST /guild/{id}/webrtc", w.serveOffer)
	mux.HandleFunc("GET /guild/{id}/stream.ogg", w.serveStream)
	mux.HandleFunc("HEAD /guild/{id}/stream.ogg", w.serveStream)
	mux.HandleFunc("POST /report", w.serveReport)
}

// nowPlaying is a guild as the page shows it.
type nowPlaying struct {
	Guild    string  `json:"guild"`
	Track    string  `json:"track"`
	Position float64 `json:"position"` // seconds
	Live     bool    `json:"live"`     // heard in the last second
	Packets  int64   `json:"packets"`
	Peers    int64   `json:"peers"`
}

func (w *web) serveGuilds(rw http.ResponseWriter, _ *http.Request) {
	w.mu.Lock()
	list := make([]nowPlaying, 0, len(w.channels))
	for _, ch := range w.channels {
		// A track's first packet holds its pre-skip: its position is
		// negative, and the track's time starts at 0.
		np := nowPlaying{Guild: ch.guild, Packets: ch.heard.Load(), Peers: ch.peers.Load(), Position: float64(max(0, ch.pos.Load())) / 48000}
		if t := ch.track.Load(); t >= 0 {
			np.Track = w.cat.name(int(t))
		}
		np.Live = time.Since(time.Unix(0, ch.updated.Load())) < time.Second
		list = append(list, np)
	}
	w.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return guildLess(list[i].Guild, list[j].Guild) })
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-cache")
	_ = json.NewEncoder(rw).Encode(list)
}

// guildLess orders guild-2 before guild-10.
func guildLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// serveOffer takes a browser's offer (JSON, as RTCSessionDescription
// serialises) and answers it with a peer of the guild's fanout.
func (w *web) serveOffer(rw http.ResponseWriter, r *http.Request) {
	if w.rtc == nil {
		http.Error(rw, fmt.Sprint(w.rtcErr), http.StatusServiceUnavailable)
		return
	}
	var offer webrtc.SessionDescription
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&offer); err != nil || offer.Type != webrtc.SDPTypeOffer {
		http.Error(rw, "want an SDP offer as JSON", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ch, err := w.open(ctx, r.PathValue("id"))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusNotFound)
		return
	}
	peer, answer, err := w.rtc.Answer(ctx, offer)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	if err := ch.fanout.Add(peer); err != nil {
		peer.Close()
		http.Error(rw, err.Error(), http.StatusServiceUnavailable)
		return
	}
	ch.peers.Add(1)
	go func() {
		<-peer.Done()
		ch.peers.Add(-1)
	}()
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(answer)
}

func (w *web) serveStream(rw http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	ch, err := w.open(ctx, r.PathValue("id"))
	cancel()
	if err != nil {
		http.Error(rw, err.Error(), http.StatusNotFound)
		return
	}
	ch.stream.ServeHTTP(rw, r)
}

// browserReport is what the page posts once it has heard audio.
type browserReport struct {
	Guild     string  `json:"guild"`
	Kind      string  `json:"kind"`      // "" for WebRTC, "http" for the stream in <audio>
	Played    float64 `json:"played"`    // seconds of the HTTP stream played
	Packets   int64   `json:"packets"`   // RTP packets received (getStats)
	Samples   int64   `json:"samples"`   // samples received, concealed ones included (getStats totalSamplesReceived)
	Concealed int64   `json:"concealed"` // samples the browser made up for packets that did not come (getStats)
	Removed   int64   `json:"removed"`   // samples its jitter buffer dropped to play faster (getStats removedSamplesForAcceleration)
	// RemovedLater is those of Removed after the first three seconds
	// played, of the SamplesLater received since: the page's start-up
	// apart (packets that came while it set its audio up, which the jitter
	// buffer removes over the next seconds), what a stream that comes
	// faster than its timestamps makes it remove.
	RemovedLater int64   `json:"removedLater"`
	SamplesLater int64   `json:"samplesLater"`
	Level        float64 `json:"level"` // the loudest 2048-sample window's RMS, dBFS
	Peak         float64 `json:"peak"`  // the strongest frequency of the audio heard, Hz
	Agent        string  `json:"agent"`
}

func (w *web) serveReport(rw http.ResponseWriter, r *http.Request) {
	var rep browserReport
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&rep); err != nil {
		http.Error(rw, "bad report", http.StatusBadRequest)
		return
	}
	rep.Agent = r.UserAgent()
	w.mu.Lock()
	w.reports = append(w.reports, rep)
	w.mu.Unlock()
	if rep.Kind == "http" {
		w.con.linef("browser report: %s: the HTTP stream played %.1f s in an <audio> element (%s)", rep.Guild, rep.Played, agentName(rep.Agent))
	} else {
		w.con.linef("browser report: %s: %d packets received, %.1f s of samples received, %.2f s concealed (%.1f%%), %.2f s removed to play faster (%.1f%%; %.1f%% after the first 3 s), level %.1f dBFS, strongest frequency %.0f Hz (%s)",
			rep.Guild, rep.Packets, float64(rep.Samples)/48000, float64(rep.Concealed)/48000, rep.concealedShare()*100,
			float64(rep.Removed)/48000, rep.share(rep.Removed)*100, rep.laterShare()*100, rep.Level, rep.Peak, agentName(rep.Agent))
	}
	rw.WriteHeader(http.StatusNoContent)
}

// concealedShare is the share of the samples received that the browser
// concealed (1 when none came).
func (r browserReport) concealedShare() float64 { return r.share(r.Concealed) }

// laterShare is RemovedLater as a share of SamplesLater (1 when none).
func (r browserReport) laterShare() float64 {
	if r.SamplesLater <= 0 {
		return 1
	}
	return float64(r.RemovedLater) / float64(r.SamplesLater)
}

// share is n as a share of the samples received (1 when none came).
func (r browserReport) share(n int64) float64 {
	if r.Samples <= 0 {
		return 1
	}
	return float64(n) / float64(r.Samples)
}

// agentName shortens a user agent to its browser.
func agentName(ua string) string {
	for _, f := range strings.Fields(ua) {
		if strings.HasPrefix(f, "HeadlessChrome/") || strings.HasPrefix(f, "Chrome/") || strings.HasPrefix(f, "Firefox/") {
			return f
		}
	}
	return ua
}

// webStats are the web side's numbers for the summary.
type webStats struct {
	Channels int   // guilds relayed live
	Peers    int64 // WebRTC peers answered
	Dropped  int64 // fanout packets dropped
	Clients  int64 // HTTP stream clients served
	Slow     int64
	Reports  []browserReport
}

func (w *web) stats() webStats {
	var s webStats
	if w.rtc != nil {
		s.Peers = w.rtc.Stats().Answered
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.channels {
		select {
		case <-ch.ready:
		default:
			continue
		}
		if ch.err != nil {
			continue
		}
		s.Channels++
		s.Dropped += ch.fanout.Stats().Dropped
		hs := ch.stream.Stats()
		s.Clients += hs.Served
		s.Slow += hs.Slow
	}
	s.Reports = append(s.Reports, w.reports...)
	return s
}

// close ends the live side: streams, fanouts, broadcasts, tracks.
func (w *web) close() {
	w.mu.Lock()
	w.closed = true
	chans := make([]*channel, 0, len(w.channels))
	for _, ch := range w.channels {
		chans = append(chans, ch)
	}
	w.mu.Unlock()
	close(w.quit)
	for _, ch := range chans {
		ch.start.Do(func() { ch.err = errors.New("closed"); close(ch.ready) })
		<-ch.ready
		if ch.err != nil {
			continue
		}
		ch.stream.Close()
		ch.fanout.Close()
		ch.bcast.Close()
		ch.live.Close()
	}
	if w.rtc != nil {
		w.rtc.Close()
	}
}
