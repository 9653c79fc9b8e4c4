// Package huffprobe recovers the code words of the big values Huffman
// tables of ISO 11172-3 Table B.7 from the behaviour of a Layer III
// decoder alone: github.com/hajimehoshi/go-mp3, through its public API
// (mp3.NewDecoder, giving 16-bit stereo PCM).
//
// The tables are facts of the standard that any conforming decoder's
// output reveals. A probe is one MPEG-1 mono frame whose first granule
// codes a single pair of big values (lines 0 and 1) with the table under
// test, its main data a chosen string of bits followed by ones: the
// decoder reads the code word those bits land on, then sign bits (1:
// negative) and linbits (all ones), then count1 quadruples coded with
// table A, where the code word 1 is the quadruple 0, 0, 0, 0. The PCM is
// a linear function of lines 0 and 1 only (alias reduction leaves them
// alone), whose responses to a value of 1 are measured once from frames
// coded with table 1; a least squares fit gives the two lines' values,
// and x and y are the nearest whole |v|^(3/4).
//
// A prefix code gives each pair (x, y) one code word, so a prefix p is a
// code word exactly when p followed by 0 and p followed by 1 land on the
// same pair; otherwise both go on. A walk from the empty prefix recovers
// the whole code, one decode for each inner node of its tree (p followed
// by ones is also p1 followed by ones, so half the probes are shared).
package huffprobe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	gomp3 "github.com/hajimehoshi/go-mp3"
)

// Pair is a pair of magnitudes (x, y) a code word codes; 15 stands for
// every magnitude from 15 up (the escape of the tables with linbits).
type Pair struct{ X, Y int }

// The probe frames: MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono, no CRC,
// no padding (417 bytes: the header, 17 bytes of side information, 396 of
// main data).
var header = [4]byte{0xff, 0xfb, 0x90, 0xc0}

const (
	frameSize = 417
	sideSize  = 17
	mainBits  = 8 * (frameSize - 4 - sideSize)
	// frames is the number of frames a probe decodes: the probe and a
	// silent one, which carries most of the probed granule's output
	// through the hybrid and synthesis filter banks' delay (the fit needs
	// only enough of it to tell the lines apart).
	frames = 2
	// gain is the probes' global_gain: a value of 1 is 2^((gain-210)/4)
	// of full scale in the spectrum, so that 30^(4/3) (15 and four
	// linbits of ones) on both lines stays well inside full scale.
	gain = 174
	// unitGain is the global_gain of the frames the responses are
	// measured from: 2^6 times gain's step, so that the PCM's rounding
	// to 16 bits weighs 64 times less in them.
	unitGain = gain + 24
	// maxDepth bounds the code words' length (the standard's are at most
	// 19 bits).
	maxDepth = 24
)

// lines is the number of lines a probe can reach: the pair's, and the
// first count1 quadruple's when a probe's bits go on past a code word
// for (0, 0) (then a 0 bit starts the quadruple 1, 0, 0, 0 of table A).
const lines = 6

// Prober probes go-mp3. It is not safe for concurrent use.
type Prober struct {
	resp  [lines][]float64      // the PCM of a value of 1 on each line, at gain
	inv   [lines][lines]float64 // the inverse of the responses' Gram matrix
	cache map[string]Pair       // probe results by table and bits, trailing ones cut
	// Probes counts the probes decoded.
	Probes int
}

// unitBits are the main data of frames coded with table 1 that give a
// value of 1 on each line: its code words 01 and 001 code the pairs
// (1, 0) and (0, 1), 1 the pair (0, 0), after which come table A's code
// words of the quadruples with a single 1; each value has a sign bit 0.
var unitBits = [lines]string{"010", "0010", "1" + "01110", "1" + "01100", "1" + "01000", "1" + "01010"}

// New measures the responses of lines 0 to 5 from frames coded with
// table 1 and returns a Prober.
func New() (*Prober, error) {
	p := &Prober{cache: map[string]Pair{}}
	scale := math.Exp2(float64(gain-unitGain) / 4)
	for line, bits := range unitBits {
		pcm, err := decode(frameBits(1, unitGain, bits))
		if err != nil {
			return nil, fmt.Errorf("huffprobe: response of line %d: %w", line, err)
		}
		for i := range pcm {
			pcm[i] *= scale
		}
		p.resp[line] = pcm
	}
	var g [lines][lines]float64
	for i := range lines {
		for j := range lines {
			g[i][j] = dot(p.resp[i], p.resp[j])
		}
	}
	inv, ok := invert(g)
	if !ok {
		return nil, errors.New("huffprobe: the responses of lines 0 to 5 are not independent")
	}
	p.inv = inv
	return p, nil
}

// invert inverts a symmetric positive definite matrix by Gauss-Jordan
// elimination; ok is false if it is near singular.
func invert(a [lines][lines]float64) (inv [lines][lines]float64, ok bool) {
	for i := range lines {
		inv[i][i] = 1
	}
	for c := range lines {
		piv := a[c][c]
		if !(piv > 1e-9*a[c][c]+1e-300) {
			return inv, false
		}
		for j := range lines {
			a[c][j] /= piv
			inv[c][j] /= piv
		}
		for r := range lines {
			if r == c {
				continue
			}
			f := a[r][c]
			for j := range lines {
				a[r][j] -= f * a[c][j]
				inv[r][j] -= f * inv[c][j]
			}
		}
	}
	return inv, true
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// Table recovers the code words of table sel (1 to 31, not 4 or 14) as
// strings of 0 and 1, by the pair each codes.
func (p *Prober) Table(sel int) (map[Pair]string, error) {
	codes := map[Pair]string{}
	if err := p.walk(sel, "", codes); err != nil {
		return nil, fmt.Errorf("huffprobe: table %d: %w", sel, err)
	}
	return codes, nil
}

// walk recovers the code words that start with prefix.
func (p *Prober) walk(sel int, prefix string, codes map[Pair]string) error {
	if len(prefix) >= maxDepth {
		return fmt.Errorf("no code word ends within %d bits of %q", maxDepth, prefix)
	}
	a, err := p.probe(sel, prefix+"0")
	if err != nil {
		return err
	}
	b, err := p.probe(sel, prefix+"1")
	if err != nil {
		return err
	}
	if prefix != "" && a == b {
		if old, ok := codes[a]; ok {
			return fmt.Errorf("two code words, %s and %s, for %v", old, prefix, a)
		}
		codes[a] = prefix
		return nil
	}
	if err := p.walk(sel, prefix+"0", codes); err != nil {
		return err
	}
	return p.walk(sel, prefix+"1", codes)
}

// probe decodes a frame whose main data is bits followed by ones and
// returns the pair it reads.
func (p *Prober) probe(sel int, bits string) (Pair, error) {
	bits = strings.TrimRight(bits, "1")
	key := fmt.Sprint(sel, ":", bits)
	if v, ok := p.cache[key]; ok {
		return v, nil
	}
	pcm, err := decode(frameBits(sel, gain, bits))
	p.Probes++
	if err != nil {
		return Pair{}, fmt.Errorf("probe %q: %w", bits, err)
	}
	s := p.fit(pcm)
	var v [2]int
	for line := range lines {
		m := math.Pow(math.Abs(s[line]), 0.75)
		k := math.Round(m)
		if math.Abs(m-k) > 0.1 {
			return Pair{}, fmt.Errorf("probe %q: line %d reads %.3f, not a whole value", bits, line, m)
		}
		if line < 2 {
			v[line] = min(int(k), 15)
		}
	}
	// What the fit leaves must be the PCM's rounding to 16 bits alone.
	var resid float64
	for i := range pcm {
		e := pcm[i]
		for line := range lines {
			e -= s[line] * p.resp[line][i]
		}
		resid = max(resid, math.Abs(e))
	}
	if resid > 4.0/32768 {
		return Pair{}, fmt.Errorf("probe %q: the PCM is not a sum of lines 0 to 5 (%.2g off)", bits, resid)
	}
	pr := Pair{v[0], v[1]}
	p.cache[key] = pr
	return pr, nil
}

// fit returns the least squares values of lines 0 to 5 (in units of a
// value of 1 at gain) that give pcm.
func (p *Prober) fit(pcm []float64) [lines]float64 {
	var r, s [lines]float64
	for i := range lines {
		r[i] = dot(p.resp[i], pcm)
	}
	for i := range lines {
		for j := range lines {
			s[i] += p.inv[i][j] * r[j]
		}
	}
	return s
}

// bitWriter writes big-endian bit fields.
type bitWriter struct {
	b []byte
	n int // bits written
}

func (w *bitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[w.n/8] |= byte(v>>uint(i)&1) << uint(7-w.n%8)
		w.n++
	}
}

// frameBits returns the probe stream: a frame whose first granule holds
// one pair of big values coded with table sel at global_gain g, its main
// data bits followed by ones, and silent frames after it.
func frameBits(sel, g int, bits string) []byte {
	var si bitWriter
	si.put(0, 9)         // main_data_begin
	si.put(0, 5)         // private_bits
	si.put(0, 4)         // scfsi
	si.put(mainBits, 12) // granule 0: part2_3_length, the whole main data
	si.put(1, 9)         // big_values: lines 0 and 1
	si.put(uint32(g), 8) // global_gain
	si.put(0, 4)         // scalefac_compress 0: no scale factor bits
	si.put(0, 1)         // window_switching_flag: long blocks
	si.put(uint32(sel), 5)
	si.put(0, 5)
	si.put(0, 5)
	si.put(0, 4)  // region0_count
	si.put(0, 3)  // region1_count
	si.put(0, 3)  // preflag, scalefac_scale, count1table_select (table A)
	si.put(0, 59) // granule 1: nothing
	out := make([]byte, 0, frames*frameSize)
	out = append(out, header[:]...)
	out = append(out, si.b...)
	var md bitWriter
	for _, c := range bits {
		md.put(uint32(c-'0'), 1)
	}
	for md.n < mainBits {
		md.put(1, 1)
	}
	out = append(out, md.b...)
	for range frames - 1 {
		out = append(out, header[:]...)
		out = append(out, make([]byte, frameSize-4)...)
	}
	return out
}

// decode returns go-mp3's output of stream, its left channel (the right
// is the same: the stream is mono) at full scale 1.
func decode(stream []byte) ([]float64, error) {
	d, err := gomp3.NewDecoder(bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(d)
	if err != nil {
		return nil, err
	}
	if len(b) != frames*1152*4 {
		return nil, fmt.Errorf("%d bytes of PCM from %d frames", len(b), frames)
	}
	pcm := make([]float64, len(b)/4)
	for i := range pcm {
		pcm[i] = float64(int16(uint16(b[4*i])|uint16(b[4*i+1])<<8)) / 32768
	}
	return pcm, nil
}

// Text writes the code words of an n by n table as ISO 11172-3 Table B.7
// orders them: a row for each x from 0, y from 0 along it. A pair of the
// table without a code word is an error.
func Text(codes map[Pair]string, n int) (string, error) {
	if len(codes) != n*n {
		return "", fmt.Errorf("huffprobe: %d code words for %d pairs", len(codes), n*n)
	}
	var sb strings.Builder
	for x := range n {
		sb.WriteString("\n\t\t")
		for y := range n {
			c, ok := codes[Pair{x, y}]
			if !ok {
				return "", fmt.Errorf("huffprobe: no code word for (%d, %d)", x, y)
			}
			if y > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(c)
		}
	}
	return sb.String(), nil
}

// Size returns the range of the values of a table's pairs: one more than
// the largest x or y among its code words.
func Size(codes map[Pair]string) int {
	n := 0
	for v := range codes {
		n = max(n, v.X+1, v.Y+1)
	}
	return n
}
