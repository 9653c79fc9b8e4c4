package mls

// Internal functions exported to the tests of package mls_test.
var (
	ReadVarint   = readVarint
	AppendVarint = appendVarint
	NodeWidth    = nodeWidth
	Root         = root
	Left         = left
	Right        = right
	Parent       = parent
	Sibling      = sibling
	Level        = level
)
