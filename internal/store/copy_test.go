package store_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
)

// backends opens a new, empty database of each kind this test run has.
var backends = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "blog.db") },
	"postgres": func(t *testing.T) string { return pgtest.Schema(t) },
}

func openDSN(t *testing.T, dsn string) store.Backend {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A blog moved with Copy keeps everyone's access: the API keys people hold
// verify, revoked ones stay revoked, users sign in with their passwords,
// clients keep their secrets, approvals are remembered, and every article,
// drafts included, arrives intact.
func TestCopy(t *testing.T) {
	for from, newFrom := range backends {
		for to, newTo := range backends {
			t.Run(from+"-to-"+to, func(t *testing.T) {
				t.Parallel()
				testCopy(t, openDSN(t, newFrom(t)), openDSN(t, newTo(t)))
			})
		}
	}
}

func testCopy(t *testing.T, src, dst store.Backend) {
	ctx := t.Context()
	keys := apikey.New(src, apikey.Options{})
	plain, _, err := keys.Create(ctx, "laptop", []string{"articles:write"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	revoked, rk, err := keys.Create(ctx, "old", []string{"articles:read"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Revoke(ctx, rk.ID); err != nil {
		t.Fatal(err)
	}
	admin := oauth.NewAdmin(src, oauth.AdminOptions{})
	if err := admin.CreateUser(ctx, "ngoc", "a long enough password"); err != nil {
		t.Fatal(err)
	}
	secret := sha256.Sum256([]byte("client secret"))
	client := &oauth.Client{ID: "c1", Name: "CI bot", Kind: oauth.KindPreregistered, AuthMethod: oauth.AuthSecretBasic,
		SecretHash: secret[:], RedirectURIs: []string{"https://ci.example/cb"}, GrantTypes: []string{oauth.GrantAuthorizationCode},
		ResponseTypes: []string{"code"}, Scopes: []string{"articles:read"}, CreatedAt: time.Unix(1_700_000_000, 0).UTC()}
	if err := src.CreateClient(ctx, client); err != nil {
		t.Fatal(err)
	}
	grant := &oauth.Grant{User: "ngoc", ClientID: "c1", ClientName: "CI bot", Scopes: []string{"articles:read"},
		CreatedAt: time.Unix(1_700_000_100, 0).UTC(), UpdatedAt: time.Unix(1_700_000_200, 0).UTC()}
	if err := src.SaveGrant(ctx, grant); err != nil {
		t.Fatal(err)
	}
	// More articles than one batch of Copy, some published in the same
	// second (the keyset must not skip them), one a draft.
	var as []*blog.Article
	for i := range 1203 {
		a := &blog.Article{Slug: fmt.Sprintf("post-%04d", i), Title: fmt.Sprintf("Cà phê %d", i), Body: "Body.",
			Tags: []string{"cà-phê"}, PublishedAt: time.Unix(1_600_000_000+int64(i/3), 0), Draft: i == 7}
		a.Normalize()
		as = append(as, a)
	}
	if _, err := src.UpsertArticles(ctx, as, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := src.SaveSources(ctx, []*blog.Source{{Slug: "post-0003", Path: "content/posts/post-0003.md", Format: "toml", Extra: "weight = 1\n"}}); err != nil {
		t.Fatal(err)
	}
	// A history: post-0001 changed by a key, post-0002 deleted into the
	// trash; the 1203 creations are revisions too.
	changed := as[1].Clone()
	changed.Body = "Changed by an assistant."
	if err := src.UpdateArticle(ctx, changed, blog.Change{Actor: "key:k1", At: time.Unix(1_700_000_300, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := src.DeleteArticle(ctx, "post-0002", blog.Change{Actor: "user:ngoc client:c1", At: time.Unix(1_700_000_400, 0).UTC()}); err != nil {
		t.Fatal(err)
	}

	copied, err := store.Copy(ctx, dst, src)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if want := (store.Copied{Articles: 1202, Keys: 2, Users: 1, Clients: 1, Grants: 1, Revisions: 1205, Trashed: 1}); copied != want {
		t.Errorf("Copy reported %+v, want %+v", copied, want)
	}

	dkeys := apikey.New(dst, apikey.Options{})
	if p, err := dkeys.Verify(ctx, plain); err != nil || !p.Has("articles:write") {
		t.Errorf("the key held before the move does not verify after it: %+v, %v", p, err)
	}
	if _, err := dkeys.Verify(ctx, revoked); err == nil {
		t.Errorf("a key revoked before the move verifies after it")
	}
	u, err := dst.UserByName(ctx, "ngoc")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := oauth.CheckPassword(u.PasswordHash, "a long enough password", oauth.DefaultPasswordParams); !ok || err != nil {
		t.Errorf("the user's password does not check after the move: %v, %v", ok, err)
	}
	gotClient, err := dst.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(client, gotClient); diff != "" {
		t.Errorf("client after the move (-before +after):\n%s", diff)
	}
	if !gotClient.SecretMatches("client secret") {
		t.Errorf("the client's secret does not match after the move")
	}
	if g, err := dst.GrantFor(ctx, "ngoc", "c1"); err != nil || !cmp.Equal(g, grant) {
		t.Errorf("grant after the move = %+v, %v; want %+v", g, err, grant)
	}
	for _, slug := range []string{"post-0000", "post-0001", "post-0007", "post-1202"} {
		want, _ := src.GetArticle(ctx, slug)
		got, err := dst.GetArticle(ctx, slug)
		if err != nil || !cmp.Equal(want, got) {
			t.Errorf("article %s after the move = %+v, %v; want %+v", slug, got, err, want)
		}
	}
	if n, _ := dst.CountArticles(ctx); n != 1202 {
		t.Errorf("%d articles after the move, want 1202", n)
	}
	// The history moved as it was: the same revisions in the same order,
	// no new ones, and the trash.
	for _, slug := range []string{"post-0001", "post-0002", "post-0500"} {
		want, _ := src.ListRevisions(ctx, blog.RevisionRange{Slug: slug, Limit: 10})
		got, err := dst.ListRevisions(ctx, blog.RevisionRange{Slug: slug, Limit: 10})
		strip := func(rs []*blog.Revision) []string {
			var out []string
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%s %s %s %v", r.Action, r.Actor, r.At.Format(time.RFC3339), r.Changed))
			}
			return out
		}
		if err != nil || !cmp.Equal(strip(want), strip(got)) {
			t.Errorf("revisions of %s after the move = %v, %v; want %v", slug, strip(got), err, strip(want))
		}
		if len(got) > 0 {
			w, _ := src.GetRevision(ctx, slug, want[0].ID)
			g, err := dst.GetRevision(ctx, slug, got[0].ID)
			if err != nil || !cmp.Equal(w.Article, g.Article) {
				t.Errorf("the newest revision of %s after the move: %+v, %v", slug, g, err)
			}
		}
	}
	if got, err := dst.ListSources(ctx); err != nil || len(got) != 1 || got[0].Path != "content/posts/post-0003.md" || got[0].Extra != "weight = 1\n" {
		t.Errorf("sources after the move: %+v, %v", got, err)
	}
	trash, err := dst.ListTrash(ctx)
	if err != nil || len(trash) != 1 || trash[0].Article.Slug != "post-0002" || trash[0].DeletedBy != "user:ngoc client:c1" {
		t.Errorf("the trash after the move: %+v, %v", trash, err)
	}
	if _, err := dst.RestoreArticle(ctx, "post-0002", blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Errorf("restoring the moved trash: %v", err)
	}
	q, _ := blog.ParseQuery("ca phe")
	if hits, err := dst.SearchArticles(ctx, q, blog.SearchRange{Limit: 5}); err != nil || len(hits) != 5 {
		t.Errorf("search of the moved blog: %d hits, %v", len(hits), err)
	}

	// A second copy would mix two blogs.
	if _, err := store.Copy(ctx, dst, src); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("Copy into a database holding a blog = %v, want ErrNotEmpty", err)
	}
}
