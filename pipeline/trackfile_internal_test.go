package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storedFixture is a stored track of the MP3 fixture, under key "k".
func storedFixture(t testing.TB) []byte {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "prog_48000.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrack(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	<-tr.Done()
	var buf bytes.Buffer
	if err := writeTrack(&buf, tr, "k"); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Whatever the bytes, reading a stored track returns it whole or an
// error: never a panic, never an allocation the file's size does not
// warrant; a track it accepts plays to its end, its packets the index's.
func FuzzStoredTrack(f *testing.F) {
	good := storedFixture(f)
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte(trackMagic))
	for _, i := range []int{8, 12, 16, 24, 32, 40, 60, 400, len(good) - 1} {
		b := bytes.Clone(good)
		b[i] ^= 0xff
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := readStored(context.Background(), bytes.NewReader(b), int64(len(b)), "k")
		if err != nil {
			if !errors.Is(err, ErrCorruptTrack) {
				t.Fatalf("an error that is not ErrCorruptTrack: %v", err)
			}
			return
		}
		if int64(len(st.index))+int64(len(st.sums)) > int64(len(b)) {
			t.Fatalf("parts larger than the file")
		}
		tr, err := openStoredTrack(st, bytes.NewReader(b), nil, 0, storedPace{})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		cur := tr.NewCursor()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n := 0
		for {
			_, err := cur.NextContext(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrCorruptTrack) {
					t.Fatalf("packet %d: %v", n, err)
				}
				return
			}
			n++
		}
		if int64(n) != st.packets {
			t.Fatalf("%d packets played, the index has %d", n, st.packets)
		}
	})
}

// An index whose entries are each in range and add up to the data, under
// a right checksum, but are not the records' (two swapped), passes the
// checks of the file's opening, and is found as the data is read, before
// any packet of the record that fails is served; so is a record whose
// packet is not of its entry's samples.
func TestReadStoredChecksRecords(t *testing.T) {
	good := storedFixture(t)
	st, err := readStored(context.Background(), bytes.NewReader(good), int64(len(good)), "k")
	require.NoError(t, err)
	m := int(binary.LittleEndian.Uint32(good[8:]))
	index := trackFixed + m + 4
	entry := func(b []byte, i int) []byte { return b[index+4*i : index+4*i+4] }
	resum := func(b []byte) {
		idx := b[index : index+4*int(st.packets)]
		binary.LittleEndian.PutUint32(b[index+len(idx):], crc32.Checksum(idx, castagnoli))
	}
	// played returns the packets played of the stored track b, and the
	// error that ended them.
	played := func(t *testing.T, b []byte) (int, error) {
		st, err := readStored(context.Background(), bytes.NewReader(b), int64(len(b)), "k")
		require.NoError(t, err, "the index is checked against the records as they are read")
		tr, err := openStoredTrack(st, bytes.NewReader(b), nil, 0, storedPace{})
		require.NoError(t, err)
		defer tr.Close()
		cur := tr.NewCursor()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for n := 0; ; n++ {
			if _, err := cur.NextContext(ctx); err != nil {
				return n, err
			}
		}
	}

	t.Run("two entries swapped", func(t *testing.T) {
		b := bytes.Clone(good)
		j := 1
		for bytes.Equal(entry(b, 0)[:2], entry(b, j)[:2]) {
			j++
		}
		e := bytes.Clone(entry(b, 0))
		copy(entry(b, 0), entry(b, j))
		copy(entry(b, j), e)
		resum(b)
		n, err := played(t, b)
		require.ErrorIs(t, err, ErrCorruptTrack)
		assert.ErrorContains(t, err, "packet 0")
		assert.Zero(t, n, "packets served")
		t.Logf("%v", err)
	})
	t.Run("samples of another entry", func(t *testing.T) {
		b := bytes.Clone(good)
		i := int(st.packets) / 2
		s := binary.LittleEndian.Uint16(entry(b, i)[2:])
		binary.LittleEndian.PutUint16(entry(b, i)[2:], s/2)
		resum(b)
		n, err := played(t, b)
		require.ErrorIs(t, err, ErrCorruptTrack)
		assert.ErrorContains(t, err, fmt.Sprintf("packet %d", i))
		assert.Equal(t, i, n, "packets served: those before it")
	})
}
