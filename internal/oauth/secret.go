package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
)

// Prefixes of the secrets the authorization server hands out. They differ
// from API keys (m2c_) and from each other, so a secret scanner can tell
// what leaked, and the resource server can decline anything that is not
// an access token without a database lookup. Session ids and CSRF tokens,
// which never leave the browser's cookies, have no prefix.
const (
	PrefixAccessToken  = "m2ca_"
	PrefixRefreshToken = "m2cr_"
	PrefixCode         = "m2cc_"
	PrefixClientSecret = "m2cs_"
)

// secretBytes is the entropy of every secret: 256 bits.
const secretBytes = 32

// secretTextLen is the length of the random part of a secret in encoding.
const secretTextLen = 52

// encoding is lower-case base32 without padding, as API keys use: one case,
// nothing a URL, form or shell needs to escape, and no '_' to blur the
// prefix.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomText returns n random bytes from crypto/rand in encoding.
// crypto/rand.Read never fails (it crashes the program rather than return
// weak bytes), so there is no error to handle.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return encoding.EncodeToString(b)
}

// NewSecret returns prefix followed by 256 random bits in text: tokens,
// codes, client secrets, and (with no prefix) session ids and CSRF
// tokens.
func NewSecret(prefix string) string { return prefix + randomText(secretBytes) }

// NewID returns a 128-bit random identifier (26 characters): client ids
// and family ids, which are not secret but must not collide.
func NewID() string { return randomText(16) }

// HashSecret is SHA-256 of the whole secret text: what stores keep and
// look secrets up by. A fast hash is right for 256-bit random secrets: no
// guessing rate makes brute force feasible, and a slow hash would only
// cost CPU on every request. Passwords, which are guessable, use argon2id
// instead (password.go).
func HashSecret(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// WellFormed reports whether s is prefix followed by a random part of the
// length and alphabet NewSecret makes. It does no I/O: checked first, it
// keeps garbage from ever reaching the store.
func WellFormed(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != secretTextLen {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// equalHash compares two hashes in constant time.
func equalHash(a, b []byte) bool { return len(a) > 0 && subtle.ConstantTimeCompare(a, b) == 1 }
