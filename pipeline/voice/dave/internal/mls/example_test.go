package mls_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// Example derives DAVE's sender base secret of a user from the secrets of
// an epoch, once as the committer does (from the previous init secret and
// the commit secret) and once as a member joining by a Welcome does (from
// the joiner secret the Welcome carries): both get the same key.
func Example() {
	cs := mls.P256AES128GCMSHA256P256
	ctx := &mls.GroupContext{
		Version:     mls.MLS10,
		CipherSuite: cs,
		GroupID:     binary.BigEndian.AppendUint64(nil, 927310423890473011), // the channel id
		Epoch:       1,
		TreeHash:    make([]byte, 32),
		// The confirmed transcript hash after the commit; zeros here.
		ConfirmedTranscriptHash: make([]byte, 32),
	}
	initSecret := bytes.Repeat([]byte{1}, 32) // the previous epoch's
	committer, err := cs.KeySchedule(initSecret, nil, nil, ctx)
	if err != nil {
		panic(err)
	}
	joiner, err := cs.FromJoinerSecret(committer.JoinerSecret, nil, ctx)
	if err != nil {
		panic(err)
	}

	user := binary.LittleEndian.AppendUint64(nil, 158533742254751744)
	a, err := committer.Export("Discord Secure Frames v0", user, 16)
	if err != nil {
		panic(err)
	}
	b, err := joiner.Export("Discord Secure Frames v0", user, 16)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(a), bytes.Equal(a, b))
	// Output: 16 true
}
