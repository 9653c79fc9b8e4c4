package mp3

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// huffTable decodes the code words of one Huffman code by table lookup:
// the first root bits index e; an entry is either a value and the code
// word's whole length, or (huffSub) the offset and index width of a
// table for the bits that follow.
type huffTable struct {
	e    []uint32
	root int
}

const huffSub = 1 << 31

// huffCode is a code word (its len low bits) and the value it codes.
type huffCode struct {
	code uint32
	len  int
	val  int
}

// parseCodes reads code words written as strings of 0 and 1 separated by
// spaces, the i-th coding value i (x<<4 | y for pairs, the v, w, x, y
// bits for quadruples).
func parseCodes(text string) ([]huffCode, error) {
	var codes []huffCode
	for i, w := range strings.Fields(text) {
		c := huffCode{len: len(w), val: i}
		for _, b := range w {
			if b != '0' && b != '1' {
				return nil, fmt.Errorf("code %d: %q", i, w)
			}
			c.code = c.code<<1 | uint32(b-'0')
		}
		codes = append(codes, c)
	}
	return codes, nil
}

// pairCodes reads the code words of a table of pairs of values below n,
// in the order of ISO 11172-3 Table B.7 (x, then y, from 0), as values
// x<<4 | y.
func pairCodes(text string, n int) ([]huffCode, error) {
	codes, err := parseCodes(text)
	if err != nil {
		return nil, err
	}
	if len(codes) != n*n {
		return nil, fmt.Errorf("%d code words for %d pairs", len(codes), n*n)
	}
	for i := range codes {
		codes[i].val = i/n<<4 | i%n
	}
	return codes, nil
}

// checkPrefixCode reports whether codes form a complete prefix code: no
// word is the start of another, and every string of bits starts with a
// word (the Kraft sum is exactly 1).
func checkPrefixCode(codes []huffCode) error {
	if len(codes) == 0 {
		return errors.New("no code words")
	}
	const maxLen = 24
	var kraft uint64 // in units of 2^-maxLen
	sorted := slices.Clone(codes)
	for _, c := range codes {
		if c.len < 1 || c.len > maxLen {
			return fmt.Errorf("value %#x: a %d-bit code word", c.val, c.len)
		}
		kraft += 1 << (maxLen - c.len)
	}
	// Left-aligned, sorted: a word that starts another sorts right
	// before it, or before words that share that start.
	key := func(c huffCode) uint64 { return uint64(c.code) << (maxLen - c.len) }
	slices.SortFunc(sorted, func(a, b huffCode) int {
		if d := int64(key(a)) - int64(key(b)); d != 0 {
			return int(d)
		}
		return a.len - b.len
	})
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.len <= b.len && b.code>>(b.len-a.len) == a.code {
			return fmt.Errorf("the code word of value %#x starts that of %#x", a.val, b.val)
		}
	}
	if kraft != 1<<maxLen {
		return fmt.Errorf("incomplete or over-full code: Kraft sum %d/%d", kraft, uint64(1)<<maxLen)
	}
	return nil
}

// newHuffTable checks codes and builds their lookup table, with a first
// index of root bits.
func newHuffTable(codes []huffCode, root int) (*huffTable, error) {
	if err := checkPrefixCode(codes); err != nil {
		return nil, err
	}
	maxLen := 0
	for _, c := range codes {
		maxLen = max(maxLen, c.len)
	}
	t := &huffTable{root: min(root, maxLen)}
	t.fill(codes, 0, t.root)
	return t, nil
}

// fill adds a table of 1<<bits entries for codes, whose first depth bits
// are already consumed, and returns its offset.
func (t *huffTable) fill(codes []huffCode, depth, bits int) int {
	off := len(t.e)
	t.e = append(t.e, make([]uint32, 1<<bits)...)
	groups := map[int][]huffCode{}
	for _, c := range codes {
		rem := c.len - depth
		if rem <= bits {
			at := off + int(c.code&(1<<rem-1))<<(bits-rem)
			for k := range 1 << (bits - rem) {
				t.e[at+k] = uint32(c.val)<<8 | uint32(c.len)
			}
			continue
		}
		i := int(c.code>>(rem-bits)) & (1<<bits - 1)
		groups[i] = append(groups[i], c)
	}
	keys := make([]int, 0, len(groups))
	for i := range groups {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	for _, i := range keys {
		sub := 0
		for _, c := range groups[i] {
			sub = max(sub, c.len-depth-bits)
		}
		sub = min(sub, 6)
		so := t.fill(groups[i], depth+bits, sub)
		t.e[off+i] = huffSub | uint32(so)<<8 | uint32(sub)
	}
	return off
}

// decode reads one code word and returns its value.
func (t *huffTable) decode(r *bitReader) int {
	v := r.peek32()
	e := t.e[v>>uint(32-t.root)]
	n := t.root
	for e&huffSub != 0 {
		bits := int(e & 0xff)
		e = t.e[int(e>>8&0x7fffff)+int(v<<uint(n)>>uint(32-bits))]
		n += bits
	}
	r.pos += int(e & 0xff)
	return int(e >> 8 & 0xff)
}

// huffTables are the Huffman codes of the big values, by table_select,
// with their linbits, and of the count1 quadruples.
type huffTables struct {
	pairs   [32]*huffTable // nil: table 0 (all zero), or unused
	linbits [32]int
	quads   [2]*huffTable
}

// spectrumMax is the largest magnitude a quantized spectral value can
// have: 15 plus 13 linbits.
const spectrumMax = 15 + 1<<13 - 1

// readSpectrum decodes the Huffman coded spectral values of a granule
// from r, which ends at bit end, into is: the big values pairs, then
// count1 quadruples until end, the rest zero. It returns the number of
// lines up to the last that can be non-zero. A quadruple that runs past
// end is dropped, as the standard's decoders do; big values that run
// past it are an error (errMainData).
func (ts *huffTables) readSpectrum(r *bitReader, g *granuleInfo, end int, is *[576]int32) (int, error) {
	k := newBitCache(r)
	defer func() { r.pos = k.pos() }()
	i := 0
	for region := range 3 {
		stop := [3]int{g.region1Start, g.region2Start, 2 * g.bigValues}[region]
		if i >= stop {
			continue
		}
		sel := g.tableSelect[region]
		t, lb := ts.pairs[sel], uint(ts.linbits[sel])
		if t == nil {
			if sel != 0 {
				return 0, fmt.Errorf("%w: %d", errNoTable, sel)
			}
			clear(is[i:stop])
			i = stop
			continue
		}
		for ; i < stop; i += 2 {
			// A pair takes at most 19 bits of code word, two of 13
			// linbits and two signs: 47 of the 56 a refill gives.
			k.refill()
			v := t.decodeCache(&k)
			x, y := int32(v>>4), int32(v&15)
			if x == 15 && lb > 0 {
				x += int32(k.read(lb))
			}
			x = k.sign(x)
			if y == 15 && lb > 0 {
				y += int32(k.read(lb))
			}
			y = k.sign(y)
			is[i], is[i+1] = x, y
		}
	}
	if p := k.pos(); p > end {
		return 0, fmt.Errorf("%w: big values run %d bits past the granule", errMainData, p-end)
	}
	q := ts.quads[g.count1Table]
	for i+4 <= 576 && k.pos() < end {
		k.refill()
		v := q.decodeCache(&k)
		quad := (*[4]int32)(is[i : i+4])
		for j := range 4 {
			// Without a branch: a value of 1 takes its sign bit.
			b := uint(v>>(3-j)) & 1
			quad[j] = int32(b) * (1 - 2*int32(k.c>>63))
			k.c <<= b
			k.n -= b
		}
		i += 4
		if k.pos() > end {
			i -= 4
			break
		}
	}
	clear(is[i:])
	return i, nil
}

// bitCache reads a granule's Huffman code from a bitReader's bytes, a
// word at a time: it holds the next 56 to 63 bits, left-aligned, after
// each refill. Bits past the end of the bytes are zeros, as bitReader's.
type bitCache struct {
	b []byte
	i int    // the next byte of b to load
	c uint64 // the bits not yet read, left-aligned
	n uint   // how many of c's bits are loaded
}

// newBitCache starts a bitCache at r's position.
func newBitCache(r *bitReader) bitCache {
	k := bitCache{b: r.b, i: r.pos >> 3}
	k.refill()
	k.c <<= uint(r.pos & 7)
	k.n -= uint(r.pos & 7)
	return k
}

// pos is the position of the next bit, as bitReader's.
func (k *bitCache) pos() int { return 8*k.i - int(k.n) }

// refill loads whole bytes until at least 56 bits are loaded.
func (k *bitCache) refill() {
	if k.i+8 <= len(k.b) {
		// Every bit of the word is the stream's; those past the bytes
		// counted are loaded again, the same, by the next refill.
		k.c |= binary.BigEndian.Uint64(k.b[k.i:]) >> k.n
		k.i += int(63-k.n) >> 3
		k.n |= 56
		return
	}
	for k.n <= 56 {
		var v byte
		if k.i < len(k.b) {
			v = k.b[k.i]
		}
		k.c |= uint64(v) << (56 - k.n)
		k.n += 8
		k.i++
	}
}

// read returns the next m bits (1 <= m <= k.n).
func (k *bitCache) read(m uint) uint32 {
	v := uint32(k.c >> (64 - m))
	k.c <<= m
	k.n -= m
	return v
}

// sign reads the sign bit of v if v is not zero (a set bit: negative),
// without a branch.
func (k *bitCache) sign(v int32) int32 {
	var nz uint
	if v != 0 {
		nz = 1
	}
	m := -int32(uint32(k.c>>63) & uint32(nz))
	k.c <<= nz
	k.n -= nz
	return (v ^ m) - m
}

// decodeCache is decode on a bitCache, which must hold the code word.
func (t *huffTable) decodeCache(k *bitCache) int {
	v := k.c
	e := t.e[v>>(64-uint(t.root))]
	n := uint(t.root)
	for e&huffSub != 0 {
		bits := uint(e & 0xff)
		e = t.e[int(e>>8&0x7fffff)+int(v<<n>>(64-bits))]
		n += bits
	}
	m := uint(e & 0xff)
	k.c <<= m
	k.n -= m
	return int(e >> 8 & 0xff)
}
