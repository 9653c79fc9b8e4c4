package mls

import "math/bits"

// Tree math of RFC 9420 section 4 and appendix C, on the array
// representation: leaves at even node indices (leaf i at node 2i), parents
// at odd ones. A tree of n leaves has 2n-1 nodes; the trees of this package
// always have a power of two of leaves, as the RFC's trees do.

// nodeWidth returns the number of nodes of a tree with n leaves.
func nodeWidth(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return 2*(n-1) + 1
}

// level returns the level of node x: 0 for leaves, the number of trailing
// one bits otherwise.
func level(x uint32) uint32 { return uint32(bits.TrailingZeros32(^x)) }

// log2 returns the exponent of the largest power of two not above x (0 for
// 0).
func log2(x uint32) uint32 {
	if x == 0 {
		return 0
	}
	return uint32(bits.Len32(x) - 1)
}

// root returns the root node of a tree with n leaves.
func root(n uint32) uint32 { return 1<<log2(nodeWidth(n)) - 1 }

// left returns the left child of the parent node x.
func left(x uint32) uint32 { return x ^ 1<<(level(x)-1) }

// right returns the right child of the parent node x.
func right(x uint32) uint32 { return x ^ 3<<(level(x)-1) }

// parent returns the parent of node x, which must not be the root.
func parent(x uint32) uint32 {
	k := level(x)
	b := (x >> (k + 1)) & 1
	return (x | 1<<k) ^ b<<(k+1)
}

// sibling returns the other child of x's parent; x must not be the root.
func sibling(x uint32) uint32 {
	p := parent(x)
	if x < p {
		return right(p)
	}
	return left(p)
}

// directPath returns the parents of node x from the lowest to the root, in
// a tree with n leaves (empty for the root).
func directPath(x, n uint32) []uint32 {
	r := root(n)
	var d []uint32
	for x != r {
		x = parent(x)
		d = append(d, x)
	}
	return d
}

// copath returns the siblings of x and of each node of its direct path but
// the root, from the lowest up.
func copath(x, n uint32) []uint32 {
	r := root(n)
	var c []uint32
	for x != r {
		c = append(c, sibling(x))
		x = parent(x)
	}
	return c
}

// isInSubtree reports whether node x lies under (or is) node a.
func isInSubtree(a, x uint32) bool {
	span := uint32(1)<<level(a) - 1
	return x+span >= a && x <= a+span
}

// commonAncestor returns the lowest node whose subtree holds both x and y.
func commonAncestor(x, y uint32) uint32 {
	lx, ly := level(x)+1, level(y)+1
	if lx <= ly && x>>ly == y>>ly {
		return y
	}
	if ly <= lx && x>>lx == y>>lx {
		return x
	}
	xn, yn := x, y
	var k uint32
	for xn != yn {
		xn >>= 1
		yn >>= 1
		k++
	}
	return xn<<k + (1<<(k-1) - 1)
}
