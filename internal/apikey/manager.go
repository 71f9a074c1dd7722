package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// MaxNameLen bounds a key's name, in characters.
const MaxNameLen = 64

// MaxTTL is the longest lifetime a key may be given: ten years. Longer is
// almost certainly a typo, and "never expires" is asked for with 0.
const MaxTTL = 10 * 365 * 24 * time.Hour

// TouchInterval is how stale the recorded last use of a key must be
// before Verify records a new one. Writing on every request would turn
// every read into a database write; a minute is precise enough for
// `keys list`.
const TouchInterval = time.Minute

// touchTimeout bounds the write that records a use.
const touchTimeout = 5 * time.Second

// Reasons Verify rejects a key. All of them match authn.ErrInvalidCredential
// and end as 401 invalid_token; the HTTP layer logs and counts the reason.
// ErrMalformed also matches authn.ErrUnrecognized, so authn.Chain offers
// anything that is not shaped like an API key to the next verifier.
var (
	ErrMalformed error = &authn.CredentialError{Reason: "malformed", Description: "the credential is not a well-formed API key", Unrecognized: true}
	// ErrUnknown covers both an id that does not exist and a wrong secret
	// for an existing id, so a caller cannot tell them apart.
	ErrUnknown error = &authn.CredentialError{Reason: "unknown", Description: "the API key is not valid"}
	ErrRevoked error = &authn.CredentialError{Reason: "revoked", Description: "the API key has been revoked"}
	ErrExpired error = &authn.CredentialError{Reason: "expired", Description: "the API key has expired"}
)

// Options configure a Manager. The zero value is usable.
type Options struct {
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
	// Logger receives key creation, revocation and failed use-time
	// updates, naming keys by id only. Nil discards.
	Logger *slog.Logger
}

// Manager creates, lists, revokes and verifies API keys over a Store.
// It is safe for concurrent use.
type Manager struct {
	store Store
	now   func() time.Time
	log   *slog.Logger

	// touched remembers when this process last recorded a use of each
	// key, so a burst of concurrent requests with a stale stored time
	// writes once, not once per request.
	mu      sync.Mutex
	touched map[string]time.Time
}

// New returns a Manager over store.
func New(store Store, opts Options) *Manager {
	m := &Manager{store: store, now: opts.Now, log: opts.Logger, touched: make(map[string]time.Time)}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m
}

// Create makes a key named name with scopes (articles:read when none are
// given) that expires after ttl (0: never). It returns the full key,
// which exists nowhere else afterwards: show it to the owner once. The
// returned *Key is what was stored. Invalid input is reported as a
// *errdefs.ValidationError (errdefs.ErrInvalid).
func (m *Manager) Create(ctx context.Context, name string, scopes []string, ttl time.Duration) (string, *Key, error) {
	name = strings.TrimSpace(name)
	if err := validateName(name); err != nil {
		return "", nil, err
	}
	scopes, err := normalizeScopes(scopes)
	if err != nil {
		return "", nil, err
	}
	if ttl < 0 || ttl > MaxTTL {
		return "", nil, errdefs.Invalid("expires", "must be between 0 (never) and ten years")
	}
	now := m.now().UTC().Truncate(time.Second)
	var expires *time.Time
	if ttl > 0 {
		e := now.Add(ttl).Truncate(time.Second)
		if !e.After(now) { // under a second
			e = now.Add(time.Second)
		}
		expires = &e
	}
	// 60 random bits make an id collision vanishingly unlikely; retrying
	// costs nothing and turns "unlikely" into "handled".
	for range 3 {
		plaintext, id, hash := generate()
		k := &Key{ID: id, Name: name, Scopes: scopes, CreatedAt: now, ExpiresAt: expires, Hash: hash}
		err := m.store.CreateKey(ctx, k)
		if errors.Is(err, errdefs.ErrConflict) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("apikey: storing key: %w", err)
		}
		exp := "never"
		if expires != nil {
			exp = expires.Format(time.RFC3339)
		}
		m.log.InfoContext(ctx, "API key created", "id", id, "name", name, "scopes", strings.Join(scopes, " "), "expires", exp)
		return plaintext, k, nil
	}
	return "", nil, fmt.Errorf("apikey: no free key id after 3 attempts: %w", errdefs.ErrConflict)
}

// List returns every key, oldest first, without hashes: a listing has no
// use for them.
func (m *Manager) List(ctx context.Context) ([]*Key, error) {
	keys, err := m.store.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("apikey: listing keys: %w", err)
	}
	for _, k := range keys {
		k.Hash = nil
	}
	return keys, nil
}

// Revoke revokes the key with id at once; it reports errdefs.ErrNotFound for
// an unknown id. Revoking a revoked key succeeds and keeps the first
// revocation time.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	id = strings.TrimSpace(id)
	if !ValidID(id) {
		return fmt.Errorf("apikey: %q is not a key id: %w", id, errdefs.ErrNotFound)
	}
	if err := m.store.RevokeKey(ctx, id, m.now().UTC().Truncate(time.Second)); err != nil {
		return fmt.Errorf("apikey: revoking key %s: %w", id, err)
	}
	m.log.InfoContext(ctx, "API key revoked", "id", id)
	return nil
}

// Verify checks a full key and returns its principal: Subject "key:<id>",
// the key's scopes, Method "api_key". A bad key yields ErrMalformed,
// ErrUnknown (no such id, or the wrong secret), ErrRevoked or ErrExpired;
// any other error means the store failed. Revocation and expiry are
// checked only after the secret matched, so they tell nothing to someone
// who merely knows an id. It has the shape of an authn.Verifier.
func (m *Manager) Verify(ctx context.Context, plaintext string) (*authn.Principal, error) {
	id, secret, ok := parse(plaintext)
	if !ok {
		return nil, ErrMalformed
	}
	// Hash before the lookup so the work done does not depend on
	// whether the id exists.
	sum := hashSecret(secret)
	k, err := m.store.KeyByID(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, ErrUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("apikey: looking up key %s: %w", id, err)
	}
	// Constant time, so response timing reveals nothing about how much
	// of the hash a guess got right.
	if subtle.ConstantTimeCompare(sum, k.Hash) != 1 {
		return nil, ErrUnknown
	}
	now := m.now().UTC()
	if k.Revoked() {
		return nil, ErrRevoked
	}
	if k.Expired(now) {
		return nil, ErrExpired
	}
	m.touch(ctx, k, now)
	return &authn.Principal{
		Subject: "key:" + k.ID,
		Scopes:  slices.Clone(k.Scopes),
		Method:  "api_key",
	}, nil
}

// touch records a use of k at now when the recorded one is older than
// TouchInterval. A failure is logged and otherwise ignored: the request
// is authenticated either way, and last use is informational.
func (m *Manager) touch(ctx context.Context, k *Key, now time.Time) {
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < TouchInterval {
		return
	}
	m.mu.Lock()
	if last, ok := m.touched[k.ID]; ok && now.Sub(last) < TouchInterval {
		m.mu.Unlock()
		return
	}
	if len(m.touched) >= 4096 {
		// Keep the memo bounded; stale entries no longer suppress
		// anything anyway.
		for id, t := range m.touched {
			if now.Sub(t) >= TouchInterval {
				delete(m.touched, id)
			}
		}
	}
	m.touched[k.ID] = now
	m.mu.Unlock()
	// A client hanging up mid-request does not cancel the write; the
	// timeout keeps a stuck database from holding the request long.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchTimeout)
	defer cancel()
	if err := m.store.TouchKey(ctx, k.ID, now.Truncate(time.Second)); err != nil {
		m.log.WarnContext(ctx, "recording API key use failed", "id", k.ID, "err", err)
	}
}

// validateName checks a key's name: it is printed by `keys list` in a
// terminal, so control characters (escape sequences) are refused.
func validateName(name string) error {
	switch {
	case name == "":
		return errdefs.Invalid("name", "must not be empty")
	case !utf8.ValidString(name):
		return errdefs.Invalid("name", "is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return errdefs.Invalid("name", "is longer than %d characters", MaxNameLen)
	case strings.ContainsFunc(name, unicode.IsControl):
		return errdefs.Invalid("name", "contains control characters")
	}
	return nil
}

// normalizeScopes checks scopes, removes duplicates and orders them
// narrowest first; none means articles:read, the safe default.
func normalizeScopes(scopes []string) ([]string, error) {
	var out []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if !authn.ValidScope(s) {
			return nil, errdefs.Invalid("scope", "%q is not a scope; use %s", s, strings.Join(authn.AllScopes, " or "))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return []string{authn.ScopeRead}, nil
	}
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(authn.AllScopes, a) - slices.Index(authn.AllScopes, b)
	})
	return slices.Compact(out), nil
}
