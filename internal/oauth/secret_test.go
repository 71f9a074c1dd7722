package oauth_test

import (
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

func TestSecrets(t *testing.T) {
	s := oauth.NewSecret(oauth.PrefixAccessToken)
	if !strings.HasPrefix(s, oauth.PrefixAccessToken) || !oauth.WellFormed(s, oauth.PrefixAccessToken) {
		t.Fatalf("NewSecret = %q, not well formed", s)
	}
	if oauth.NewSecret("") == oauth.NewSecret("") || oauth.NewID() == oauth.NewID() {
		t.Errorf("two random values are equal")
	}
	if id := oauth.NewID(); len(id) != 26 {
		t.Errorf("NewID = %q, want 26 characters (128 bits)", id)
	}
	if h := oauth.HashSecret(s); len(h) != 32 {
		t.Errorf("HashSecret: %d bytes, want SHA-256", len(h))
	}
	rest := strings.TrimPrefix(s, oauth.PrefixAccessToken)
	for _, c := range []struct {
		s, prefix string
		want      bool
	}{
		{s, oauth.PrefixAccessToken, true},
		{s, oauth.PrefixRefreshToken, false},
		{oauth.PrefixRefreshToken + rest, oauth.PrefixRefreshToken, true},
		{rest, "", true},
		{s + "a", oauth.PrefixAccessToken, false},
		{s[:len(s)-1], oauth.PrefixAccessToken, false},
		{s[:len(s)-1] + "1", oauth.PrefixAccessToken, false}, // 1 is not in the alphabet
		{strings.ToUpper(s), oauth.PrefixAccessToken, false},
		{"", "", false},
	} {
		if got := oauth.WellFormed(c.s, c.prefix); got != c.want {
			t.Errorf("WellFormed(%q, %q) = %v, want %v", c.s, c.prefix, got, c.want)
		}
	}
}

func TestClientSecretMatches(t *testing.T) {
	c := &oauth.Client{AuthMethod: oauth.AuthSecretBasic, SecretHash: oauth.HashSecret("m2cs_right")}
	if !c.SecretMatches("m2cs_right") || c.SecretMatches("m2cs_wrong") || c.SecretMatches("") {
		t.Errorf("SecretMatches does not tell the right secret from others")
	}
	pub := &oauth.Client{AuthMethod: oauth.AuthNone}
	if pub.SecretMatches("") || !pub.Public() {
		t.Errorf("a public client matched the empty secret, or is not Public")
	}
}

func TestClientAllows(t *testing.T) {
	c := &oauth.Client{GrantTypes: []string{oauth.GrantAuthorizationCode}}
	if !c.Allows(oauth.GrantAuthorizationCode) || c.Allows(oauth.GrantRefreshToken) {
		t.Errorf("Allows does not follow GrantTypes %v", c.GrantTypes)
	}
}

func TestValidUserName(t *testing.T) {
	for name, want := range map[string]bool{
		"ann": true, "a": true, "ann.b_c-d@x": true, "0day": true,
		strings.Repeat("a", oauth.MaxUserNameLen):   true,
		strings.Repeat("a", oauth.MaxUserNameLen+1): false,
		"": false, "Ann": false, ".ann": false, "@ann": false, "an n": false, "ann!": false, "änn": false,
	} {
		if got := oauth.ValidUserName(name); got != want {
			t.Errorf("ValidUserName(%q) = %v, want %v", name, got, want)
		}
	}
	if got := oauth.NormalizeUserName("  Ann\t"); got != "ann" {
		t.Errorf("NormalizeUserName = %q, want ann", got)
	}
}
