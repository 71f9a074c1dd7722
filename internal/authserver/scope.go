package authserver

import (
	"fmt"
	"slices"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/authn"
)

// parseScope reads a scope parameter: space-separated (RFC 6749 §3.3),
// every value one this server supports. It returns the scopes without
// duplicates, narrowest first, or an error naming the first unknown one.
// An empty parameter yields nil.
func parseScope(s string) ([]string, error) {
	var out []string
	// Only the space is a separator in OAuth; other white space is part
	// of a (then unknown) scope value.
	for v := range strings.SplitSeq(s, " ") {
		if v == "" {
			continue
		}
		if !authn.ValidScope(v) {
			return nil, fmt.Errorf("the scope %q is not supported; use %s", truncate(v, 64), strings.Join(authn.AllScopes, " or "))
		}
		out = append(out, v)
	}
	return sortScopes(out), nil
}

// sortScopes orders known scopes narrowest first and drops duplicates.
func sortScopes(scopes []string) []string {
	out := slices.Clone(scopes)
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(authn.AllScopes, a) - slices.Index(authn.AllScopes, b)
	})
	return slices.Compact(out)
}

// covers reports whether granted includes every scope in wanted, directly
// or because a broader scope implies it.
func covers(granted, wanted []string) bool {
	p := &authn.Principal{Scopes: granted}
	for _, s := range wanted {
		if !p.Has(s) {
			return false
		}
	}
	return true
}

// union returns the scopes in a or b, narrowest first.
func union(a, b []string) []string { return sortScopes(append(slices.Clone(a), b...)) }

// scopeText joins scopes for a scope parameter or field.
func scopeText(scopes []string) string { return strings.Join(scopes, " ") }

// scopeWords describes each scope in plain words for the consent page.
var scopeWords = map[string]string{
	authn.ScopeRead:  "Read the blog's articles",
	authn.ScopeWrite: "Create, change and delete articles",
}

// truncate bounds untrusted text that goes into a message or log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
