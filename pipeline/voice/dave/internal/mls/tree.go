package mls

import (
	"bytes"
	"fmt"
	"slices"
)

// RatchetTree is a group's ratchet tree (RFC 9420 section 7) in array
// form: Nodes[x] is node x, nil where the node is blank; leaf i is node
// 2i. A tree always has 2^d leaves, so 2^(d+1)-1 nodes. A RatchetTree is
// not safe for concurrent use; its methods that take a CipherSuite use it
// for hashing and signatures.
type RatchetTree struct {
	Nodes []*Node
}

// Marshal returns the tree as the ratchet_tree extension carries it:
// optional<Node> ratchet_tree<V>, without the blank nodes after the last
// non-blank one.
func (t *RatchetTree) Marshal() ([]byte, error) { return marshal(t) }

// Unmarshal decodes a ratchet_tree extension's data into t: it checks that
// the last node is non-blank and that leaves and parents sit at even and
// odd positions, then pads the tree with blank nodes to a full tree.
func (t *RatchetTree) Unmarshal(b []byte) error { return unmarshal(b, t, "ratchet_tree") }

func (t *RatchetTree) encode(w *writer) {
	end := len(t.Nodes)
	for end > 0 && t.Nodes[end-1] == nil {
		end--
	}
	w.vector(func(w *writer) {
		for _, n := range t.Nodes[:end] {
			w.optional(n != nil, func(w *writer) { n.encode(w) })
		}
	})
}

func (t *RatchetTree) decode(r *reader) {
	t.Nodes = nil
	r.vector("ratchet_tree", func(r *reader) {
		var n *Node
		if r.optional("ratchet_tree.node") {
			n = new(Node)
			n.decode(r)
			if r.err == nil && (n.Leaf != nil) != (len(t.Nodes)%2 == 0) {
				r.fail("ratchet_tree.node", "node %d has the wrong type for its position", len(t.Nodes))
			}
		}
		t.Nodes = append(t.Nodes, n)
	})
	if r.err != nil {
		return
	}
	if len(t.Nodes) == 0 || t.Nodes[len(t.Nodes)-1] == nil {
		r.fail("ratchet_tree", "empty, or ends with a blank node")
		return
	}
	// Pad to 2^(d+1)-1 nodes.
	width := 1
	for width < len(t.Nodes) {
		width = 2*width + 1
	}
	for len(t.Nodes) < width {
		t.Nodes = append(t.Nodes, nil)
	}
}

// Clone returns a deep enough copy of t that applying changes to either
// leaves the other as it is (nodes are replaced, never modified in place,
// except ParentNode.UnmergedLeaves and ParentHash, which Clone copies).
func (t *RatchetTree) Clone() *RatchetTree {
	c := &RatchetTree{Nodes: make([]*Node, len(t.Nodes))}
	for i, n := range t.Nodes {
		switch {
		case n == nil:
		case n.Parent != nil:
			p := *n.Parent
			p.UnmergedLeaves = slices.Clone(p.UnmergedLeaves)
			c.Nodes[i] = &Node{Parent: &p}
		default:
			c.Nodes[i] = &Node{Leaf: n.Leaf}
		}
	}
	return c
}

// NumLeaves returns the number of leaves, blank ones included.
func (t *RatchetTree) NumLeaves() uint32 { return uint32(len(t.Nodes)+1) / 2 }

// Leaf returns leaf i's node, or nil if it is blank or beyond the tree.
func (t *RatchetTree) Leaf(i uint32) *LeafNode {
	if x := 2 * uint64(i); x < uint64(len(t.Nodes)) && t.Nodes[x] != nil {
		return t.Nodes[x].Leaf
	}
	return nil
}

// node returns node x, nil if blank.
func (t *RatchetTree) node(x uint32) *Node { return t.Nodes[x] }

// treeHash returns the tree hash of the subtree under node x (RFC 9420
// section 7.8) with the leaves in excluded blanked and removed from every
// unmerged_leaves list, as the original sibling tree hash of a parent hash
// needs. hashes, if not nil, receives each node's hash.
func (t *RatchetTree) treeHash(cs CipherSuite, x uint32, excluded []uint32, hashes [][]byte) []byte {
	w := writer{}
	n := t.node(x)
	if level(x) == 0 {
		w.u8(uint8(nodeLeaf))
		w.u32(x / 2)
		present := n != nil && !slices.Contains(excluded, x/2)
		w.optional(present, func(w *writer) { n.Leaf.encode(w) })
	} else {
		lh := t.treeHash(cs, left(x), excluded, hashes)
		rh := t.treeHash(cs, right(x), excluded, hashes)
		w.u8(uint8(nodeParent))
		w.optional(n != nil, func(w *writer) {
			p := *n.Parent
			if len(excluded) > 0 {
				p.UnmergedLeaves = slices.DeleteFunc(slices.Clone(p.UnmergedLeaves), func(l uint32) bool {
					return slices.Contains(excluded, l)
				})
			}
			p.encode(w)
		})
		w.opaque(lh)
		w.opaque(rh)
	}
	h := cs.Hash(w.b)
	if hashes != nil {
		hashes[x] = h
	}
	return h
}

// TreeHash returns the tree hash of the root.
func (t *RatchetTree) TreeHash(cs CipherSuite) []byte {
	return t.treeHash(cs, root(t.NumLeaves()), nil, nil)
}

// TreeHashes returns the tree hash of every node, by node index.
func (t *RatchetTree) TreeHashes(cs CipherSuite) [][]byte {
	hashes := make([][]byte, len(t.Nodes))
	t.treeHash(cs, root(t.NumLeaves()), nil, hashes)
	return hashes
}

// Resolution returns the resolution of node x (RFC 9420 section 4.1.1):
// the node itself and its unmerged leaves if it is not blank, nothing for a
// blank leaf, the resolutions of its children for a blank parent. Leaves in
// excluded are left out (the members added by the commit being made).
func (t *RatchetTree) Resolution(x uint32, excluded []uint32) []uint32 {
	n := t.node(x)
	switch {
	case n == nil && level(x) == 0:
		return nil
	case n == nil:
		return append(t.Resolution(left(x), excluded), t.Resolution(right(x), excluded)...)
	case level(x) == 0:
		if slices.Contains(excluded, x/2) {
			return nil
		}
		return []uint32{x}
	default:
		res := []uint32{x}
		for _, l := range n.Parent.UnmergedLeaves {
			if !slices.Contains(excluded, l) {
				res = append(res, 2*l)
			}
		}
		return res
	}
}

// filteredDirectPath returns the filtered direct path of leaf i (its
// direct path without the nodes whose copath child has an empty
// resolution) and, for each of its nodes, that copath child.
func (t *RatchetTree) filteredDirectPath(i uint32) (path, copathNodes []uint32) {
	n := t.NumLeaves()
	dp, cp := directPath(2*i, n), copath(2*i, n)
	for k := range dp {
		if len(t.Resolution(cp[k], nil)) > 0 {
			path = append(path, dp[k])
			copathNodes = append(copathNodes, cp[k])
		}
	}
	return path, copathNodes
}

// parentHash returns the parent hash of parent node p with copath child s
// (RFC 9420 section 7.9): Hash(ParentHashInput{p's key, p's parent hash,
// the original tree hash of s}).
func (t *RatchetTree) parentHash(cs CipherSuite, p, s uint32) []byte {
	pn := t.node(p).Parent
	w := writer{}
	w.opaque(pn.EncryptionKey)
	w.opaque(pn.ParentHash)
	w.opaque(t.treeHash(cs, s, pn.UnmergedLeaves, nil))
	return cs.Hash(w.b)
}

// nodeParentHash returns the parent_hash field of node x, and whether it
// has one (a leaf has one only when its source is commit).
func (t *RatchetTree) nodeParentHash(x uint32) ([]byte, bool) {
	n := t.node(x)
	switch {
	case n == nil:
		return nil, false
	case n.Parent != nil:
		return n.Parent.ParentHash, true
	case n.Leaf.Source == SourceCommit:
		return n.Leaf.ParentHash, true
	default:
		return nil, false
	}
}

// verifyParentHashes checks that every non-blank parent node is
// parent-hash valid (RFC 9420 section 7.9.2): exactly one node D below it
// holds its parent hash, D being in the resolution of the child C on its
// side, with the node's unmerged leaves under C being that resolution
// without D.
func (t *RatchetTree) verifyParentHashes(cs CipherSuite) error {
	for p := uint32(1); p < uint32(len(t.Nodes)); p += 2 {
		pn := t.node(p)
		if pn == nil {
			continue
		}
		found := 0
		for _, cs2 := range [2][2]uint32{{left(p), right(p)}, {right(p), left(p)}} {
			c, s := cs2[0], cs2[1]
			ph := t.parentHash(cs, p, s)
			var unmergedUnder []uint32
			for _, l := range pn.Parent.UnmergedLeaves {
				if isInSubtree(c, 2*l) {
					unmergedUnder = append(unmergedUnder, 2*l)
				}
			}
			res := t.Resolution(c, nil)
			for _, d := range res {
				got, ok := t.nodeParentHash(d)
				if !ok || !bytes.Equal(got, ph) {
					continue
				}
				rest := slices.DeleteFunc(slices.Clone(res), func(x uint32) bool { return x == d })
				slices.Sort(rest)
				if slices.Equal(rest, unmergedUnder) {
					found++
				}
			}
		}
		if found != 1 {
			return fmt.Errorf("%w: parent node %d is covered by %d parent-hash chains, want 1", ErrInvalidTree, p, found)
		}
	}
	return nil
}

// Validate checks the tree as a member joining the group must (RFC 9420
// sections 7.3 and 7.9.2, 12.4.3.1): every leaf's signature verifies with
// groupID and its index, every non-blank parent node is parent-hash valid,
// and every parent's unmerged leaves are non-blank leaves below it, in
// increasing order. It returns an error wrapping ErrInvalidTree or
// ErrBadSignature.
func (t *RatchetTree) Validate(cs CipherSuite, groupID []byte) error {
	if w := len(t.Nodes); w == 0 || (w+1)&w != 0 {
		return fmt.Errorf("%w: %d nodes is no full tree", ErrInvalidTree, w)
	}
	for x, n := range t.Nodes {
		if n == nil {
			continue
		}
		if (n.Leaf != nil) != (x%2 == 0) {
			return fmt.Errorf("%w: node %d has the wrong type for its position", ErrInvalidTree, x)
		}
		if n.Leaf != nil {
			if err := n.Leaf.Verify(cs, groupID, uint32(x/2)); err != nil {
				return err
			}
			continue
		}
		u := n.Parent.UnmergedLeaves
		for k, l := range u {
			if k > 0 && u[k-1] >= l {
				return fmt.Errorf("%w: unmerged leaves of node %d not in increasing order", ErrInvalidTree, x)
			}
			if !isInSubtree(uint32(x), 2*l) || t.Leaf(l) == nil {
				return fmt.Errorf("%w: unmerged leaf %d of node %d is blank or not below it", ErrInvalidTree, l, x)
			}
		}
	}
	return t.verifyParentHashes(cs)
}

// AddLeaf puts leaf in the leftmost blank leaf, extending the tree if there
// is none, adds it to the unmerged leaves of the non-blank parents above
// it, and returns its leaf index (RFC 9420 section 12.1.1).
func (t *RatchetTree) AddLeaf(leaf *LeafNode) uint32 {
	i := uint32(0)
	for ; i < t.NumLeaves() && t.Leaf(i) != nil; i++ {
	}
	if i == t.NumLeaves() {
		if len(t.Nodes) == 0 {
			t.Nodes = []*Node{nil}
		} else {
			t.Nodes = append(t.Nodes, make([]*Node, len(t.Nodes)+1)...)
		}
	}
	for _, p := range directPath(2*i, t.NumLeaves()) {
		if n := t.node(p); n != nil {
			u := n.Parent.UnmergedLeaves
			k, _ := slices.BinarySearch(u, i)
			n.Parent.UnmergedLeaves = slices.Insert(slices.Clone(u), k, i)
		}
	}
	t.Nodes[2*i] = &Node{Leaf: leaf}
	return i
}

// blankPath blanks the parents on leaf i's direct path.
func (t *RatchetTree) blankPath(i uint32) {
	for _, p := range directPath(2*i, t.NumLeaves()) {
		t.Nodes[p] = nil
	}
}

// UpdateLeaf replaces leaf i with leaf and blanks its direct path (RFC
// 9420 section 12.1.2). It returns an error wrapping ErrNotFound if leaf i
// is blank.
func (t *RatchetTree) UpdateLeaf(i uint32, leaf *LeafNode) error {
	if t.Leaf(i) == nil {
		return fmt.Errorf("%w: leaf %d to update is blank", ErrNotFound, i)
	}
	t.Nodes[2*i] = &Node{Leaf: leaf}
	t.blankPath(i)
	return nil
}

// RemoveLeaf blanks leaf i and its direct path, then truncates the tree
// while its right half is blank (RFC 9420 section 12.1.3). It returns an
// error wrapping ErrNotFound if leaf i is blank.
func (t *RatchetTree) RemoveLeaf(i uint32) error {
	if t.Leaf(i) == nil {
		return fmt.Errorf("%w: leaf %d to remove is blank", ErrNotFound, i)
	}
	t.Nodes[2*i] = nil
	t.blankPath(i)
	for len(t.Nodes) > 1 {
		half := (len(t.Nodes) - 1) / 2
		if slices.ContainsFunc(t.Nodes[half+1:], func(n *Node) bool { return n != nil }) {
			break
		}
		t.Nodes = t.Nodes[:half]
	}
	return nil
}
