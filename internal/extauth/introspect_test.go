package extauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

func introspecting(p *idptest.Provider, cache time.Duration) Config {
	return Config{IntrospectionURL: p.URL + "/introspect", ClientID: idptest.ClientID, ClientSecret: idptest.ClientSecret, IntrospectionCache: cache}
}

func TestIntrospection(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	now := time.Now()
	clock := now
	cfg := introspecting(p, time.Minute)
	cfg.Now = func() time.Time { return clock }
	verify := verifier(t, p, cfg)

	p.Answer("good", map[string]any{"active": true, "sub": "bob", "aud": []string{resource}, "iss": p.URL,
		"scope": "articles:write", "exp": now.Add(30 * time.Second).Unix()})
	pr, err := verify(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Subject != "ext:bob" || !slices.Equal(pr.Scopes, []string{authn.ScopeWrite}) {
		t.Errorf("principal %+v", pr)
	}
	// Cached: a second call does not ask again.
	if _, err := verify(ctx, "good"); err != nil || p.Introspections() != 1 {
		t.Errorf("second call: err %v, %d introspections, want 1", err, p.Introspections())
	}
	// Never past the token's expiry, though the cache would keep it a minute.
	p.Answer("good", map[string]any{"active": false})
	clock = now.Add(31 * time.Second)
	if _, err := verify(ctx, "good"); reason(err) != "inactive" || p.Introspections() != 2 {
		t.Errorf("past exp: err %v, %d introspections, want inactive after asking again", err, p.Introspections())
	}

	for _, tc := range []struct {
		name   string
		answer map[string]any
		reason string
	}{
		{"inactive", map[string]any{"active": false}, "inactive"},
		{"another audience", map[string]any{"active": true, "aud": "https://other.example/mcp", "scope": "articles:read"}, "wrong_audience"},
		{"no audience", map[string]any{"active": true, "scope": "articles:read"}, "wrong_audience"},
		{"another issuer", map[string]any{"active": true, "aud": resource, "iss": "https://evil.example"}, "wrong_issuer"},
		{"a refresh token", map[string]any{"active": true, "aud": resource, "token_type": "refresh_token"}, "type"},
		// Hydra answers about a refresh token whatever the hint: Bearer,
		// with token_use saying what it is.
		{"a Hydra refresh token", map[string]any{"active": true, "aud": resource, "scope": "articles:write", "token_type": "Bearer", "token_use": "refresh_token"}, "type"},
		{"a Keycloak refresh token", map[string]any{"active": true, "aud": resource, "typ": "Refresh"}, "type"},
		{"expired, though active", map[string]any{"active": true, "aud": resource, "exp": clock.Add(-time.Hour).Unix()}, "expired"},
	} {
		tok := strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
		p.Answer(tok, tc.answer)
		if _, err := verify(ctx, tok); reason(err) != tc.reason {
			t.Errorf("%s: err = %v, want reason %q", tc.name, err, tc.reason)
		}
	}
	if _, err := verify(ctx, "not a token\n"); reason(err) != "malformed" {
		t.Errorf("a credential with a newline: %v", err)
	}
}

func TestIntrospectionRefusalsAreRememberedBriefly(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	clock := time.Now()
	cfg := introspecting(p, time.Minute)
	cfg.Now = func() time.Time { return clock }
	verify := verifier(t, p, cfg)
	for range 3 {
		verify(ctx, "dead")
	}
	if n := p.Introspections(); n != 1 {
		t.Errorf("a dead token retried: %d introspections, want 1", n)
	}
	clock = clock.Add(negativeTTL + time.Second)
	p.Answer("dead", map[string]any{"active": true, "aud": resource, "scope": "articles:read"})
	if _, err := verify(ctx, "dead"); err != nil {
		t.Errorf("a refusal outlived %v: %v", negativeTTL, err)
	}
}

func TestIntrospectionFailuresAreNotRefusals(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	cfg := introspecting(p, time.Minute)
	cfg.ClientSecret = "wrong"
	verify := verifier(t, p, cfg)
	for range 2 {
		_, err := verify(ctx, "anything")
		if err == nil || errors.Is(err, authn.ErrInvalidCredential) {
			t.Fatalf("our client refused by the provider: err = %v, want an error that is not a refusal (503)", err)
		}
	}
	if n := p.Introspections(); n != 2 {
		t.Errorf("a failure to ask was cached: %d introspections, want 2", n)
	}
}

func TestIntrospectionWithoutCache(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, introspecting(p, -1))
	p.Answer("t", map[string]any{"active": true, "aud": resource, "scope": "articles:read"})
	for range 3 {
		if _, err := verify(ctx, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Introspections(); n != 3 {
		t.Errorf("%d introspections, want 3 with the cache off", n)
	}
}

// TestIntrospectionsAreBounded: a flood of made-up tokens makes at most
// maxInFlight requests to the provider at once; the rest are 503s, not
// refusals of the token.
func TestIntrospectionsAreBounded(t *testing.T) {
	p := idptest.New(t)
	verify := verifier(t, p, introspecting(p, time.Minute))
	release := p.HoldIntrospections()
	const n = maxInFlight + 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := verify(context.Background(), fmt.Sprintf("made-up-%d", i))
			errs <- err
		})
	}
	// The ones past the bound answer at once.
	busy := 0
	for range n - maxInFlight {
		if err := <-errs; errors.Is(err, errBusy) {
			busy++
		}
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if reason(err) != "inactive" {
			t.Errorf("a held introspection ended with %v, want inactive", err)
		}
	}
	if busy != n-maxInFlight || p.PeakIntrospections() > maxInFlight {
		t.Errorf("%d busy answers, peak %d at the provider; want %d and at most %d", busy, p.PeakIntrospections(), n-maxInFlight, maxInFlight)
	}
}
