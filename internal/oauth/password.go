package oauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters for new password hashes.
// Stored hashes carry their own parameters, so changing these affects only
// hashes made afterwards (and a hash made with other parameters is
// upgraded at the next successful sign-in).
type PasswordParams struct {
	// Time is the number of passes over memory.
	Time uint32
	// MemoryKiB is the memory used, in KiB.
	MemoryKiB uint32
	// Threads is the degree of parallelism.
	Threads uint8
}

// DefaultPasswordParams is the second recommended option of RFC 9106 §4
// (t=3, 64 MiB, p=4): costly to guess against, about 100 ms on a server.
var DefaultPasswordParams = PasswordParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// Password limits. The minimum keeps "1234" out; the maximum bounds the
// work a single sign-in request can cause.
const (
	MinPasswordLen = 8    // characters
	MaxPasswordLen = 1024 // bytes
)

const (
	saltLen = 16
	keyLen  = 32
)

var b64 = base64.RawStdEncoding

// HashPassword returns the PHC string of password under p:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>, with a fresh random salt.
func HashPassword(password string, p PasswordParams) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// errBadHash means a stored hash could not be parsed.
var errBadHash = errors.New("oauth: stored password hash is not an argon2id PHC string")

// Bounds on the parameters a stored hash may name, so a corrupted or
// planted row cannot make one sign-in allocate gigabytes or spin for
// minutes.
const (
	maxHashMemoryKiB = 1 << 20 // 1 GiB
	maxHashTime      = 64
)

// parseHash reads a PHC string made by HashPassword.
func parseHash(encoded string) (p PasswordParams, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errBadHash
	}
	var m, t, threads uint64
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, errBadHash
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, errBadHash
		}
		switch k {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			threads = n
		default:
			return p, nil, nil, errBadHash
		}
	}
	if m < 8 || m > maxHashMemoryKiB || t < 1 || t > maxHashTime || threads < 1 || threads > 255 {
		return p, nil, nil, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return p, nil, nil, errBadHash
	}
	return PasswordParams{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(threads)}, salt, key, nil
}

// CheckPassword reports whether password matches encoded, comparing in
// constant time, and whether the hash should be remade because its
// parameters differ from want. It costs what the hash's own parameters
// say (bounded, so a planted row cannot exhaust the machine); callers
// that check passwords for the network bound how many run at once.
func CheckPassword(encoded, password string, want PasswordParams) (ok, rehash bool, err error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != want || len(salt) != saltLen || len(key) != keyLen, nil
}

// ValidatePassword checks a new password. Only length is required: rules
// about character classes make passwords harder to remember, not to guess
// (NIST SP 800-63B §3.1.1.2).
func ValidatePassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errdefs.Invalid("password", "is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return errdefs.Invalid("password", "must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return errdefs.Invalid("password", "must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}
