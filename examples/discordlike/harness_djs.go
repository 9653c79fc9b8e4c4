package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
)

// The users are snowflakes, as Discord's are: davey, the DAVE of
// discord.js, takes no other ID.
const (
	botBase      = 1200000000000000000
	listenerBase = 1300000000000000000
	djsBase      = 1400000000000000000
)

func botUser(g int) string      { return strconv.FormatUint(botBase+uint64(g), 10) }
func listenerUser(g int) string { return strconv.FormatUint(listenerBase+uint64(g), 10) }
func djsUser(g int) string      { return strconv.FormatUint(djsBase+uint64(g), 10) }

// djsGuild reports whether guild g has a discord.js client in its
// channel when discord.js runs: the even guilds, half of them.
func djsGuild(g int) bool { return g%2 == 0 }

// djsWait bounds the wait for the discord.js clients to be ready, and for
// each to exit: only a failing run waits so long.
const djsWait = time.Minute

// interopDir finds the folder of discord.js's client script and its
// node_modules, pipeline/voice/voicetest/interop: under the working
// directory, or beside this source file (go run from elsewhere).
func interopDir() string {
	const rel = "pipeline/voice/voicetest/interop"
	if _, err := os.Stat(filepath.Join(rel, "client.js")); err == nil {
		return rel
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		dir := filepath.Join(filepath.Dir(file), "..", "..", filepath.FromSlash(rel))
		if _, err := os.Stat(filepath.Join(dir, "client.js")); err == nil {
			return dir
		}
	}
	return rel
}

// djsFrame is a frame a discord.js client decrypted: where it was in the
// bot's stream, and a hash of its bytes.
type djsFrame struct {
	key  uint64 // frameKey
	hash uint64
}

// frameKey names a packet of a guild's bot by its SSRC and sequence
// number.
func frameKey(ssrc uint32, seq uint16) uint64 { return uint64(ssrc)<<16 | uint64(seq) }

func frameHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// djsClient is a discord.js voice client (client.js, in its own node
// process) in a guild's channel, a member of its DAVE group, listening to
// the bot.
type djsClient struct {
	g      int
	guild  string
	cmd    *exec.Cmd
	in     io.WriteCloser
	ready  chan struct{} // closed at its first ready event
	done   chan struct{} // closed when its output ends
	stderr string        // the file its standard error goes to

	mu     sync.Mutex // guards the fields below
	frames []djsFrame
	errs   []string
}

func (c *djsClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// read takes the client's events until its output ends.
func (c *djsClient) read(out io.Reader) {
	defer close(c.done)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	readied := false
	for sc.Scan() {
		var e struct {
			Event   string
			SSRC    uint32
			Seq     uint16
			Data    []byte // base64 in the JSON
			Dave    bool
			Message string
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			c.fail("%s: %v", sc.Text(), err)
			continue
		}
		switch e.Event {
		case "ready":
			if !e.Dave {
				c.fail("ready without DAVE")
			}
			if !readied {
				readied = true
				close(c.ready)
			}
		case "packet":
			c.mu.Lock()
			c.frames = append(c.frames, djsFrame{frameKey(e.SSRC, e.Seq), frameHash(e.Data)})
			c.mu.Unlock()
		case "error":
			c.fail("%s", e.Message)
		}
	}
}

// djsGuilds are the discord.js clients of a run, and the TLS endpoint of
// the voice gateway they dial (discord.js dials wss:// only).
type djsGuilds struct {
	clients []*djsClient
	tmp     string // the CA's file and the clients' standard error
	http    *http.Server
	// skipped says why no discord.js client runs, "" when they do.
	skipped string
	// results are the clients', once closed.
	results []djsResult
}

// djsResult is what a guild's discord.js client heard.
type djsResult struct {
	guild   string
	frames  int // decrypted
	equal   int // byte-equal to the listener's frame of the same packet
	differ  int
	unheard int // of packets the listener did not hear
	heard   int // frames of the bot the listener heard
	errs    []string
}

func (r djsResult) failed() bool {
	return len(r.errs) > 0 || r.differ > 0 || r.frames == 0 && r.heard > 0
}

// startDiscordJS starts a discord.js client in half the guilds' channels
// when node is here (-discordjs auto, or true to require it) and DAVE is
// required, and waits until each is in its channel; it returns a
// djsGuilds that says why when they are skipped.
func (s *service) startDiscordJS() (*djsGuilds, error) {
	d := &djsGuilds{}
	mode := s.o.discordjs
	switch {
	case mode == "false":
		d.skipped = "-discordjs=false"
	case mode != "auto" && mode != "true":
		return nil, fmt.Errorf("-discordjs %q: want auto, true or false", mode)
	case !s.o.dave:
		d.skipped = "-dave=false (they join the channels' DAVE groups)"
	case s.o.guilds < 2:
		d.skipped = "one guild: the even guilds have them"
	case s.o.serve:
		d.skipped = "-serve: their frames are compared at the run's end, which never comes"
	case nodetest.Skipped():
		d.skipped = "STREAMCATCHER_NO_NODE=1"
	}
	if d.skipped != "" {
		return d, nil
	}
	dir := interopDir()
	pins, err := nodetest.Locked(dir, "@discordjs/voice", "@snazzah/davey")
	if err == nil {
		err = nodetest.InstallIn(dir, pins)
	}
	if err != nil {
		if mode == "true" {
			return nil, fmt.Errorf("-discordjs=true: %w", err)
		}
		if errors.Is(err, nodetest.ErrNoNode) {
			err = errors.New("node or npm is not on PATH")
		}
		d.skipped = err.Error()
		return d, nil
	}
	if d.tmp, err = os.MkdirTemp("", "discordlike-djs-"); err != nil {
		return nil, err
	}
	endpoint, ca, err := d.serveTLS(s.voice)
	if err != nil {
		d.close()
		return nil, err
	}
	for g := 2; g <= s.o.guilds; g++ {
		if !djsGuild(g) {
			continue
		}
		c, err := startDJS(dir, d.tmp, ca, endpoint, g)
		if err != nil {
			d.close()
			return nil, err
		}
		d.clients = append(d.clients, c)
	}
	deadline := time.After(djsWait)
	for _, c := range d.clients {
		select {
		case <-c.ready:
		case <-c.done:
			c.fail("it ended before it was ready")
		case <-deadline:
			c.fail("not ready within %v", djsWait)
		}
	}
	return d, nil
}

// startDJS starts the discord.js client of guild g, joining its channel.
func startDJS(dir, tmp, ca, endpoint string, g int) (*djsClient, error) {
	guild, user := fmt.Sprintf("guild-%d", g), djsUser(g)
	c := &djsClient{g: g, guild: guild, ready: make(chan struct{}), done: make(chan struct{})}
	c.cmd = nodetest.Command(dir, "client.js", "NODE_EXTRA_CA_CERTS="+ca)
	stderr, err := os.Create(filepath.Join(tmp, guild+".stderr"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close() // the process has its own descriptor
	c.stderr, c.cmd.Stderr = stderr.Name(), stderr
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("discord.js client of %s: %w", guild, err)
	}
	go c.read(out)
	// The channel is the one the bot and the listener join, which name
	// none: the guild's, as DAVE numbers it.
	join, _ := json.Marshal(map[string]any{
		"cmd": "join", "guild": guild, "channel": strconv.FormatUint(voice.Snowflake(guild), 10), "user": user,
		"session": "session-" + user, "endpoint": endpoint, "token": "token-" + user,
		"dave": true, "listen": []string{botUser(g)},
	})
	if _, err := c.in.Write(append(join, '\n')); err != nil {
		c.fail("join: %v", err)
	}
	return c, nil
}

// close ends the clients (their input closed, they leave and exit) and
// the TLS endpoint.
func (d *djsGuilds) close() {
	for _, c := range d.clients {
		c.in.Close()
	}
	for _, c := range d.clients {
		kill := time.AfterFunc(djsWait, func() { _ = c.cmd.Process.Kill() })
		<-c.done
		if err := c.cmd.Wait(); err != nil {
			c.fail("node: %v: %s", err, lastLines(c.stderr, 5))
		}
		kill.Stop()
	}
	if d.http != nil {
		_ = d.http.Close()
	}
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
}

// compare sets the results: each client's frames against the
// listener's of its guild (heard: guild → frameKey → frameHash).
func (d *djsGuilds) compare(heard map[string]map[uint64]uint64) {
	for _, c := range d.clients {
		c.mu.Lock()
		r := djsResult{guild: c.guild, frames: len(c.frames), heard: len(heard[c.guild]), errs: c.errs}
		for _, f := range c.frames {
			h, ok := heard[c.guild][f.key]
			switch {
			case !ok:
				r.unheard++
			case h == f.hash:
				r.equal++
			default:
				r.differ++
			}
		}
		c.mu.Unlock()
		d.results = append(d.results, r)
	}
}

// failed reports whether a client failed its checks.
func (d *djsGuilds) failed() bool {
	for _, r := range d.results {
		if r.failed() {
			return true
		}
	}
	return false
}

// lastLines returns the last n lines of a file, for an error.
func lastLines(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(l[max(len(l)-n, 0):], "\n")
}

// serveTLS serves h on a TLS listener on loopback, with a certificate of
// a CA made for the run, and returns its host:port, as Discord gives a
// voice endpoint, and the file of the CA's certificate, for
// NODE_EXTRA_CA_CERTS.
func (d *djsGuilds) serveTLS(h http.Handler) (endpoint, caFile string, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "discordlike CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	caFile = filepath.Join(d.tmp, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return "", "", err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		return "", "", err
	}
	// A client that gives up mid-handshake is no failure of the run.
	d.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = d.http.Serve(ln) }()
	return ln.Addr().String(), caFile, nil
}

// summarizeDJS prints a line for each kind of guild, and one for each
// discord.js client that failed.
func summarizeDJS(con *console, o *options, d *djsGuilds) {
	p := con.linef
	if d.skipped != "" {
		p("  discord.js          skipped: %s", d.skipped)
		return
	}
	var t djsResult
	failed := 0
	for _, r := range d.results {
		t.frames += r.frames
		t.equal += r.equal
		t.differ += r.differ
		t.unheard += r.unheard
		t.heard += r.heard
		if r.failed() {
			failed++
		}
	}
	p("  discord.js guilds   %d (even): %d frames of the bots decrypted by discord.js, %d byte-equal to the listener's, %d differing, %d of packets the listener missed; the listeners heard %d; %d failed",
		len(d.results), t.frames, t.equal, t.differ, t.unheard, t.heard, failed)
	p("  Go-only guilds      %d (odd): the bot and the listener", o.guilds-len(d.results))
	for _, r := range d.results {
		if r.failed() {
			p("    discord.js FAILED %s: %d frames decrypted, %d byte-equal, %d differing, the listener heard %d; %s",
				r.guild, r.frames, r.equal, r.differ, r.heard, strings.Join(r.errs, "; "))
		}
	}
}
