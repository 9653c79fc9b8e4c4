package main

// The harness's side of the bots (bot.go): a Bot for each guild, joined
// to the voice server with what the checks need (every packet labelled
// with its track and place; half the guilds on each encryption mode), the
// guild's chat users, who give the bot commands as a chat would, the
// faults injected, and what is counted for the summary.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// fleet is the guilds, their bots sharing one Music.
type fleet struct {
	o      *options
	con    *console
	cat    *catalogue
	music  *Music
	guilds []*guild

	mu     sync.Mutex     // guards events and plays
	events map[string]int // the queues' events told, by kind and reason
	plays  map[string]int // tracks started, by name
}

// guild is one guild: its bot, its users' playlist, its faults, and what
// was measured of it.
type guild struct {
	f        *fleet
	n        int
	name     string
	user     string
	token    string
	playlist []int // catalogue indexes: the tracks its users queue, in turn
	once     []int // and those they queue once, first (a bad file)
	faults   []fault

	// Written by run (commands by its users), read once it has returned.
	mode                   string        // the encryption mode, once connected
	err                    error         // why its handshake failed
	first                  time.Duration // from its start to its first packet
	sent, resumes, reopens int64
	underruns, late        int64
	commands               map[string]int
}

type fault struct {
	at   float64 // fraction of the run
	what string
	do   func(*voice.Conn)
}

func newFleet(o *options, con *console, cat *catalogue, lib *pipeline.Library, sched *pipeline.Scheduler) *fleet {
	f := &fleet{o: o, con: con, cat: cat, events: map[string]int{}, plays: map[string]int{}}
	f.music = NewMusic(lib, sched, con.linef)
	for n := 1; n <= o.guilds; n++ {
		g := &guild{f: f, n: n, name: fmt.Sprintf("guild-%d", n), user: botUser(n), commands: map[string]int{}}
		g.token = "token-" + g.user
		// Guilds start spread over the first tracks, so that several ask
		// for each at once, and then go through the list.
		for i := range cat.played {
			g.playlist = append(g.playlist, (n+i)%cat.played)
		}
		f.guilds = append(f.guilds, g)
	}
	if o.faults {
		f.injectFaults()
	}
	return f
}

// injectFaults gives a few guilds trouble, as networks and users do.
func (f *fleet) injectFaults() {
	pick := func(n int) *guild {
		if n <= len(f.guilds) {
			return f.guilds[n-1]
		}
		return nil
	}
	if g := pick(3); g != nil {
		g.faults = append(g.faults, fault{0.4, "loses its UDP socket", (*voice.Conn).DropUDP})
	}
	if g := pick(4); g != nil {
		g.faults = append(g.faults, fault{0.6, "loses its control connection", (*voice.Conn).DropControl})
	}
	for i, n := range []int{5, 6} { // a corrupt file, a missing one, queued first
		if g := pick(n); g != nil && f.cat.played+i < len(f.cat.paths) {
			g.once = append(g.once, f.cat.played+i)
		}
	}
	if g := pick(7); g != nil {
		g.token = "a wrong token"
	}
}

// run runs every guild until the context ends, then has the bots leave.
func (f *fleet) run(ctx context.Context, gateway string) {
	var wg sync.WaitGroup
	for _, g := range f.guilds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.run(ctx, gateway)
		}()
	}
	wg.Wait()
}

func (g *guild) logf(format string, args ...any) {
	g.f.con.line(g.name + ": " + fmt.Sprintf(format, args...))
}

// run joins the guild's bot to its channel, has its users command it
// until the context ends, and has it leave.
func (g *guild) run(ctx context.Context, gateway string) {
	start := time.Now()
	b := g.f.music.Bot(g.name, g.fade(), g.said)
	// What the main gateway's VOICE_SERVER_UPDATE and VOICE_STATE_UPDATE
	// would give the bot.
	su := voice.ServerUpdate{Endpoint: gateway, Token: g.token, GuildID: g.name}
	st := voice.StateUpdate{UserID: g.user, SessionID: "session-" + g.name}
	opts := []voice.Option{g.labels(b)}
	if g.n%2 == 0 { // half the guilds prefer the other mode: both are in use
		opts = append(opts, voice.WithModes(voice.ModeXChaCha20Poly1305, voice.ModeAES256GCM))
	}
	if err := b.Join(ctx, su, st, opts...); err != nil {
		g.err = err
		g.logf("handshake failed: %v", err)
		b.Leave()
		return
	}
	joined := time.Now()
	g.mode = b.conn.Mode()
	for _, ft := range g.faults {
		t := time.AfterFunc(time.Duration(ft.at*float64(g.f.o.duration)), func() {
			g.logf("%s (fault injected)", ft.what)
			ft.do(b.conn)
		})
		defer t.Stop()
	}
	g.users(ctx, b)
	b.Leave()
	cs, ls := b.conn.Stats(), b.sends.Stats()
	g.sent, g.resumes, g.reopens = cs.Sent, cs.Resumes, cs.Reopened
	g.underruns, g.late = ls.Underruns, ls.Late
	if ls.First > 0 {
		g.first = joined.Sub(start) + ls.First
	}
}

// fade is the guild's crossfade between tracks: every third guild's is
// crossfadeLen, the others' none (gapless).
func (g *guild) fade() time.Duration {
	if g.n%3 == 0 {
		return crossfadeLen
	}
	return 0
}

// crossfadeLen is the crossfade of every third guild.
const crossfadeLen = 300 * time.Millisecond

// labels is the connection option that labels each packet the bot sends
// with its track and its place there (see harness_label.go). The queue's
// Playing is the entry of the packet just given: the label is made as
// conn.Send sends it, on the Scheduler's goroutine, right after the
// queue's Next. (A packet that waits in the connection's queue, after
// silence or while a socket reopens, is labelled when it goes: with the
// entry of the last packet given by then.) The queue's own silence frames
// keep the last track's label; the checker does not read a silence
// frame's.
func (g *guild) labels(b *Bot) voice.Option {
	track := 0 // the last label's; the connection makes one label at a time
	return voice.WithSenderOptions(sink.WithExtension(labelProfile, func(dst []byte, p opus.Packet) []byte {
		if e := b.queue.Playing(); e.ID != 0 {
			track = g.f.cat.index(e.Key.Source)
		}
		return appendLabel(dst, track, p)
	}))
}

// said is the guild's text channel: guild-1's is printed, every guild's
// events counted.
func (g *guild) said(ev pipeline.Event, text string) {
	f := g.f
	f.mu.Lock()
	switch ev.Kind {
	case pipeline.EventStarted:
		f.events["started"]++
		f.plays[trackName(ev.Key.Source)]++
	case pipeline.EventEnded:
		f.events[ev.Reason.String()]++
	case pipeline.EventStuck:
		f.events["stuck"]++
	}
	f.mu.Unlock()
	if g.n == 1 {
		f.con.linef("%s #music: %s", g.name, text)
	}
}

// users are the guild's chat users, until the context ends: they keep
// two tracks of the guild's playlist queued, and every so often one of
// them gives the bot a command, each guild from its own place in the
// round of commands.
func (g *guild) users(ctx context.Context, b *Bot) {
	for _, i := range g.once {
		_ = b.Enqueue(g.f.cat.paths[i])
	}
	next := 0 // the playlist's next track
	enqueue := func() {
		for range g.playlist { // a track that failed is refused: the next one
			src := g.f.cat.paths[g.playlist[next%len(g.playlist)]]
			next++
			if b.Enqueue(src) == nil {
				return
			}
		}
	}
	turn := g.n % len(rounds)
	every := 700*time.Millisecond + time.Duration(g.n%4)*50*time.Millisecond
	feed := time.NewTicker(50 * time.Millisecond)
	defer feed.Stop()
	command := time.NewTicker(every)
	defer command.Stop()
	for {
		if len(b.List()) < 2 {
			enqueue()
		}
		select {
		case <-ctx.Done():
			return
		case <-feed.C:
		case <-command.C:
			c := rounds[turn%len(rounds)]
			turn++
			c.do(b, g.f.cat.paths[g.playlist[next%len(g.playlist)]])
			g.commands[c.name]++
		}
	}
}

// rounds are the commands users give, in turn: each guild starts at its
// own place. A command's function is given a track of the playlist, for
// those that name one.
var rounds = []struct {
	name string
	do   func(b *Bot, track string)
}{
	{"seek", func(b *Bot, _ string) { b.Seek(700 * time.Millisecond) }},
	{"pause", func(b *Bot, _ string) { b.Pause() }},
	{"resume", func(b *Bot, _ string) { b.Resume() }},
	{"loop", func(b *Bot, _ string) { b.Loop(true) }},
	{"loop off", func(b *Bot, _ string) { b.Loop(false) }},
	{"skip", func(b *Bot, _ string) { b.Skip() }},
	{"loop a section", func(b *Bot, _ string) { _ = b.LoopSection(200*time.Millisecond, 800*time.Millisecond) }},
	{"loop off", func(b *Bot, _ string) { b.Loop(false) }},
	{"play", func(b *Bot, track string) { _ = b.Play(track) }},
	{"seek", func(b *Bot, _ string) { b.Seek(1500 * time.Millisecond) }},
	{"stop", func(b *Bot, _ string) { b.Stop() }},
}

// botSummary sums up the fleet.
type botSummary struct {
	Guilds, Connected int
	Modes             map[string]int
	Failed            map[string]int // handshake errors, by text
	Sent              int64
	Plays             map[string]int
	Commands          map[string]int
	Events            map[string]int
	Resumes, Reopens  int64
	Underruns, Late   int64
	First             []time.Duration
}

// summary sums up the fleet once it has run.
func (f *fleet) summary() botSummary {
	s := botSummary{Guilds: len(f.guilds), Modes: map[string]int{}, Failed: map[string]int{}, Commands: map[string]int{}}
	for _, g := range f.guilds {
		if g.mode != "" {
			s.Connected++
			s.Modes[g.mode]++
		}
		if g.err != nil {
			var ce *voice.CloseError
			msg := g.err.Error()
			if errors.As(g.err, &ce) {
				msg = ce.Error()
			}
			s.Failed[msg]++
		}
		s.Sent += g.sent
		for k, v := range g.commands {
			s.Commands[k] += v
		}
		s.Resumes += g.resumes
		s.Reopens += g.reopens
		s.Underruns += g.underruns
		s.Late += g.late
		if g.first > 0 {
			s.First = append(s.First, g.first)
		}
	}
	sort.Slice(s.First, func(i, j int) bool { return s.First[i] < s.First[j] })
	f.mu.Lock()
	s.Plays, s.Events = f.plays, f.events
	f.mu.Unlock()
	return s
}
