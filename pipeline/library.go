package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Key identifies a track of a Library: its source and the settings it is
// encoded with, so that two encodings of one file are two tracks. It is
// the one place for those settings (WithTrackOptions may not set them).
// Zero settings are the Track defaults, and a Key that states a default is
// the same track as one that leaves it zero.
//
// Filters makes a filtered variant of the source a track of its own,
// encoded once and shared by every player that asks for the same chain,
// and stored like any encoding (see WithFilters for what the track is
// then). It is a transform.Chain's encoding (Chain.String), in any
// spelling that transform.ParseChain reads: two spellings of one chain
// (filters in another order, parameters at their defaults stated, a
// filter at its "off" setting, numbers written otherwise) are one key,
// the canonical one. A string (not a Chain, whose filters are pointers)
// keeps a Key comparable by value, usable as a map key.
type Key struct {
	Source      string            // what the Library's opener opens: a path or a URL by default
	Bitrate     int               // bit/s; 0: 128000
	Frame       time.Duration     // 0: 20 ms
	Channels    int               // 0: 2
	Quality     transform.Quality // the resampler's preset; 0: transform.High
	CBR         bool              // constant bitrate (WithCBR); false: variable
	Application opus.Application  // the encoder's tuning; 0: opus.AppAudio
	Filters     string            // the filter chain (transform.ParseChain's input); "": none
}

// normal returns k with its defaults stated and its filter chain in its
// canonical form. A chain that ParseChain refuses is left as it is: Get
// refuses it (see filterChain).
func (k Key) normal() Key {
	if k.Filters != "" {
		if c, err := transform.ParseChain(k.Filters); err == nil {
			k.Filters = c.String()
		}
	}
	if k.Bitrate == 0 {
		k.Bitrate = 128000
	}
	if k.Frame == 0 {
		k.Frame = 20 * time.Millisecond
	}
	if k.Channels == 0 {
		k.Channels = 2
	}
	if k.Quality == 0 {
		k.Quality = transform.High
	}
	return k
}

// String returns the key in a canonical form: what a stored track
// records, and what its name is a hash of. The filter chain, in its
// canonical form, ends it if there is one (a key without filters reads
// as it did before keys had them, so that its stored tracks keep their
// names).
func (k Key) String() string {
	k = k.normal()
	s := fmt.Sprintf("source=%q bitrate=%d frame=%v channels=%d quality=%v cbr=%t application=%d",
		k.Source, k.Bitrate, k.Frame, k.Channels, k.Quality, k.CBR, k.Application)
	if k.Filters != "" {
		s += fmt.Sprintf(" filters=%q", k.Filters)
	}
	return s
}

// filterChain returns the key's filter chain, or an error wrapping
// transform.ErrFilterParam if ParseChain refuses it.
func (k Key) filterChain() (transform.Chain, error) {
	c, err := transform.ParseChain(k.Filters)
	if err != nil {
		return transform.Chain{}, fmt.Errorf("pipeline: key's filters %q: %w", k.Filters, err)
	}
	return c, nil
}

// StoreName returns the name the key's encoding has in a Store: a hash of
// its canonical form.
func (k Key) StoreName() string {
	sum := sha256.Sum256([]byte(k.String()))
	return hex.EncodeToString(sum[:16])
}

// trackOptions returns the key's settings as options; its chain must be
// one ParseChain reads (Get checks it).
func (k Key) trackOptions() []TrackOption {
	c, _ := k.filterChain()
	return []TrackOption{WithBitrate(k.Bitrate), WithFrameDuration(k.Frame), WithChannels(k.Channels),
		WithQuality(k.Quality), WithCBR(k.CBR), WithApplication(k.Application), WithName(k.Source), WithFilters(c)}
}

// Errors of a Library.
var (
	// ErrOverBudget is returned by Get when a track must be loaded but
	// the tracks held already fill the memory budget (see Library).
	ErrOverBudget = errors.New("pipeline: library's memory budget is full of tracks in use")
	// ErrLibraryClosed is returned by Get after Close. It wraps
	// ErrClosed.
	ErrLibraryClosed = fmt.Errorf("pipeline: library closed: %w", ErrClosed)
)

// Library is a set of tracks by Key, shared by every listener of the
// process:
//
//   - Loads collapsed: any number of concurrent Gets of one key make one
//     load, which runs on the Library's own context: a caller whose context
//     ends stops only its own wait. A load that fails is forgotten, and the
//     next Get tries again.
//   - Held, counted: a Get returns a Hold, and the track is not evicted
//     while a Hold or a Player made from one is open (Release, Close).
//     There is no finaliser: a Hold never released keeps its track.
//   - A memory budget counting every byte of every track in memory (the
//     tracks' own accounting, Track.Resident), including tracks evicted
//     from the index that players still hold. Tracks no one holds are
//     evicted, the least recently used first, to stay within it. The
//     policy when the budget is full of tracks in use: a Get that must
//     load refuses with ErrOverBudget, and counts the refusal; tracks
//     already loaded are still served. Tracks grow while they encode, so
//     the budget can be passed by what the loads in flight add (each is
//     bounded by WithTrackBound, if set), until the next eviction.
//   - A Store (WithStore): each track encoded to its end is written there,
//     and a later load of its key, in this process or another, reads it
//     back without decoding or encoding: it is served once its header and
//     index are read and checked, its data checked block by block as it
//     is read (from a store that streams, fetched ahead; see
//     BlobStreamer), a block at a time ahead of the time since it was
//     loaded (WithStoreReadAhead), so that a track played for a minute
//     and left is not fetched whole. The read is one stream from the
//     first byte: a Player's Seek past what is read waits for the store
//     to read up to it, at the store's speed; a Queue's seek there is
//     made at once from a segment read from the store at its target, the
//     blocks before it not read (see Queue.Seek). A store that cannot be read (a server down, errors
//     after its retries) is no reason not to play: the load encodes the
//     track instead, and counts it (LibraryStats.StoreErrors); so does a
//     Get whose stored track fails to be read before its first packet. A
//     stored track that fails its checks, when it is opened or later as
//     it is read, is counted
//     (LibraryStats.Corrupt), reported (WithErrorLog), removed, and
//     encoded again by the next load of its key: a Get that meets it
//     before its first packet loads it again itself; players of one that
//     fails later have the packets before the one that failed (each
//     checked), then ErrCorruptTrack, never a packet that failed a check.
//     Eviction from memory keeps the stored copy.
//
// A Library is safe for concurrent use.
type Library struct {
	cfg    libraryConfig
	ctx    context.Context // the loads'
	cancel context.CancelFunc
	wg     sync.WaitGroup // loads and writes in progress
	// closing is the tracks being closed, which is done away from mu: a
	// track's Close waits for its goroutines (a source's Read, a seam's
	// encode), and the library's lock is not held across that.
	closing sync.WaitGroup
	tick    atomic.Int64 // the clock of last use
	over    atomic.Bool  // the last trim left the budget passed: releases trim

	mu    sync.RWMutex        // guards the fields below; Get's hit takes it to read
	index map[Key]*entry      // the tracks by key
	live  map[*entry]struct{} // every entry with a track in memory, indexed or not
	// The bytes of live entries: settled is the sum of those whose track
	// has ended (its size is then fixed), read at its end; the others'
	// are read when asked.
	settled int64
	closed  bool

	closeDone chan struct{} // closed when the first Close has finished; immutable

	stats struct {
		hits, diskHits, misses, loads, encodes, copies, evictions, refusals, failures, corrupt, writes, storeErrors atomic.Int64
	}
}

type libraryConfig struct {
	budget   int64
	store    Store
	open     func(ctx context.Context, source string) (io.Reader, error)
	opts     []TrackOption
	bound    int64
	errorLog func(Key, error)
	pace     storedPace // how stored tracks are read
}

// LibraryOption configures a Library.
type LibraryOption func(*libraryConfig)

// WithBudget sets the bytes of tracks a Library keeps in memory (256 MiB
// by default: about four hours of music at 128 kbit/s; 0 for no bound).
func WithBudget(bytes int64) LibraryOption {
	return func(c *libraryConfig) { c.budget = max(bytes, 0) }
}

// WithStore keeps the library's finished encodings in s (none by default).
func WithStore(s Store) LibraryOption { return func(c *libraryConfig) { c.store = s } }

// WithStoreReadAhead sets how far ahead a stored track's data is read
// from the store: packets ahead of the time since the track was loaded
// (500 by default: 10 s at 20 ms a packet), and at once when a player
// waits for it (a Player's Seek past what is read; a Queue's seek there
// reads from its target instead); 0 reads a stored track whole
// as soon as it is loaded. Time is clock's (SystemClock if nil; a
// FakeClock in tests). See Library for what it spares and what it does
// not.
func WithStoreReadAhead(packets int, clock Clock) LibraryOption {
	return func(c *libraryConfig) { c.pace = storedPace{ahead: max(packets, 0), clock: clock} }
}

// WithOpener sets how a Key's Source is opened: by default, an http:// or
// https:// URL with OpenHTTP, anything else as a path with OpenFile. The
// context is the Library's, which Close ends. The reader is closed with
// its track if it is an io.Closer.
func WithOpener(open func(ctx context.Context, source string) (io.Reader, error)) LibraryOption {
	return func(c *libraryConfig) { c.open = open }
}

// WithTrackOptions adds options to every track the library encodes: a
// Pool, say, or WithRawPCM. The encoding settings are the Key's alone
// (Key.Bitrate, Frame, Channels, Quality, CBR, Application, Filters, and
// Source, which names the track): NewLibrary panics if these options set
// any of them (WithBitrate, WithFrameDuration, WithChannels, WithQuality,
// WithCBR, WithApplication, WithFilters, WithName), a contradiction in the program
// that would otherwise be settled silently for the Key.
func WithTrackOptions(opts ...TrackOption) LibraryOption {
	return func(c *libraryConfig) { c.opts = append(c.opts, opts...) }
}

// keySettings returns the names of the Key's settings that opts set. It
// applies them to two configurations that differ in every such setting:
// those that come out the same were set. (Options only set fields.)
func keySettings(opts []TrackOption) []string {
	a := trackConfig{bitrate: -1, frame: -1, channels: -1, quality: -1, app: -1, cbr: false, name: "\x00a",
		filters: transform.Chain{Volume: &transform.VolumeConfig{Volume: 0.25}}}
	b := trackConfig{bitrate: -2, frame: -2, channels: -2, quality: -2, app: -2, cbr: true, name: "\x00b",
		filters: transform.Chain{Volume: &transform.VolumeConfig{Volume: 0.5}}}
	for _, o := range opts {
		o(&a)
		o(&b)
	}
	var set []string
	for _, s := range []struct {
		same bool
		name string
	}{
		{a.bitrate == b.bitrate, "WithBitrate (Key.Bitrate)"},
		{a.frame == b.frame, "WithFrameDuration (Key.Frame)"},
		{a.channels == b.channels, "WithChannels (Key.Channels)"},
		{a.quality == b.quality, "WithQuality (Key.Quality)"},
		{a.cbr == b.cbr, "WithCBR (Key.CBR)"},
		{a.app == b.app, "WithApplication (Key.Application)"},
		{a.filters.String() == b.filters.String(), "WithFilters (Key.Filters)"},
		{a.name == b.name, "WithName (Key.Source)"},
	} {
		if s.same {
			set = append(set, s.name)
		}
	}
	return set
}

// WithTrackBound bounds each track's encoded size (WithMaxBytes): a
// source longer than that fails with catcher.ErrTooLong, and is not
// kept. It bounds by how much loads in flight can pass the budget.
func WithTrackBound(bytes int64) LibraryOption {
	return func(c *libraryConfig) { c.bound = max(bytes, 0) }
}

// WithErrorLog sets a function told of errors no caller sees: a stored
// track found corrupt, a write to the store that failed.
func WithErrorLog(f func(Key, error)) LibraryOption {
	return func(c *libraryConfig) { c.errorLog = f }
}

func defaultOpen(ctx context.Context, source string) (io.Reader, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		return OpenHTTP(ctx, source), nil
	}
	return OpenFile(source), nil
}

// NewLibrary returns an empty Library; Close releases it. It panics if
// WithTrackOptions sets what only a Key may (see there).
func NewLibrary(opts ...LibraryOption) *Library {
	cfg := libraryConfig{budget: 256 << 20, open: defaultOpen, pace: storedPace{ahead: 500}}
	for _, o := range opts {
		o(&cfg)
	}
	if set := keySettings(cfg.opts); len(set) > 0 {
		panic("pipeline: WithTrackOptions given the encoding settings of a Key, which alone sets them: " + strings.Join(set, ", "))
	}
	lib := &Library{cfg: cfg, index: map[Key]*entry{}, live: map[*entry]struct{}{}, closeDone: make(chan struct{})}
	lib.ctx, lib.cancel = context.WithCancel(context.Background())
	return lib
}

// entry is one load of a key.
type entry struct {
	key    Key
	loaded chan struct{} // closed once track or err is set
	track  *Track
	err    error
	disk   bool // read from the store
	// noStore: the load encodes, not reading the store (a Get whose
	// stored track could not be read). Set before the load starts.
	noStore bool

	holds  atomic.Int64
	used   atomic.Int64 // the library's tick at the last Get
	failed atomic.Bool  // its failure counted
	hit    atomic.Bool  // counted as a disk hit: a stored track whose first packet was read
	heal   sync.Once    // a stored track found corrupt: counted, reported, removed

	indexed  atomic.Bool // in the index; written under the library's mu
	playable atomic.Bool // its first packet has been seen: Get need not wait

	// Guarded by the library's mu.
	closed  bool // its track closed (evicted and released, or the library closed)
	settled bool // its track has ended, and size is its resident bytes
	size    int64
}

func (e *entry) isLoaded() bool {
	select {
	case <-e.loaded:
		return true
	default:
		return false
	}
}

// Hold is a hold on a Library's track: the track is not evicted while it
// is held. Release it when done; Release is idempotent.
type Hold struct {
	lib  *Library
	e    *entry
	done atomic.Bool
}

// Track returns the held track.
func (h *Hold) Track() *Track { return h.e.track }

// Release gives the hold back. The track may be evicted once no hold on
// it is left; a track evicted while held is closed, and its memory
// freed, when its last hold is released (its Close runs on a goroutine of
// the library's, which Library.Close waits for).
func (h *Hold) Release() {
	if h.done.CompareAndSwap(false, true) {
		h.lib.release(h.e)
	}
}

// NewPlayer returns a player of the held track that holds it too, until
// the player's Close: the Hold may be released at once.
func (h *Hold) NewPlayer() *Player {
	p := h.e.track.NewPlayer()
	if !h.done.Load() {
		h.e.holds.Add(1) // h's hold keeps the entry from being closed meanwhile
		p.hold = &Hold{lib: h.lib, e: h.e}
	}
	return p
}

// Get returns a hold on the track of key, loading it if it is not in
// memory: from the store if it is there, else by opening and encoding
// its source. It waits until the track's first packet is ready (or ctx
// ends: the load goes on), and returns the load's error if it failed
// before that; a track that fails later fails for its players, and is
// forgotten by the Library. A stored copy that fails its checks before
// its first packet is removed, and Get loads the track again, encoding
// it. Errors: ErrOverBudget; ErrLibraryClosed; the source's, the
// decoder's; ErrCorruptTrack, only if stored copies failed three times
// running (each removed); transform.ErrFilterParam, for Filters that
// ParseChain refuses; ctx's.
func (lib *Library) Get(ctx context.Context, key Key) (*Hold, error) {
	key = key.normal()
	if _, err := key.filterChain(); err != nil {
		return nil, err
	}
	noStore := false
	for tries := 1; ; tries++ {
		h, err := lib.get(ctx, key, noStore)
		switch {
		// A stored track that failed a check before its first packet has
		// been healed (removed, forgotten): the next load encodes it.
		case errors.Is(err, errHealed) && tries < 3:
			continue
		// A stored track that could not be read before its first packet
		// has been forgotten: the next load encodes, without the store.
		case errors.Is(err, errStoreRead) && !noStore:
			noStore = true
			continue
		}
		return h, err
	}
}

var (
	// errHealed wraps the error of a stored track found corrupt before
	// its first packet, which Get then loads again.
	errHealed = errors.New("pipeline: stored track removed")
	// errStoreRead wraps the error of a stored track that could not be
	// read before its first packet, which Get then encodes.
	errStoreRead = errors.New("pipeline: stored track not read")
)

func (lib *Library) get(ctx context.Context, key Key, noStore bool) (*Hold, error) {
	h, err := lib.getOnce(ctx, key, noStore)
	if err == errGetAgain {
		h, err = lib.getOnce(ctx, key, noStore) // a new load: not failed, or failed before its first packet
	}
	return h, err
}

// errGetAgain is getOnce's when the track it found had failed after its
// first packets and was forgotten: the next try loads again.
var errGetAgain = errors.New("pipeline: the track failed: load again")

func (lib *Library) getOnce(ctx context.Context, key Key, noStore bool) (*Hold, error) {
	e, err := lib.hold(key, true, noStore)
	if err != nil {
		return nil, err
	}
	h := &Hold{lib: lib, e: e}
	if e.playable.Load() {
		if err := e.track.Err(); err != nil && !errors.Is(err, catcher.ErrClosed) {
			// It failed after its first packets, and its load has not
			// forgotten it yet: forget it at once, so that this Get loads
			// again (its players have had every packet before the failure).
			lib.ended(e, err)
			h.Release()
			return nil, errGetAgain
		}
		return h, nil
	}
	select {
	case <-e.loaded:
	case <-ctx.Done():
		h.Release()
		return nil, ctx.Err()
	}
	if e.err != nil {
		h.Release()
		return nil, e.err
	}
	select {
	case <-e.track.Ready():
	case <-ctx.Done():
		h.Release()
		return nil, ctx.Err()
	}
	if x, _ := e.track.Index(); x.Packets() == 0 {
		if err := e.track.Err(); err != nil {
			// At once, not when the load hears of it: a Get after this
			// one loads again.
			how := lib.ended(e, err)
			h.Release()
			switch how {
			case endHealed:
				return nil, fmt.Errorf("%w: %w", errHealed, err)
			case endStoreRead:
				return nil, fmt.Errorf("%w: %w", errStoreRead, err)
			}
			return nil, err
		}
	}
	lib.diskHit(e)
	e.playable.Store(true)
	return h, nil
}

// diskHit counts e as a disk hit, once, if it is a stored track whose
// first packet has been read.
func (lib *Library) diskHit(e *entry) {
	if e.disk && !e.hit.Load() {
		if x, _ := e.track.Index(); x.Packets() > 0 && e.hit.CompareAndSwap(false, true) {
			lib.stats.diskHits.Add(1)
		}
	}
}

// Play returns a player of the track of key (Get, then Hold.NewPlayer):
// its Close releases the track.
func (lib *Library) Play(ctx context.Context, key Key) (*Player, error) {
	h, err := lib.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer h.Release()
	return h.NewPlayer(), nil
}

// Preload starts loading each key not in memory, in the background, as
// tracks no one holds (so the first to be evicted, and encoded after
// tracks that a listener waits for). Keys refused by the budget are
// counted and skipped; so are keys whose Filters ParseChain refuses,
// uncounted.
func (lib *Library) Preload(keys ...Key) {
	for _, k := range keys {
		if _, err := k.filterChain(); err != nil {
			continue
		}
		if _, err := lib.hold(k.normal(), false, false); err != nil {
			continue
		}
	}
}

// hold finds or starts the entry of key, and holds it if asked. A load it
// starts reads the store unless noStore.
func (lib *Library) hold(key Key, held, noStore bool) (*entry, error) {
	lib.mu.RLock()
	if lib.closed {
		lib.mu.RUnlock()
		return nil, ErrLibraryClosed
	}
	e := lib.index[key]
	if e != nil && held {
		e.holds.Add(1)
		e.used.Store(lib.tick.Add(1))
	}
	lib.mu.RUnlock()
	if e != nil {
		if held {
			lib.stats.hits.Add(1)
		}
		return e, nil
	}

	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.closed {
		return nil, ErrLibraryClosed
	}
	if e = lib.index[key]; e != nil {
		if held {
			e.holds.Add(1)
			e.used.Store(lib.tick.Add(1))
			lib.stats.hits.Add(1)
		}
		return e, nil
	}
	if !lib.admitLocked() {
		lib.stats.refusals.Add(1)
		return nil, fmt.Errorf("%w: %d bytes resident, the budget is %d", ErrOverBudget, lib.residentLocked(), lib.cfg.budget)
	}
	e = &entry{key: key, loaded: make(chan struct{}), noStore: noStore}
	e.indexed.Store(true)
	if held {
		e.holds.Add(1)
		lib.stats.misses.Add(1)
	}
	e.used.Store(lib.tick.Add(1))
	lib.index[key] = e
	lib.live[e] = struct{}{}
	lib.stats.loads.Add(1)
	lib.wg.Add(1)
	go lib.load(e)
	return e, nil
}

// load loads e's track and watches it to its end: a failed track is
// forgotten, a finished one stored.
func (lib *Library) load(e *entry) {
	defer lib.wg.Done()
	t, err := lib.open(e)
	e.track, e.err = t, err
	if err != nil {
		lib.stats.failures.Add(1)
		lib.drop(e) // before its waiters hear: a Get after them loads again
		close(e.loaded)
		return
	}
	close(e.loaded)
	if e.disk {
		select {
		case <-t.Ready():
			lib.diskHit(e)
		case <-lib.ctx.Done():
			return
		}
	}
	select {
	case <-t.Done():
	case <-lib.ctx.Done():
		return
	}
	switch err := t.Err(); {
	case err == catcher.ErrClosed: // closed by the library, not by a source that failed
	case err != nil:
		lib.ended(e, err)
	case !e.disk && lib.cfg.store != nil:
		lib.write(e)
	}
	lib.mu.Lock()
	if !e.closed {
		e.settled, e.size = true, t.settledSize()
		lib.settled += e.size
	}
	lib.trimLocked()
	lib.mu.Unlock()
}

// open makes e's track: from the store if it holds a sound copy, else
// from its source.
func (lib *Library) open(e *entry) (*Track, error) {
	if s := lib.cfg.store; s != nil && !e.noStore {
		t, err := lib.openStored(e)
		switch {
		case err == nil:
			e.disk = true
			return t, nil
		case errors.Is(err, ErrCorruptTrack):
			lib.stats.corrupt.Add(1)
			lib.logError(e.key, err)
			if rerr := s.Remove(lib.ctx, e.key.StoreName()); rerr != nil {
				lib.logError(e.key, rerr)
			}
		case !errors.Is(err, fs.ErrNotExist) && lib.ctx.Err() == nil:
			lib.stats.storeErrors.Add(1)
			lib.logError(e.key, err) // a store that fails is no reason not to encode
		}
	}
	if err := lib.ctx.Err(); err != nil {
		return nil, ErrLibraryClosed
	}
	src, err := lib.cfg.open(lib.ctx, e.key.Source)
	if err != nil {
		return nil, err
	}
	opts := append(slices.Clip(lib.cfg.opts), e.key.trackOptions()...) // the Key's settings are its alone: see keySettings
	if lib.cfg.bound > 0 {
		opts = append(opts, WithMaxBytes(lib.cfg.bound))
	}
	source := e.key.Source
	opts = append(opts, withReopen(func(ctx context.Context) (io.Reader, error) { return lib.cfg.open(ctx, source) }))
	opts = append(opts, withBuilt(func(encodes bool) {
		if encodes {
			lib.stats.encodes.Add(1)
		} else {
			lib.stats.copies.Add(1)
		}
	}))
	t, err := NewTrack(src, opts...)
	if err != nil {
		if c, ok := src.(io.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	return t, nil
}

func (lib *Library) openStored(e *entry) (*Track, error) {
	b, err := lib.cfg.store.Open(lib.ctx, e.key.StoreName())
	if err != nil {
		return nil, err
	}
	st, err := readStored(lib.ctx, b, b.Size(), e.key.String())
	if err != nil {
		b.Close()
		return nil, err
	}
	return openStoredTrack(st, b, b, lib.cfg.bound, lib.cfg.pace)
}

// write stores e's finished track, holding it meanwhile.
func (lib *Library) write(e *entry) {
	lib.mu.Lock()
	if e.closed {
		lib.mu.Unlock()
		return // evicted, and closed, since it finished
	}
	e.holds.Add(1)
	lib.mu.Unlock()
	defer lib.release(e)
	err := lib.writeStored(e)
	if err != nil {
		lib.logError(e.key, fmt.Errorf("pipeline: storing the track: %w", err))
		return
	}
	lib.stats.writes.Add(1)
}

func (lib *Library) writeStored(e *entry) error {
	w, err := lib.cfg.store.Create(lib.ctx, e.key.StoreName())
	if err != nil {
		return err
	}
	if err := writeTrack(w, e.track, e.key.String()); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

func (lib *Library) logError(k Key, err error) {
	if lib.cfg.errorLog != nil {
		lib.cfg.errorLog(k, err)
	}
}

// release gives back one hold on e.
//
// The last hold of a track in the index takes no lock unless the library
// is over its budget: evicting (or forgetting) stores indexed before it
// reads holds, and a trim that finds the budget passed stores over before
// it reads them, so that a release they did not see the end of sees them.
func (lib *Library) release(e *entry) {
	if e.holds.Add(-1) > 0 {
		return
	}
	if e.indexed.Load() && !lib.over.Load() {
		return
	}
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if !e.indexed.Load() && e.holds.Load() == 0 {
		lib.closeLocked(e)
	}
	lib.trimLocked()
}

// drop removes a failed load from the index.
func (lib *Library) drop(e *entry) {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	lib.unindexLocked(e)
	delete(lib.live, e)
	e.closed = true
}

// How a track ended, for a Get that met its end before its first packet.
const (
	endFailed    = iota // a failure: the Get returns it
	endHealed           // a stored track found corrupt, removed: the Get loads again
	endStoreRead        // a stored track not read before its first packet: the Get encodes
)

// ended forgets e, a track that failed with err, and says how it ended.
// A stored track found corrupt (a check failed as it was read, after the
// checks of its opening had passed: its data is checked as it is read) is
// also counted as Corrupt, reported and removed from the store, once,
// before it is forgotten, so that the next load of its key encodes it
// again. Its players have had only the packets before the one that failed
// its check, and get the error after them. A stored track that could not
// be read (the store's error, after its retries) is forgotten, reported
// and counted as a store error, not a failure, if it had no packet, so
// that a Get waiting for it encodes it; later, it is a failure of the
// track, which its players hear after the packets they had, each checked.
// Get and the load both call it, in either order.
func (lib *Library) ended(e *entry, err error) int {
	if e.disk && !errors.Is(err, ErrCorruptTrack) && !errors.Is(err, catcher.ErrClosed) && lib.ctx.Err() == nil {
		if x, _ := e.track.Index(); x.Packets() == 0 {
			if e.failed.CompareAndSwap(false, true) {
				lib.stats.storeErrors.Add(1)
				lib.logError(e.key, err)
			}
			lib.forget(e)
			return endStoreRead
		}
		if !e.failed.Load() {
			lib.logError(e.key, err)
		}
	}
	if !e.disk || !errors.Is(err, ErrCorruptTrack) {
		lib.failed(e)
		return endFailed
	}
	e.heal.Do(func() { // the others wait until it is done
		// Removed before it is forgotten, so that no load after it reads
		// it again; counted after, so that a count seen says both are done.
		rerr := lib.cfg.store.Remove(lib.ctx, e.key.StoreName())
		lib.forget(e)
		lib.stats.corrupt.Add(1)
		lib.logError(e.key, err)
		if rerr != nil {
			lib.logError(e.key, rerr)
		}
	})
	return endHealed
}

// failed forgets e, a track that failed, counting it once.
func (lib *Library) failed(e *entry) {
	if e.failed.CompareAndSwap(false, true) {
		lib.stats.failures.Add(1)
	}
	lib.forget(e)
}

// forget removes e from the index (a failed track: the next Get loads
// it again); its holders keep it.
func (lib *Library) forget(e *entry) {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	lib.unindexLocked(e)
	if e.holds.Load() == 0 {
		lib.closeLocked(e)
	}
}

func (lib *Library) unindexLocked(e *entry) {
	if e.indexed.Load() {
		e.indexed.Store(false)
		if lib.index[e.key] == e {
			delete(lib.index, e.key)
		}
	}
}

// closeLocked stops counting e's track and closes it, on a goroutine of
// its own (Close waits for them).
func (lib *Library) closeLocked(e *entry) {
	if e.closed || !e.isLoaded() {
		return
	}
	e.closed = true
	delete(lib.live, e)
	if e.settled {
		lib.settled -= e.size
	}
	if t := e.track; t != nil {
		lib.closing.Go(func() { t.Close() })
	}
}

// Evict removes the track of key from the index, as the budget does: it
// is closed at once if no one holds it, else when its last holder lets
// go; a later Get loads it again (from the store, if it is there). It
// reports whether the key was in the index.
func (lib *Library) Evict(key Key) bool {
	key = key.normal()
	lib.mu.Lock()
	defer lib.mu.Unlock()
	e := lib.index[key]
	if e == nil {
		return false
	}
	lib.evictLocked(e)
	return true
}

func (lib *Library) evictLocked(e *entry) {
	lib.unindexLocked(e)
	lib.stats.evictions.Add(1)
	if e.holds.Load() == 0 {
		lib.closeLocked(e)
	}
}

// residentLocked is the bytes of every track in memory.
func (lib *Library) residentLocked() int64 {
	n := lib.settled
	for e := range lib.live {
		switch {
		case !e.isLoaded() || e.track == nil:
		case e.settled:
			n += e.track.seams.bytes.Load() // what players' jumps added since
		default:
			n += e.track.Resident()
		}
	}
	return n
}

// trimLocked evicts tracks no one holds, the least recently used first,
// until the tracks in memory are within the budget.
func (lib *Library) trimLocked() {
	if lib.cfg.budget > 0 {
		lib.evictToLocked(lib.cfg.budget, false)
	}
}

// admitLocked makes room for a load: it evicts as trimLocked does, until
// the resident bytes are below the budget, and reports whether they are.
func (lib *Library) admitLocked() bool {
	if lib.cfg.budget == 0 {
		return true
	}
	return lib.evictToLocked(lib.cfg.budget, true)
}

// evictToLocked evicts idle tracks until the resident bytes are at most
// (below, if strict) limit, and reports whether they are.
func (lib *Library) evictToLocked(limit int64, strict bool) bool {
	n := lib.residentLocked()
	within := func() bool { return n < limit || !strict && n == limit }
	if within() {
		lib.over.Store(false)
		return true
	}
	lib.over.Store(true) // before holds are read: see release
	var idle []*entry
	for _, e := range lib.index {
		if e.holds.Load() == 0 && e.isLoaded() {
			idle = append(idle, e)
		}
	}
	slices.SortFunc(idle, func(a, b *entry) int { return int(a.used.Load() - b.used.Load()) })
	for _, e := range idle {
		if within() {
			break
		}
		if e.holds.Load() != 0 {
			continue
		}
		if e.track != nil {
			n -= e.track.Resident()
		}
		lib.evictLocked(e)
	}
	lib.over.Store(!within())
	return within()
}

// LibraryStats describes a Library at one moment.
type LibraryStats struct {
	Tracks   int   // tracks in the index (loading ones included)
	Loading  int   // tracks being loaded or encoded
	Evicted  int   // tracks evicted from the index that are still held
	Holders  int64 // holds open: Holds and Players
	Resident int64 // bytes of every track in memory, evicted ones included
	Budget   int64
	Stored   int64 // bytes in the store, if it says (DirStore does)

	Hits      int64 // Gets of a track in memory (or loading)
	DiskHits  int64 // loads served by the store
	Misses    int64 // Gets that had to load
	Loads     int64 // loads started (Gets' and Preload's)
	Encodes   int64 // loads that encoded their source (MP3, WAV, FLAC, raw PCM; any with filters)
	Copies    int64 // loads that framed their source's Opus packets as they are (Ogg or WebM Opus without filters), without an encode
	Evictions int64
	Refusals  int64 // loads refused by the budget
	Failures  int64 // loads or tracks that failed
	Corrupt   int64 // stored tracks that failed their checks, when opened or as read (not counted in Failures)
	Writes    int64 // tracks written to the store
	// StoreErrors counts loads that found the store unreadable (its
	// error, after its retries: not a blob that is not there, nor one
	// that fails its checks), or a stored track that could not be read
	// before its first packet, and encoded the track instead.
	StoreErrors int64
}

// Stats returns the library's counts.
func (lib *Library) Stats() LibraryStats {
	lib.mu.RLock()
	defer lib.mu.RUnlock()
	st := LibraryStats{Tracks: len(lib.index), Resident: lib.residentLocked(), Budget: lib.cfg.budget}
	for e := range lib.live {
		st.Holders += e.holds.Load()
		if !e.settled {
			st.Loading++
		}
		if !e.indexed.Load() {
			st.Evicted++
		}
	}
	if b, ok := lib.cfg.store.(interface{ Bytes() int64 }); ok {
		st.Stored = b.Bytes()
	}
	s := &lib.stats
	st.Hits, st.DiskHits, st.Misses, st.Loads = s.hits.Load(), s.diskHits.Load(), s.misses.Load(), s.loads.Load()
	st.Encodes, st.Evictions, st.Refusals, st.Failures = s.encodes.Load(), s.evictions.Load(), s.refusals.Load(), s.failures.Load()
	st.Corrupt, st.Writes, st.Copies, st.StoreErrors = s.corrupt.Load(), s.writes.Load(), s.copies.Load(), s.storeErrors.Load()
	return st
}

// Close closes every track of the library, held or not (their players
// get ErrClosed), ends the loads and writes in progress, and
// waits for them. Later Gets return ErrLibraryClosed. Every call, not
// only the first, returns once that is done; later ones return nil.
func (lib *Library) Close() error {
	lib.mu.Lock()
	if lib.closed {
		lib.mu.Unlock()
		<-lib.closeDone
		return nil
	}
	defer close(lib.closeDone)
	lib.closed = true
	lib.cancel()
	lib.mu.Unlock()
	lib.wg.Wait() // the loads have set their tracks, and stopped watching
	lib.mu.Lock()
	for e := range lib.live {
		lib.unindexLocked(e)
		lib.closeLocked(e)
	}
	lib.mu.Unlock()
	lib.closing.Wait()
	return nil
}
