package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestTreeOperationsVectors applies the proposal of every vector of
// tree-operations.json to its tree and compares the tree and its hash
// before and after.
func TestTreeOperationsVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite    mls.CipherSuite `json:"cipher_suite"`
		TreeBefore     hexBytes        `json:"tree_before"`
		Proposal       hexBytes        `json:"proposal"`
		ProposalSender uint32          `json:"proposal_sender"`
		TreeHashBefore hexBytes        `json:"tree_hash_before"`
		TreeAfter      hexBytes        `json:"tree_after"`
		TreeHashAfter  hexBytes        `json:"tree_hash_after"`
	}
	loadVectors(t, "tree-operations.json", &vectors)
	require.NotEmpty(t, vectors)
	for i, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var tree mls.RatchetTree
			require.NoError(t, tree.Unmarshal(v.TreeBefore))
			assert.Equal(t, []byte(v.TreeHashBefore), tree.TreeHash(cs), "tree hash before")

			var p mls.Proposal
			require.NoError(t, p.Unmarshal(v.Proposal))
			switch p.Type {
			case mls.ProposalAdd:
				tree.AddLeaf(&p.KeyPackage.LeafNode)
			case mls.ProposalUpdate:
				require.NoError(t, tree.UpdateLeaf(v.ProposalSender, p.LeafNode))
			case mls.ProposalRemove:
				require.NoError(t, tree.RemoveLeaf(p.Removed))
			default:
				require.Failf(t, "unexpected proposal", "type %d", p.Type)
			}
			after, err := tree.Marshal()
			require.NoError(t, err)
			assert.Equal(t, []byte(v.TreeAfter), after, "tree after")
			assert.Equal(t, []byte(v.TreeHashAfter), tree.TreeHash(cs), "tree hash after")
		})
	}
	t.Logf("%d vectors", len(vectors))
}

// TestTreeValidationVectors checks every vector of tree-validation.json:
// each node's resolution and tree hash, and that the tree validates (leaf
// signatures with the group id, parent hashes).
func TestTreeValidationVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		Tree        hexBytes        `json:"tree"`
		GroupID     hexBytes        `json:"group_id"`
		TreeHashes  []hexBytes      `json:"tree_hashes"`
		Resolutions [][]uint32      `json:"resolutions"`
	}
	loadVectors(t, "tree-validation.json", &vectors)
	require.NotEmpty(t, vectors)
	for i, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var tree mls.RatchetTree
			require.NoError(t, tree.Unmarshal(v.Tree))
			require.Len(t, tree.Nodes, len(v.TreeHashes))
			hashes := tree.TreeHashes(cs)
			for x := range tree.Nodes {
				assert.Equal(t, []byte(v.TreeHashes[x]), hashes[x], "tree hash of node %d", x)
				want := v.Resolutions[x]
				if len(want) == 0 {
					want = nil
				}
				assert.Equal(t, want, tree.Resolution(uint32(x), nil), "resolution of node %d", x)
			}
			require.NoError(t, tree.Validate(cs, v.GroupID))

			// The same tree under another group id must fail on the
			// signature of a leaf that signed its group (any leaf whose
			// source is commit), if it has one.
			bad := append([]byte{0}, v.GroupID...)
			hasCommitLeaf := false
			for l := range tree.NumLeaves() {
				if n := tree.Leaf(l); n != nil && n.Source == mls.SourceCommit {
					hasCommitLeaf = true
				}
			}
			if hasCommitLeaf {
				assert.ErrorIs(t, tree.Validate(cs, bad), mls.ErrBadSignature)
			}
		})
	}
	t.Logf("%d vectors", len(vectors))
}

// TestTreeValidationRejectsParentHash changes one parent node's key in a
// valid tree: its parent hash chain must no longer hold.
func TestTreeValidationRejectsParentHash(t *testing.T) {
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		Tree        hexBytes        `json:"tree"`
		GroupID     hexBytes        `json:"group_id"`
	}
	loadVectors(t, "tree-validation.json", &vectors)
	tried := 0
	for _, v := range vectors {
		var tree mls.RatchetTree
		require.NoError(t, tree.Unmarshal(v.Tree))
		for x, n := range tree.Nodes {
			if n == nil || n.Parent == nil {
				continue
			}
			k := append([]byte(nil), n.Parent.EncryptionKey...)
			k[len(k)-1] ^= 1
			orig := n.Parent.EncryptionKey
			n.Parent.EncryptionKey = k
			assert.ErrorIs(t, tree.Validate(v.CipherSuite, v.GroupID), mls.ErrInvalidTree, "node %d", x)
			n.Parent.EncryptionKey = orig
			tried++
			break
		}
	}
	require.Positive(t, tried)
}

func TestRatchetTreeRejectsTrailingBlank(t *testing.T) {
	// ratchet_tree<V> of 1 byte: a single absent node (00), a tree that
	// ends with a blank.
	var tree mls.RatchetTree
	assert.ErrorIs(t, tree.Unmarshal([]byte{0x01, 0x00}), mls.ErrMalformed)
	// ratchet_tree<V> of 5 bytes: a present (01) parent node (02) with an
	// empty key, parent hash and unmerged leaves, at position 0 where a
	// leaf must be.
	assert.ErrorIs(t, tree.Unmarshal([]byte{0x05, 0x01, 0x02, 0x00, 0x00, 0x00}), mls.ErrMalformed)
}
