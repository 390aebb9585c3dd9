package handlers

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"saathi/db/crypt"
)

// MinPasswordLength is the shortest password staff may set: long beats
// clever, and a passphrase of a few words is easy to type on a phone.
const MinPasswordLength = 12

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,39}$`)

// parseUsername checks a username: 3 to 40 letters, digits, dots,
// hyphens or underscores, starting with a letter or digit. It is
// case-insensitive: stored and compared in lower case.
func parseUsername(s string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(s))
	if !usernamePattern.MatchString(u) {
		return "", invalid("username", "3 to 40 characters: letters, digits, dots, hyphens or underscores")
	}
	return u, nil
}

// UsernameIndex is the keyed hash a username is found by: usernames name
// people, so only the hash and a sealed copy are stored.
func UsernameIndex(kr *crypt.Keyring, username string) []byte {
	return kr.BlindIndex("username:" + strings.ToLower(username))
}

// HashPassword checks a new password's length and hashes it with argon2id.
func HashPassword(password string) (string, error) {
	if n := utf8.RuneCountInString(password); n < MinPasswordLength || n > 256 {
		return "", invalid("password", "must be %d to 256 characters", MinPasswordLength)
	}
	return argon2id.CreateHash(password, argon2id.DefaultParams)
}

// dummyHash is compared against when a username is unknown, so a failed
// sign-in takes as long whether the account exists or not.
var dummyHash = sync.OnceValue(func() string {
	h, err := argon2id.CreateHash("a password nobody has", argon2id.DefaultParams)
	if err != nil {
		panic(err) // only if crypto/rand fails
	}
	return h
})

// checkPassword compares a password with a stored hash in constant time
// (argon2id compares with subtle.ConstantTimeCompare); an empty hash
// (no password set) never matches, after the same work.
func checkPassword(password string, hash *string) bool {
	h := dummyHash()
	if hash != nil && *hash != "" {
		h = *hash
	}
	ok, err := argon2id.ComparePasswordAndHash(password, h)
	return err == nil && ok && hash != nil && *hash != ""
}
