package sink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// script is a Source that gives its steps in order: a packet, or an error.
type script struct {
	steps  []any
	closed bool
}

func (s *script) Next() (opus.Packet, error) {
	if len(s.steps) == 0 {
		return opus.Packet{}, io.EOF
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	if err, ok := st.(error); ok {
		return opus.Packet{}, err
	}
	return opus.Packet{Data: st.([]byte), Samples: 960}, nil
}

func (s *script) Close() error { s.closed = true; return nil }

func TestFrameProvider(t *testing.T) {
	a, b := []byte{1}, []byte{2}
	src := &script{steps: []any{a, opus.ErrUnderrun, b, opus.ErrPaused}}
	fp := sink.NewFrameProvider(src)
	var got [][]byte
	for range 4 {
		f, err := fp.ProvideOpusFrame()
		require.NoError(t, err)
		got = append(got, f)
	}
	assert.Equal(t, [][]byte{a, nil, b, nil}, got, "never blocks: an empty frame for no packet yet")
	assert.Same(t, &a[0], &got[0][0], "the cached slice itself, no copy")
	_, err := fp.ProvideOpusFrame()
	assert.Equal(t, io.EOF, err)
	fp.Close()
	assert.True(t, src.closed)

	broken := errors.New("broken")
	_, err = sink.NewFrameProvider(&script{steps: []any{broken}}).ProvideOpusFrame()
	assert.ErrorIs(t, err, broken)
}

func TestCopyAndFeed(t *testing.T) {
	steps := func() []any { return []any{[]byte{1}, opus.ErrUnderrun, []byte{2}, opus.ErrPaused, []byte{3}} }
	var w packetWriter
	n, err := sink.Copy(context.Background(), &w, &script{steps: steps()})
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	assert.Equal(t, [][]byte{{1}, {2}, {3}}, w.packets, "one packet per Write")

	ch := make(chan []byte, 2)
	done := make(chan struct{})
	var fed [][]byte
	go func() {
		defer close(done)
		for b := range ch {
			fed = append(fed, b)
		}
	}()
	n, err = sink.Feed(context.Background(), ch, &script{steps: steps()})
	close(ch)
	<-done
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	assert.Equal(t, [][]byte{{1}, {2}, {3}}, fed)

	// A channel nobody drains: Feed ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = sink.Feed(ctx, make(chan []byte), &script{steps: steps()})
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// A source that only underruns: Copy ends with its context.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	under := &script{}
	for range 100 {
		under.steps = append(under.steps, opus.ErrUnderrun)
	}
	_, err = sink.Copy(ctx2, io.Discard, under)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

type packetWriter struct{ packets [][]byte }

func (w *packetWriter) Write(p []byte) (int, error) {
	w.packets = append(w.packets, bytes.Clone(p))
	return len(p), nil
}
