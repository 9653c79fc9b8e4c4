package mp3

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/mp3/internal/huffprobe"
)

// Every big values table here is the one recovered from go-mp3's decoder
// by probing it through its public API (internal/huffprobe): tables 1 to
// 12, typed in from the standard, check the prober; 13, 15, 16 (for 16 to
// 23) and 24 (for 24 to 31) came from it. With -short only the four
// largest are recovered.
func TestHuffmanTablesMatchGoMP3(t *testing.T) {
	p, err := huffprobe.New()
	require.NoError(t, err)
	tables := []int{13, 15, 16, 24}
	if !testing.Short() {
		tables = append([]int{1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12}, tables...)
	}
	for _, n := range tables {
		t.Run(fmt.Sprint("table ", n), func(t *testing.T) {
			got, err := p.Table(n)
			require.NoError(t, err)
			require.Equal(t, pairSize[n], huffprobe.Size(got), "the values' range")
			want, err := pairCodes(pairCodeText[n], pairSize[n])
			require.NoError(t, err)
			require.Len(t, got, len(want))
			for _, c := range want {
				x, y := c.val>>4, c.val&15
				word := fmt.Sprintf("%0*b", c.len, c.code)
				assert.Equal(t, word, got[huffprobe.Pair{X: x, Y: y}], "the code word of (%d, %d)", x, y)
			}
			text, err := huffprobe.Text(got, pairSize[n])
			require.NoError(t, err)
			assert.Equal(t, strings.Fields(pairCodeText[n]), strings.Fields(text), "the table's text as gen_huffman.go prints it")
		})
	}
	t.Logf("%d probes of go-mp3", p.Probes)
}
