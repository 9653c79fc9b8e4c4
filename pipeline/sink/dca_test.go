package sink_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

func TestDCAReaderRejects(t *testing.T) {
	cases := map[string][]byte{
		"negative frame length":    {0x00, 0x80, 1, 2},
		"zero frame length":        {0, 0},
		"frame cut short":          {5, 0, 1, 2},
		"length cut short":         {5},
		"negative metadata length": append([]byte("DCA1"), 0, 0, 0, 0x80),
		"metadata cut short":       append([]byte("DCA1"), 10, 0, 0, 0, '{'),
		"metadata not JSON":        append([]byte("DCA1"), 1, 0, 0, 0, '!'),
		"header cut short":         []byte("DCA1\x01"),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := sink.NewDCAReader(bytes.NewReader(b))
			if err == nil {
				_, err = r.ReadPacket()
			}
			assert.ErrorIs(t, err, sink.ErrDCA)
		})
	}
	r, err := sink.NewDCAReader(bytes.NewReader(nil))
	require.NoError(t, err)
	_, err = r.ReadPacket()
	assert.Equal(t, io.EOF, err, "an empty stream is an empty DCA0")
}

func FuzzDCAReader(f *testing.F) {
	f.Add([]byte("DCA1\x02\x00\x00\x00{}\x03\x00\xfc\xff\xfe"))
	f.Add([]byte{3, 0, 0xf8, 0xff, 0xfe})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := sink.NewDCAReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		total := 0
		for {
			p, err := r.ReadPacket()
			if err != nil {
				break
			}
			total += len(p) + 2
			require.LessOrEqual(t, total, len(b))
		}
	})
}
