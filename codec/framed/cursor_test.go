package framed_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
)

func TestCursorSize(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(framed.Cursor{}), uintptr(32), "a listener's cursor is tens of bytes")
}

// Every cursor, at its own position, reads exactly the packets, lent from
// the cache, while encoding goes on.
func TestCursorsWhileFilling(t *testing.T) {
	var packets [][]byte
	for i := range 1000 {
		packets = append(packets, celtPacket(960, 1+(i*53)%900, byte(i)))
	}
	gate := make(chan struct{})
	src := &gated{gate: gate}
	c := catcher.New(src, catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, read: true})),
		catcher.WithGrowth(catcher.Constant(8192)), catcher.WithReadAhead(0))
	defer c.Close()
	var wg sync.WaitGroup
	for k := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur := framed.NewCursor(c)
			cur.Seek(k * 17 % len(packets))
			for want := cur.Pos(); ; want++ {
				p, err := cur.NextContext(context.Background())
				if err == io.EOF {
					assert.Equal(t, len(packets), want)
					return
				}
				if !assert.NoError(t, err) || !assert.Equal(t, want, p.Index) || !assert.Equal(t, packets[want], p.Data, "packet %d", want) {
					return
				}
				assert.Equal(t, int64(960*want), p.Start)
				assert.Equal(t, int64(960), p.Samples)
			}
		}()
	}
	// Release the source a byte at a time, so the cursors meet the head.
	for range packets {
		gate <- struct{}{}
	}
	close(gate)
	wg.Wait()
}

// gated is a source that gives one byte each time gate lets it.
type gated struct{ gate chan struct{} }

func (g *gated) Read(p []byte) (int, error) {
	if _, ok := <-g.gate; !ok {
		return 0, io.EOF
	}
	p[0] = 1
	return 1, nil
}

func TestCursorNotReady(t *testing.T) {
	pr, pw := io.Pipe()
	packets := [][]byte{celtPacket(960, 5, 1), celtPacket(960, 6, 2), celtPacket(960, 7, 3)}
	c := catcher.New(pr, catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, read: true})))
	defer c.Close()
	cur := framed.NewCursor(c)
	_, err := cur.Next()
	assert.ErrorIs(t, err, framed.ErrNotReady, "nothing encoded: the driver is told, not blocked")
	ready := cur.Ready()
	go pw.Write([]byte{0})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("Ready not closed when the packet came")
	}
	p, err := cur.Next()
	require.NoError(t, err)
	assert.Equal(t, packets[0], p.Data)
	_, err = cur.Next()
	assert.ErrorIs(t, err, framed.ErrNotReady)
	assert.Equal(t, 1, cur.Pos(), "a cursor that is not ready does not move")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = cur.NextContext(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	boom := errors.New("boom")
	pw.Write([]byte{0})
	pw.CloseWithError(boom)
	p, err = cur.NextContext(context.Background())
	require.NoError(t, err)
	assert.Equal(t, packets[1], p.Data)
	_, err = cur.NextContext(context.Background())
	assert.ErrorIs(t, err, boom, "the source's error after the last good packet")
}

func TestCursorAfterClose(t *testing.T) {
	c, _ := loadFramed(t, &cannedSource{packets: [][]byte{celtPacket(960, 5, 1)}, length: -1})
	cur := framed.NewCursor(c)
	p, err := cur.Next()
	require.NoError(t, err)
	_, err = cur.Next()
	assert.Equal(t, io.EOF, err)
	require.NoError(t, c.Close())
	assert.Equal(t, celtPacket(960, 5, 1), p.Data, "a lent packet outlives Close")
	cur.Seek(0)
	_, err = cur.Next()
	assert.ErrorIs(t, err, catcher.ErrClosed)
}

func TestCursorWindow(t *testing.T) {
	var packets [][]byte
	for i := range 2000 {
		packets = append(packets, celtPacket(960, 100, byte(i)))
	}
	c := catcher.New(bytes.NewReader(make([]byte, 2000)),
		catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, max: 200, read: true})),
		catcher.WithWindow(20_000))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	cur := framed.NewCursor(c)
	_, err := cur.Next()
	assert.ErrorIs(t, err, catcher.ErrEvicted, "the first packet has left the window")
	cur.Seek(1990)
	p, err := cur.Next()
	require.NoError(t, err)
	assert.Equal(t, packets[1990], p.Data)
}

// A NextContext that its context ends leaves the encoder nothing to do
// for it.
func TestCursorCancelLeavesNoDemand(t *testing.T) {
	var packets [][]byte
	for i := range 100_000 {
		packets = append(packets, celtPacket(960, 50, byte(i)))
	}
	c := catcher.New(bytes.NewReader(make([]byte, len(packets))),
		catcher.WithTransform(framed.NewFramer(&cannedSource{packets: packets, length: -1, read: true})),
		catcher.WithReadAhead(0))
	defer c.Close()
	cur := framed.NewCursor(c)
	cur.Seek(len(packets) - 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := cur.NextContext(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool {
		n := c.Len()
		time.Sleep(5 * time.Millisecond)
		return c.Len() == n
	}, 10*time.Second, time.Millisecond, "the fill stops")
	assert.False(t, c.Finished(), "nobody waits: the rest is not encoded")
}
