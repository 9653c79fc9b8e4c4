package mls

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
)

// Pre-shared keys of RFC 9420 section 8.4. The PSKs an epoch injects are
// chained into its psk_secret, which enters the key schedule beside the
// joiner secret:
//
//	psk_secret_[0]   = 0 (Nh bytes)
//	psk_extracted_[i] = KDF.Extract(0, psk_[i])
//	psk_input_[i]    = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, Nh)
//	psk_secret_[i+1] = KDF.Extract(psk_input_[i], psk_secret_[i])
//	PSKLabel         = {PreSharedKeyID id; uint16 index; uint16 count;}

// ResumptionUsage says what a resumption PSK is injected for.
type ResumptionUsage uint8

// Resumption PSK usages of RFC 9420 section 8.4.
const (
	// ResumptionApplication is a resumption PSK a commit injects from an
	// earlier epoch of the group.
	ResumptionApplication ResumptionUsage = 1
	// ResumptionReInit joins the group a ReInit proposal asks for.
	ResumptionReInit ResumptionUsage = 2
	// ResumptionBranch joins a subgroup branched from the group.
	ResumptionBranch ResumptionUsage = 3
)

// PSKSecret returns the psk_secret of the pre-shared keys ids, in that
// order, psks[i] being the key ids[i] names: Nh zero bytes for none.
func (cs CipherSuite) PSKSecret(ids []PreSharedKeyID, psks [][]byte) ([]byte, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	if len(ids) != len(psks) {
		return nil, fmt.Errorf("%w: %d pre-shared key ids for %d keys", ErrMalformed, len(ids), len(psks))
	}
	if len(ids) > 0xffff {
		return nil, fmt.Errorf("%w: %d pre-shared keys, more than a uint16 counts", ErrMalformed, len(ids))
	}
	secret := zeros()
	for i := range ids {
		extracted, err := cs.Extract(zeros(), psks[i])
		if err != nil {
			return nil, err
		}
		w := writer{}
		ids[i].encode(&w)
		w.u16(uint16(i))
		w.u16(uint16(len(ids)))
		if w.err != nil {
			return nil, w.err
		}
		input, err := cs.ExpandWithLabel(extracted, "derived psk", w.b, hashLen)
		if err != nil {
			return nil, err
		}
		if secret, err = cs.Extract(input, secret); err != nil {
			return nil, err
		}
	}
	return secret, nil
}

// resumptionPSK is the resumption PSK of one epoch of a group.
type resumptionPSK struct {
	groupID []byte
	epoch   uint64
	psk     []byte
}

// PSKStore holds the pre-shared keys a member can inject or be asked to:
// external PSKs, which the application gives by id, and the resumption
// PSKs of the latest epochs of its groups, which the member adds as each
// epoch starts; only the newest few are kept. A PSKStore is safe for
// concurrent use.
type PSKStore struct {
	keep int

	mu         sync.Mutex        // guards external and resumption
	external   map[string][]byte // by psk_id
	resumption []resumptionPSK   // oldest first, at most keep
}

// NewPSKStore returns an empty store that keeps the resumption PSKs of
// the keep latest epochs added (of all groups together).
func NewPSKStore(keep int) *PSKStore {
	if keep < 0 {
		panic(fmt.Sprintf("mls: NewPSKStore(%d): a negative count of epochs", keep))
	}
	return &PSKStore{keep: keep, external: map[string][]byte{}}
}

// AddExternal adds, or replaces, the external PSK whose psk_id is id.
func (s *PSKStore) AddExternal(id, psk []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.external[string(id)] = slices.Clone(psk)
}

// AddResumption adds, or replaces, the resumption PSK of epoch epoch of
// group groupID (EpochSecrets.ResumptionPSK), dropping the oldest kept
// beyond the store's bound.
func (s *PSKStore) AddResumption(groupID []byte, epoch uint64, psk []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resumption = slices.DeleteFunc(s.resumption, func(r resumptionPSK) bool {
		return r.epoch == epoch && bytes.Equal(r.groupID, groupID)
	})
	s.resumption = append(s.resumption, resumptionPSK{slices.Clone(groupID), epoch, slices.Clone(psk)})
	if n := len(s.resumption) - s.keep; n > 0 {
		s.resumption = slices.Delete(s.resumption, 0, n)
	}
}

// PSK returns the key id names, or an error wrapping ErrNotFound if the
// store does not hold it (an external PSK never added, the resumption PSK
// of an epoch not added or no longer kept).
func (s *PSKStore) PSK(id *PreSharedKeyID) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch id.Type {
	case PSKExternal:
		if psk, ok := s.external[string(id.ID)]; ok {
			return psk, nil
		}
		return nil, fmt.Errorf("%w: external PSK %x", ErrNotFound, id.ID)
	case PSKResumption:
		for _, r := range s.resumption {
			if r.epoch == id.Epoch && bytes.Equal(r.groupID, id.GroupID) {
				return r.psk, nil
			}
		}
		return nil, fmt.Errorf("%w: resumption PSK of epoch %d of group %x", ErrNotFound, id.Epoch, id.GroupID)
	default:
		return nil, fmt.Errorf("%w: PSK type %d", ErrMalformed, id.Type)
	}
}

// Secret checks the pre-shared keys ids as RFC 9420 section 12.2 asks of
// those a commit injects (a nonce of Nh bytes, a resumption PSK of usage
// application, no PreSharedKeyID twice) and returns their psk_secret,
// Nh zero bytes for none. It returns an error wrapping ErrNotFound for a
// PSK the store does not hold, ErrUnsupported for a resumption PSK of a
// ReInit or a branch, ErrMalformed for the rest.
func (s *PSKStore) Secret(cs CipherSuite, ids []PreSharedKeyID) ([]byte, error) {
	psks := make([][]byte, len(ids))
	seen := make([][]byte, 0, len(ids))
	for i := range ids {
		id := &ids[i]
		if len(id.Nonce) != hashLen {
			return nil, fmt.Errorf("%w: PSK %d: nonce of %d bytes, not %d", ErrMalformed, i, len(id.Nonce), hashLen)
		}
		if id.Type == PSKResumption && id.Usage != ResumptionApplication {
			return nil, fmt.Errorf("%w: PSK %d: resumption PSK of usage %d (ReInit and branching)", ErrUnsupported, i, id.Usage)
		}
		enc, err := marshal(id)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(seen, func(b []byte) bool { return bytes.Equal(b, enc) }) {
			return nil, fmt.Errorf("%w: PSK %d: the same PreSharedKeyID twice", ErrMalformed, i)
		}
		seen = append(seen, enc)
		if psks[i], err = s.PSK(id); err != nil {
			return nil, fmt.Errorf("PSK %d: %w", i, err)
		}
	}
	return cs.PSKSecret(ids, psks)
}
