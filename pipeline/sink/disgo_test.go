package sink_test

import (
	"io"
	"testing"

	"github.com/disgoorg/disgo/voice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// TestFrameProviderIsDisgos checks the adapter against disgo's own
// interface type (a test-only dependency; disgo's voice package has no
// cgo), used the way disgo's audio sender uses it.
func TestFrameProviderIsDisgos(t *testing.T) {
	var p voice.OpusFrameProvider = sink.NewFrameProvider(&script{steps: []any{[]byte{1}, opus.ErrUnderrun}})
	f, err := p.ProvideOpusFrame()
	require.NoError(t, err)
	assert.Equal(t, []byte{1}, f)
	f, err = p.ProvideOpusFrame()
	require.NoError(t, err)
	assert.Empty(t, f, "silence, without blocking")
	_, err = p.ProvideOpusFrame()
	assert.Equal(t, io.EOF, err)
	p.Close()
}
