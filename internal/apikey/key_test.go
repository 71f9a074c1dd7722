package apikey

import (
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var keyRE = regexp.MustCompile(`^m2c_[a-z2-7]{12}_[a-z2-7]{52}$`)

func TestGenerateFormatAndUniqueness(t *testing.T) {
	const n = 2000
	ids := make(map[string]bool, n)
	secrets := make(map[string]bool, n)
	for range n {
		plaintext, id, hash := generate()
		if !keyRE.MatchString(plaintext) {
			t.Fatalf("generate() = %q, want a key matching %s", plaintext, keyRE)
		}
		if len(plaintext) != KeyLen {
			t.Errorf("len(%q) = %d, want KeyLen = %d", plaintext, len(plaintext), KeyLen)
		}
		gotID, secret, ok := parse(plaintext)
		if !ok || gotID != id {
			t.Fatalf("parse(generate()) = %q, _, %v; want %q, _, true", gotID, ok, id)
		}
		want := sha256.Sum256([]byte(secret))
		if diff := cmp.Diff(want[:], hash); diff != "" {
			t.Errorf("hash is not SHA-256 of the secret (-want +got):\n%s", diff)
		}
		if ids[id] {
			t.Errorf("id %q generated twice", id)
		}
		if secrets[secret] {
			t.Errorf("secret generated twice")
		}
		ids[id], secrets[secret] = true, true
	}
}

// TestSecretEntropy checks that the secret text carries (at least) the
// 256 bits it claims: 52 base32 characters hold 260 bits, so the last
// character carries one random bit and four zero bits: 'a' or 'q'.
func TestSecretEntropy(t *testing.T) {
	seen := map[byte]bool{}
	firsts := map[byte]bool{}
	for range 500 {
		plaintext, _, _ := generate()
		_, secret, _ := parse(plaintext)
		seen[secret[len(secret)-1]] = true
		firsts[secret[0]] = true
	}
	for c := range seen {
		if c != 'a' && c != 'q' {
			t.Errorf("last secret character %q: want a or q (1 random bit, 4 zero bits)", c)
		}
	}
	if len(seen) != 2 {
		t.Errorf("last secret character took %d distinct values in 500 keys, want 2", len(seen))
	}
	if len(firsts) < 28 { // 32 possible; 500 draws miss more than 4 with negligible probability
		t.Errorf("first secret character took %d distinct values in 500 keys, want about 32", len(firsts))
	}
}

func TestParse(t *testing.T) {
	good, id, _ := generate()
	_, secret, _ := parse(good)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"generated", good, true},
		{"empty", "", false},
		{"prefix only", "m2c_", false},
		{"wrong prefix", "m3c_" + good[4:], false},
		{"upper-case prefix", "M2C_" + good[4:], false},
		{"upper-case id", "m2c_" + strings.ToUpper(id) + "_" + secret, false},
		{"upper-case secret", "m2c_" + id + "_" + strings.ToUpper(secret), false},
		{"missing separator", "m2c_" + id + secret + "a", false},
		{"separator moved", "m2c_" + id[:11] + "_" + id[11:] + secret, false},
		{"short secret", good[:len(good)-1], false},
		{"long secret", good + "a", false},
		{"digit outside base32", "m2c_" + id + "_" + secret[:51] + "1", false},
		{"padding", "m2c_" + id + "_" + secret[:51] + "=", false},
		{"trailing newline", good[:len(good)-1] + "\n", false},
		{"leading space", " " + good[1:], false},
		{"non-ASCII", "m2c_" + id + "_" + secret[:50] + "é", false},
		{"jwt-looking", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotID, gotSecret, ok := parse(tt.in)
			if ok != tt.ok {
				t.Fatalf("parse(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			if ok && (gotID != id || gotSecret != secret) {
				t.Errorf("parse(%q) = %q, %q; want %q, %q", tt.in, gotID, gotSecret, id, secret)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	for in, want := range map[string]bool{
		"abcdefgh2345":  true,
		"abcdefgh234":   false,
		"abcdefgh23456": false,
		"abcdefgh2341":  false,
		"ABCDEFGH2345":  false,
		"":              false,
	} {
		if got := ValidID(in); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", in, got, want)
		}
	}
}
