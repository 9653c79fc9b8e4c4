package mls_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// protectionVector is an entry of message-protection.json.
type protectionVector struct {
	CipherSuite             mls.CipherSuite `json:"cipher_suite"`
	GroupID                 hexBytes        `json:"group_id"`
	Epoch                   uint64          `json:"epoch"`
	TreeHash                hexBytes        `json:"tree_hash"`
	ConfirmedTranscriptHash hexBytes        `json:"confirmed_transcript_hash"`
	SignaturePriv           hexBytes        `json:"signature_priv"`
	SignaturePub            hexBytes        `json:"signature_pub"`
	EncryptionSecret        hexBytes        `json:"encryption_secret"`
	SenderDataSecret        hexBytes        `json:"sender_data_secret"`
	MembershipKey           hexBytes        `json:"membership_key"`
	Proposal                hexBytes        `json:"proposal"`
	ProposalPub             hexBytes        `json:"proposal_pub"`
	ProposalPriv            hexBytes        `json:"proposal_priv"`
	Commit                  hexBytes        `json:"commit"`
	CommitPub               hexBytes        `json:"commit_pub"`
	CommitPriv              hexBytes        `json:"commit_priv"`
	Application             hexBytes        `json:"application"`
	ApplicationPriv         hexBytes        `json:"application_priv"`
}

// context returns the vector's group context: its group, epoch and
// hashes, no extensions.
func (v *protectionVector) context() *mls.GroupContext {
	return &mls.GroupContext{
		Version:                 mls.MLS10,
		CipherSuite:             v.CipherSuite,
		GroupID:                 v.GroupID,
		Epoch:                   v.Epoch,
		TreeHash:                v.TreeHash,
		ConfirmedTranscriptHash: v.ConfirmedTranscriptHash,
		Extensions:              []mls.Extension{},
	}
}

// protector returns a fresh protector of the vector's epoch: a secret
// tree of two members.
func (v *protectionVector) protector(t *testing.T) *mls.Protector {
	t.Helper()
	p, err := mls.NewProtector(v.context(), &mls.EpochSecrets{
		Suite:            v.CipherSuite,
		EncryptionSecret: v.EncryptionSecret,
		SenderDataSecret: v.SenderDataSecret,
		MembershipKey:    v.MembershipKey,
	}, 2)
	require.NoError(t, err)
	return p
}

// sender is the vectors' sender, leaf 1.
var sender = mls.Sender{Type: mls.SenderMember, Index: 1}

// keyOf returns a SignatureKeyFunc that knows pub as leaf 1's key and no
// other sender.
func keyOf(pub []byte) mls.SignatureKeyFunc {
	return func(s mls.Sender) ([]byte, error) {
		if s != sender {
			return nil, fmt.Errorf("%w: sender %+v", mls.ErrNotFound, s)
		}
		return pub, nil
	}
}

// decodeMessage decodes an MLSMessage of wire format wf.
func decodeMessage(t *testing.T, b []byte, wf mls.WireFormat) *mls.MLSMessage {
	t.Helper()
	var m mls.MLSMessage
	require.NoError(t, m.Unmarshal(b))
	require.Equal(t, wf, m.WireFormat)
	return &m
}

// rawContent returns the encoding of the content an AuthenticatedContent
// carries, as the vector gives it raw: the Proposal, the Commit or the
// application data.
func rawContent(t *testing.T, ac *mls.AuthenticatedContent) []byte {
	t.Helper()
	switch c := &ac.Content; c.ContentType {
	case mls.ContentProposal:
		b, err := c.Proposal.Marshal()
		require.NoError(t, err)
		return b
	case mls.ContentCommit:
		b, err := c.Commit.Marshal()
		require.NoError(t, err)
		return b
	default:
		return c.ApplicationData
	}
}

// TestMessageProtectionVectors checks every vector of
// message-protection.json as test-vectors.md asks, for the proposal, the
// commit and the application message: the given PublicMessage (proposal
// and commit) and PrivateMessage unprotect to the raw content from leaf
// 1; the raw content protected by us both ways unprotects again with a
// protector of its own; application data is refused as a PublicMessage.
func TestMessageProtectionVectors(t *testing.T) {
	var vectors []protectionVector
	loadVectors(t, "message-protection.json", &vectors)
	require.NotEmpty(t, vectors)
	checked := 0
	for i := range vectors {
		v := &vectors[i]
		cs := v.CipherSuite
		sig, err := cs.NewSigningKey(v.SignaturePriv)
		require.NoError(t, err)
		require.Equal(t, []byte(v.SignaturePub), sig.Public())
		key := keyOf(v.SignaturePub)

		for _, c := range []struct {
			name      string
			ct        mls.ContentType
			raw       []byte
			pub, priv []byte
		}{
			{"proposal", mls.ContentProposal, v.Proposal, v.ProposalPub, v.ProposalPriv},
			{"commit", mls.ContentCommit, v.Commit, v.CommitPub, v.CommitPriv},
			{"application", mls.ContentApplication, v.Application, nil, v.ApplicationPriv},
		} {
			t.Run(fmt.Sprintf("suite%d/%s", uint16(cs), c.name), func(t *testing.T) {
				content := &mls.FramedContent{
					GroupID:           v.GroupID,
					Epoch:             v.Epoch,
					Sender:            sender,
					AuthenticatedData: []byte("authenticated data"),
					ContentType:       c.ct,
				}
				switch c.ct {
				case mls.ContentProposal:
					content.Proposal = new(mls.Proposal)
					require.NoError(t, content.Proposal.Unmarshal(c.raw))
				case mls.ContentCommit:
					content.Commit = new(mls.Commit)
					require.NoError(t, content.Commit.Unmarshal(c.raw))
				default:
					content.ApplicationData = c.raw
				}
				// The confirmation tag of a commit is not the protector's to
				// make; any will do here.
				tag := make([]byte, 32)
				tag[0] = 0x5a

				// The given PublicMessage.
				if c.pub != nil {
					m := decodeMessage(t, c.pub, mls.WireFormatPublicMessage)
					ac, err := v.protector(t).UnprotectPublic(m.PublicMessage, key)
					require.NoError(t, err)
					assert.Equal(t, sender, ac.Content.Sender)
					assert.Equal(t, c.raw, rawContent(t, ac))
				}

				// Ours as a PublicMessage.
				p := v.protector(t)
				ac, err := p.Sign(mls.WireFormatPublicMessage, content, sig)
				require.NoError(t, err)
				if c.ct == mls.ContentCommit {
					ac.Auth.ConfirmationTag = tag
				}
				pm, err := p.ProtectPublic(ac)
				if c.ct == mls.ContentApplication {
					assert.ErrorIs(t, err, mls.ErrMalformed, "application data as a PublicMessage")
				} else {
					require.NoError(t, err)
					b, err := (&mls.MLSMessage{Version: mls.MLS10, WireFormat: mls.WireFormatPublicMessage, PublicMessage: pm}).Marshal()
					require.NoError(t, err)
					m := decodeMessage(t, b, mls.WireFormatPublicMessage)
					got, err := v.protector(t).UnprotectPublic(m.PublicMessage, key)
					require.NoError(t, err)
					assert.Equal(t, c.raw, rawContent(t, got))
					assert.Equal(t, content.AuthenticatedData, got.Content.AuthenticatedData)
				}

				// The given PrivateMessage.
				m := decodeMessage(t, c.priv, mls.WireFormatPrivateMessage)
				got, err := v.protector(t).UnprotectPrivate(m.PrivateMessage, key)
				require.NoError(t, err)
				assert.Equal(t, sender, got.Content.Sender)
				assert.Equal(t, c.raw, rawContent(t, got))

				// Ours as a PrivateMessage, twice from the same sender, so the
				// second is of the next generation.
				send, recv := v.protector(t), v.protector(t)
				for n := range 2 {
					ac, err := send.Sign(mls.WireFormatPrivateMessage, content, sig)
					require.NoError(t, err)
					if c.ct == mls.ContentCommit {
						ac.Auth.ConfirmationTag = tag
					}
					priv, err := send.ProtectPrivate(ac, 7*n)
					require.NoError(t, err)
					b, err := (&mls.MLSMessage{Version: mls.MLS10, WireFormat: mls.WireFormatPrivateMessage, PrivateMessage: priv}).Marshal()
					require.NoError(t, err)
					m := decodeMessage(t, b, mls.WireFormatPrivateMessage)
					got, err := recv.UnprotectPrivate(m.PrivateMessage, key)
					require.NoError(t, err, "message %d", n)
					assert.Equal(t, c.raw, rawContent(t, got))
					assert.Equal(t, content.AuthenticatedData, got.Content.AuthenticatedData)
					assert.Equal(t, ac.Auth, got.Auth)
				}
				checked++
			})
		}
	}
	t.Logf("%d vectors, %d messages", len(vectors), checked)
}

// protectFixture is an epoch of a two-member group of suite 2 whose
// leaf 1 sends: its group context and secrets, leaf 1's signing key, and
// a protector for leaf 1 as sender.
type protectFixture struct {
	ctx     *mls.GroupContext
	secrets *mls.EpochSecrets
	sig     *mls.SigningKey
	send    *mls.Protector
}

func newProtectFixture(t testing.TB) *protectFixture {
	cs := mls.P256AES128GCMSHA256P256
	fx := &protectFixture{
		ctx: &mls.GroupContext{
			Version:                 mls.MLS10,
			CipherSuite:             cs,
			GroupID:                 []byte("group"),
			Epoch:                   5,
			TreeHash:                make([]byte, 32),
			ConfirmedTranscriptHash: make([]byte, 32),
			Extensions:              []mls.Extension{},
		},
		secrets: &mls.EpochSecrets{
			Suite:            cs,
			EncryptionSecret: fill(1),
			SenderDataSecret: fill(2),
			MembershipKey:    fill(3),
		},
	}
	var err error
	fx.sig, err = cs.NewSigningKey(fill(4))
	require.NoError(t, err)
	fx.send = fx.protector(t)
	return fx
}

// fill returns 32 bytes of b.
func fill(b byte) []byte {
	p := make([]byte, 32)
	for i := range p {
		p[i] = b
	}
	return p
}

// protector returns a fresh protector of the fixture's epoch.
func (fx *protectFixture) protector(t testing.TB) *mls.Protector {
	p, err := mls.NewProtector(fx.ctx, fx.secrets, 2)
	require.NoError(t, err)
	return p
}

// key returns the SignatureKeyFunc of the group: leaf 1's key.
func (fx *protectFixture) key() mls.SignatureKeyFunc { return keyOf(fx.sig.Public()) }

// content returns application data from leaf 1 in the fixture's epoch.
func (fx *protectFixture) content(data string) *mls.FramedContent {
	return &mls.FramedContent{
		GroupID:           fx.ctx.GroupID,
		Epoch:             fx.ctx.Epoch,
		Sender:            sender,
		AuthenticatedData: []byte{},
		ContentType:       mls.ContentApplication,
		ApplicationData:   []byte(data),
	}
}

// private returns c, signed with key, as the next PrivateMessage of the
// fixture's sender.
func (fx *protectFixture) private(t testing.TB, c *mls.FramedContent, key *mls.SigningKey) *mls.PrivateMessage {
	ac, err := fx.send.Sign(mls.WireFormatPrivateMessage, c, key)
	require.NoError(t, err)
	m, err := fx.send.ProtectPrivate(ac, 0)
	require.NoError(t, err)
	return m
}

// TestUnprotectPrivateHostile checks that a PrivateMessage that must not
// be accepted fails with the error that says why, and leaves the
// receiver as it was: the genuine message of the same generation still
// decrypts after it.
func TestUnprotectPrivateHostile(t *testing.T) {
	cs := mls.P256AES128GCMSHA256P256
	other, err := cs.NewSigningKey(fill(9))
	require.NoError(t, err)
	// senderKeys gives the key and nonce of a generation of leaf 1's
	// application ratchet, as the sender's tree has them.
	senderKeys := func(fx *protectFixture, gen uint32) (key, nonce []byte) {
		tree, err := cs.NewSecretTree(fx.secrets.EncryptionSecret, 2)
		require.NoError(t, err)
		key, nonce, err = tree.Key(1, mls.ApplicationRatchet, gen)
		require.NoError(t, err)
		return key, nonce
	}
	for _, c := range []struct {
		name string
		make func(fx *protectFixture, genuine *mls.PrivateMessage) *mls.PrivateMessage
		want error
	}{
		{"wrong epoch", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.Epoch++
			return g
		}, mls.ErrWrongEpoch},
		{"wrong group", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.GroupID = []byte("other")
			return g
		}, mls.ErrWrongEpoch},
		{"unknown content type", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.ContentType = 9
			return g
		}, mls.ErrMalformed},
		{"content type changed", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.ContentType = mls.ContentProposal
			return g
		}, mls.ErrDecrypt},
		{"authenticated data changed", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.AuthenticatedData = []byte("x")
			return g
		}, mls.ErrDecrypt},
		{"sender data changed", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.EncryptedSenderData[0] ^= 1
			return g
		}, mls.ErrDecrypt},
		{"sender data cut short", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.EncryptedSenderData = g.EncryptedSenderData[:3]
			return g
		}, mls.ErrDecrypt},
		{"ciphertext sample changed", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.Ciphertext[0] ^= 1
			return g
		}, mls.ErrDecrypt},
		{"ciphertext tail changed", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.Ciphertext[len(g.Ciphertext)-1] ^= 1 // past the sample: the sender data opens
			return g
		}, mls.ErrDecrypt},
		{"empty ciphertext", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			g.Ciphertext = []byte{}
			return g
		}, mls.ErrDecrypt},
		{"signed by another key", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			// Generation 0 too, from a sender of its own.
			send := fx.protector(t)
			ac, err := send.Sign(mls.WireFormatPrivateMessage, fx.content("hello"), other)
			require.NoError(t, err)
			m, err := send.ProtectPrivate(ac, 0)
			require.NoError(t, err)
			return m
		}, mls.ErrBadSignature},
		{"padding not zero", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			key, nonce := senderKeys(fx, 0)
			pt := []byte{
				0x02, 'h', 'i', // application_data<V>
				0x00,       // signature<V>, empty
				0x00, 0x01, // padding, not all zero
			}
			m, err := fx.send.SealRaw(fx.content(""), pt, 0, key, nonce)
			require.NoError(t, err)
			return m
		}, mls.ErrMalformed},
		{"content cut short", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			key, nonce := senderKeys(fx, 0)
			pt := []byte{0x40, 0xff, 'h'} // application_data<V> of 255 bytes, one there
			m, err := fx.send.SealRaw(fx.content(""), pt, 0, key, nonce)
			require.NoError(t, err)
			return m
		}, mls.ErrMalformed},
		{"generation far ahead", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			m, err := fx.send.SealRaw(fx.content(""), []byte{0, 0}, 1<<31, fill(5)[:16], fill(6)[:12])
			require.NoError(t, err)
			return m
		}, mls.ErrGeneration},
		{"leaf beyond the tree", func(fx *protectFixture, g *mls.PrivateMessage) *mls.PrivateMessage {
			c := fx.content("")
			c.Sender.Index = 7
			m, err := fx.send.SealRaw(c, []byte{0, 0}, 0, fill(5)[:16], fill(6)[:12])
			require.NoError(t, err)
			return m
		}, mls.ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newProtectFixture(t)
			genuine := fx.private(t, fx.content("hello"), fx.sig)
			b, err := (&mls.MLSMessage{Version: mls.MLS10, WireFormat: mls.WireFormatPrivateMessage, PrivateMessage: genuine}).Marshal()
			require.NoError(t, err)
			hostile := decodeMessage(t, b, mls.WireFormatPrivateMessage).PrivateMessage
			hostile = c.make(fx, hostile)

			recv := fx.protector(t)
			_, err = recv.UnprotectPrivate(hostile, fx.key())
			assert.ErrorIs(t, err, c.want)

			got, err := recv.UnprotectPrivate(genuine, fx.key())
			require.NoError(t, err, "the genuine message after the hostile one")
			assert.Equal(t, []byte("hello"), got.Content.ApplicationData)
			_, err = recv.UnprotectPrivate(genuine, fx.key())
			assert.ErrorIs(t, err, mls.ErrGeneration, "the genuine message replayed")
		})
	}
}

// TestPrivateMessageHugeLength checks that a PrivateMessage whose
// ciphertext claims the largest length a vector can have is refused by
// the decoder before anything that size is allocated.
func TestPrivateMessageHugeLength(t *testing.T) {
	in := []byte{
		0x00, 0x01, // version mls10
		0x00, 0x02, // wire format private_message
		0x01, 'g', // group_id<V>
		0, 0, 0, 0, 0, 0, 0, 5, // epoch
		0x01,                   // content_type application
		0x00,                   // authenticated_data<V>
		0x00,                   // encrypted_sender_data<V>
		0xbf, 0xff, 0xff, 0xff, // ciphertext<V>: 2^30-1 bytes claimed
		0x00, 0x00,
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var m mls.MLSMessage
	err := m.Unmarshal(in)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, mls.ErrMalformed)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated decoding")
}
