package dave_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// newDecryptor returns a Decryptor on a fake clock holding the ratchet r,
// given at the clock's current time.
func newDecryptor(t testing.TB, r *dave.KeyRatchet) (*dave.Decryptor, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	d := dave.NewDecryptor(dave.WithDecryptorClock(clock.Now))
	if r != nil {
		d.TransitionToKeyRatchet(r, dave.KeyExpiry)
	}
	return d, clock
}

// decrypt decrypts f with d into a fresh slice.
func decrypt(d *dave.Decryptor, f []byte) ([]byte, error) {
	return d.AppendDecrypt(nil, f)
}

// TestDecryptorRoundTrip sends many frames of many sizes from an
// Encryptor to a Decryptor holding the same sender's ratchet.
func TestDecryptorRoundTrip(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 1))
	d, _ := newDecryptor(t, newRatchet(t, 1))
	var out []byte
	const frames = 3000
	for i := range frames {
		plain := opus(i%400, i)
		f, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		out, err = d.AppendDecrypt(out[:0], f)
		require.NoError(t, err, "frame %d", i)
		require.True(t, bytes.Equal(plain, out), "frame %d: got %x; want %x", i, out, plain)
	}
	assert.Equal(t, dave.DecryptorStats{Decrypted: frames}, d.Stats())
}

// TestDecryptorGenerationBoundary crosses from generation 0 to 1 at
// nonce 2^24 with frames reordered across the boundary: a late frame of
// generation 0 still decrypts until KeyExpiry after generation 1 first
// decrypted, and is refused as expired after.
func TestDecryptorGenerationBoundary(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 2))
	d, clock := newDecryptor(t, newRatchet(t, 2))
	clock.Advance(generationAge(1)) // a sender this old may have reached generation 1
	dave.SetEncryptorState(e, 0, 1<<24-40)

	type sent struct {
		nonce uint32
		plain []byte
		frame []byte
	}
	var frames []sent
	for n := uint32(1<<24 - 39); n <= 1<<24+40; n++ {
		plain := opus(160, int(n))
		f, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		frames = append(frames, sent{n, plain, f})
	}
	idx := func(n uint32) int { return int(n - (1<<24 - 39)) }
	late := map[uint32]bool{1<<24 - 1: true, 1<<24 - 5: true, 1<<24 - 6: true}
	// Everything but the late frames, with 2^24 and 2^24-2 swapped.
	order := []uint32{}
	for _, s := range frames {
		if !late[s.nonce] {
			order = append(order, s.nonce)
		}
	}
	i, j := idx(1<<24-2), idx(1<<24)-1 // 2^24-1 was taken out
	order[i], order[j] = order[j], order[i]
	for _, n := range order {
		s := frames[idx(n)]
		got, err := decrypt(d, s.frame)
		require.NoError(t, err, "nonce %#x", n)
		require.Equal(t, s.plain, got, "nonce %#x", n)
	}

	clock.Advance(dave.KeyExpiry - time.Second)
	s := frames[idx(1<<24-1)]
	got, err := decrypt(d, s.frame)
	require.NoError(t, err, "generation 0 kept for KeyExpiry")
	assert.Equal(t, s.plain, got)

	clock.Advance(time.Second + time.Millisecond)
	_, err = decrypt(d, frames[idx(1<<24-5)].frame)
	assert.ErrorIs(t, err, dave.ErrGenerationExpired)

	// Generation 1 goes on.
	plain := opus(160, 0)
	f, err := e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	got, err = decrypt(d, f)
	require.NoError(t, err)
	assert.Equal(t, plain, got)

	st := d.Stats()
	assert.Equal(t, uint64(len(order)+2), st.Decrypted)
	assert.Equal(t, uint64(1), st.GenerationExpired)
	assert.Equal(t, uint64(1), st.Refused())
}

// TestDecryptorWrongKey checks that a frame under another sender's key,
// or with any byte changed, is refused and counted.
func TestDecryptorWrongKey(t *testing.T) {
	d, _ := newDecryptor(t, newRatchet(t, 3))
	plain := opus(100, 0)
	other := refSeal(t, key(t, newRatchet(t, 4), 0), 1, plain)
	_, err := decrypt(d, other)
	assert.ErrorIs(t, err, dave.ErrFrameAuth)

	good := refSeal(t, key(t, newRatchet(t, 3), 0), 1, plain)
	for _, at := range []int{0, 50, 99, 100, 107} { // ciphertext, then the tag's first and last byte
		bad := append([]byte(nil), good...)
		bad[at] ^= 0x01
		_, err := decrypt(d, bad)
		assert.ErrorIs(t, err, dave.ErrFrameAuth, "byte %d changed", at)
	}
	got, err := decrypt(d, good)
	require.NoError(t, err, "the refusals did not move the replay window")
	assert.Equal(t, plain, got)
	assert.Equal(t, dave.DecryptorStats{Decrypted: 1, AuthFailed: 6}, d.Stats())
}

// TestDecryptorReplay checks the replay window: each nonce once, late
// ones accepted while among the last MaxMissingNonces missing.
func TestDecryptorReplay(t *testing.T) {
	k := key(t, newRatchet(t, 5), 0)
	d, _ := newDecryptor(t, newRatchet(t, 5))
	frame := func(n uint32) []byte { return refSeal(t, k, n, opus(60, int(n))) }
	ok := func(n uint32) {
		t.Helper()
		got, err := decrypt(d, frame(n))
		require.NoError(t, err, "nonce %d", n)
		require.Equal(t, opus(60, int(n)), got)
	}
	replayed := func(n uint32) {
		t.Helper()
		_, err := decrypt(d, frame(n))
		require.ErrorIs(t, err, dave.ErrFrameReplayed, "nonce %d", n)
	}
	ok(1)
	ok(2)
	ok(3)
	replayed(2)
	replayed(3)
	ok(5)
	ok(4) // late, once
	replayed(4)

	ok(2000) // 6..1999 missing: the window keeps the last 1000
	replayed(999)
	ok(1000)
	replayed(1000)
	ok(1999)
	replayed(5)
	st := d.Stats()
	assert.Equal(t, uint64(8), st.Decrypted)
	assert.Equal(t, uint64(6), st.Replayed)
	assert.Equal(t, st.Replayed, st.Refused())
}

// TestDecryptorTruncated checks frames whose tag or supplemental bytes
// were cut.
func TestDecryptorTruncated(t *testing.T) {
	d, _ := newDecryptor(t, newRatchet(t, 6))
	good := refSeal(t, key(t, newRatchet(t, 6), 0), 1, opus(20, 0))
	body, tag, tail := good[:20], good[20:28], good[28:] // tail: nonce 01, size 0c, fa fa
	require.Equal(t, []byte{0x01, 0x0c, 0xfa, 0xfa}, tail)
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		// The tag lost 4 bytes, the size byte unchanged: the "tag" read
		// begins 4 bytes into the ciphertext.
		{"tag cut, size kept", cat(body, tag[:4], tail), dave.ErrFrameAuth},
		// The tag lost 4 bytes and the size says so: 4+1+1+2 = 8 < 11.
		{"tag cut, size adjusted", cat(body, tag[:4], []byte{0x01, 0x08, 0xfa, 0xfa}), dave.ErrFrameTruncated},
		// No tag at all.
		{"no tag", cat(body, []byte{0x01, 0x04, 0xfa, 0xfa}), dave.ErrFrameTruncated},
		// Shorter than the smallest supplemental section.
		{"ten bytes", cat(tag[:6], []byte{0x01, 0x0c, 0xfa, 0xfa}), dave.ErrFrameTruncated},
		// A size larger than the frame: 0xff bytes claimed in 32.
		{"size past the frame", cat(body, tag, []byte{0x01, 0xff, 0xfa, 0xfa}), dave.ErrFrameTruncated},
		// The last byte of the frame lost: no marker.
		{"marker cut", good[:len(good)-1], dave.ErrFrameNotEncrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.AppendDecrypt([]byte("keep"), tc.frame)
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, []byte("keep"), got, "dst unchanged on refusal")
		})
	}
	st := d.Stats()
	assert.Equal(t, dave.DecryptorStats{AuthFailed: 1, Truncated: 4, NotEncrypted: 1}, st)
}

// TestDecryptorMalformed checks the rest of the frame check: the nonce
// and the unencrypted ranges. Each fixture is a body, an 8-byte tag, and
// the bytes after the tag.
func TestDecryptorMalformed(t *testing.T) {
	d, _ := newDecryptor(t, newRatchet(t, 7))
	body := make([]byte, 10)
	tag := make([]byte, 8)
	for _, tc := range []struct {
		name string
		tail []byte // after the tag, size and marker included
	}{
		{"no nonce", []byte{0x0b, 0xfa, 0xfa}},
		{"nonce runs past", []byte{0x80, 0x0c, 0xfa, 0xfa}},
		{"nonce not minimal", []byte{0x81, 0x00, 0x0d, 0xfa, 0xfa}},
		{"nonce over 32 bits", []byte{0x80, 0x80, 0x80, 0x80, 0x10, 0x10, 0xfa, 0xfa}},
		{"range without size", []byte{0x01, 0x02, 0x0d, 0xfa, 0xfa}},
		{"range past the body", []byte{0x01, 0x08, 0x03, 0x0e, 0xfa, 0xfa}},            // (8, 3) in 10 bytes
		{"ranges overlapping", []byte{0x01, 0x00, 0x04, 0x02, 0x02, 0x10, 0xfa, 0xfa}}, // (0, 4), (2, 2)
		{"ranges descending", []byte{0x01, 0x05, 0x01, 0x00, 0x01, 0x10, 0xfa, 0xfa}},  // (5, 1), (0, 1)
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := append(append(append([]byte(nil), body...), tag...), tc.tail...)
			require.Equal(t, len(tag)+len(tc.tail), int(f[len(f)-3]), "fixture's size byte")
			_, err := decrypt(d, f)
			assert.ErrorIs(t, err, dave.ErrFrameMalformed)
		})
	}
	assert.Equal(t, uint64(8), d.Stats().Malformed)
}

// TestDecryptorRanges decrypts frames with unencrypted ranges (not sent
// for Opus, but part of the format): the range bytes are authenticated,
// in the clear, and the frame is rebuilt in order.
func TestDecryptorRanges(t *testing.T) {
	k := key(t, newRatchet(t, 8), 0)
	d, _ := newDecryptor(t, newRatchet(t, 8))
	plain := opus(100, 1)
	for i, ranges := range [][]refRange{
		{{0, 10}},
		{{5, 10}, {15, 1}, {50, 50}},
		{{0, 100}},
		{{3, 0}, {99, 1}},
	} {
		f := refSeal(t, k, uint32(i+1), plain, ranges...)
		got, err := decrypt(d, f)
		require.NoError(t, err, "ranges %v", ranges)
		assert.Equal(t, plain, got, "ranges %v", ranges)
	}
	f := refSeal(t, k, 10, plain, refRange{5, 10})
	f[7] ^= 1 // inside the range: authenticated, not encrypted
	_, err := decrypt(d, f)
	assert.ErrorIs(t, err, dave.ErrFrameAuth)
}

// TestDecryptorGenerationTooFar checks the two limits on a frame's
// generation: the ratchet's age, and the gap past the newest decrypted.
func TestDecryptorGenerationTooFar(t *testing.T) {
	ref := newRatchet(t, 9)
	d, clock := newDecryptor(t, newRatchet(t, 9))
	frame := func(gen uint32, n uint32) []byte {
		return refSeal(t, key(t, ref, gen), gen<<24|n, opus(30, int(n)))
	}
	_, err := decrypt(d, frame(0, 1))
	require.NoError(t, err)

	_, err = decrypt(d, frame(1, 1))
	assert.ErrorIs(t, err, dave.ErrGenerationTooFar, "a new ratchet cannot be past generation 0")
	clock.Advance(generationAge(1) - time.Second)
	_, err = decrypt(d, frame(1, 2))
	assert.ErrorIs(t, err, dave.ErrGenerationTooFar, "one second short of the age of generation 1")
	clock.Advance(time.Second)
	_, err = decrypt(d, frame(1, 3))
	require.NoError(t, err)

	clock.Advance(generationAge(255))
	_, err = decrypt(d, frame(1+dave.MaxGenerationGap+1, 1))
	assert.ErrorIs(t, err, dave.ErrGenerationTooFar, "past the gap")
	_, err = decrypt(d, frame(1+dave.MaxGenerationGap, 1))
	require.NoError(t, err, "at the gap")
	_, err = decrypt(d, frame(1+dave.MaxGenerationGap+1, 1))
	require.NoError(t, err, "within the gap of the new newest")

	st := d.Stats()
	assert.Equal(t, uint64(3), st.GenerationTooFar)
	assert.Equal(t, uint64(4), st.Decrypted)
}

// TestDecryptorTransition checks that a ratchet superseded by a
// transition decrypts for KeyExpiry more, then is dropped; and that a
// Decryptor whose ratchets all expired refuses frames as of no known
// ratchet.
func TestDecryptorTransition(t *testing.T) {
	eA := dave.NewEncryptor(newRatchet(t, 10))
	eB := dave.NewEncryptor(newRatchet(t, 11))
	d, clock := newDecryptor(t, newRatchet(t, 10))
	send := func(e *dave.Encryptor) ([]byte, []byte) {
		plain := opus(80, int(e.Stats().Encrypted))
		f, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		return plain, f
	}
	works := func(e *dave.Encryptor, what string) {
		t.Helper()
		plain, f := send(e)
		got, err := decrypt(d, f)
		require.NoError(t, err, what)
		require.Equal(t, plain, got, what)
	}
	works(eA, "A before the transition")

	d.TransitionToKeyRatchet(newRatchet(t, 11), dave.KeyExpiry)
	works(eB, "B after the transition")
	works(eA, "A just after the transition")
	clock.Advance(dave.KeyExpiry)
	works(eA, "A at its expiry")
	works(eB, "B")

	clock.Advance(time.Millisecond)
	_, f := send(eA)
	_, err := decrypt(d, f)
	assert.ErrorIs(t, err, dave.ErrFrameAuth, "A expired: tried under B only")
	works(eB, "B goes on")

	d.TransitionToKeyRatchet(nil, dave.KeyExpiry) // the sender left
	clock.Advance(dave.KeyExpiry / 2)
	works(eB, "B within its expiry")
	clock.Advance(dave.KeyExpiry/2 + time.Millisecond)
	_, f = send(eB)
	_, err = decrypt(d, f)
	assert.ErrorIs(t, err, dave.ErrNoKeyRatchet)

	st := d.Stats()
	assert.Equal(t, uint64(1), st.AuthFailed)
	assert.Equal(t, uint64(1), st.NoKeyRatchet)
	assert.Equal(t, uint64(7), st.Decrypted)
}

// TestDecryptorReplayUnderOlderRatchet checks that a replay of a frame of
// the older of two ratchets is reported as a replay, not as a failed tag
// under the newer one.
func TestDecryptorReplayUnderOlderRatchet(t *testing.T) {
	eA := dave.NewEncryptor(newRatchet(t, 12))
	d, _ := newDecryptor(t, newRatchet(t, 12))
	f, err := eA.AppendEncrypt(nil, opus(40, 0))
	require.NoError(t, err)
	_, err = decrypt(d, f)
	require.NoError(t, err)
	d.TransitionToKeyRatchet(newRatchet(t, 13), dave.KeyExpiry)
	_, err = decrypt(d, f)
	assert.ErrorIs(t, err, dave.ErrFrameReplayed)
}

// TestDecryptorPassthrough checks that unencrypted frames pass only
// while passthrough is allowed, up to the deadline given, while encrypted
// frames are decrypted all along.
func TestDecryptorPassthrough(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 14))
	d, clock := newDecryptor(t, newRatchet(t, 14))
	clear := opus(50, 1)
	_, err := decrypt(d, clear)
	assert.ErrorIs(t, err, dave.ErrFrameNotEncrypted, "not allowed by default")
	assert.False(t, d.CanPassthrough())

	d.TransitionToPassthroughMode(true, 0)
	clock.Advance(time.Hour)
	got, err := decrypt(d, clear)
	require.NoError(t, err)
	assert.Equal(t, clear, got)
	plain := opus(50, 2)
	f, err := e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	got, err = decrypt(d, f)
	require.NoError(t, err)
	assert.Equal(t, plain, got, "an encrypted frame is decrypted, not passed")

	d.TransitionToPassthroughMode(false, 10*time.Second)
	clock.Advance(10*time.Second - time.Millisecond)
	_, err = decrypt(d, clear)
	require.NoError(t, err, "before the deadline")
	d.TransitionToPassthroughMode(false, time.Hour) // an earlier deadline is kept
	clock.Advance(time.Millisecond)
	_, err = decrypt(d, clear)
	assert.ErrorIs(t, err, dave.ErrFrameNotEncrypted, "at the deadline")
	assert.False(t, d.CanPassthrough())

	st := d.Stats()
	assert.Equal(t, uint64(2), st.Passthrough)
	assert.Equal(t, uint64(2), st.NotEncrypted)
	assert.Equal(t, uint64(1), st.Decrypted)
}

// TestDecryptorSilence checks that the silence frame always passes: with
// no ratchet and passthrough not allowed.
func TestDecryptorSilence(t *testing.T) {
	var d dave.Decryptor // the zero value
	silence := []byte{0xF8, 0xFF, 0xFE}
	got, err := d.AppendDecrypt(nil, silence)
	require.NoError(t, err)
	assert.Equal(t, silence, got)
	_, err = d.AppendDecrypt(nil, []byte{0xF8, 0xFF, 0xFE, 0x00})
	assert.ErrorIs(t, err, dave.ErrFrameNotEncrypted, "only the exact silence frame")
	assert.Equal(t, dave.DecryptorStats{Silence: 1, NotEncrypted: 1}, d.Stats())
}

// TestDecryptorNoAllocs checks that decrypting allocates nothing once the
// generation's cipher and the scratch space exist.
func TestDecryptorNoAllocs(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 15))
	d, _ := newDecryptor(t, newRatchet(t, 15))
	plain := opus(160, 0)
	frames := make([][]byte, 102) // AllocsPerRun runs once more than asked
	for i := range frames {
		f, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		frames[i] = f
	}
	out := make([]byte, 0, len(plain))
	_, err := d.AppendDecrypt(out, frames[0])
	require.NoError(t, err)
	next := 1
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.AppendDecrypt(out, frames[next]); err != nil {
			t.Error(err)
		}
		next++
	})
	assert.Zero(t, allocs)
}

// TestDecryptorConcurrent decrypts from one goroutine while another
// makes transitions; run with -race. Every frame of the first ratchet
// decrypts (it expires only KeyExpiry after, on a clock that does not
// move).
func TestDecryptorConcurrent(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 16))
	d, _ := newDecryptor(t, newRatchet(t, 16))
	var next []*dave.KeyRatchet
	for i := range dave.MaxRatchets - 1 { // fewer than a Decryptor keeps
		next = append(next, newRatchet(t, byte(100+i)))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			if i < len(next) {
				d.TransitionToKeyRatchet(next[i], dave.KeyExpiry)
			}
			d.TransitionToPassthroughMode(i%2 == 0, time.Second)
			_ = d.Stats()
		}
	})
	for i := range 300 {
		plain := opus(64, i)
		f, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		got, err := decrypt(d, f)
		require.NoError(t, err, "frame %d", i)
		require.Equal(t, plain, got)
	}
	wg.Wait()
}

// TestDecryptorBoundedRatchets checks that a burst of transitions keeps
// at most MaxRatchets ratchets, dropping the oldest.
func TestDecryptorBoundedRatchets(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 17))
	d, _ := newDecryptor(t, newRatchet(t, 17))
	for i := range dave.MaxRatchets - 1 {
		d.TransitionToKeyRatchet(newRatchet(t, byte(200+i)), dave.KeyExpiry)
	}
	f, err := e.AppendEncrypt(nil, opus(40, 0))
	require.NoError(t, err)
	_, err = decrypt(d, f)
	require.NoError(t, err, "the first of MaxRatchets kept")

	d.TransitionToKeyRatchet(newRatchet(t, 250), dave.KeyExpiry)
	f, err = e.AppendEncrypt(nil, opus(40, 1))
	require.NoError(t, err)
	_, err = decrypt(d, f)
	assert.ErrorIs(t, err, dave.ErrFrameAuth, "the oldest dropped")
}
