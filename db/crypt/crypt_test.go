package crypt_test

import (
	"bytes"
	"errors"
	"testing"

	"saathi/db/crypt"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, crypt.KeySize) }

func newKeyring(t *testing.T, current uint32, keys map[uint32][]byte) *crypt.Keyring {
	t.Helper()
	kr, err := crypt.NewKeyring(current, keys, testKey(9))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	kr := newKeyring(t, 1, map[uint32][]byte{1: testKey(1)})

	sealed := kr.SealString(crypt.SurvivorPhone, "+919876543210")
	if bytes.Contains(sealed, []byte("9876543210")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := kr.OpenString(crypt.SurvivorPhone, sealed)
	if err != nil || got != "+919876543210" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := kr.SealString(crypt.SurvivorPhone, "+919876543210"); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are identical: nonce reused")
	}
	if id, ok := crypt.KeyID(sealed); !ok || id != 1 {
		t.Errorf("KeyID = %d, %v; want 1, true", id, ok)
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	kr := newKeyring(t, 1, map[uint32][]byte{1: testKey(1)})
	sealed := kr.SealString(crypt.SurvivorDuress, "mango")

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	other := newKeyring(t, 2, map[uint32][]byte{2: testKey(2)})

	tests := []struct {
		name    string
		kr      *crypt.Keyring
		purpose crypt.Purpose
		value   []byte
	}{
		{"wrong purpose", kr, crypt.SurvivorReference, sealed},
		{"tampered", kr, crypt.SurvivorDuress, tampered},
		{"unknown key id", other, crypt.SurvivorDuress, sealed},
		{"too short", kr, crypt.SurvivorDuress, sealed[:10]},
		{"empty", kr, crypt.SurvivorDuress, nil},
		{"bad version", kr, crypt.SurvivorDuress, append([]byte{7}, sealed[1:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.kr.Open(tt.purpose, tt.value); !errors.Is(err, crypt.ErrDecrypt) {
				t.Errorf("Open err = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old := newKeyring(t, 1, map[uint32][]byte{1: testKey(1)})
	sealedOld := old.SealString(crypt.StaffName, "Asha")

	rotated := newKeyring(t, 2, map[uint32][]byte{1: testKey(1), 2: testKey(2)})
	if got, err := rotated.OpenString(crypt.StaffName, sealedOld); err != nil || got != "Asha" {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	sealedNew := rotated.SealString(crypt.StaffName, "Asha")
	if id, _ := crypt.KeyID(sealedNew); id != 2 {
		t.Errorf("new value sealed with key %d, want 2", id)
	}
	if !bytes.Equal(old.BlindIndex("+919876543210"), rotated.BlindIndex("+919876543210")) {
		t.Error("blind index changed with the encryption key; phone lookups would break")
	}
}

func TestBlindIndex(t *testing.T) {
	t.Parallel()
	kr := newKeyring(t, 1, map[uint32][]byte{1: testKey(1)})
	a, b := kr.BlindIndex("+919876543210"), kr.BlindIndex("+919876543211")
	if bytes.Equal(a, b) {
		t.Error("different numbers share an index")
	}
	if !bytes.Equal(a, kr.BlindIndex("+919876543210")) {
		t.Error("index is not deterministic")
	}
	otherSecret, err := crypt.NewKeyring(1, map[uint32][]byte{1: testKey(1)}, testKey(8))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, otherSecret.BlindIndex("+919876543210")) {
		t.Error("index does not depend on the secret")
	}
}

func TestNewKeyringErrors(t *testing.T) {
	t.Parallel()
	if _, err := crypt.NewKeyring(3, map[uint32][]byte{1: testKey(1)}, testKey(9)); err == nil {
		t.Error("missing current key accepted")
	}
	if _, err := crypt.NewKeyring(1, map[uint32][]byte{1: testKey(1)[:16]}, testKey(9)); err == nil {
		t.Error("16-byte key accepted")
	}
	if _, err := crypt.NewKeyring(1, map[uint32][]byte{1: testKey(1)}, []byte("short")); err == nil {
		t.Error("short index secret accepted")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	k, err := crypt.ParseKey(crypt.NewKey())
	if err != nil || len(k) != crypt.KeySize {
		t.Fatalf("ParseKey(NewKey()) = %d bytes, %v", len(k), err)
	}
	for _, bad := range []string{"", "not base64!!", "c2hvcnQ="} {
		if _, err := crypt.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}
