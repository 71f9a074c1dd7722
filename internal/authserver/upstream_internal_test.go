package authserver

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// TestLocalUserNames: an account's name comes from its verified email,
// else its preferred user name; an unverified email is never used (it
// could imitate anyone's); when names are taken a number is added, and
// past a few numbers a digest of issuer and subject, so that accounts
// choosing one name at the provider cannot use up the names of a person
// (before, the fifty-first was refused a sign-in for good). The same
// account keeps its name.
func TestLocalUserNames(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "oauth.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &site{log: slog.New(slog.DiscardHandler), now: time.Now}
	ctx := context.Background()
	const idp = "https://id.example.com"
	name := func(a account) string {
		t.Helper()
		n, err := s.localUser(ctx, db, a)
		if err != nil {
			t.Fatalf("localUser(%+v): %v", a, err)
		}
		return n
	}
	if got := name(account{issuer: idp, subject: "1", email: "Ann@Example.com", emailVerified: true, preferredUsername: "annie"}); got != "ann@example.com" {
		t.Errorf("a verified email: name %q, want ann@example.com", got)
	}
	if got := name(account{issuer: idp, subject: "2", email: "ann@example.com", preferredUsername: "bob"}); got != "bob" {
		t.Errorf("an unverified email: name %q, want the preferred user name bob", got)
	}
	seen := map[string]bool{}
	for i := range 12 {
		got := name(account{issuer: idp, subject: "sam-" + string(rune('a'+i)), preferredUsername: "sam"})
		if seen[got] {
			t.Fatalf("two accounts named %q", got)
		}
		seen[got] = true
		switch {
		case i == 0 && got != "sam", i > 0 && i < numberedNames && got != "sam-"+string(rune('1'+i)):
			t.Errorf("account %d named %q", i, got)
		case i >= numberedNames && (!strings.HasPrefix(got, "sam-") || len(got) != len("sam-")+8):
			t.Errorf("account %d named %q, want sam- and a digest", i, got)
		}
	}
	if got := name(account{issuer: idp, subject: "sam-k", preferredUsername: "someone-else"}); !seen[got] || !strings.HasPrefix(got, "sam-") {
		t.Errorf("the same account signing in again got %q, a new name", got)
	}
}
