package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
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
		tr, err := openStoredTrack(st, bytes.NewReader(b), nil, 0)
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
