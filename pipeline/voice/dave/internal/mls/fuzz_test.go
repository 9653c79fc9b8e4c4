package mls_test

import (
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// FuzzMLSMessage checks that decoding is canonical: whatever decodes
// encodes back to the same bytes, so a signature or reference computed
// over a re-encoding covers what was received.
func FuzzMLSMessage(f *testing.F) {
	b, err := hex.DecodeString(discordAppend)
	require.NoError(f, err)
	f.Add(b[2:]) // the MLSMessage after its varint length
	f.Add([]byte{0x00, 0x01, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<16 {
			return
		}
		var m mls.MLSMessage
		if m.Unmarshal(in) != nil {
			return
		}
		out, err := m.Marshal()
		require.NoError(t, err)
		assert.Equal(t, in, out)
	})
}

// FuzzUnprotectPrivate feeds MLSMessages to a fresh receiver of a fixed
// epoch, seeded with genuine PrivateMessages of each content type and
// with hostile ones (a generation far ahead, a leaf beyond the tree). A
// message that unprotects must carry one of the genuine contents (only
// the sender's key signs them; the fuzzing processes each make their own
// genuine messages, with their own reuse guards and signatures, so the
// bytes differ); one that does not fails with one of the package's
// errors and leaves the receiver as it was: every genuine message still
// unprotects after it.
func FuzzUnprotectPrivate(f *testing.F) {
	fx := newProtectFixture(f)
	var genuine [][]byte
	marshal := func(m *mls.PrivateMessage) []byte {
		b, err := (&mls.MLSMessage{Version: mls.MLS10, WireFormat: mls.WireFormatPrivateMessage, PrivateMessage: m}).Marshal()
		require.NoError(f, err)
		return b
	}
	app := fx.content("hello")
	prop := fx.content("")
	prop.ContentType, prop.ApplicationData = mls.ContentProposal, nil
	prop.Proposal = &mls.Proposal{Type: mls.ProposalRemove, Removed: 0}
	commit := fx.content("")
	commit.ContentType, commit.ApplicationData = mls.ContentCommit, nil
	commit.Commit = &mls.Commit{Proposals: []mls.ProposalOrRef{{Proposal: prop.Proposal}}}
	var contents []mls.FramedContent
	for i, c := range []*mls.FramedContent{app, prop, commit} {
		contents = append(contents, *c)
		ac, err := fx.send.Sign(mls.WireFormatPrivateMessage, c, fx.sig)
		require.NoError(f, err)
		if c.ContentType == mls.ContentCommit {
			ac.Auth.ConfirmationTag = fill(8)
		}
		m, err := fx.send.ProtectPrivate(ac, 3*i)
		require.NoError(f, err)
		genuine = append(genuine, marshal(m))
	}
	for _, g := range genuine {
		f.Add(g)
	}
	far, err := fx.send.SealRaw(app, []byte{0, 0}, 1<<20, fill(5)[:16], fill(6)[:12])
	require.NoError(f, err)
	f.Add(marshal(far))
	beyond := fx.content("")
	beyond.Sender.Index = 1 << 30
	m, err := fx.send.SealRaw(beyond, []byte{0, 0}, 0, fill(5)[:16], fill(6)[:12])
	require.NoError(f, err)
	f.Add(marshal(m))

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<16 {
			return
		}
		var msg mls.MLSMessage
		if msg.Unmarshal(in) != nil || msg.WireFormat != mls.WireFormatPrivateMessage {
			return
		}
		recv := fx.protector(t)
		ac, err := recv.UnprotectPrivate(msg.PrivateMessage, fx.key())
		if err == nil {
			assert.Contains(t, contents, ac.Content, "content of a message that unprotects")
			return
		}
		known := []error{mls.ErrMalformed, mls.ErrDecrypt, mls.ErrWrongEpoch, mls.ErrGeneration, mls.ErrNotFound, mls.ErrBadSignature}
		assert.True(t, slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }), "error %v wraps none of the package's", err)
		for i, g := range genuine {
			var gm mls.MLSMessage
			require.NoError(t, gm.Unmarshal(g))
			_, err := recv.UnprotectPrivate(gm.PrivateMessage, fx.key())
			require.NoError(t, err, "genuine message %d after a failed one", i)
		}
	})
}
