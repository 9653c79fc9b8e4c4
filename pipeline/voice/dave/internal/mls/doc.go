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
//     AuthenticatedContent, PublicMessage (signature and membership tag),
//     PrivateMessage (as opaque ciphertext), GroupInfo, GroupSecrets,
//     Welcome, MLSMessage;
//   - the key schedule of section 8 with the exporter, and the
//     transcript hashes of section 8.2;
//   - the ratchet tree of section 7: tree and parent hashes, resolution,
//     filtered direct paths, validation of a tree on joining, Add, Update
//     and Remove;
//   - TreeKEM (sections 7.4 to 7.6): creating an UpdatePath and merging
//     and decrypting a received one;
//   - decrypting a Welcome (section 12.4.3.1).
//
// Not implemented: the group state machine (creating and processing
// commits as a whole, proposal list validation), PrivateMessage encryption
// and the secret tree of section 9, pre-shared keys other than none,
// external commits, ReInit and branching, and credential validation beyond
// signatures (the application checks identities). DAVE needs none of
// these but the state machine, which is the next layer's work.
//
// Every part is checked against the MLS working group's published test
// vectors (repository testdata/mls).
package mls
