package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// RunKeys runs the behaviour every apikey.Store must show. open returns a
// new, empty store for each subtest; it should register its own cleanup.
func RunKeys(t *testing.T, open func(t *testing.T) apikey.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s apikey.Store)
	}{
		{"CreateAndGet", keysCreateAndGet},
		{"AllFieldsRoundTrip", keysAllFieldsRoundTrip},
		{"DuplicateID", keysDuplicateID},
		{"NotFound", keysNotFound},
		{"ListOrder", keysListOrder},
		{"ListEmpty", keysListEmpty},
		{"Revoke", keysRevoke},
		{"Touch", keysTouch},
		{"TouchConcurrent", keysTouchConcurrent},
		{"TimesAreUTC", keysTimesAreUTC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each subtest opens its own store
			tt.fn(t, open(t))
		})
	}
}

// keysT0 is a fixed, whole-second instant: stores keep Unix seconds.
var keysT0 = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

func keysPtr(t time.Time) *time.Time { return &t }

// keysHash is a 32-byte hash with a zero byte and high bytes in it, so a
// store that treats it as text would show.
func keysHash(seed byte) []byte {
	h := make([]byte, 32)
	for i := range h {
		h[i] = seed + byte(i*37)
	}
	h[5] = 0
	h[6] = 0xff
	return h
}

func keysNew(id string, created time.Time) *apikey.Key {
	return &apikey.Key{
		ID:        id,
		Name:      "key " + id,
		Scopes:    []string{"articles:read"},
		CreatedAt: created,
		Hash:      keysHash(id[0]),
	}
}

func keysCreate(t *testing.T, s apikey.Store, k *apikey.Key) {
	t.Helper()
	if err := s.CreateKey(context.Background(), k); err != nil {
		t.Fatalf("CreateKey(%s): %v", k.ID, err)
	}
}

func keysGet(t *testing.T, s apikey.Store, id string) *apikey.Key {
	t.Helper()
	k, err := s.KeyByID(context.Background(), id)
	if err != nil {
		t.Fatalf("KeyByID(%s): %v", id, err)
	}
	return k
}

// keysCmp compares keys, treating nil and empty scope lists alike.
var keysCmp = cmpopts.EquateEmpty()

func keysCreateAndGet(t *testing.T, s apikey.Store) {
	want := keysNew("aaaaaaaaaaaa", keysT0)
	want.Scopes = []string{"articles:read", "articles:write"}
	want.ExpiresAt = keysPtr(keysT0.Add(90 * 24 * time.Hour))
	keysCreate(t, s, want)
	got := keysGet(t, s, want.ID)
	if diff := cmp.Diff(want, got, keysCmp); diff != "" {
		t.Errorf("KeyByID after CreateKey mismatch (-want +got):\n%s", diff)
	}
}

func keysAllFieldsRoundTrip(t *testing.T, s apikey.Store) {
	want := keysNew("bbbbbbbbbbbb", keysT0)
	want.Name = "Laptop — phở ☕" // non-ASCII survives
	want.ExpiresAt = keysPtr(keysT0.Add(time.Hour))
	want.LastUsedAt = keysPtr(keysT0.Add(time.Minute))
	want.RevokedAt = keysPtr(keysT0.Add(2 * time.Minute))
	keysCreate(t, s, want)
	got := keysGet(t, s, want.ID)
	if diff := cmp.Diff(want, got, keysCmp); diff != "" {
		t.Errorf("KeyByID mismatch (-want +got):\n%s", diff)
	}
}

func keysDuplicateID(t *testing.T, s apikey.Store) {
	first := keysNew("cccccccccccc", keysT0)
	keysCreate(t, s, first)
	second := keysNew("cccccccccccc", keysT0.Add(time.Hour))
	second.Name = "intruder"
	second.Hash = keysHash(99)
	err := s.CreateKey(context.Background(), second)
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("CreateKey with a taken id: got %v, want errdefs.ErrConflict", err)
	}
	got := keysGet(t, s, first.ID)
	if diff := cmp.Diff(first, got, keysCmp); diff != "" {
		t.Errorf("the first key changed after a conflicting create (-want +got):\n%s", diff)
	}
}

func keysNotFound(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	keysCreate(t, s, keysNew("dddddddddddd", keysT0))
	const missing = "zzzzzzzzzzzz"
	if _, err := s.KeyByID(ctx, missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("KeyByID(%s): got %v, want errdefs.ErrNotFound", missing, err)
	}
	if err := s.RevokeKey(ctx, missing, keysT0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("RevokeKey(%s): got %v, want errdefs.ErrNotFound", missing, err)
	}
	if err := s.TouchKey(ctx, missing, keysT0); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("TouchKey(%s): got %v, want errdefs.ErrNotFound", missing, err)
	}
	// An id that differs only in case is another id.
	if _, err := s.KeyByID(ctx, "DDDDDDDDDDDD"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("KeyByID(DDDDDDDDDDDD): got %v, want errdefs.ErrNotFound", err)
	}
}

func keysListOrder(t *testing.T, s apikey.Store) {
	// Created out of order; two share a creation time and sort by id.
	keys := []*apikey.Key{
		keysNew("kkkkkkkkkkk3", keysT0.Add(2*time.Hour)),
		keysNew("kkkkkkkkkkk2", keysT0),
		keysNew("kkkkkkkkkkk1", keysT0),
		keysNew("kkkkkkkkkkk4", keysT0.Add(time.Hour)),
	}
	keys[0].RevokedAt = keysPtr(keysT0.Add(3 * time.Hour)) // revoked keys are listed too
	for _, k := range keys {
		keysCreate(t, s, k)
	}
	got, err := s.ListKeys(context.Background())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	want := []*apikey.Key{keys[2], keys[1], keys[3], keys[0]}
	if diff := cmp.Diff(want, got, keysCmp); diff != "" {
		t.Errorf("ListKeys mismatch (-want +got):\n%s", diff)
	}
}

func keysListEmpty(t *testing.T, s apikey.Store) {
	got, err := s.ListKeys(context.Background())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if len(got) != 0 {
		t.Errorf("ListKeys on an empty store: got %d keys, want 0", len(got))
	}
}

func keysRevoke(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	k := keysNew("rrrrrrrrrrrr", keysT0)
	other := keysNew("ssssssssssss", keysT0)
	keysCreate(t, s, k)
	keysCreate(t, s, other)

	first := keysT0.Add(time.Hour)
	if err := s.RevokeKey(ctx, k.ID, first); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if got := keysGet(t, s, k.ID).RevokedAt; got == nil || !got.Equal(first) {
		t.Errorf("RevokedAt after RevokeKey: got %v, want %v", got, first)
	}
	// Revoking again succeeds and keeps the first time: the record of
	// when a key stopped working must not move.
	if err := s.RevokeKey(ctx, k.ID, first.Add(time.Hour)); err != nil {
		t.Fatalf("second RevokeKey: %v", err)
	}
	if got := keysGet(t, s, k.ID).RevokedAt; got == nil || !got.Equal(first) {
		t.Errorf("RevokedAt after a second RevokeKey: got %v, want %v", got, first)
	}
	if got := keysGet(t, s, other.ID).RevokedAt; got != nil {
		t.Errorf("RevokeKey touched another key: its RevokedAt is %v, want nil", got)
	}
}

func keysTouch(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	k := keysNew("tttttttttttt", keysT0)
	keysCreate(t, s, k)
	steps := []struct {
		at   time.Time
		want time.Time
	}{
		{keysT0.Add(time.Hour), keysT0.Add(time.Hour)},
		{keysT0.Add(2 * time.Hour), keysT0.Add(2 * time.Hour)},
		// Another process may report an older use late; last use never
		// moves backwards.
		{keysT0.Add(90 * time.Minute), keysT0.Add(2 * time.Hour)},
	}
	for i, st := range steps {
		if err := s.TouchKey(ctx, k.ID, st.at); err != nil {
			t.Fatalf("step %d: TouchKey: %v", i, err)
		}
		got := keysGet(t, s, k.ID)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(st.want) {
			t.Errorf("step %d: LastUsedAt after TouchKey(%v): got %v, want %v", i, st.at, got.LastUsedAt, st.want)
		}
		// Touching changes nothing else.
		got.LastUsedAt = nil
		if diff := cmp.Diff(k, got, keysCmp); diff != "" {
			t.Errorf("step %d: TouchKey changed other fields (-want +got):\n%s", i, diff)
		}
	}
}

// keysTouchConcurrent: replicas record uses of one key at once, in any
// order; the recorded time ends at the latest, whichever commits last.
// A store that reads the time, compares and writes it back in separate
// steps loses to a race here.
func keysTouchConcurrent(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	k := keysNew("vvvvvvvvvvvv", keysT0)
	keysCreate(t, s, k)
	const n = 16
	for i, err := range atOnce(n, func(i int) error {
		// Racer i reports a use i minutes after keysT0, the later ones
		// first, so arriving in order would be the exception.
		return s.TouchKey(ctx, k.ID, keysT0.Add(time.Duration(n-1-i)*time.Minute))
	}) {
		if err != nil {
			t.Errorf("racer %d: TouchKey: %v", i, err)
		}
	}
	want := keysT0.Add((n - 1) * time.Minute)
	if got := keysGet(t, s, k.ID).LastUsedAt; got == nil || !got.Equal(want) {
		t.Errorf("LastUsedAt after %d concurrent touches: got %v, want the latest, %v", n, got, want)
	}
}

func keysTimesAreUTC(t *testing.T, s apikey.Store) {
	loc := time.FixedZone("ICT", 7*60*60)
	k := keysNew("uuuuuuuuuuuu", keysT0.In(loc))
	k.ExpiresAt = keysPtr(keysT0.Add(time.Hour).In(loc))
	keysCreate(t, s, k)
	got := keysGet(t, s, k.ID)
	if !got.CreatedAt.Equal(keysT0) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt: got %v, want %v in UTC", got.CreatedAt, keysT0)
	}
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(keysT0.Add(time.Hour)) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt: got %v, want %v in UTC", got.ExpiresAt, keysT0.Add(time.Hour))
	}
}
