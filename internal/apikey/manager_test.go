package apikey_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// spyStore passes every call to a real store and remembers what it was
// given, so tests can check what reached the store and how often.
type spyStore struct {
	apikey.Store
	mu       sync.Mutex
	args     []string // every string and []byte argument, as text
	touches  int
	touchErr error
}

func (s *spyStore) record(args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range args {
		switch a := a.(type) {
		case string:
			s.args = append(s.args, a)
		case []byte:
			s.args = append(s.args, string(a))
		case []string:
			s.args = append(s.args, a...)
		}
	}
}

func (s *spyStore) CreateKey(ctx context.Context, k *apikey.Key) error {
	s.record(k.ID, k.Name, k.Hash, k.Scopes)
	return s.Store.CreateKey(ctx, k)
}

func (s *spyStore) KeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	s.record(id)
	return s.Store.KeyByID(ctx, id)
}

func (s *spyStore) RevokeKey(ctx context.Context, id string, at time.Time) error {
	s.record(id)
	return s.Store.RevokeKey(ctx, id, at)
}

func (s *spyStore) TouchKey(ctx context.Context, id string, at time.Time) error {
	s.record(id)
	s.mu.Lock()
	s.touches++
	err := s.touchErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.TouchKey(ctx, id, at)
}

func (s *spyStore) touchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touches
}

type fixture struct {
	dir   string
	db    *sqlite.DB
	spy   *spyStore
	clock *clock
	logs  *testkit.Buffer
	m     *apikey.Manager
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "blog.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{dir: dir, db: db, spy: &spyStore{Store: db}, clock: &clock{now: t0}, logs: &testkit.Buffer{}}
	f.m = f.manager()
	return f
}

// manager returns a new Manager (with its own memory of recent touches)
// over the fixture's store, clock and log.
func (f *fixture) manager() *apikey.Manager {
	return apikey.New(f.spy, apikey.Options{
		Now:    f.clock.Now,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

func (f *fixture) create(t *testing.T, name string, scopes []string, ttl time.Duration) (string, *apikey.Key) {
	t.Helper()
	plaintext, k, err := f.m.Create(context.Background(), name, scopes, ttl)
	if err != nil {
		t.Fatalf("Create(%q, %v, %v): %v", name, scopes, ttl, err)
	}
	return plaintext, k
}

func ptr(t time.Time) *time.Time { return &t }

func secretOf(plaintext string) string { return plaintext[strings.LastIndexByte(plaintext, '_')+1:] }

func TestCreate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plaintext, k := f.create(t, "  laptop ", []string{"articles:write", "articles:read", "articles:write"}, 90*24*time.Hour)

	if !strings.HasPrefix(plaintext, "m2c_"+k.ID+"_") || len(plaintext) != apikey.KeyLen {
		t.Errorf("plaintext %q: want m2c_%s_ followed by %d secret characters", plaintext, k.ID, apikey.SecretLen)
	}
	sum := sha256.Sum256([]byte(secretOf(plaintext)))
	want := &apikey.Key{
		ID:        k.ID,
		Name:      "laptop",
		Scopes:    []string{"articles:read", "articles:write"},
		CreatedAt: t0,
		ExpiresAt: ptr(t0.Add(90 * 24 * time.Hour)),
		Hash:      sum[:],
	}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("Create returned key mismatch (-want +got):\n%s", diff)
	}
	stored, err := f.db.KeyByID(context.Background(), k.ID)
	if err != nil {
		t.Fatalf("KeyByID: %v", err)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored key mismatch (-want +got):\n%s", diff)
	}
}

func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(t0.Add(500 * time.Millisecond)) // stores keep whole seconds
	_, k := f.create(t, "ci", nil, 0)
	if diff := cmp.Diff([]string{authn.ScopeRead}, k.Scopes); diff != "" {
		t.Errorf("default scopes mismatch (-want +got):\n%s", diff)
	}
	if k.ExpiresAt != nil {
		t.Errorf("ExpiresAt with ttl 0: got %v, want nil (never)", k.ExpiresAt)
	}
	if !k.CreatedAt.Equal(t0) {
		t.Errorf("CreatedAt: got %v, want %v (truncated to the second)", k.CreatedAt, t0)
	}
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    string
		scopes []string
		ttl    time.Duration
	}{
		{"empty name", "", nil, 0},
		{"blank name", "   ", nil, 0},
		{"long name", strings.Repeat("é", apikey.MaxNameLen+1), nil, 0},
		{"control character", "lap\x1b[31mtop", nil, 0},
		{"newline", "lap\ntop", nil, 0},
		{"invalid UTF-8", "lap\xfftop", nil, 0},
		{"unknown scope", "laptop", []string{"admin"}, 0},
		{"empty scope", "laptop", []string{""}, 0},
		{"scope with spaces inside", "laptop", []string{"articles:read articles:write"}, 0},
		{"negative ttl", "laptop", nil, -time.Hour},
		{"ttl over ten years", "laptop", nil, apikey.MaxTTL + time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			plaintext, k, err := f.m.Create(context.Background(), tt.key, tt.scopes, tt.ttl)
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("Create(%q, %q, %v) error = %v, want errdefs.ErrInvalid", tt.key, tt.scopes, tt.ttl, err)
			}
			if plaintext != "" || k != nil {
				t.Errorf("Create returned %q, %v with an error; want nothing", plaintext, k)
			}
			keys, err := f.db.ListKeys(context.Background())
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			if len(keys) != 0 {
				t.Errorf("a rejected Create stored %d keys, want 0", len(keys))
			}
		})
	}
	// The limits themselves are allowed.
	f := newFixture(t)
	f.create(t, strings.Repeat("é", apikey.MaxNameLen), nil, apikey.MaxTTL)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	plaintext, k := f.create(t, "laptop", []string{authn.ScopeWrite}, 0)
	p, err := f.m.Verify(ctx, plaintext)
	if err != nil {
		t.Fatalf("Verify(new key): %v", err)
	}
	want := &authn.Principal{Subject: "key:" + k.ID, Scopes: []string{authn.ScopeWrite}, Method: "api_key"}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Verify principal mismatch (-want +got):\n%s", diff)
	}
	if !p.Has(authn.ScopeRead) {
		t.Errorf("a write key's principal should hold %s too", authn.ScopeRead)
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	good, k := f.create(t, "laptop", nil, 0)
	secret := secretOf(good)

	// Another key's secret with this key's id: both halves are real,
	// but they do not belong together.
	other, _ := f.create(t, "other", nil, 0)
	mixed := "m2c_" + k.ID + "_" + secretOf(other)
	// A well-formed key whose id does not exist.
	unknown := "m2c_" + strings.Repeat("a", apikey.IDLen) + "_" + secret
	// The right id with one character of the secret changed.
	flipped := []byte(good)
	if flipped[len(flipped)-2] == 'b' {
		flipped[len(flipped)-2] = 'c'
	} else {
		flipped[len(flipped)-2] = 'b'
	}

	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", apikey.ErrMalformed},
		{"garbage", "hunter2", apikey.ErrMalformed},
		{"truncated", good[:len(good)-1], apikey.ErrMalformed},
		{"upper case", strings.ToUpper(good), apikey.ErrMalformed},
		{"bearer prefix left on", "Bearer " + good, apikey.ErrMalformed},
		{"unknown id", unknown, apikey.ErrUnknown},
		{"wrong secret, right id", string(flipped), apikey.ErrUnknown},
		{"another key's secret", mixed, apikey.ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.m.Verify(ctx, tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) error = %v, want %v", tt.in, err, tt.want)
			}
			if p != nil {
				t.Errorf("Verify(%q) returned principal %v with an error", tt.in, p)
			}
			// Every rejection is a 401 at the HTTP layer.
			if !errors.Is(err, authn.ErrInvalidCredential) {
				t.Errorf("Verify(%q) error %v does not match authn.ErrInvalidCredential", tt.in, err)
			}
		})
	}
	// Only a malformed credential is "not ours", letting authn.Chain try
	// the next verifier.
	if _, err := f.m.Verify(ctx, "hunter2"); !errors.Is(err, authn.ErrUnrecognized) {
		t.Errorf("malformed: error %v, want it to match authn.ErrUnrecognized", err)
	}
	if _, err := f.m.Verify(ctx, unknown); errors.Is(err, authn.ErrUnrecognized) {
		t.Errorf("unknown: error %v matches authn.ErrUnrecognized; a well-formed key is ours", err)
	}
}

func TestVerifyRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	plaintext, k := f.create(t, "laptop", nil, time.Hour)
	if _, err := f.m.Verify(ctx, plaintext); err != nil {
		t.Fatalf("Verify before revocation: %v", err)
	}
	f.clock.Set(t0.Add(10 * time.Minute))
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := f.m.Verify(ctx, plaintext); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("Verify after Revoke: error %v, want ErrRevoked", err)
	}
	// Revoked and expired: revoked is the truer answer.
	f.clock.Set(t0.Add(2 * time.Hour))
	if _, err := f.m.Verify(ctx, plaintext); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("Verify of a revoked, expired key: error %v, want ErrRevoked", err)
	}
	// The status of a key is told only to someone holding its secret.
	wrong := plaintext[:len(plaintext)-2] + "zq"
	if wrong == plaintext {
		wrong = plaintext[:len(plaintext)-2] + "yq"
	}
	if _, err := f.m.Verify(ctx, wrong); !errors.Is(err, apikey.ErrUnknown) {
		t.Errorf("Verify of a revoked key's id with a wrong secret: error %v, want ErrUnknown", err)
	}

	stored, err := f.db.KeyByID(ctx, k.ID)
	if err != nil {
		t.Fatalf("KeyByID: %v", err)
	}
	if want := t0.Add(10 * time.Minute); stored.RevokedAt == nil || !stored.RevokedAt.Equal(want) {
		t.Errorf("RevokedAt: got %v, want %v", stored.RevokedAt, want)
	}
	// Revoking again succeeds and keeps the first time.
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Errorf("second Revoke: %v", err)
	}
}

func TestRevokeUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, id := range []string{"aaaaaaaaaaaa", "not-an-id", "", "m2c_aaaaaaaaaaaa"} {
		if err := f.m.Revoke(context.Background(), id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Revoke(%q): error %v, want errdefs.ErrNotFound", id, err)
		}
	}
}

func TestVerifyExpired(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	plaintext, _ := f.create(t, "short", nil, time.Hour)
	tests := []struct {
		at   time.Time
		want error
	}{
		{t0.Add(time.Hour - time.Second), nil},
		{t0.Add(time.Hour), apikey.ErrExpired}, // the expiry instant itself is past
		{t0.Add(48 * time.Hour), apikey.ErrExpired},
	}
	for _, tt := range tests {
		f.clock.Set(tt.at)
		_, err := f.m.Verify(ctx, plaintext)
		if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Errorf("Verify at %v: error %v, want %v", tt.at, err, tt.want)
		}
	}
}

func TestVerifyStoreError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plaintext, _ := f.create(t, "laptop", nil, 0)
	f.db.Close()
	_, err := f.m.Verify(context.Background(), plaintext)
	if err == nil {
		t.Fatal("Verify with a closed store succeeded")
	}
	// A store failure is not a bad credential: the HTTP layer answers
	// 503, not 401, so clients do not throw away a good key.
	if errors.Is(err, authn.ErrInvalidCredential) {
		t.Errorf("Verify with a closed store: error %v matches authn.ErrInvalidCredential; want a plain failure", err)
	}
}

func lastUsed(t *testing.T, f *fixture, id string) *time.Time {
	t.Helper()
	k, err := f.db.KeyByID(context.Background(), id)
	if err != nil {
		t.Fatalf("KeyByID: %v", err)
	}
	return k.LastUsedAt
}

func TestVerifyTouchThrottled(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	plaintext, k := f.create(t, "laptop", nil, 0)
	if got := lastUsed(t, f, k.ID); got != nil {
		t.Fatalf("LastUsedAt of a new key: got %v, want nil", got)
	}
	steps := []struct {
		at          time.Duration // after t0
		wantLast    time.Duration
		wantTouches int
	}{
		{0, 0, 1},                               // first use is recorded
		{30 * time.Second, 0, 1},                // fresh: no write
		{59 * time.Second, 0, 1},                // still fresh
		{61 * time.Second, 61 * time.Second, 2}, // stale: recorded
		{90 * time.Second, 61 * time.Second, 2},
		{10 * time.Minute, 10 * time.Minute, 3},
	}
	for _, st := range steps {
		f.clock.Set(t0.Add(st.at))
		if _, err := f.m.Verify(ctx, plaintext); err != nil {
			t.Fatalf("Verify at +%v: %v", st.at, err)
		}
		got := lastUsed(t, f, k.ID)
		if want := t0.Add(st.wantLast); got == nil || !got.Equal(want) {
			t.Errorf("at +%v: LastUsedAt = %v, want %v", st.at, got, want)
		}
		if got := f.spy.touchCount(); got != st.wantTouches {
			t.Errorf("at +%v: %d TouchKey calls, want %d", st.at, got, st.wantTouches)
		}
	}

	// A fresh Manager (another replica, or after a restart) also relies
	// on the stored time, not only on its own memory.
	other := f.manager()
	f.clock.Set(t0.Add(10*time.Minute + 30*time.Second))
	if _, err := other.Verify(ctx, plaintext); err != nil {
		t.Fatalf("Verify with another Manager: %v", err)
	}
	if got := f.spy.touchCount(); got != 3 {
		t.Errorf("another Manager with a fresh stored time: %d TouchKey calls, want 3", got)
	}
}

func TestVerifyTouchBurst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plaintext, _ := f.create(t, "laptop", nil, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			if _, err := f.m.Verify(context.Background(), plaintext); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Verify: %v", err)
	}
	if got := f.spy.touchCount(); got != 1 {
		t.Errorf("50 concurrent Verify calls of an unused key made %d TouchKey calls, want 1", got)
	}
}

func TestVerifyTouchFailureIsNotFatal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plaintext, k := f.create(t, "laptop", nil, 0)
	f.spy.touchErr = errors.New("disk full")
	p, err := f.m.Verify(context.Background(), plaintext)
	if err != nil {
		t.Fatalf("Verify with a failing TouchKey: %v", err)
	}
	if p == nil || p.Subject != "key:"+k.ID {
		t.Errorf("Verify with a failing TouchKey: principal %v, want key:%s", p, k.ID)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "disk full") || !strings.Contains(logs, k.ID) {
		t.Errorf("the failed touch was not logged with the key id; logs:\n%s", logs)
	}
}

// TestSecretNeverLeaves checks that neither the full key nor its secret
// reaches the store (as an argument, or in the database files) or the
// log.
func TestSecretNeverLeaves(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	plaintext, k := f.create(t, "laptop", []string{authn.ScopeWrite}, time.Hour)
	secret := secretOf(plaintext)

	// Exercise every path that touches the store or the log.
	if _, err := f.m.Verify(ctx, plaintext); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	f.spy.touchErr = errors.New("disk full")
	f.clock.Set(t0.Add(5 * time.Minute))
	if _, err := f.m.Verify(ctx, plaintext); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := f.m.List(ctx); err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := f.m.Verify(ctx, plaintext); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("Verify after Revoke: %v, want ErrRevoked", err)
	}

	f.spy.mu.Lock()
	args := f.spy.args
	f.spy.mu.Unlock()
	if len(args) == 0 {
		t.Fatal("the spy saw no store calls")
	}
	for _, a := range args {
		if strings.Contains(a, secret) {
			t.Errorf("the store received the secret in argument %q", a)
		}
	}
	if logs := f.logs.String(); strings.Contains(logs, secret) {
		t.Errorf("the log holds the secret:\n%s", logs)
	}

	// And in the files, whatever SQLite wrote (main file, WAL, journal).
	if err := f.db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(f.dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files found in %s: %v", f.dir, err)
	}
	sum := sha256.Sum256([]byte(secret))
	var sawHash bool
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("%s contains the secret", filepath.Base(name))
		}
		sawHash = sawHash || bytes.Contains(data, sum[:])
	}
	// The check above means something only if the files hold the key.
	if !sawHash {
		t.Errorf("no database file holds the key's hash; did the test read the right files?")
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, a := f.create(t, "first", nil, 0)
	f.clock.Set(t0.Add(time.Minute))
	_, b := f.create(t, "second", []string{authn.ScopeWrite}, 0)
	if err := f.m.Revoke(ctx, a.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	got, err := f.m.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []*apikey.Key{
		{ID: a.ID, Name: "first", Scopes: []string{authn.ScopeRead}, CreatedAt: t0, RevokedAt: ptr(t0.Add(time.Minute))},
		{ID: b.ID, Name: "second", Scopes: []string{authn.ScopeWrite}, CreatedAt: t0.Add(time.Minute)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
}

func TestKeyStatus(t *testing.T) {
	k := &apikey.Key{ExpiresAt: ptr(t0)}
	for _, tt := range []struct {
		k    *apikey.Key
		now  time.Time
		want string
	}{
		{&apikey.Key{}, t0, "active"},
		{k, t0.Add(-time.Second), "active"},
		{k, t0, "expired"},
		{&apikey.Key{ExpiresAt: ptr(t0), RevokedAt: ptr(t0)}, t0, "revoked"},
	} {
		if got := tt.k.Status(tt.now); got != tt.want {
			t.Errorf("Status(%v) of %+v = %q, want %q", tt.now, tt.k, got, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90d", 90 * day, true},
		{"12h", 12 * time.Hour, true},
		{"2w", 14 * day, true},
		{" 1d ", day, true},
		{"3650d", 3650 * day, true},
		{"87600h", apikey.MaxTTL, true},
		{"521w", 521 * 7 * day, true},
		{"3651d", 0, false},
		{"522w", 0, false},
		{"87601h", 0, false},
		{"0d", 0, false},
		{"00h", 0, false},
		{"-1d", 0, false},
		{"+1d", 0, false},
		{"1.5d", 0, false},
		{"90", 0, false},
		{"d", 0, false},
		{"", 0, false},
		{"90m", 0, false},
		{"1y", 0, false},
		{"90D", 0, false},
		{"1d12h", 0, false},
		{"99999999999999999999d", 0, false}, // overflows int64
		{"9223372036854775807h", 0, false},  // fits int64, overflows Duration
	}
	for _, tt := range tests {
		got, err := apikey.ParseDuration(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseDuration(%q) = %v, %v; want a errdefs.ErrInvalid error", tt.in, got, err)
		}
	}
}

// Example of the key lifecycle as the CLI drives it.
func ExampleManager() {
	dir, _ := os.MkdirTemp("", "apikey-example")
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "blog.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	m := apikey.New(db, apikey.Options{})
	ttl, _ := apikey.ParseDuration("90d")
	plaintext, k, _ := m.Create(context.Background(), "laptop", []string{"articles:read"}, ttl)
	p, _ := m.Verify(context.Background(), plaintext)
	fmt.Println(p.Subject == "key:"+k.ID, p.Scopes, p.Method)
	_ = m.Revoke(context.Background(), k.ID)
	_, err = m.Verify(context.Background(), plaintext)
	fmt.Println(errors.Is(err, apikey.ErrRevoked))
	// Output:
	// true [articles:read] api_key
	// true
}
