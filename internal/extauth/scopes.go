package extauth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/authn"
)

// ScopeMap says how an external provider's tokens grant this server's
// scopes (articles:read, articles:write).
type ScopeMap struct {
	// Names maps one of our scopes to the name it has at the provider,
	// which clients request and tokens carry in scope or scp. A scope not
	// in Names has its own name there. When the name is an api:// URI
	// with a path (api://blog/articles.read, as Entra ID names an API's
	// scopes), a token may carry just its last segment (articles.read),
	// as Entra ID's tokens do; no two scopes may then share a segment.
	Names map[string]string
	// RolesClaim, when set, names a claim (a dotted path into nested
	// objects: realm_access.roles) whose values grant scopes through
	// Roles, for providers that say what a person may do with roles or
	// groups rather than scopes.
	RolesClaim string
	Roles      map[string]string // a value of RolesClaim → one of our scopes
}

// Name is the provider's name of our scope s.
func (m ScopeMap) Name(s string) string {
	if n, ok := m.Names[s]; ok {
		return n
	}
	return s
}

func (m ScopeMap) check() error {
	for ours, theirs := range m.Names {
		if !authn.ValidScope(ours) {
			return fmt.Errorf("scope %q is not one of this server's (%s)", ours, strings.Join(authn.AllScopes, ", "))
		}
		if theirs == "" || strings.ContainsAny(theirs, " \"\\") {
			return fmt.Errorf("the provider's name for %s, %q, is not a scope name", ours, theirs)
		}
	}
	for role, ours := range m.Roles {
		if !authn.ValidScope(ours) {
			return fmt.Errorf("role %q grants %q, which is not one of this server's scopes (%s)", role, ours, strings.Join(authn.AllScopes, ", "))
		}
	}
	if len(m.Roles) > 0 && m.RolesClaim == "" {
		return fmt.Errorf("roles map to scopes, but no claim is named to read them from")
	}
	// Every name a token may carry must mean one scope: a read scope and
	// a write scope both called access_as_user (in two APIs) would let
	// either grant write.
	seen := map[string]string{}
	for _, s := range authn.AllScopes {
		for _, n := range m.carried(s) {
			if other, ok := seen[n]; ok && other != s {
				return fmt.Errorf("the provider's names of %s and %s both read %q in a token; give them names that differ", other, s, n)
			}
			seen[n] = s
		}
	}
	return nil
}

// carried lists the names a token may carry for our scope s: its name
// at the provider, and for an api:// name its last segment.
func (m ScopeMap) carried(s string) []string {
	n := m.Name(s)
	out := []string{n}
	if rest, ok := strings.CutPrefix(n, "api://"); ok {
		if j := strings.LastIndexByte(rest, '/'); j >= 0 && j < len(rest)-1 {
			out = append(out, rest[j+1:])
		}
	}
	return out
}

// inverse maps each name a token may carry to our scope.
func (m ScopeMap) inverse() map[string]string {
	inv := map[string]string{}
	for _, s := range authn.AllScopes {
		for _, n := range m.carried(s) {
			inv[n] = s
		}
	}
	return inv
}

// scopesOf turns a token's scope values and role values into our scopes,
// deduplicated in the order of authn.AllScopes. Values that name nothing
// of ours are ignored: a provider's token carries scopes for other APIs
// too (openid, profile, offline_access).
func (v *Verifier) scopesOf(values, roles []string) []string {
	var got []string
	add := func(s string) {
		if s != "" && !slices.Contains(got, s) {
			got = append(got, s)
		}
	}
	for _, val := range values {
		add(v.inverted[val])
	}
	for _, r := range roles {
		add(v.cfg.Scopes.Roles[r])
	}
	out := make([]string, 0, len(got))
	for _, s := range authn.AllScopes {
		if slices.Contains(got, s) {
			out = append(out, s)
		}
	}
	return out
}

// ParseNames reads the --oauth-scopes list, "ours=theirs" pairs separated
// by commas (articles:read=api://blog/articles.read); a scope alone keeps
// its name.
func ParseNames(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		ours, theirs, found := strings.Cut(item, "=")
		ours, theirs = strings.TrimSpace(ours), strings.TrimSpace(theirs)
		if !found {
			theirs = ours
		}
		if _, dup := out[ours]; dup {
			return nil, fmt.Errorf("scope %q is named twice", ours)
		}
		out[ours] = theirs
	}
	return out, (ScopeMap{Names: out}).check()
}

// ParseRoles reads the --oauth-role-scopes list, "value=scope" pairs
// separated by commas (blog-editor=articles:write).
func ParseRoles(s string) (map[string]string, error) {
	out := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		role, ours, found := strings.Cut(item, "=")
		role, ours = strings.TrimSpace(role), strings.TrimSpace(ours)
		if !found || role == "" {
			return nil, fmt.Errorf("%q: want ROLE=SCOPE", item)
		}
		if _, dup := out[role]; dup {
			return nil, fmt.Errorf("role %q is mapped twice", role)
		}
		out[role] = ours
	}
	return out, (ScopeMap{Roles: out, RolesClaim: "x"}).check()
}
