package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestTreeMathVectors checks every vector of tree-math.json: the width, the
// root, and each node's left and right child, parent and sibling (null
// where the node has none).
func TestTreeMathVectors(t *testing.T) {
	var vectors []struct {
		NLeaves uint32    `json:"n_leaves"`
		NNodes  uint32    `json:"n_nodes"`
		Root    uint32    `json:"root"`
		Left    []*uint32 `json:"left"`
		Right   []*uint32 `json:"right"`
		Parent  []*uint32 `json:"parent"`
		Sibling []*uint32 `json:"sibling"`
	}
	loadVectors(t, "tree-math.json", &vectors)
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		t.Run(fmt.Sprint(v.NLeaves), func(t *testing.T) {
			assert.Equal(t, v.NNodes, mls.NodeWidth(v.NLeaves))
			root := mls.Root(v.NLeaves)
			assert.Equal(t, v.Root, root)
			require.Len(t, v.Left, int(v.NNodes))
			for x := range v.NNodes {
				var l, r, p, s *uint32
				if mls.Level(x) > 0 {
					l, r = ptr(mls.Left(x)), ptr(mls.Right(x))
				}
				if x != root {
					p, s = ptr(mls.Parent(x)), ptr(mls.Sibling(x))
				}
				assert.Equal(t, v.Left[x], l, "left(%d)", x)
				assert.Equal(t, v.Right[x], r, "right(%d)", x)
				assert.Equal(t, v.Parent[x], p, "parent(%d)", x)
				assert.Equal(t, v.Sibling[x], s, "sibling(%d)", x)
			}
		})
	}
	t.Logf("%d vectors", len(vectors))
}

func ptr(v uint32) *uint32 { return &v }
