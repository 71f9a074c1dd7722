// Package apikey issues and checks the blog's API keys.
//
// A key reads m2c_<id>_<secret>. The fixed prefix lets secret scanners
// (GitHub's, gitleaks) recognise a leaked key; the id is public, shown by
// `keys list` and used to find the key; the secret is 32 bytes from
// crypto/rand. Only SHA-256 of the secret is stored, and the full key is
// returned once, by Manager.Create.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"time"
)

// Prefix starts every key.
const Prefix = "m2c_"

// Lengths of the parts of a key, in characters.
const (
	IDLen     = 12 // 60 bits: enough to make collisions a non-issue, short enough to read out
	SecretLen = 52 // 32 random bytes in base32, 256 bits
	// KeyLen is the length of a whole key.
	KeyLen = len(Prefix) + IDLen + 1 + SecretLen
)

const secretBytes = 32

// encoding is lower-case RFC 4648 base32: one case (easy to read out),
// no 0/O or 1/l pairs, nothing a shell, URL or config file needs to quote,
// and no '_', so the parts of a key never blur.
var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is a stored API key: everything about it but the secret.
type Key struct {
	// ID is the public part of the key, unique, IDLen characters.
	ID string
	// Name is a label chosen by the owner ("laptop", "ci").
	Name string
	// Scopes the key grants, as authn scopes, narrowest first.
	Scopes []string
	// CreatedAt, and the other times, are UTC with whole seconds: stores
	// keep Unix seconds.
	CreatedAt time.Time
	// ExpiresAt is when the key stops working; nil means never.
	ExpiresAt *time.Time
	// LastUsedAt is the last successful use, updated at most about once
	// a minute (see TouchInterval); nil means never used.
	LastUsedAt *time.Time
	// RevokedAt is when the key was revoked; nil means it was not.
	RevokedAt *time.Time
	// Hash is SHA-256 of the secret part of the key.
	Hash []byte
}

// Revoked reports whether the key has been revoked.
func (k *Key) Revoked() bool { return k.RevokedAt != nil }

// Expired reports whether the key has expired at now.
func (k *Key) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// Status is "revoked", "expired" or "active" at now, for listings.
func (k *Key) Status(now time.Time) string {
	switch {
	case k.Revoked():
		return "revoked"
	case k.Expired(now):
		return "expired"
	}
	return "active"
}

// Store keeps API keys. Every backend of internal/store implements it;
// internal/store/storetest.RunKeys is the behaviour every one must show.
type Store interface {
	// CreateKey stores k. It reports errdefs.ErrConflict if the id is taken.
	CreateKey(ctx context.Context, k *Key) error
	// KeyByID returns the key with this id, or errdefs.ErrNotFound.
	KeyByID(ctx context.Context, id string) (*Key, error)
	// ListKeys returns every key, revoked and expired ones included,
	// oldest first.
	ListKeys(ctx context.Context) ([]*Key, error)
	// RevokeKey marks the key revoked at at; revoking a revoked key
	// keeps the first time. It reports errdefs.ErrNotFound for an unknown id.
	RevokeKey(ctx context.Context, id string, at time.Time) error
	// TouchKey records a use at at; the recorded time never moves
	// backwards. It reports errdefs.ErrNotFound for an unknown id.
	TouchKey(ctx context.Context, id string, at time.Time) error
}

// generate makes a new key: its full text, its id, and the hash to store.
func generate() (plaintext, id string, hash []byte) {
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return weak bytes), so there is no error to handle.
	var idb [8]byte // 64 bits, of which the first 60 make the 12 characters
	rand.Read(idb[:])
	id = encoding.EncodeToString(idb[:])[:IDLen]
	var sb [secretBytes]byte
	rand.Read(sb[:])
	secret := encoding.EncodeToString(sb[:])
	return Prefix + id + "_" + secret, id, hashSecret(secret)
}

// hashSecret returns SHA-256 of the secret text. A fast hash is right
// here, unlike for passwords: the secret has 256 bits of entropy, so no
// amount of guessing per second makes brute force feasible, and a slow
// hash (bcrypt, argon2) would only cost CPU on every request.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// parse splits a key into its id and secret, checking the shape: prefix,
// lengths, alphabet. It does no I/O, so garbage never reaches the store.
func parse(s string) (id, secret string, ok bool) {
	if len(s) != KeyLen || s[:len(Prefix)] != Prefix || s[len(Prefix)+IDLen] != '_' {
		return "", "", false
	}
	id = s[len(Prefix) : len(Prefix)+IDLen]
	secret = s[len(Prefix)+IDLen+1:]
	if !inAlphabet(id) || !inAlphabet(secret) {
		return "", "", false
	}
	return id, secret, true
}

// ValidID reports whether s has the shape of a key id.
func ValidID(s string) bool { return len(s) == IDLen && inAlphabet(s) }

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
