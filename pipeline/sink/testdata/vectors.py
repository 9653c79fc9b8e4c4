#!/usr/bin/python3
# Computes the encrypted RTP test vectors in crypt_test.go with
# independent implementations (Debian: python3-cryptography for
# AES-256-GCM, python3-nacl (libsodium) for XChaCha20-Poly1305).
import struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as xchacha

key = bytes(range(32))
payload = bytes([0xfc, 0xff, 0xfe]) + b"opus frame"
cases = {
    "plain": (bytes.fromhex("807800010000 03c0 0000002a".replace(" ", "")), b""),
    "extension": (bytes.fromhex("90780002 00000780 0000002a bede0001".replace(" ", "")),
                  bytes.fromhex("10ff0000")),
}
counter = 7
for name, (ad, ext) in cases.items():
    nonce4 = struct.pack(">I", counter)
    plain = ext + payload
    gcm = ad + AESGCM(key).encrypt(nonce4 + bytes(8), plain, ad) + nonce4
    xc = ad + xchacha(plain, ad, nonce4 + bytes(20), key) + nonce4
    print(name, "aes256gcm", gcm.hex())
    print(name, "xchacha20poly1305", xc.hex())
