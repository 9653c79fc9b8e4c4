package pipeline

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseICYMeta(t *testing.T) {
	tests := []struct {
		name  string
		block string
		want  icyMeta
		err   bool
	}{
		{"title and url", "StreamTitle='A - B';StreamUrl='http://x/';\x00\x00", icyMeta{"A - B", "http://x/", true}, false},
		{"quotes inside", `StreamTitle='It's "it"; O'Brien';`, icyMeta{`It's "it"; O'Brien`, "", true}, false},
		{"no semicolon", "StreamTitle='A'", icyMeta{"A", "", true}, false},
		{"no closing quote", "StreamTitle='A", icyMeta{"A", "", true}, false},
		{"Latin-1", "StreamTitle='Caf\xe9';", icyMeta{"Café", "", true}, false},
		{"UTF-8", "StreamTitle='Café';", icyMeta{"Café", "", true}, false},
		{"empty title", "StreamTitle='';", icyMeta{"", "", true}, false},
		{"no title", "StreamUrl='u';", icyMeta{"", "u", false}, false},
		{"spaces between", "StreamTitle='A'; StreamUrl='u';", icyMeta{"A", "u", true}, false},
		{"other field", "Foo='x';StreamTitle='A';", icyMeta{"A", "", true}, false},
		{"padding only", "\x00\x00\x00", icyMeta{}, false},
		{"garbage", "\xff\xfegarbage", icyMeta{}, true},
		{"text before the fields", "hello StreamTitle='A';", icyMeta{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseICYMeta([]byte(tc.block))
			if tc.err {
				require.ErrorIs(t, err, ErrICY)
				assert.Contains(t, err.Error(), "not Key='value'")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// icyStream interleaves blocks into audio every interval bytes, as a
// server does, and returns the stream and the offsets of the titles.
func icyStream(audio []byte, interval int, titles [][]byte) ([]byte, []int64) {
	var s bytes.Buffer
	var offs []int64
	for i, b := 0, 0; ; b++ {
		end := min(i+interval, len(audio))
		s.Write(audio[i:end])
		full := end-i == interval
		i = end
		if !full {
			return s.Bytes(), offs // the end within an interval
		}
		if t := titles[b%len(titles)]; len(t) == 0 {
			s.WriteByte(0) // an empty block
		} else {
			s.Write(testBlock("StreamTitle='" + string(t) + "';"))
			offs = append(offs, int64(i))
		}
		if i == len(audio) {
			return s.Bytes(), offs
		}
	}
}

func testBlock(s string) []byte {
	l := (len(s) + 15) / 16
	b := make([]byte, 1+16*l)
	b[0] = byte(l)
	copy(b[1:], s)
	return b
}

// strip reads r's audio through an icyReader in reads of random sizes,
// returning it, the offsets of the titles and the end.
func strip(stream []byte, interval int) ([]byte, []int64, error) {
	var offs []int64
	r := newICYReader(iotest.OneByteReader(bytes.NewReader(stream)), interval, func(m icyMeta, audio int64) {
		offs = append(offs, audio)
	})
	out, err := io.ReadAll(iotest.HalfReader(r))
	return out, offs, err
}

// FuzzICYStrip interleaves metadata blocks with random titles into random
// audio, strips them, and compares: the audio out is exactly the audio in,
// and each title is found where it was put.
func FuzzICYStrip(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), uint8(16), []byte("A - B"), []byte("It's"))
	f.Add([]byte{}, uint8(1), []byte("x"), []byte(""))
	f.Add(bytes.Repeat([]byte{0, 'S', '\''}, 100), uint8(7), []byte("Caf\xe9"), []byte("';StreamTitle='"))
	f.Fuzz(func(t *testing.T, audio []byte, interval uint8, t1, t2 []byte) {
		if interval == 0 || len(audio) > 1<<16 || len(t1) > 4000 || len(t2) > 4000 {
			return
		}
		// A title cannot end with a quote and stay whole, nor hold a NUL
		// (the padding), nor look like the start of another field.
		for _, b := range [][]byte{t1, t2} {
			if bytes.IndexByte(b, 0) >= 0 || len(icyFieldStarts(append([]byte("StreamTitle='"), b...))) != 1 {
				return
			}
		}
		stream, want := icyStream(audio, int(interval), [][]byte{t1, t2})
		got, offs, err := strip(stream, int(interval))
		require.NoError(t, err)
		if !bytes.Equal(audio, got) {
			t.Fatalf("got %d bytes of audio %q; want %d: %q", len(got), got, len(audio), audio)
		}
		assert.Equal(t, want, offs, "the offsets of the titles")
	})
}

// FuzzICYReader reads any bytes as an ICY stream: no panic, no more audio
// than bytes, and an end that is io.EOF or an error naming ErrICY.
func FuzzICYReader(f *testing.F) {
	f.Add([]byte("0123456789abcdef\x01StreamTitle='A';0123"), uint8(16))
	f.Add([]byte("0123\xff"), uint8(4))
	f.Add([]byte("0123\x02StreamTitle='A';"), uint8(4))
	f.Fuzz(func(t *testing.T, stream []byte, interval uint8) {
		if interval == 0 || len(stream) > 1<<16 {
			return
		}
		var titles []string
		r := newICYReader(bytes.NewReader(stream), int(interval), func(m icyMeta, _ int64) {
			titles = append(titles, m.title)
		})
		out, err := io.ReadAll(r)
		assert.LessOrEqual(t, len(out), len(stream))
		if err != nil {
			require.ErrorIs(t, err, ErrICY)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				assert.Contains(t, err.Error(), "cut short")
			} else {
				assert.Contains(t, err.Error(), "not Key='value'")
			}
		}
		for _, s := range titles {
			assert.True(t, utf8.ValidString(s), "title %q", s)
		}
	})
}
