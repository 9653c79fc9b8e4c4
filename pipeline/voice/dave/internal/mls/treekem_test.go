package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestTreeKEMVectors runs every vector of treekem.json: the private states
// must match the tree; every update path must merge with valid parent
// hashes into a tree of the given hash, and every other member must
// decrypt the given path secret and commit secret from it; then a new
// update path from the same sender, made here, must reach every other
// member with one commit secret.
func TestTreeKEMVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite             mls.CipherSuite `json:"cipher_suite"`
		GroupID                 hexBytes        `json:"group_id"`
		Epoch                   uint64          `json:"epoch"`
		ConfirmedTranscriptHash hexBytes        `json:"confirmed_transcript_hash"`
		RatchetTree             hexBytes        `json:"ratchet_tree"`
		LeavesPrivate           []struct {
			Index          uint32   `json:"index"`
			EncryptionPriv hexBytes `json:"encryption_priv"`
			SignaturePriv  hexBytes `json:"signature_priv"`
			PathSecrets    []struct {
				Node       uint32   `json:"node"`
				PathSecret hexBytes `json:"path_secret"`
			} `json:"path_secrets"`
		} `json:"leaves_private"`
		UpdatePaths []struct {
			Sender        uint32     `json:"sender"`
			UpdatePath    hexBytes   `json:"update_path"`
			PathSecrets   []hexBytes `json:"path_secrets"`
			CommitSecret  hexBytes   `json:"commit_secret"`
			TreeHashAfter hexBytes   `json:"tree_hash_after"`
		} `json:"update_paths"`
	}
	loadVectors(t, "treekem.json", &vectors)
	require.NotEmpty(t, vectors)
	paths, decrypted := 0, 0
	for i, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var tree mls.RatchetTree
			require.NoError(t, tree.Unmarshal(v.RatchetTree))
			privs := map[uint32]*mls.PrivateTree{}
			sigs := map[uint32]*mls.SigningKey{}
			for _, lp := range v.LeavesPrivate {
				k, err := cs.NewHPKEKey(lp.EncryptionPriv)
				require.NoError(t, err)
				p := mls.NewPrivateTree(lp.Index, k)
				for _, ps := range lp.PathSecrets {
					require.NoError(t, p.SetPathSecret(cs, ps.Node, ps.PathSecret))
				}
				require.NoError(t, p.Check(&tree), "private state of leaf %d", lp.Index)
				privs[lp.Index] = p
				sigs[lp.Index], err = cs.NewSigningKey(lp.SignaturePriv)
				require.NoError(t, err)
			}
			ctx := mls.GroupContext{
				Version:                 mls.MLS10,
				CipherSuite:             cs,
				GroupID:                 v.GroupID,
				Epoch:                   v.Epoch,
				ConfirmedTranscriptHash: v.ConfirmedTranscriptHash,
			}
			// receivers lists the non-blank leaves other than sender,
			// each of which must have a private state.
			receivers := func(sender uint32) []uint32 {
				var r []uint32
				for j := range tree.NumLeaves() {
					if j != sender && tree.Leaf(j) != nil {
						require.Contains(t, privs, j, "private state of leaf %d", j)
						r = append(r, j)
					}
				}
				return r
			}
			for _, upv := range v.UpdatePaths {
				var up mls.UpdatePath
				require.NoError(t, up.Unmarshal(upv.UpdatePath))
				merged := tree.Clone()
				require.NoError(t, merged.MergeUpdatePath(cs, upv.Sender, &up, v.GroupID))
				assert.Equal(t, []byte(upv.TreeHashAfter), merged.TreeHash(cs), "tree hash after sender %d", upv.Sender)
				for _, j := range receivers(upv.Sender) {
					ps, commit, err := merged.DecryptUpdatePath(cs, privs[j].Clone(), upv.Sender, &up, ctx, nil)
					require.NoError(t, err, "leaf %d decrypting the path of %d", j, upv.Sender)
					assert.Equal(t, []byte(upv.PathSecrets[j]), ps, "path secret of leaf %d", j)
					assert.Equal(t, []byte(upv.CommitSecret), commit, "commit secret of leaf %d", j)
					decrypted++
				}
				paths++

				// A fresh path from the same sender.
				mine := tree.Clone()
				priv := privs[upv.Sender].Clone()
				newPath, secrets, err := mine.CreateUpdatePath(cs, priv, sigs[upv.Sender], ctx, nil)
				require.NoError(t, err)
				require.NoError(t, mine.Validate(cs, v.GroupID), "tree after our path")
				require.NoError(t, priv.Check(mine))
				for _, j := range receivers(upv.Sender) {
					theirs := tree.Clone()
					require.NoError(t, theirs.MergeUpdatePath(cs, upv.Sender, newPath, v.GroupID))
					assert.Equal(t, mine.TreeHash(cs), theirs.TreeHash(cs), "leaf %d's tree", j)
					p := privs[j].Clone()
					ps, commit, err := theirs.DecryptUpdatePath(cs, p, upv.Sender, newPath, ctx, nil)
					require.NoError(t, err, "leaf %d decrypting our path", j)
					assert.Equal(t, secrets.CommitSecret, commit, "commit secret of leaf %d", j)
					assert.Equal(t, secrets.For(j), ps, "path secret of leaf %d", j)
					assert.NoError(t, p.Check(theirs), "leaf %d's private state", j)
				}
			}
		})
	}
	t.Logf("%d vectors, %d update paths, %d decryptions", len(vectors), paths, decrypted)
}

// TestMergeUpdatePathRejectsParentHash changes one public key of an update
// path: the leaf's signed parent hash must no longer match.
func TestMergeUpdatePathRejectsParentHash(t *testing.T) {
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		GroupID     hexBytes        `json:"group_id"`
		RatchetTree hexBytes        `json:"ratchet_tree"`
		UpdatePaths []struct {
			Sender     uint32   `json:"sender"`
			UpdatePath hexBytes `json:"update_path"`
		} `json:"update_paths"`
	}
	loadVectors(t, "treekem.json", &vectors)
	tried := 0
	for _, v := range vectors {
		var tree mls.RatchetTree
		require.NoError(t, tree.Unmarshal(v.RatchetTree))
		for _, upv := range v.UpdatePaths {
			var up mls.UpdatePath
			require.NoError(t, up.Unmarshal(upv.UpdatePath))
			if len(up.Nodes) == 0 {
				continue
			}
			other, err := v.CipherSuite.GenerateHPKEKey()
			require.NoError(t, err)
			up.Nodes[len(up.Nodes)-1].EncryptionKey = other.Public()
			before := tree.TreeHash(v.CipherSuite)
			assert.ErrorIs(t, tree.MergeUpdatePath(v.CipherSuite, upv.Sender, &up, v.GroupID), mls.ErrInvalidPath)
			assert.Equal(t, before, tree.TreeHash(v.CipherSuite), "tree left as it was")
			tried++
		}
	}
	require.Positive(t, tried)
}
