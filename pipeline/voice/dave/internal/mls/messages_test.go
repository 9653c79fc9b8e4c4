package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// roundTripper is a structure with Marshal and Unmarshal.
type roundTripper interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// proposalBody decodes and encodes the content of a proposal of one type
// (the Add, Update... structure), as messages.json stores them.
type proposalBody struct {
	t mls.ProposalType
	p mls.Proposal
}

func (b *proposalBody) Unmarshal(in []byte) error  { return b.p.UnmarshalBody(b.t, in) }
func (b *proposalBody) Marshal() ([]byte, error)   { return b.p.MarshalBody() }
func (r *ratchetTreeRT) Unmarshal(in []byte) error { return r.t.Unmarshal(in) }
func (r *ratchetTreeRT) Marshal() ([]byte, error)  { return r.t.Marshal() }

type ratchetTreeRT struct{ t mls.RatchetTree }

// TestMessagesVectors decodes every structure of every vector of
// messages.json and encodes it back to the same bytes; each MLSMessage
// must carry the wire format its field names.
func TestMessagesVectors(t *testing.T) {
	var vectors []map[string]hexBytes
	loadVectors(t, "messages.json", &vectors)
	require.NotEmpty(t, vectors)
	wire := map[string]mls.WireFormat{
		"mls_welcome":                mls.WireFormatWelcome,
		"mls_group_info":             mls.WireFormatGroupInfo,
		"mls_key_package":            mls.WireFormatKeyPackage,
		"public_message_application": mls.WireFormatPublicMessage,
		"public_message_proposal":    mls.WireFormatPublicMessage,
		"public_message_commit":      mls.WireFormatPublicMessage,
		"private_message":            mls.WireFormatPrivateMessage,
	}
	content := map[string]mls.ContentType{
		"public_message_application": mls.ContentApplication,
		"public_message_proposal":    mls.ContentProposal,
		"public_message_commit":      mls.ContentCommit,
	}
	fields := map[string]func() roundTripper{
		"ratchet_tree":                      func() roundTripper { return new(ratchetTreeRT) },
		"group_secrets":                     func() roundTripper { return new(mls.GroupSecrets) },
		"add_proposal":                      func() roundTripper { return &proposalBody{t: mls.ProposalAdd} },
		"update_proposal":                   func() roundTripper { return &proposalBody{t: mls.ProposalUpdate} },
		"remove_proposal":                   func() roundTripper { return &proposalBody{t: mls.ProposalRemove} },
		"pre_shared_key_proposal":           func() roundTripper { return &proposalBody{t: mls.ProposalPSK} },
		"re_init_proposal":                  func() roundTripper { return &proposalBody{t: mls.ProposalReInit} },
		"external_init_proposal":            func() roundTripper { return &proposalBody{t: mls.ProposalExternalInit} },
		"group_context_extensions_proposal": func() roundTripper { return &proposalBody{t: mls.ProposalGroupContextExtensions} },
		"commit":                            func() roundTripper { return new(mls.Commit) },
	}
	for name := range wire {
		fields[name] = func() roundTripper { return new(mls.MLSMessage) }
	}
	checked := 0
	for i, v := range vectors {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			require.Len(t, v, len(fields), "fields of the vector")
			for name, in := range v {
				newRT, ok := fields[name]
				require.True(t, ok, "unknown field %s", name)
				rt := newRT()
				require.NoError(t, rt.Unmarshal(in), name)
				out, err := rt.Marshal()
				require.NoError(t, err, name)
				assert.Equal(t, []byte(in), out, name)
				if m, ok := rt.(*mls.MLSMessage); ok {
					assert.Equal(t, wire[name], m.WireFormat, name)
					if ct, ok := content[name]; ok {
						assert.Equal(t, ct, m.PublicMessage.Content.ContentType, name)
					}
				}
				checked++
			}
		})
	}
	t.Logf("%d vectors, %d structures", len(vectors), checked)
}

// TestUnmarshalPrefix splits two messages written back to back, and
// reports a message cut short as malformed.
func TestUnmarshalPrefix(t *testing.T) {
	body := unhex(t, discordAppend)
	_, size, err := mls.ReadVarint(body)
	require.NoError(t, err)
	msg := body[size:]
	two := append(append([]byte(nil), msg...), msg...)

	var m mls.MLSMessage
	rest, err := m.UnmarshalPrefix(two)
	require.NoError(t, err)
	assert.Equal(t, msg, rest)
	rest, err = m.UnmarshalPrefix(rest)
	require.NoError(t, err)
	assert.Empty(t, rest)
	assert.Equal(t, mls.ProposalAdd, m.PublicMessage.Content.Proposal.Type)

	_, err = m.UnmarshalPrefix(msg[:len(msg)-1])
	assert.ErrorIs(t, err, mls.ErrMalformed)
}
