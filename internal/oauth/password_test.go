package oauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

func TestPasswordHash(t *testing.T) {
	h := oauth.HashPassword("correct horse", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("HashPassword = %q, want a PHC string with the given costs", h)
	}
	if h2 := oauth.HashPassword("correct horse", cheap); h2 == h {
		t.Errorf("two hashes of one password are equal: the salt is not fresh")
	}
	for _, c := range []struct {
		password   string
		want       oauth.PasswordParams
		ok, rehash bool
	}{
		{"correct horse", cheap, true, false},
		{"correct horsE", cheap, false, false},
		// Other costs configured since: a match asks to be hashed again.
		{"correct horse", oauth.PasswordParams{Time: 2, MemoryKiB: 1024, Threads: 1}, true, true},
	} {
		ok, rehash, err := oauth.CheckPassword(h, c.password, c.want)
		if ok != c.ok || rehash != c.rehash || err != nil {
			t.Errorf("CheckPassword(%q, %+v) = %v, %v, %v; want %v, %v", c.password, c.want, ok, rehash, err, c.ok, c.rehash)
		}
	}
}

// TestPasswordHashRefused: a stored hash that is not ours, or that names
// costs no sign-in may spend, is an error, not a mismatch and not work.
func TestPasswordHashRefused(t *testing.T) {
	for _, h := range []string{
		"",
		"plain text",
		"$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5", // 4 GiB
		"$argon2id$v=19$m=1024,t=1000,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1,x=2$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=1024,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if ok, _, err := oauth.CheckPassword(h, "x", cheap); ok || err == nil {
			t.Errorf("CheckPassword(%q) = %v, %v; want an error", h, ok, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	for _, c := range []struct {
		pw string
		ok bool
	}{
		{"12345678", true},
		{"1234567", false},
		{"ééééééé", false}, // 7 characters, 14 bytes: characters count
		{"éééééééé", true}, // 8 characters
		{"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", false},
		{strings.Repeat("a", oauth.MaxPasswordLen), true},
		{strings.Repeat("a", oauth.MaxPasswordLen+1), false},
	} {
		err := oauth.ValidatePassword(c.pw)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, errdefs.ErrInvalid)) {
			t.Errorf("ValidatePassword(%.20q) = %v, want ok %v (or ErrInvalid)", c.pw, err, c.ok)
		}
	}
}
