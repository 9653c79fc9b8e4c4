package dave

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// hexBytes is a byte string written in hex in the vectors' JSON.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

// passiveVector is an entry of the passive-client vectors of the MLS
// working group (test-vectors.md, "Passive Client"): a client joins by the
// Welcome, then processes each epoch's proposals and commit, and must
// reach each epoch authenticator.
type passiveVector struct {
	CipherSuite   mls.CipherSuite `json:"cipher_suite"`
	ExternalPSKs  []externalPSK   `json:"external_psks"`
	KeyPackage    hexBytes        `json:"key_package"`
	SignaturePriv hexBytes        `json:"signature_priv"`
	EncPriv       hexBytes        `json:"encryption_priv"`
	InitPriv      hexBytes        `json:"init_priv"`
	Welcome       hexBytes        `json:"welcome"`
	RatchetTree   *hexBytes       `json:"ratchet_tree"`
	InitialAuth   hexBytes        `json:"initial_epoch_authenticator"`
	Epochs        []struct {
		Proposals []hexBytes `json:"proposals"`
		Commit    hexBytes   `json:"commit"`
		Auth      hexBytes   `json:"epoch_authenticator"`
	} `json:"epochs"`
}

// runPassive plays a passive-client vector on the group state of the
// session. It returns an error wrapping ErrUnsupported, naming the
// feature, when the vector uses MLS outside DAVE's subset; any other
// error fails the vector.
func runPassive(v *passiveVector) error {
	cs := v.CipherSuite
	var kpm, wm mls.MLSMessage
	if err := kpm.Unmarshal(v.KeyPackage); err != nil {
		return err
	}
	if err := wm.Unmarshal(v.Welcome); err != nil {
		return err
	}
	sig, err := cs.NewSigningKey(v.SignaturePriv)
	if err != nil {
		return err
	}
	enc, err := cs.NewHPKEKey(v.EncPriv)
	if err != nil {
		return err
	}
	init, err := cs.NewHPKEKey(v.InitPriv)
	if err != nil {
		return err
	}
	var tree *mls.RatchetTree
	if v.RatchetTree != nil {
		tree = new(mls.RatchetTree)
		if err := tree.Unmarshal(*v.RatchetTree); err != nil {
			return err
		}
	}
	var g *group
	if len(v.ExternalPSKs) > 0 {
		// The group is given the vector's external PSKs and keeps its
		// epochs' resumption PSKs, for the Welcome and the commits that
		// inject them.
		psks := mls.NewPSKStore(resumptionEpochs)
		for _, p := range v.ExternalPSKs {
			psks.AddExternal(p.ID, p.PSK)
		}
		gs, gi, pskSecret, err := wm.Welcome.OpenWithPSKs(kpm.KeyPackage, init, psks)
		if err != nil {
			return fmt.Errorf("welcome: %w", err)
		}
		if g, err = joinOpened(cs, gs, gi, pskSecret, kpm.KeyPackage, enc, sig, tree); err != nil {
			return fmt.Errorf("welcome: %w", err)
		}
		g.psks = psks
		psks.AddResumption(g.ctx.GroupID, g.epoch(), g.secrets.ResumptionPSK)
	} else if g, err = joinGroup(wm.Welcome, kpm.KeyPackage, init, enc, sig, tree); err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	if !slices.Equal(g.secrets.EpochAuthenticator, v.InitialAuth) {
		return fmt.Errorf("epoch %d: authenticator %x, want %x", g.epoch(), g.secrets.EpochAuthenticator, []byte(v.InitialAuth))
	}
	for i, e := range v.Epochs {
		var cache []*cachedProposal
		for _, pb := range e.Proposals {
			var m mls.MLSMessage
			if err := m.Unmarshal(pb); err != nil {
				return err
			}
			if m.WireFormat == mls.WireFormatPrivateMessage {
				return fmt.Errorf("%w: proposal in a PrivateMessage", ErrUnsupported)
			}
			cp, err := g.verifyProposal(m.PublicMessage)
			if err != nil {
				return fmt.Errorf("epoch %d: proposal: %w", g.epoch(), err)
			}
			cache = append(cache, cp)
		}
		var m mls.MLSMessage
		if err := m.Unmarshal(e.Commit); err != nil {
			return err
		}
		if m.WireFormat == mls.WireFormatPrivateMessage {
			return fmt.Errorf("%w: commit in a PrivateMessage", ErrUnsupported)
		}
		next, _, err := g.processCommit(m.PublicMessage, cache)
		if err != nil {
			return fmt.Errorf("commit %d of epoch %d: %w", i, g.epoch(), err)
		}
		g = next
		if !slices.Equal(g.secrets.EpochAuthenticator, e.Auth) {
			return fmt.Errorf("epoch %d: authenticator %x, want %x", g.epoch(), g.secrets.EpochAuthenticator, []byte(e.Auth))
		}
	}
	return nil
}

// resumptionEpochs is how many epochs' resumption PSKs the group of a
// passive-client vector keeps.
const resumptionEpochs = 4

// externalPSK is an external pre-shared key of a passive-client vector.
type externalPSK struct {
	ID  hexBytes `json:"psk_id"`
	PSK hexBytes `json:"psk"`
}

// TestPassiveClientVectors plays the passive-client vectors
// (passive-client-welcome.json, passive-client-handling-commit.json) on
// the group state machine: join by the Welcome, then every epoch's
// proposals and commit, checking the epoch authenticator at each epoch.
// A vector that used MLS outside the group's subset would be counted by
// reason and reported as skipped; none does (pre-shared keys, external
// and resumption, included), so every vector must pass.
func TestPassiveClientVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "mls")
	for _, file := range []string{"passive-client-welcome.json", "passive-client-handling-commit.json"} {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, file))
			require.NoError(t, err)
			var vectors []passiveVector
			require.NoError(t, json.Unmarshal(b, &vectors))
			require.NotEmpty(t, vectors)
			passed, epochs := 0, 0
			skipped := map[string]int{}
			for i := range vectors {
				v := &vectors[i]
				err := runPassive(v)
				switch {
				case err == nil:
					passed++
					epochs += len(v.Epochs)
				case errors.Is(err, ErrUnsupported):
					reason := err.Error()
					reason = reason[strings.Index(reason, ErrUnsupported.Error()):]
					skipped[reason]++
				default:
					t.Errorf("vector %d (suite %d, %d epochs): %v", i, v.CipherSuite, len(v.Epochs), err)
				}
			}
			t.Logf("%s: %d of %d vectors pass (%d epochs); skipped: %v", file, passed, len(vectors), epochs, skipped)
			assert.Equal(t, len(vectors), passed, "vectors passing; skipped: %v", skipped)
		})
	}
}
