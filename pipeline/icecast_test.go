package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// The sessions of testdata/icecast (record.sh, described in
// testdata/README.md) are what a listener of Icecast 2.4.4 received: the
// raw response head and the raw body. These tests replay them.

// The titles record.sh sets, in order, through Icecast's admin API.
var icecastTitles = []string{"First Song - The Tone", "Café Olé - Ünïcödé ☕", `It's "Quoted"; O'Brien`}

// recording is a recorded Icecast session.
type recording struct {
	head []byte // the response head as sent, status line to the blank line
	body []byte
}

func loadRecording(t *testing.T, name string) recording {
	t.Helper()
	return recording{head: testutil.Fixture(t, "icecast/"+name+".headers"), body: testutil.Fixture(t, "icecast/"+name+".body")}
}

// header returns a field of the recorded head.
func (r recording) header(t *testing.T) http.Header {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(r.head)), nil)
	require.NoError(t, err)
	return resp.Header
}

// replay is Icecast on loopback, as recorded: connection k is sent the
// recorded head and the body from its byte from(k) (a later live point
// after a reconnect), byte for byte on the raw connection, and is closed
// after the body's byte to(k) (its end if to(k) < 0), as Icecast closes a
// listener's connection, or held open until the client closes it if hold
// is set (a radio that sends nothing more for now). A connection beyond
// conns is answered as Icecast answers for a mount that is off the air:
// 404.
type replay struct {
	rec   recording
	conns int
	from  func(conn int) int
	to    func(conn int) int
	hold  bool

	mu    sync.Mutex
	n     int
	asked []string // each request's Icy-MetaData
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	k := rp.n
	rp.n++
	rp.asked = append(rp.asked, r.Header.Get("Icy-MetaData"))
	rp.mu.Unlock()
	if k >= rp.conns {
		http.Error(w, "The file you requested could not be found", http.StatusNotFound)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	from, to := 0, len(rp.rec.body)
	if rp.from != nil {
		from = rp.from(k)
	}
	if rp.to != nil && rp.to(k) >= 0 {
		to = rp.to(k)
	}
	buf.Write(rp.rec.head)
	buf.Write(rp.rec.body[from:to])
	buf.Flush()
	if rp.hold {
		io.Copy(io.Discard, conn) // until the client closes
	}
}

func (rp *replay) stats() (int, []string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.n, append([]string(nil), rp.asked...)
}

func (rp *replay) url(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// packetsUntil reads a track's packets through a new cursor until its
// error, which it returns with them (copied).
func packetsUntil(t *testing.T, tr *pipeline.Track, n int) ([][]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cur := tr.NewCursor()
	var got [][]byte
	for n < 0 || len(got) < n {
		p, err := cur.NextContext(ctx)
		if err != nil {
			return got, err
		}
		got = append(got, bytes.Clone(p.Data))
	}
	return got, nil
}

// icyBlockAt is a metadata block found in a recorded body.
type icyBlockAt struct {
	audio int64  // audio bytes before it
	end   int    // the body's offset just after it
	text  string // its bytes, the NUL padding removed
}

// splitICY is the reference parse of an ICY body, written from the
// protocol and nothing else: metaint bytes of audio, a length byte L, 16*L
// bytes of metadata, again. It returns the audio and the blocks that are
// whole in body; a block cut short ends the parse.
func splitICY(body []byte, metaint int) (audio []byte, blocks []icyBlockAt) {
	for i := 0; i < len(body); {
		n := min(metaint, len(body)-i)
		audio = append(audio, body[i:i+n]...)
		i += n
		if i >= len(body) {
			break
		}
		size := 16 * int(body[i])
		if i+1+size > len(body) {
			break
		}
		blocks = append(blocks, icyBlockAt{int64(len(audio)), i + 1 + size, strings.TrimRight(string(body[i+1:i+1+size]), "\x00")})
		i += 1 + size
	}
	return audio, blocks
}

// streamTitle returns the title of a block Icecast wrote, which holds one
// field: StreamTitle='...'; ("" and false for an empty block).
func streamTitle(t *testing.T, text string) (string, bool) {
	t.Helper()
	if text == "" {
		return "", false
	}
	v, ok := strings.CutPrefix(text, "StreamTitle='")
	require.True(t, ok, "block %q", text)
	v, ok = strings.CutSuffix(v, "';")
	require.True(t, ok, "block %q", text)
	return v, true
}

// wantChanges returns the title changes of blocks, after base audio bytes
// of the source: every block with a title, the first one included, then
// one for each title unlike the one before.
func wantChanges(t *testing.T, blocks []icyBlockAt, base int64) []change {
	t.Helper()
	var c []change
	for _, b := range blocks {
		title, ok := streamTitle(t, b.text)
		if ok && (len(c) == 0 || c[len(c)-1].Reconnect || c[len(c)-1].Title != title) {
			c = append(c, change{title, base + b.audio, false})
		}
	}
	return c
}

func icecastMetaint(t *testing.T, rec recording) int {
	t.Helper()
	n, err := strconv.Atoi(rec.header(t).Get("icy-metaint"))
	require.NoError(t, err)
	return n
}

// What Icecast sends to a listener of an MP3 mount that asked for ICY
// metadata: HTTP/1.0 with no length, the icy- headers of the source, and
// icy-metaint: 16000.
func TestIcecastMP3Head(t *testing.T) {
	rec := loadRecording(t, "mp3")
	assert.True(t, bytes.HasPrefix(rec.head, []byte("HTTP/1.0 200 OK\r\n")), "head %q", rec.head)
	h := rec.header(t)
	assert.Equal(t, "audio/mpeg", h.Get("Content-Type"))
	assert.Equal(t, "16000", h.Get("icy-metaint"))
	assert.Equal(t, "Fixture Radio", h.Get("icy-name"))
	assert.Empty(t, h.Get("Content-Length"))
	// The body starts with an MP3 frame (the listener joined with the
	// burst of the stream's start), and ends where the recording did.
	require.Greater(t, len(rec.body), 5*16000)
	assert.Equal(t, []byte{0xff, 0xfb}, rec.body[:2], "an MPEG-1 Layer III frame's sync")
	_, blocks := splitICY(rec.body, 16000)
	var titles []string
	for _, b := range blocks {
		if title, ok := streamTitle(t, b.text); ok {
			titles = append(titles, title)
		}
	}
	assert.Equal(t, append([]string{""}, icecastTitles...), titles,
		"the title a new listener is sent first (none yet), then each change, UTF-8 as it was set")
}

// The recorded MP3 session read through OpenHTTP is exactly the stream's
// audio, the metadata blocks removed, and its titles are the changes in
// order, each at the audio offset where its block sat.
func TestIcecastMP3(t *testing.T) {
	rec := loadRecording(t, "mp3")
	metaint := icecastMetaint(t, rec)
	audio, blocks := splitICY(rec.body, metaint)
	rp := &replay{rec: rec, conns: 1}
	s := pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry)
	got := readN(t, s, len(audio))
	assert.True(t, bytes.Equal(audio, got), "the audio, without its metadata: %d bytes", len(got))
	assert.Equal(t, wantChanges(t, blocks, 0), changes(s))
	var titles []string
	for _, c := range s.Titles() {
		titles = append(titles, c.Title)
	}
	assert.Equal(t, append([]string{""}, icecastTitles...), titles, "the non-ASCII title intact")
	assert.Zero(t, s.Reconnects())
	conns, asked := rp.stats()
	assert.Equal(t, 1, conns)
	assert.Equal(t, []string{"1"}, asked)
}

// A drop mid-stream: the source joins the radio again at a later live
// point, and marks the jump.
func TestIcecastMP3Reconnect(t *testing.T) {
	rec := loadRecording(t, "mp3")
	metaint := icecastMetaint(t, rec)
	_, blocks := splitICY(rec.body, metaint)
	require.GreaterOrEqual(t, len(blocks), 6)
	for _, tc := range []struct {
		name   string
		drop   int // the body's bytes connection 0 is sent
		rejoin int // where in the body connection 1 starts: just after a block
	}{
		// Within the audio between blocks 2 and 3, rejoined after block
		// 3: the next block is the second title's.
		{"mid-audio", blocks[1].end + 7000, blocks[2].end},
		// Within block 4 (the second title's, cut short: never seen),
		// rejoined after it.
		{"mid-block", blocks[3].end - 10, blocks[3].end},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := &replay{rec: rec, conns: 2,
				from: func(k int) int { return []int{0, tc.rejoin}[k] },
				to:   func(k int) int { return []int{tc.drop, -1}[k] },
			}
			before, beforeBlocks := splitICY(rec.body[:tc.drop], metaint)
			after, afterBlocks := splitICY(rec.body[tc.rejoin:], metaint)
			s := pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry)
			got := readN(t, s, len(before)+len(after))
			assert.True(t, bytes.Equal(append(bytes.Clone(before), after...), got), "the audio before the drop, then the live point's, no stray byte")
			assert.Equal(t, int64(1), s.Reconnects())
			base := int64(len(before))
			want := append(wantChanges(t, beforeBlocks, 0), change{"", base, true})
			want = append(want, wantChanges(t, afterBlocks, base)...)
			assert.Equal(t, want, changes(s), "the titles, the reconnect marked where the audio jumps")
			conns, asked := rp.stats()
			assert.Equal(t, 2, conns)
			assert.Equal(t, []string{"1", "1"}, asked)
		})
	}
}

// A live track of the recorded MP3 radio plays: its packets are those of
// a track of the stream's audio (the metadata removed by the reference
// parse), and decode. The radio goes off the air after the recording
// (404): the track ends with that error.
func TestIcecastMP3LiveTrack(t *testing.T) {
	rec := loadRecording(t, "mp3")
	audio, _ := splitICY(rec.body, icecastMetaint(t, rec))
	// The recording stopped inside a frame: a track of the audio alone
	// ends there with a truncation error.
	want, err := packetsUntil(t, newTrack(t, bytes.NewReader(audio)), -1)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Greater(t, len(want), 500, "about 12 s of 20 ms packets")

	rp := &replay{rec: rec, conns: 1}
	s := pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry)
	tr := newTrack(t, s, pipeline.WithLive(time.Minute), pipeline.WithPacing(nil))
	got, err := packetsUntil(t, tr, -1)
	require.ErrorIs(t, err, pipeline.ErrHTTP, "the radio off the air after the recording")
	assert.Contains(t, err.Error(), "404")
	require.Len(t, got, len(want))
	for i := range want {
		require.True(t, bytes.Equal(want[i], got[i]), "packet %d", i)
	}
	titles := s.Titles()
	require.NotEmpty(t, titles)
	assert.Equal(t, icecastTitles[len(icecastTitles)-1], titles[len(titles)-1].Title)

	// The packets decode: the program's tone is there.
	r, err := tr.NewPCMReader()
	require.NoError(t, err)
	defer r.Close()
	pcm, err := io.ReadAll(r)
	require.ErrorIs(t, err, pipeline.ErrHTTP)
	f := r.Format()
	left := testutil.Channel(pcm, f.Encoding, f.Channels, 0)
	require.Greater(t, len(left), 10*f.Rate, "more than 10 s decoded")
	assert.Greater(t, testutil.RMS(left, 0, len(left)), 0.1, "not silence")
}

// oggPageAt is an Ogg page of a recorded body (RFC 3533, section 6).
type oggPageAt struct {
	at      int    // its offset in the body
	flags   byte   // header type: 0x02 first page (BOS), 0x04 last (EOS)
	granule int64  // granule position
	serial  uint32 // bitstream serial number
	packets [][]byte
}

// oggPageWalk is the reference walk of an Ogg body's pages, written from
// RFC 3533 alone (no CRC check): the 27-byte header, the lacing values,
// the body. Packets are split at lacing values below 255; these streams'
// header packets each fit a page. A page cut short ends the walk.
func oggPageWalk(t *testing.T, body []byte) []oggPageAt {
	t.Helper()
	var pages []oggPageAt
	for i := 0; i+27 <= len(body); {
		require.Equal(t, "OggS", string(body[i:i+4]), "a page at %d", i)
		n := int(body[i+26])
		if i+27+n > len(body) {
			break
		}
		lacing := body[i+27 : i+27+n]
		data := i + 27 + n
		size := 0
		for _, l := range lacing {
			size += int(l)
		}
		if data+size > len(body) {
			break
		}
		p := oggPageAt{at: i, flags: body[i+5], granule: int64(binary.LittleEndian.Uint64(body[i+6:])), serial: binary.LittleEndian.Uint32(body[i+14:])}
		start := data
		for _, l := range lacing {
			data += int(l)
			if l < 255 {
				p.packets = append(p.packets, body[start:data])
				start = data
			}
		}
		pages = append(pages, p)
		i = data
	}
	return pages
}

// oggLink is a logical stream of a chained Ogg body: its serial, its
// header packets, its audio packets, whether it has its last page.
type oggLink struct {
	serial     uint32
	head, tags []byte
	audio      [][]byte
	eos        bool
}

func oggLinks(t *testing.T, body []byte) []oggLink {
	t.Helper()
	var links []oggLink
	for _, p := range oggPageWalk(t, body) {
		if p.flags&0x02 != 0 {
			links = append(links, oggLink{serial: p.serial})
		}
		require.NotEmpty(t, links, "a first page before the page at %d", p.at)
		l := &links[len(links)-1]
		require.Equal(t, l.serial, p.serial, "the pages of one link at a time")
		for _, pk := range p.packets {
			switch {
			case l.head == nil:
				l.head = pk
			case l.tags == nil:
				l.tags = pk
			default:
				l.audio = append(l.audio, pk)
			}
		}
		l.eos = p.flags&0x04 != 0
	}
	return links
}

// vorbisComment returns the value of a Vorbis comment (names are ASCII, case
// insensitive), or "".
func vorbisComment(tags ogg.OpusTags, name string) string {
	for _, c := range tags.Comments {
		if k, v, ok := strings.Cut(c, "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// What Icecast does with an Ogg Opus mount: no icy-metaint (Ogg carries
// no ICY metadata), though the listener asked for it; the admin API's
// title changes are refused ("Mountpoint will not accept URL updates"),
// so the recording is a single link, its OpusTags those of the source,
// cut where the recording stopped.
func TestIcecastOggHead(t *testing.T) {
	rec := loadRecording(t, "opus")
	assert.True(t, bytes.HasPrefix(rec.head, []byte("HTTP/1.0 200 OK\r\n")))
	h := rec.header(t)
	assert.Equal(t, "audio/ogg", h.Get("Content-Type"))
	assert.Empty(t, h.Get("icy-metaint"), "no ICY metadata in an Ogg stream")
	assert.Equal(t, "Fixture Radio", h.Get("icy-name"))
	links := oggLinks(t, rec.body)
	require.Len(t, links, 1, "no new link for a title change")
	assert.Equal(t, "OpusHead", string(links[0].head[:8]))
	tags, err := ogg.ParseOpusTags(links[0].tags)
	require.NoError(t, err)
	assert.Empty(t, vorbisComment(tags, "TITLE"), "no title: the admin API's were refused")
	assert.False(t, links[0].eos, "cut where the recording stopped")
	assert.Greater(t, len(links[0].audio), 100)
}

// A chained Ogg Opus source (a new link for each song, its title in its
// OpusTags): Icecast relays every link to the listener as it is, first
// page, headers and last page, without icy-metaint.
func TestIcecastOggChainedHead(t *testing.T) {
	rec := loadRecording(t, "chained")
	h := rec.header(t)
	assert.Equal(t, "audio/ogg", h.Get("Content-Type"))
	assert.Empty(t, h.Get("icy-metaint"))
	links := oggLinks(t, rec.body)
	require.Len(t, links, len(icecastTitles))
	for i, l := range links {
		assert.Equal(t, uint32(5001+i), l.serial)
		assert.True(t, l.eos, "link %d ends with its last page", i)
		tags, err := ogg.ParseOpusTags(l.tags)
		require.NoError(t, err)
		assert.Equal(t, icecastTitles[i], vorbisComment(tags, "TITLE"), "link %d's title, UTF-8 intact", i)
		assert.Len(t, l.audio, 151, "link %d: 3 s of 20 ms packets and the pre-skip's", i)
	}
}

// The recorded Ogg sessions read through OpenHTTP are exactly their
// bytes: no ICY metadata to strip, no titles.
func TestIcecastOgg(t *testing.T) {
	for _, name := range []string{"opus", "chained"} {
		t.Run(name, func(t *testing.T) {
			rec := loadRecording(t, name)
			rp := &replay{rec: rec, conns: 1}
			s := pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry)
			got := readN(t, s, len(rec.body))
			assert.True(t, bytes.Equal(rec.body, got), "the Ogg stream as sent")
			assert.Nil(t, s.Titles())
			assert.Zero(t, s.Reconnects())
			_, asked := rp.stats()
			assert.Equal(t, []string{"1"}, asked)
		})
	}
}

// A live track of the recorded Ogg Opus radio frames its packets as they
// are. The connection stays open after the recording, as the radio's
// would, until the track is closed.
func TestIcecastOggLiveTrack(t *testing.T) {
	rec := loadRecording(t, "opus")
	links := oggLinks(t, rec.body)
	require.Len(t, links, 1)
	rp := &replay{rec: rec, conns: 1, hold: true}
	tr := newTrack(t, pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry), pipeline.WithLive(time.Minute), pipeline.WithPacing(nil))
	got, err := packetsUntil(t, tr, len(links[0].audio))
	require.NoError(t, err)
	assert.Equal(t, links[0].audio, got, "every audio packet of the link, as it is")
	require.NoError(t, tr.Close())
}

// What codec/ogg makes of the chained recording today: the Reader reads
// the first link's packets, then stops with ErrChained, naming the next
// link (its serial number).
func TestIcecastOggChainedReader(t *testing.T) {
	rec := loadRecording(t, "chained")
	links := oggLinks(t, rec.body)
	r := ogg.NewReader(bytes.NewReader(rec.body))
	var got [][]byte
	var err error
	for {
		var p ogg.Packet
		if p, err = r.ReadPacket(); err != nil {
			break
		}
		got = append(got, bytes.Clone(p.Data))
	}
	require.True(t, errors.Is(err, ogg.ErrChained), "got %v; want ogg.ErrChained", err)
	assert.Contains(t, err.Error(), "logical stream 5002")
	want := append([][]byte{links[0].head, links[0].tags}, links[0].audio...)
	assert.Equal(t, want, got, "the first link, headers and audio")
}

// Icecast answers in HTTP/1.0 and ends a listener's body by closing the
// connection: a drop (a proxy's timeout, the server restarted, the
// listener kicked) reads as a clean end of the body. An Ogg mount has no
// icy-metaint, but it is a radio (icy-name): like an MP3 radio's, its drop
// should be a reconnect to the live point, marked, not the end of the
// stream. A new listener of an Ogg mount is sent the link's header pages
// first, as the recording itself was.
func TestIcecastOggDropReconnects(t *testing.T) {
	rec := loadRecording(t, "opus")
	pages := oggPageWalk(t, rec.body)
	require.Greater(t, len(pages), 4)
	drop := pages[3].at // after two pages of audio
	rp := &replay{rec: rec, conns: 2, to: func(k int) int { return []int{drop, -1}[k] }}
	s := pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry)
	defer s.Close()
	got := make([]byte, drop+len(rec.body))
	n, err := io.ReadFull(s, got)
	conns, _ := rp.stats()
	require.NoError(t, err, "read %d bytes of %d, over %d connections", n, len(got), conns)
	assert.True(t, bytes.Equal(append(bytes.Clone(rec.body[:drop]), rec.body...), got), "the bytes before the drop, then the new connection's")
	assert.Equal(t, int64(1), s.Reconnects())
	assert.Equal(t, []change{{"", int64(drop), true}}, changes(s), "the reconnect marked where the stream jumps")
}

// The recorded chained Ogg Opus session (three opusenc files, one title
// each, relayed by Icecast) played by a live track: every audio packet of
// every link, in order, no header among them; each link's title at the
// position of its first packet; the end is the replay's 404, not
// ogg.ErrChained.
func TestIcecastOggChainedLiveTrack(t *testing.T) {
	rec := loadRecording(t, "chained")
	links := oggLinks(t, rec.body)
	require.Len(t, links, 3)
	rp := &replay{rec: rec, conns: 1}
	tr := newTrack(t, pipeline.OpenHTTP(context.Background(), rp.url(t), fastRetry), pipeline.WithLive(time.Minute), pipeline.WithPacing(nil))
	var want [][]byte
	var starts []int64 // each link's first sample after the first link's pre-skip
	samples := int64(0)
	for _, l := range links {
		starts = append(starts, samples)
		for _, p := range l.audio {
			want = append(want, p)
			n, err := opus.PacketSamples(p)
			require.NoError(t, err)
			samples += n
		}
	}
	got, err := packetsUntil(t, tr, -1)
	require.ErrorIs(t, err, pipeline.ErrHTTP, "the end is the replay's 404 on reconnecting")
	assert.Equal(t, want, got, "every audio packet of the three links, in order")

	head, err := ogg.ParseOpusHead(links[0].head)
	require.NoError(t, err)
	var titles []string
	var at []int64
	for _, c := range tr.Titles() {
		if !c.Reconnect {
			titles = append(titles, c.Title)
			at = append(at, c.Position)
		}
	}
	require.Equal(t, icecastTitles, titles, "each link's title, in order")
	for i, s := range starts {
		assert.Equal(t, max(0, s-int64(head.PreSkip)), at[i], "link %d's title at its first packet", i)
	}
	require.NoError(t, tr.Close())
}
