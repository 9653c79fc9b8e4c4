package dave_test

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// ExampleEncryptor encrypts a sender's Opus frame under the ratchet of its
// base secret and decrypts it on the receiving side, where the session
// gave a Decryptor the same sender's ratchet.
func ExampleEncryptor() {
	// The base secret comes from the MLS group's exporter, one per sender.
	base, _ := hex.DecodeString("cedd61b1b8a1ca69046554282cf70b7b")

	sendRatchet, err := dave.NewKeyRatchet(base)
	if err != nil {
		panic(err)
	}
	e := dave.NewEncryptor(sendRatchet)

	recvRatchet, err := dave.NewKeyRatchet(base)
	if err != nil {
		panic(err)
	}
	d := dave.NewDecryptor()
	d.TransitionToKeyRatchet(recvRatchet, dave.KeyExpiry)

	frame := []byte{0xfc, 0x01, 0x02, 0x03, 0x04, 0x05}
	enc, err := e.AppendEncrypt(nil, frame)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", enc)

	dec, err := d.AppendDecrypt(nil, enc)
	if err != nil {
		panic(err)
	}
	fmt.Println(bytes.Equal(dec, frame))

	_, err = d.AppendDecrypt(nil, enc)
	fmt.Println(err)
	// Output:
	// 2d24a9e84b85cf1ba2aa2a6ca739010cfafa
	// true
	// dave: replayed or too old frame: nonce 0x1 of generation 0
}
