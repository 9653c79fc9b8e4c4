package catcher_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/streamcatcher/streamcatcher/catcher"
)

// Many goroutines read one source, each at its own pace and position; the
// source is read once.
func Example() {
	src := strings.NewReader("a one-way stream, read once, heard by many")
	c := catcher.New(src)
	defer c.Close()

	var wg sync.WaitGroup
	got := make([]string, 3)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.NewReader()
			r.Seek(int64(i*2), io.SeekStart) // each listener starts elsewhere
			b, _ := io.ReadAll(r)
			got[i] = string(b)
		}()
	}
	wg.Wait()
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// a one-way stream, read once, heard by many
	// one-way stream, read once, heard by many
	// e-way stream, read once, heard by many
}

// upper is a Transform that upper-cases ASCII letters and counts the bytes it
// has written: its state.
type upper struct{ written int }

func (*upper) MinSpace() int { return 1 }

func (u *upper) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := src.Read(dst)
	copy(dst, bytes.ToUpper(dst[:n]))
	u.written += n
	return n, err
}

func (u *upper) State() any { return u.written }

// A transform runs once, inside the fill; every reader gets its output, and
// its state is published with the length.
func ExampleWithTransform() {
	c := catcher.New(strings.NewReader("decoded once"), catcher.WithTransform(&upper{}))
	defer c.Close()

	b, _ := io.ReadAll(c.NewReader())
	state, n := c.State()
	fmt.Printf("%s (state %v for %d bytes)\n", b, state, n)
	// Output: DECODED ONCE (state 12 for 12 bytes)
}

// A scheduler that must never block waits on Ready instead of reading.
func ExampleCatcher_Ready() {
	pr, pw := io.Pipe()
	c := catcher.New(pr)
	defer c.Close()
	r := c.NewReader()

	ready := r.Ready() // asks the fill for the byte at r's offset
	go pw.Write([]byte("frame"))
	<-ready
	fmt.Println(r.Buffered(), "bytes can be read without blocking")
	// Output: 5 bytes can be read without blocking
}

// A windowed Catcher keeps only the newest bytes of an endless source.
func ExampleWithWindow() {
	live := strings.NewReader(strings.Repeat("0123456789", 1000))
	c := catcher.New(live, catcher.WithWindow(1000))
	defer c.Close()
	if err := c.Load(context.Background()); err != nil {
		fmt.Println(err)
	}
	st := c.Stats()
	fmt.Println(st.Len, st.Len-st.Oldest >= 1000, st.Allocated < 2000)
	// Output: 10000 true true
}
