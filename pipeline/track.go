package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/codec/webm"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Track is one piece of audio encoded once, as Opus packets in a cache,
// for any number of listeners: each reads it through a framed.Cursor of
// its own (NewCursor), at its own position, while the encoding goes on.
//
// A Track is made from a source (an io.Reader: a file, a CommandSource,
// an HTTPSource, ...). Its input is detected (MP3, FLAC, WAV, Ogg Opus,
// WebM; raw PCM when WithRawPCM says so), decoded, resampled to 48 kHz,
// Opus-encoded and framed; Ogg Opus and WebM or Matroska with Opus
// (webm.OpusDemuxer) are framed as they are, without re-encoding; WebM
// of another codec fails with webm.ErrUnsupported (decode it with a
// CommandSource running ffmpeg). NewTrack reads
// nothing: the work is done in the background, a packet at a time, in
// turn with the other tracks of its Pool. A source error ends the track at
// the point where it happened: every packet before it stays playable, and
// readers get the error after them. So does a source that gives no byte
// for the stall timeout (WithStallTimeout; ErrStalled). A track with
// filters (WithFilters) is its source filtered, encoded once.
//
// A Track is safe for concurrent use.
type Track struct {
	c      *catcher.Catcher // set before the fill starts
	cfg    trackConfig
	ctx    context.Context
	cancel context.CancelFunc
	slot   slot           // the pool slot of the track's fill; only the fill touches it
	src    *yieldReader   // the source, yielding slot (the fill's, or a pipelined decoding's: see pipelined.go)
	pipes  sync.WaitGroup // a pipelined transcode's decode goroutine (see pipelined.go); Close waits for it
	piped  atomic.Bool    // a pipelined transcode's decode goroutine has been started
	stored *Metadata      // a stored track's, read from its file; nil for others
	seams  seamCache      // transitions at players' jumps
	joins  joinCache      // joins of its end to other tracks' starts
	segs   segmentCache   // side encodes from seeks past the encoded point (see segment.go)
}

type trackConfig struct {
	bitrate    int
	frame      time.Duration
	channels   int
	quality    transform.Quality
	app        opus.Application
	cbr        bool
	raw        *transform.Format
	live       time.Duration // the window of a live track; 0 if not live
	pacing     Clock         // WithPacing's (see pacingOf)
	pacingSet  bool
	pool       *Pool
	name       string
	maxBytes   int64
	noSeams    bool                                         // players send no transitions at jumps (WithSeams)
	stall      time.Duration                                // WithStallTimeout's; 0: the default; -1: none
	built      func(encodes bool)                           // called once the input is known: whether it is encoded (Library's count)
	reopen     func(ctx context.Context) (io.Reader, error) // opens the source again, for segments (withReopen); nil: none
	filters    transform.Chain                              // WithFilters'; the zero Chain: none
	mp3        mp3.Engine                                   // WithMP3Engine's
	noPipeline bool                                         // WithPipelined(false)
}

// filtered reports whether the track applies a filter.
func (c *trackConfig) filtered() bool { return c.filters.String() != "" }

// TrackOption configures a Track.
type TrackOption func(*trackConfig)

// WithBitrate sets the Opus bitrate in bit/s, 500 to 512000 (128000 by
// default). It has no effect on Ogg Opus input, which is not re-encoded.
func WithBitrate(bps int) TrackOption { return func(c *trackConfig) { c.bitrate = bps } }

// WithFrameDuration sets the duration of each packet: 2.5, 5, 10, 20 (the
// default: what Discord and browsers take), 40 or 60 ms.
func WithFrameDuration(d time.Duration) TrackOption { return func(c *trackConfig) { c.frame = d } }

// WithChannels sets the channels encoded: 2 (the default) or 1.
func WithChannels(n int) TrackOption { return func(c *trackConfig) { c.channels = n } }

// WithQuality sets the resampler's preset, for input not at 48 kHz. The
// default is transform.High: it resamples 44.1 kHz stereo at about 1000
// times real time on one core (bench/README.md), a thousandth of a core
// for a track played in real time and well under a tenth of the encoder's
// cost, so the cheaper presets would save almost nothing.
func WithQuality(q transform.Quality) TrackOption { return func(c *trackConfig) { c.quality = q } }

// WithMP3Engine selects the decoder of MP3 input: mp3.Native (the
// default), the package's own, which also decodes MPEG-2.5 and the padded
// MPEG-2 frames go-mp3 refuses, or mp3.GoMP3 (see mp3.WithEngine).
func WithMP3Engine(e mp3.Engine) TrackOption { return func(c *trackConfig) { c.mp3 = e } }

// WithCBR turns the encoder's constant bitrate on or off (off, variable
// bitrate, by default), as libopus.WithCBR does. It has no effect on Ogg
// Opus input, which is not re-encoded.
func WithCBR(on bool) TrackOption { return func(c *trackConfig) { c.cbr = on } }

// WithApplication sets the encoder's tuning (opus.AppAudio by default).
func WithApplication(a opus.Application) TrackOption { return func(c *trackConfig) { c.app = a } }

// WithFilters applies the filters of c (none by default) to the track's
// audio before it is encoded: the input is decoded and resampled to 48
// kHz float, filtered (transform.NewChainFilter) and encoded, in the
// track's fill, so that the filtered audio is computed once for every
// listener. Ogg Opus and WebM input, framed as it is without filters, is
// then decoded (libopus) and encoded again: a filtered track of it costs
// an encode, and its bitrate, frame and channels are the track's settings
// (WithBitrate, ...), not the stream's; its OpusTags' title and artist are
// not kept. The track is the filtered audio throughout: with a timescale,
// its duration, its positions (a Player's, a PCMReader's, a seek's) and
// its packets are those of the audio as the timescale makes it (a speed of
// 1.25 lasts 1/1.25 of the source), and its duration estimate before it is
// finished is the source's scaled so. A seek past what a filtered track
// has encoded is made from a segment encoded from the source at the
// target, filtered (see Queue.Seek and the package's segments). NewTrack
// refuses a chain that is not valid, with an error wrapping
// transform.ErrFilterParam. A Library sets it from Key.Filters.
func WithFilters(c transform.Chain) TrackOption { return func(cfg *trackConfig) { cfg.filters = c } }

// WithSeams turns the transitions that players send at their jumps on
// (the default) or off. A transition (see Player) is a few packets encoded
// once per track and jump, a few milliseconds of one core each, so that a
// receiver decoding the stream with one decoder (Discord's clients,
// browsers) hears no click at a loop, a seek or a resume; without them, a
// jump from loud audio to a place that followed quieter audio comes out
// several decibels too loud, often clipping. It turns a Queue's joins of
// the track to the tracks before and after it off too.
func WithSeams(on bool) TrackOption { return func(c *trackConfig) { c.noSeams = !on } }

// WithRawPCM says that the source is raw PCM of format f, which cannot be
// detected.
func WithRawPCM(f transform.Format) TrackOption { return func(c *trackConfig) { c.raw = &f } }

// WithPool sets the pool that bounds how many tracks encode at once. The
// default is one pool of GOMAXPROCS slots shared by every Track made
// without this option.
func WithPool(p *Pool) TrackOption { return func(c *trackConfig) { c.pool = p } }

// WithName names the track's source in its Metadata and errors (a path,
// a URL).
func WithName(name string) TrackOption { return func(c *trackConfig) { c.name = name } }

// WithMaxBytes bounds a track's encoded size: a track that would grow
// past n bytes of packets ends with catcher.ErrTooLong after them (about
// 17 minutes a MiB at 128 kbit/s; 0, the default, means no bound). It has
// no effect on a live track, whose window bounds it.
func WithMaxBytes(n int64) TrackOption { return func(c *trackConfig) { c.maxBytes = max(n, 0) } }

// WithLive makes a live track, for an endless source (a radio stream, a
// live command): the cache keeps only about the last window of encoded
// audio, so memory stays bounded however long it runs. The window is
// sized for the track's bitrate when the source is raw PCM, and for Opus's
// highest, 512 kbit/s, otherwise, since Ogg Opus input is framed as it is
// (so a live MP3 at 128 kbit/s keeps about four windows: 320 KB for 5 s);
// quiet audio codes smaller and keeps more. It has no duration; a reader
// that falls behind the window gets catcher.ErrEvicted and can jump to the
// oldest packet (framed.Cursor.SkipToOldest). A live track encodes whether
// or not anyone listens, and goes before preloading tracks in the pool. It
// encodes in real time: no faster than the system's clock, whatever its
// source (a file made live plays as a radio; see WithPacing to choose the
// clock, or to encode a bursting source at once). It panics if window <=
// 0.
func WithLive(window time.Duration) TrackOption {
	if window <= 0 {
		panic(fmt.Sprintf("pipeline: WithLive(%v)", window))
	}
	return func(c *trackConfig) { c.live = window }
}

// NewTrack returns a Track of src, which it owns: it is closed when the
// track ends or is closed, if it is an io.Closer. NewTrack reads nothing
// and returns at once; the encoding starts in the background. Errors (a
// bad option) wrap transform.ErrFormat, or transform.ErrFilterParam (a
// chain of WithFilters that is not valid).
func NewTrack(src io.Reader, opts ...TrackOption) (*Track, error) {
	cfg := trackConfig{bitrate: 128000, frame: 20 * time.Millisecond, channels: 2, quality: transform.High, app: opus.AppAudio}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.pool == nil {
		cfg.pool = defaultPool()
	}
	if cfg.channels != 1 && cfg.channels != 2 {
		return nil, fmt.Errorf("%w: %d channels (want 1 or 2)", transform.ErrFormat, cfg.channels)
	}
	if err := cfg.filters.Validate(); err != nil {
		return nil, err
	}
	// The encoder is made here, so that its settings are checked before
	// anything runs; it is used only if the input is not Ogg Opus or
	// WebM. A build without cgo has none (ErrNoLibopus): its tracks frame
	// Ogg Opus and WebM, and end with that error on any other input.
	enc, noEnc := newEncoder(cfg)
	if noEnc != nil && !errors.Is(noEnc, ErrNoLibopus) {
		return nil, noEnc
	}
	decTo := pcmFormat(cfg.channels)
	if cfg.filtered() {
		decTo.Encoding = transform.F32LE // the filters' input
	}
	dec, err := codec.NewDecoder(decTo, decodeOptions(cfg)...)
	if err != nil {
		return nil, err
	}
	t := &Track{cfg: cfg}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.slot = slot{pool: cfg.pool, ctx: t.ctx, urgent: t.urgent}
	minSpace := framed.PrefixSize + ogg.DefaultMaxPacket
	if noEnc == nil {
		minSpace = framed.PrefixSize + max(enc.MaxPacketSize(), ogg.DefaultMaxPacket)
	}
	build := func(r io.Reader) (tr catcher.Transform, in io.Reader, err error) {
		var p *pipelined
		if noEnc != nil {
			tr, in, p, err = t.build(r, nil, noEnc, dec)
		} else {
			tr, in, p, err = t.build(r, enc, nil, dec)
		}
		tr, in = withTitles(tr, in, src, cfg.live > 0)
		if p != nil {
			p.in = in // the decoding's, read by itself (see pipelined.go)
		}
		return tr, in, withContentType(err, src)
	}
	copts := []catcher.Option{catcher.WithTransform(catcher.Deferred(minSpace, build))}
	if cfg.live > 0 {
		copts = append(copts, catcher.WithWindow(liveWindowBytes(cfg)))
	} else {
		// One contiguous store once encoded: no chunk left part empty.
		copts = append(copts, catcher.WithFinalise(), catcher.WithMaxBytes(cfg.maxBytes))
	}
	t.src = &yieldReader{r: stalling(src, cfg), slot: &t.slot}
	t.c = catcher.New(yielding(t.src), copts...)
	t.c.Preload() // only now: the fill (and the pool, through urgent) may read t.c
	return t, nil
}

func decodeOptions(cfg trackConfig) []codec.DecodeOption {
	opts := []codec.DecodeOption{codec.WithQuality(cfg.quality), codec.WithMP3Engine(cfg.mp3)}
	if cfg.raw != nil {
		opts = append(opts, codec.WithRawInput(*cfg.raw))
	}
	return opts
}

// liveBitrate is the bitrate a live track's window is sized for: its own,
// for PCM it encodes; else the highest Opus uses, since Ogg Opus input,
// framed as it is, may come at any bitrate.
func liveBitrate(cfg trackConfig) int {
	if cfg.raw != nil {
		return cfg.bitrate
	}
	return max(cfg.bitrate, 512000)
}

// liveWindowBytes is the cache window of a live track: its window of audio
// at liveBitrate, with the records' prefixes, and at least 64 KiB.
func liveWindowBytes(cfg trackConfig) int64 {
	packets := int64(cfg.live/(2500*time.Microsecond)) + 1
	return max(64<<10, int64(cfg.live.Seconds()*float64(liveBitrate(cfg))/8)+packets*framed.PrefixSize)
}

// withContentType adds to err, an input not known or not supported, the
// Content-Type that src's server gave, if src says one: a web page where
// audio was expected is told by it.
func withContentType(err error, src io.Reader) error {
	c, ok := src.(interface{ ContentType() string })
	if !ok || err == nil || !errors.Is(err, codec.ErrUnknownFormat) && !errors.Is(err, codec.ErrUnsupported) {
		return err
	}
	if ct := c.ContentType(); ct != "" {
		return fmt.Errorf("%w (the server's Content-Type: %s)", err, ct)
	}
	return err
}

// build makes the track's transform inside the fill, once the input's
// first bytes tell what it is. enc is nil in a build without an encoder,
// and noEnc then says so: input other than Ogg Opus or WebM fails with it.
// A pipelined transcode (see pipelined.go) is returned as well as the
// transform (which it is, or which wraps it); its input is to be set.
func (t *Track) build(src io.Reader, enc encoder, noEnc error, dec catcher.Transform) (catcher.Transform, io.Reader, *pipelined, error) {
	var h *handoff
	if enc != nil && t.pipelines() {
		h = &handoff{r: src}
		src = h
	}
	if t.cfg.raw == nil {
		kind, in, err := codec.DetectReader(src)
		if (kind == codec.KindOggOpus || kind == codec.KindWebM) && t.cfg.filtered() {
			return t.buildFilteredOpus(kind, in, enc, noEnc, h)
		}
		if kind == codec.KindOggOpus || kind == codec.KindWebM {
			// Framed as it is: no decoding, no encoding, no pool slot.
			var d framed.PacketSource = ogg.NewOpusDemuxer(t.demuxOptions()...)
			if kind == codec.KindWebM {
				d = webm.NewOpusDemuxer()
			}
			f := framed.NewFramer(pace(d, pacingOf(t.cfg), t.ctx), t.framerOptions()...)
			t.reportBuilt(false)
			return catcher.Annotate(f, codec.Source{Kind: kind}), in, nil, nil
		}
		if err != nil && (t.cfg.mp3 != mp3.Native || !errors.Is(err, codec.ErrMPEG25)) {
			return nil, nil, nil, err
		}
		src = in
	}
	if enc == nil {
		return nil, nil, nil, noEnc
	}
	g := &gated{PacketSource: enc, slot: &t.slot}
	t.reportBuilt(true)
	stages := []catcher.Transform{dec}
	if t.cfg.filtered() {
		// dec gives 48 kHz float (see NewTrack).
		f, err := t.filterStages(transform.Format{Rate: opus.SampleRate, Channels: t.cfg.channels, Encoding: transform.F32LE})
		if err != nil {
			return nil, nil, nil, err
		}
		stages = append(stages, f...)
	}
	last := framed.NewFramer(pace(g, pacingOf(t.cfg), t.ctx), t.framerOptions()...)
	if h != nil {
		h.r = t.src // the decoding reads the source itself from here on
		p := t.newPipelined(stages, last)
		return p, src, p, nil
	}
	return catcher.Chain(append(stages, last)...), src, nil, nil
}

// reportBuilt tells withBuilt's function, if any, whether the input is
// encoded.
func (t *Track) reportBuilt(encodes bool) {
	if t.cfg.built != nil {
		t.cfg.built(encodes)
	}
}

// withBuilt has f called once the track knows whether it encodes its
// input (from the fill: f must not block).
func withBuilt(f func(encodes bool)) TrackOption { return func(c *trackConfig) { c.built = f } }

// framerOptions bound a live track's index: as many packets as its cache
// window can hold (2.5 ms ones for Ogg input, which may use them; the
// track's own frames else), twice over, since quiet audio codes smaller
// than the bitrate and the window then holds more of it.
func (t *Track) framerOptions() []framed.FramerOption {
	if t.cfg.live == 0 {
		return nil
	}
	frame := t.cfg.frame
	if t.cfg.raw == nil {
		frame = 2500 * time.Microsecond
	}
	return []framed.FramerOption{framed.WithIndexWindow(2 * int(t.cfg.live/frame+1))}
}

// urgent reports whether the track should go before preloading ones: a
// listener waits for it, or it is live.
func (t *Track) urgent() bool { return t.cfg.live > 0 || t.c.Waiters() > 0 }

// slot is a track's hold on a slot of its pool.
type slot struct {
	pool   *Pool
	ctx    context.Context
	urgent func() bool
	held   bool
}

func (s *slot) take() error {
	if err := s.pool.acquire(s.ctx, s.urgent); err != nil {
		return err
	}
	s.held = true
	return nil
}

func (s *slot) give() {
	if s.held {
		s.held = false
		s.pool.release()
	}
}

// gated is the encoder of a track, holding a slot of the pool while it
// makes a packet: the decoding, resampling and encoding behind it, but
// not the source's reads (see yielding).
type gated struct {
	framed.PacketSource
	slot *slot
}

func (g *gated) NextPacket(src io.Reader) ([]byte, error) {
	if err := g.slot.take(); err != nil {
		return nil, err
	}
	defer g.slot.give()
	return g.PacketSource.NextPacket(src)
}

func (g *gated) Size() int64 {
	if s, ok := g.PacketSource.(catcher.Sizer); ok {
		return s.Size()
	}
	return 0
}

// yielding returns y's source, reading which gives y's pool slot back
// for as long as the Read takes (a network read, a command's output, a
// retry's wait), and takes it again after. It is an io.Closer if the
// source is.
func yielding(y *yieldReader) io.Reader {
	if c, ok := y.r.(io.Closer); ok {
		return yieldReadCloser{y, c}
	}
	return y
}

// yieldReader is yielding's reader. Its slot is that of the goroutine
// that reads it, which may change between reads (a pipelined transcode's
// decode goroutine takes the reading over: see pipelined.go).
type yieldReader struct {
	r    io.Reader
	slot *slot
}

func (y *yieldReader) Read(p []byte) (int, error) {
	if !y.slot.held {
		return y.r.Read(p)
	}
	y.slot.give()
	n, err := y.r.Read(p)
	if terr := y.slot.take(); terr != nil && err == nil {
		err = terr
	}
	return n, err
}

type yieldReadCloser struct {
	*yieldReader
	io.Closer
}

// Catcher returns the cache of the track's framed packets.
func (t *Track) Catcher() *catcher.Catcher { return t.c }

// NewCursor returns a listener's position at the track's first packet.
func (t *Track) NewCursor() *framed.Cursor { return framed.NewCursor(t.c) }

// Index returns the packet index as published now, and whether there is
// one yet.
func (t *Track) Index() (framed.Index, bool) {
	x, _, ok := catcher.StateOf[framed.Index](t.c)
	return x, ok
}

// OpusHead returns the Ogg Opus identification header of the track's
// packets (its channels, pre-skip and input rate), for writing them as Ogg
// Opus (sink.WriteOgg, sink.HTTPStream), and whether it is known yet: it is
// once the track is Ready with a packet.
func (t *Track) OpusHead() (ogg.OpusHead, bool) {
	x, ok := t.Index()
	if !ok {
		return ogg.OpusHead{}, false
	}
	m := t.Metadata()
	rate := uint32(48000)
	if m.Format.Rate > 0 {
		rate = uint32(m.Format.Rate)
	}
	return ogg.OpusHead{Version: 1, Channels: uint8(m.Channels), PreSkip: uint16(x.PreSkip()), InputRate: rate}, true
}

// Ready returns a channel that is closed once the first packet is
// encoded, or the track has ended (Err then says why).
func (t *Track) Ready() <-chan struct{} { return t.c.Ready(0) }

// Done returns a channel that is closed once the track has ended:
// finished, failed or closed. Err says which.
func (t *Track) Done() <-chan struct{} { return t.c.Done() }

// Err returns why the track ended: nil while it goes on or if it finished
// cleanly; the source's or the decoder's error; catcher.ErrClosed.
func (t *Track) Err() error { return t.c.Err() }

// Finished reports whether the track has been encoded to its end, cleanly.
func (t *Track) Finished() bool {
	x, ok := t.Index()
	return ok && x.Done()
}

// Progress returns the duration encoded so far.
func (t *Track) Progress() time.Duration {
	x, _ := t.Index()
	return x.Duration()
}

// Duration returns the track's duration and whether it is exact. Once the
// track is finished it is exact to the sample (the MP3 encoder's delay
// and padding, the Opus pre-skip and end trimming honoured). Before, it
// is an estimate: what the MP3's LAME tag, the FLAC STREAMINFO or the WAV
// header announces (scaled by a timescale of WithFilters), or else the
// duration encoded so far. A live track has no duration: it
// returns the duration encoded so far, not exact.
func (t *Track) Duration() (time.Duration, bool) {
	x, ok := t.Index()
	if ok && x.Done() {
		return x.Duration(), true
	}
	if t.cfg.live == 0 {
		if info, _, ok := catcher.StateOf[mp3.Info](t.c); ok && info.Length >= 0 && info.SampleRate > 0 {
			return t.filteredDuration(time.Duration(info.Length) * time.Second / time.Duration(info.SampleRate)), false
		}
		if info, _, ok := catcher.StateOf[flac.Info](t.c); ok && info.Length >= 0 && info.SampleRate > 0 {
			return t.filteredDuration(time.Duration(info.Length) * time.Second / time.Duration(info.SampleRate)), false
		}
		if info, _, ok := catcher.StateOf[wav.Info](t.c); ok && info.Length >= 0 && info.Format.Rate > 0 {
			return t.filteredDuration(time.Duration(info.Length) * time.Second / time.Duration(info.Format.Rate)), false
		}
	}
	return x.Duration(), false
}

// Metadata describes a track: its source, what its input turned out to
// be, and how it is encoded.
type Metadata struct {
	Name          string // WithName's
	Title, Artist string // from an ID3v2 tag or the OpusTags, where present
	// Kind and Format are the input's kind and PCM format (the Format is
	// zero for Ogg Opus and WebM, which are not decoded, unless filtered:
	// then 48 kHz S16LE, as libopus decodes it); Kind is KindUnknown until
	// the input's first bytes have been read.
	Kind   codec.Kind
	Format transform.Format
	// Bitrate, Frame and Channels are the encoder's settings; for Ogg Opus
	// and WebM input framed as it is (without filters), Bitrate is 0 and
	// Channels the stream's.
	Bitrate  int
	Frame    time.Duration
	Channels int
	Live     bool
}

// Metadata returns what is known of the track now.
func (t *Track) Metadata() Metadata {
	if t.stored != nil {
		return *t.stored
	}
	m := Metadata{Name: t.cfg.name, Bitrate: t.cfg.bitrate, Frame: t.cfg.frame, Channels: t.cfg.channels, Live: t.cfg.live > 0}
	if src, _, ok := catcher.StateOf[codec.Source](t.c); ok {
		m.Kind, m.Format = src.Kind, src.Format
	}
	if info, _, ok := catcher.StateOf[mp3.Info](t.c); ok {
		m.Title, m.Artist = info.Title, info.Artist
	}
	info, _, ok := catcher.StateOf[ogg.OpusInfo](t.c)
	if links, _, chained := catcher.StateOf[ogg.Links](t.c); chained && len(links) > 0 {
		info, ok = links[len(links)-1].OpusInfo, true // a live track's: its latest link's
	}
	if ok {
		m.Bitrate, m.Channels = 0, int(info.Head.Channels)
		m.Title, m.Artist = comment(info.Tags, "TITLE"), comment(info.Tags, "ARTIST")
		if x, ok := t.Index(); ok && x.Packets() > x.First() {
			m.Frame = opus.Duration(x.Entry(x.First()).Samples)
		}
	}
	return m
}

// comment returns the value of the first comment named name, or "".
func comment(t ogg.OpusTags, name string) string {
	for _, c := range t.Comments {
		if k, v, ok := strings.Cut(c, "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Resident returns the bytes the track holds (see catcher.Stats.Resident).
// Once encoded, that is its packets, each with a 2-byte prefix, in one
// store (a 3-minute track at 128 kbit/s: about 2.9 MB), and its index (16
// bytes a packet: 144 KB). While it encodes, it is also the cache's chunks
// as they grow (the last one partly empty), the fill's 8 KiB scratch, and
// the decoder, resampler and encoder (about 150 KB for MP3 at 44.1 kHz),
// and a pipelined transcode's four buffers of PCM (46 KB for stereo);
// when it ends, those are released and the chunks copied into one
// store.
// A live track holds its window and its index window instead. The
// transitions players send at their jumps count too (about 1 KB each at
// 128 kbit/s, at most 64 a track), the joins made of its end into
// other tracks (see join.go), and its segments while it encodes (see
// segment.go: at most four, each at most ten seconds ahead of its
// furthest player).
func (t *Track) Resident() int64 {
	return t.c.Stats().Resident + t.seams.bytes.Load() + t.joins.bytes.Load() + t.segs.bytes.Load()
}

// settledSize is the part of Resident that no longer changes once the
// track has ended: all but its transitions, which players' jumps add to.
func (t *Track) settledSize() int64 { return t.c.Stats().Resident }

// Close stops the encoding and releases the track: its cache, its
// encoder, its source (a command's process group is killed). Listeners
// then get catcher.ErrClosed. It returns the source's Close error, if
// any; later calls return nil.
func (t *Track) Close() error {
	t.cancel() // ends a wait for the pool
	err := t.c.Close()
	t.pipes.Wait() // every Add was made by the fill, which c.Close has waited for
	t.closeSeams()
	t.closeJoins()
	t.closeSegments()
	return err
}
