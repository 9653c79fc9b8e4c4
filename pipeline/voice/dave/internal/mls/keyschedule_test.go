package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestKeyScheduleVectors runs every epoch of every vector of
// key-schedule.json: the group context, each secret, the external key and
// an exported secret, chaining each epoch's init secret into the next.
func TestKeyScheduleVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite       mls.CipherSuite `json:"cipher_suite"`
		GroupID           hexBytes        `json:"group_id"`
		InitialInitSecret hexBytes        `json:"initial_init_secret"`
		Epochs            []struct {
			TreeHash                hexBytes `json:"tree_hash"`
			CommitSecret            hexBytes `json:"commit_secret"`
			PSKSecret               hexBytes `json:"psk_secret"`
			ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
			GroupContext            hexBytes `json:"group_context"`
			JoinerSecret            hexBytes `json:"joiner_secret"`
			WelcomeSecret           hexBytes `json:"welcome_secret"`
			InitSecret              hexBytes `json:"init_secret"`
			SenderDataSecret        hexBytes `json:"sender_data_secret"`
			EncryptionSecret        hexBytes `json:"encryption_secret"`
			ExporterSecret          hexBytes `json:"exporter_secret"`
			EpochAuthenticator      hexBytes `json:"epoch_authenticator"`
			ExternalSecret          hexBytes `json:"external_secret"`
			ConfirmationKey         hexBytes `json:"confirmation_key"`
			MembershipKey           hexBytes `json:"membership_key"`
			ResumptionPSK           hexBytes `json:"resumption_psk"`
			ExternalPub             hexBytes `json:"external_pub"`
			Exporter                struct {
				// Label is used as written, hex digits and all.
				Label   string   `json:"label"`
				Context hexBytes `json:"context"`
				Length  uint16   `json:"length"`
				Secret  hexBytes `json:"secret"`
			} `json:"exporter"`
		} `json:"epochs"`
	}
	loadVectors(t, "key-schedule.json", &vectors)
	require.NotEmpty(t, vectors)
	epochs := 0
	for _, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(uint16(cs)), func(t *testing.T) {
			require.NotEmpty(t, v.Epochs)
			init := []byte(v.InitialInitSecret)
			for n, ep := range v.Epochs {
				ctx := &mls.GroupContext{
					Version:                 mls.MLS10,
					CipherSuite:             cs,
					GroupID:                 v.GroupID,
					Epoch:                   uint64(n),
					TreeHash:                ep.TreeHash,
					ConfirmedTranscriptHash: ep.ConfirmedTranscriptHash,
				}
				gc, err := ctx.Marshal()
				require.NoError(t, err)
				assert.Equal(t, []byte(ep.GroupContext), gc, "epoch %d group context", n)

				e, err := cs.KeySchedule(init, ep.CommitSecret, ep.PSKSecret, ctx)
				require.NoError(t, err)
				for _, c := range []struct {
					name      string
					got, want []byte
				}{
					{"joiner_secret", e.JoinerSecret, ep.JoinerSecret},
					{"welcome_secret", e.WelcomeSecret, ep.WelcomeSecret},
					{"init_secret", e.InitSecret, ep.InitSecret},
					{"sender_data_secret", e.SenderDataSecret, ep.SenderDataSecret},
					{"encryption_secret", e.EncryptionSecret, ep.EncryptionSecret},
					{"exporter_secret", e.ExporterSecret, ep.ExporterSecret},
					{"epoch_authenticator", e.EpochAuthenticator, ep.EpochAuthenticator},
					{"external_secret", e.ExternalSecret, ep.ExternalSecret},
					{"confirmation_key", e.ConfirmationKey, ep.ConfirmationKey},
					{"membership_key", e.MembershipKey, ep.MembershipKey},
					{"resumption_psk", e.ResumptionPSK, ep.ResumptionPSK},
				} {
					assert.Equal(t, c.want, c.got, "epoch %d %s", n, c.name)
				}
				ext, err := e.ExternalKey()
				require.NoError(t, err)
				assert.Equal(t, []byte(ep.ExternalPub), ext.Public(), "epoch %d external_pub", n)

				x := ep.Exporter
				got, err := e.Export(x.Label, x.Context, x.Length)
				require.NoError(t, err)
				assert.Equal(t, []byte(x.Secret), got, "epoch %d exporter", n)

				j, err := cs.FromJoinerSecret(e.JoinerSecret, ep.PSKSecret, ctx)
				require.NoError(t, err)
				assert.Equal(t, e, j, "epoch %d from the joiner secret", n)

				init = e.InitSecret
				epochs++
			}
		})
	}
	t.Logf("%d vectors, %d epochs", len(vectors), epochs)
}

// TestTranscriptHashesVectors checks every vector of
// transcript-hashes.json: the commit's confirmation tag under the
// confirmation key, and both transcript hashes after it.
func TestTranscriptHashesVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite                  mls.CipherSuite `json:"cipher_suite"`
		ConfirmationKey              hexBytes        `json:"confirmation_key"`
		AuthenticatedContent         hexBytes        `json:"authenticated_content"`
		InterimTranscriptHashBefore  hexBytes        `json:"interim_transcript_hash_before"`
		ConfirmedTranscriptHashAfter hexBytes        `json:"confirmed_transcript_hash_after"`
		InterimTranscriptHashAfter   hexBytes        `json:"interim_transcript_hash_after"`
	}
	loadVectors(t, "transcript-hashes.json", &vectors)
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(uint16(cs)), func(t *testing.T) {
			var ac mls.AuthenticatedContent
			require.NoError(t, ac.Unmarshal(v.AuthenticatedContent))
			require.Equal(t, mls.ContentCommit, ac.Content.ContentType)

			e := &mls.EpochSecrets{Suite: cs, ConfirmationKey: v.ConfirmationKey}
			assert.NoError(t, e.VerifyConfirmationTag(v.ConfirmedTranscriptHashAfter, ac.Auth.ConfirmationTag))
			assert.ErrorIs(t, e.VerifyConfirmationTag(v.InterimTranscriptHashBefore, ac.Auth.ConfirmationTag), mls.ErrBadMAC)

			confirmed, err := cs.ConfirmedTranscriptHash(v.InterimTranscriptHashBefore, &ac)
			require.NoError(t, err)
			assert.Equal(t, []byte(v.ConfirmedTranscriptHashAfter), confirmed)
			interim, err := cs.InterimTranscriptHash(confirmed, ac.Auth.ConfirmationTag)
			require.NoError(t, err)
			assert.Equal(t, []byte(v.InterimTranscriptHashAfter), interim)
		})
	}
	t.Logf("%d vectors", len(vectors))
}
