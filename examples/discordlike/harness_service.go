package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// service is the server half: the voice gateway and its UDP endpoint, the
// checker of what every guild sends, and the web side (page, WebRTC,
// HTTP streams).
type service struct {
	o     *options
	con   *console
	voice *voicetest.Server
	ln    net.Listener
	http  *http.Server
	ver   *verifier
	web   *web

	gateway string // the voice gateway's URL
	base    string // the web page's

	mu         sync.Mutex // guards recordings and frames
	recordings []*recording
	// frames are the frames the listeners of the discord.js guilds
	// heard: guild → frameKey → frameHash; nil without discord.js.
	frames   map[string]map[uint64]uint64
	serveErr chan error

	// listeners are the DAVE members that hear each guild (-dave); wg
	// their readers.
	listeners []*voice.Conn
	wg        sync.WaitGroup

	// djs are the discord.js clients (-dave, -discordjs).
	djs *djsGuilds
}

func startService(o *options, con *console, cat *catalogue, lib *pipeline.Library, sched *pipeline.Scheduler) (*service, error) {
	udpAddr, err := net.ResolveUDPAddr("udp", o.udpAddr)
	if err != nil {
		return nil, fmt.Errorf("-udp %s: %w", o.udpAddr, err)
	}
	udp, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return nil, fmt.Errorf("voice UDP: %w", err)
	}
	s := &service{o: o, con: con, serveErr: make(chan error, 1)}
	s.ver = newVerifier(&references{lib: lib, cat: cat, refs: map[int]*reference{}})
	if o.record != "" {
		rec := newRecorder(o.record, con.linef)
		s.ver.record = func(guild string) *recording {
			r := rec(guild)
			if r != nil {
				s.mu.Lock()
				s.recordings = append(s.recordings, r)
				s.mu.Unlock()
			}
			return r
		}
	}
	s.web = newWeb(con, cat, sched, o.webrtcAddr)
	opts := []voicetest.Option{
		voicetest.WithUDPConn(udp),
		voicetest.WithAuthenticate(func(id voice.Identify) error {
			if id.Token != "token-"+id.UserID {
				return errors.New("wrong token")
			}
			return nil
		}),
	}
	if o.dave {
		// The server relays DAVE frames it cannot read: a listener in
		// each channel, a member of its group, hears them for the checks.
		opts = append(opts, voicetest.WithRequireDAVE())
	} else {
		opts = append(opts, voicetest.WithPacketHandler(func(ss *voicetest.Session, p sink.Opened, at time.Time) {
			s.heard(ss.ServerID, p, at)
		}))
	}
	if a := udp.LocalAddr().(*net.UDPAddr); a.IP.IsUnspecified() {
		udp.Close()
		return nil, fmt.Errorf("-udp %s: the voice server announces its address to clients: give one they can reach", o.udpAddr)
	}
	s.voice = voicetest.NewServer(opts...)
	s.ln, err = net.Listen("tcp", o.addr)
	if err != nil {
		s.voice.Close()
		return nil, fmt.Errorf("-addr %s: %w", o.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/voice", s.voice)
	s.web.routes(mux)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	host := s.ln.Addr().String()
	s.gateway = "ws://" + host + "/voice"
	s.base = "http://" + host + "/"
	go func() { s.serveErr <- s.http.Serve(s.ln) }()
	if s.djs, err = s.startDiscordJS(); err != nil {
		s.djs = &djsGuilds{}
		s.close()
		return nil, err
	}
	if len(s.djs.clients) > 0 {
		s.frames = make(map[string]map[uint64]uint64)
	}
	if o.dave {
		if err := s.listen(); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// heard checks a packet of guild's bot and relays it to the web side.
func (s *service) heard(guild string, p sink.Opened, at time.Time) {
	l := labelOf(p.Ext)
	s.ver.handle(sessionInfo{ssrc: p.SSRC, guild: guild}, p, l, at)
	s.web.relay(guild, p.Payload, l)
}

// listen joins each guild's channel with a listener: a voice client with
// DAVE, in the group, whose receive path decrypts what the bot sends.
func (s *service) listen() error {
	for g := 1; g <= s.o.guilds; g++ {
		guild, user := fmt.Sprintf("guild-%d", g), listenerUser(g)
		su := voice.ServerUpdate{Endpoint: s.gateway, Token: "token-" + user, GuildID: guild}
		st := voice.StateUpdate{UserID: user, SessionID: "session-" + user}
		c, err := voice.Connect(context.Background(), su, st, voice.WithReceive(queueLen))
		if err != nil {
			return fmt.Errorf("listener of %s: %w", guild, err)
		}
		s.listeners = append(s.listeners, c)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for r := range c.Receive() { // closed when the listener is
				p := sink.Opened{Header: sink.Header{Sequence: r.Sequence, Timestamp: r.Timestamp, Marker: r.Marker, SSRC: r.SSRC},
					Ext: r.Extension, Payload: r.Opus}
				s.heard(guild, p, time.Now())
				if djsGuild(g) {
					s.keep(guild, p)
				}
			}
		}()
	}
	return nil
}

// keep records a frame the listener of a discord.js guild heard, for
// the comparison with the discord.js client's.
func (s *service) keep(guild string, p sink.Opened) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames == nil {
		return
	}
	if s.frames[guild] == nil {
		s.frames[guild] = make(map[uint64]uint64)
	}
	s.frames[guild][frameKey(p.SSRC, p.Sequence)] = frameHash(p.Payload)
}

// close shuts the service down: the discord.js clients, the voice
// server's connections, the web side, the HTTP server; then it waits for
// the checkers and compares what the discord.js clients heard with the
// listeners'.
func (s *service) close() {
	s.djs.close()
	for _, c := range s.listeners {
		c.Close()
	}
	s.wg.Wait()
	s.mu.Lock()
	s.djs.compare(s.frames)
	s.mu.Unlock()
	s.voice.Close()
	s.web.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	s.ver.close()
}

// recorded returns the recordings written, once the checkers are done.
func (s *service) recorded() []*recording {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*recording(nil), s.recordings...)
}

// host returns the address a flag names, for the header.
func hostOf(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "ws://"), "http://")
	return strings.TrimSuffix(strings.TrimSuffix(u, "/voice"), "/")
}
