// Package mls implements the part of Messaging Layer Security (RFC 9420)
// that Discord's DAVE protocol uses, in pure Go on the standard library's
// cryptography.
//
// Implemented:
//
//   - the TLS presentation language of section 2.1 (variable-length
//     integers with minimal encoding enforced, vectors, optionals), for
//     every structure below, each with Marshal and Unmarshal; decoding is
//     bounded (a length is checked against the bytes left before anything
//     is read) and its errors name the field;
//   - tree math (section 4, appendix C);
//   - the cryptographic objects of section 5 for cipher suites 1
//     (X25519, Ed25519) and 2 (P-256, ECDSA, the suite of DAVE): RefHash,
//     ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel,
//     VerifyWithLabel, EncryptWithLabel, DecryptWithLabel, KeyPackageRef and
//     ProposalRef;
//   - the wire structures: KeyPackage, LeafNode, ParentNode, Credential,
//     the proposals (all seven types), Commit, UpdatePath, FramedContent,
//     AuthenticatedContent, PublicMessage, PrivateMessage, GroupInfo,
//     GroupSecrets, Welcome, MLSMessage;
//   - the key schedule of section 8 with the exporter, and the
//     transcript hashes of section 8.2;
//   - the ratchet tree of section 7: tree and parent hashes, resolution,
//     filtered direct paths, validation of a tree on joining, Add, Update
//     and Remove;
//   - TreeKEM (sections 7.4 to 7.6): creating an UpdatePath and merging
//     and decrypting a received one;
//   - creating and opening a Welcome (section 12.4.3.1);
//   - the secret tree of section 9: the tree secrets, each leaf's
//     handshake and application ratchets, and the sender data key and
//     nonce; a ratchet gives each generation's key once, keeps a bounded
//     number of skipped keys for late messages and refuses a generation
//     too far ahead;
//   - message protection (sections 6.1 to 6.3), by a Protector of one
//     epoch: PublicMessage (signature over the FramedContentTBS,
//     membership tag) and PrivateMessage (content encrypted with the
//     secret tree's keys and a reuse guard, zero padding checked, sender
//     data encrypted under the key and nonce of the ciphertext's sample),
//     both ways; a PrivateMessage that fails leaves the ratchets as they
//     were;
//   - pre-shared keys (section 8.4): the psk_secret of a list of PSKs,
//     and a PSKStore of external PSKs and of the latest epochs'
//     resumption PSKs (a bounded number), which checks the PSKs a commit
//     or a Welcome names and derives their secret (Welcome.OpenWithPSKs).
//
// What the DAVE layer calls, in order of a session:
//
//   - CipherSuite P256AES128GCMSHA256P256; GenerateSigningKey and
//     GenerateHPKEKey for the key package's keys; KeyPackage.Sign and
//     Marshal for op 26 (a bare KeyPackage);
//   - UnmarshalExternalSenders (op 25 wrapped as a one-entry vector) and
//     MarshalExternalSenders for the group context extension;
//   - MLSMessage.Unmarshal for the proposals of op 27, then
//     AuthenticatedContent.Verify with the external sender's key and
//     AuthenticatedContent.Ref to match revokes; KeyPackage.Verify on Adds;
//   - RatchetTree.AddLeaf and RemoveLeaf to apply proposals,
//     RatchetTree.CreateUpdatePath when a commit removes someone,
//     CipherSuite.ConfirmedTranscriptHash, KeySchedule,
//     EpochSecrets.ConfirmationTag, AuthenticatedContent.Sign and
//     PublicMessage.SetMembershipTag to build the commit, GroupInfo.Sign
//     and NewWelcome for the joiners;
//   - on the other side MergeUpdatePath, DecryptUpdatePath,
//     VerifyMembershipTag, Welcome.Open, RatchetTree.Validate,
//     FromJoinerSecret and VerifyConfirmationTag;
//   - EpochSecrets.Export("Discord Secure Frames v0", user id as 8 bytes
//     little endian, 16) for each sender's base secret, and
//     EpochSecrets.EpochAuthenticator for the displayable code.
//
// Gluing these into a group state machine (pending proposals, epoch
// transitions, the checks of RFC 9420 section 12.2 and DAVE's own) is
// that layer's work.
//
// Not implemented: the group state machine (creating and processing
// commits as a whole, proposal list validation), external commits, ReInit
// and branching (and so resumption PSKs of those usages), and credential
// validation beyond signatures (the application checks identities). DAVE
// needs none of these but the state machine, which is the next layer's
// work. Neither does it use the secret tree, PrivateMessages or
// pre-shared keys; they are here so that the subset passes every test
// vector of its parts, and the passive-client vectors that inject PSKs.
//
// Every part is checked against the MLS working group's published test
// vectors (repository testdata/mls), and the framing and signatures also
// against payloads captured from Discord's voice gateway.
package mls
