// Package crypt seals personal data for storage and computes the blind
// index used to find a survivor by phone number without storing the number.
//
// A sealed value is
//
//	version(1) | key ID(4, big endian) | nonce(12) | AES-256-GCM ciphertext+tag
//
// The key ID makes rotation possible: new values are sealed with the current
// key, and values sealed with a retired key still open as long as that key
// is in the Keyring. Each value is bound to its column through the GCM
// additional data (a Purpose), so a ciphertext copied into another column
// does not open.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size of an encryption key: AES-256.
const KeySize = 32

const (
	formatVersion = 1
	headerSize    = 1 + 4
	nonceSize     = 12
)

// Purpose names the column a value belongs to; it is authenticated with the
// ciphertext.
type Purpose string

// Purposes of sealed values.
const (
	SurvivorPhone      Purpose = "survivors.phone"
	SurvivorReference  Purpose = "survivors.reference"
	SurvivorDuress     Purpose = "survivors.duress"
	SurvivorDuressCode Purpose = "survivors.duress_code"
	StaffName          Purpose = "staff.name"
	StaffPhone         Purpose = "staff.phone"
	StaffUsername      Purpose = "staff.username"
	MessagePeer        Purpose = "messages.peer"
	MessageBody        Purpose = "messages.body"
	ResponseEvidence   Purpose = "responses.evidence"
	AlertResolution    Purpose = "alerts.resolution"
	OutboxTo           Purpose = "dev_outbox.to"
	OutboxBody         Purpose = "dev_outbox.body"
	ConsentNote        Purpose = "consent_records.note"
	// SpoolLine seals one line of the inbound spool file (a webhook that
	// arrived while the database was down).
	SpoolLine Purpose = "spool.inbound"
)

// ErrDecrypt is returned when a value cannot be opened: unknown key ID,
// tampered data, or the wrong purpose.
var ErrDecrypt = errors.New("crypt: cannot decrypt value")

// Keyring holds the current key, any retired keys still needed to read old
// values, and the blind-index key.
type Keyring struct {
	currentID uint32
	aeads     map[uint32]cipher.AEAD
	indexKey  []byte
}

// NewKeyring builds a keyring whose current key is keys[currentID]. The
// blind-index key is derived from indexSecret with HKDF; it must stay the
// same across encryption-key rotations (otherwise stored phone hashes no
// longer match), which is why it is a separate input.
func NewKeyring(currentID uint32, keys map[uint32][]byte, indexSecret []byte) (*Keyring, error) {
	if _, ok := keys[currentID]; !ok {
		return nil, fmt.Errorf("crypt: no key with the current ID %d", currentID)
	}
	if len(indexSecret) < KeySize {
		return nil, fmt.Errorf("crypt: blind-index secret must be at least %d bytes", KeySize)
	}
	kr := &Keyring{currentID: currentID, aeads: make(map[uint32]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("crypt: key %d is %d bytes, want %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("crypt: key %d: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("crypt: key %d: %w", id, err)
		}
		kr.aeads[id] = aead
	}
	indexKey, err := hkdf.Key(sha256.New, indexSecret, nil, "saathi blind index v1", KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypt: derive blind-index key: %w", err)
	}
	kr.indexKey = indexKey
	return kr, nil
}

// ParseKey decodes a base64 (standard or URL, padded or not) 32-byte key.
func ParseKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("is not base64")
}

// NewKey returns a fresh random key, base64 encoded.
func NewKey() string {
	key := make([]byte, KeySize)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// Seal encrypts plaintext for the given purpose with the current key.
func (k *Keyring) Seal(p Purpose, plaintext []byte) []byte {
	aead := k.aeads[k.currentID]
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = formatVersion
	binary.BigEndian.PutUint32(out[1:headerSize], k.currentID)
	nonce := out[headerSize : headerSize+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		panic("crypt: no randomness: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return aead.Seal(out, nonce, plaintext, []byte(p))
}

// SealString is Seal for text.
func (k *Keyring) SealString(p Purpose, s string) []byte { return k.Seal(p, []byte(s)) }

// Open decrypts a value sealed for purpose p.
func (k *Keyring) Open(p Purpose, sealed []byte) ([]byte, error) {
	if len(sealed) < headerSize+nonceSize || sealed[0] != formatVersion {
		return nil, ErrDecrypt
	}
	aead, ok := k.aeads[binary.BigEndian.Uint32(sealed[1:headerSize])]
	if !ok {
		return nil, ErrDecrypt
	}
	nonce := sealed[headerSize : headerSize+nonceSize]
	plain, err := aead.Open(nil, nonce, sealed[headerSize+nonceSize:], []byte(p))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// OpenString is Open for text.
func (k *Keyring) OpenString(p Purpose, sealed []byte) (string, error) {
	b, err := k.Open(p, sealed)
	return string(b), err
}

// KeyID reports which key sealed a value (for re-encryption after a rotation).
func KeyID(sealed []byte) (uint32, bool) {
	if len(sealed) < headerSize || sealed[0] != formatVersion {
		return 0, false
	}
	return binary.BigEndian.Uint32(sealed[1:headerSize]), true
}

// BlindIndex returns the keyed hash of a normalised value (an E.164 phone
// number) used for equality lookups. The same input always gives the same
// index; without the key it cannot be reversed by trying every number.
func (k *Keyring) BlindIndex(normalized string) []byte {
	mac := hmac.New(sha256.New, k.indexKey)
	mac.Write([]byte(normalized))
	return mac.Sum(nil)
}
