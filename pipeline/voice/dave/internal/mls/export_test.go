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

// SealRaw encrypts plaintext, taken as an encoded PrivateMessageContent,
// as a PrivateMessage of the content whose header is c, from generation
// gen of the sender's ratchet whose key and nonce are key and nonce, with
// a zero reuse guard: for messages a correct sender would not make.
func (p *Protector) SealRaw(c *FramedContent, plaintext []byte, gen uint32, key, nonce []byte) (*PrivateMessage, error) {
	return p.seal(c, plaintext, gen, [4]byte{}, key, nonce)
}
