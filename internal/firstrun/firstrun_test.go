package firstrun_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/firstrun"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/sample"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

func open(t *testing.T, path string) store.Backend {
	t.Helper()
	db, err := store.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db store.Backend) int {
	t.Helper()
	n, err := db.CountArticles(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSamplesOncePerDatabase(t *testing.T) {
	t.Parallel()
	all, err := sample.Parse()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "blog.db")
	db := open(t, path)
	n, err := firstrun.Samples(t.Context(), db, true)
	if err != nil || n != len(all) || count(t, db) != len(all) {
		t.Fatalf("Samples on a new database = %d, %v (%d stored); want %d", n, err, count(t, db), len(all))
	}
	// The owner deletes everything: the samples must not come back, not
	// even after a restart.
	for _, a := range all {
		if err := db.DeleteArticle(t.Context(), a.Slug, blog.Change{Actor: "test", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db = open(t, path)
	if n, err := firstrun.Samples(t.Context(), db, true); err != nil || n != 0 || count(t, db) != 0 {
		t.Errorf("Samples after the owner emptied the blog = %d, %v (%d stored); want nothing loaded", n, err, count(t, db))
	}
}

func TestSamplesDeclinedOrAlreadyABlog(t *testing.T) {
	t.Parallel()
	// --no-sample on the first run declines them for good.
	db := open(t, filepath.Join(t.TempDir(), "blog.db"))
	if n, err := firstrun.Samples(t.Context(), db, false); err != nil || n != 0 {
		t.Fatalf("Samples(load=false) = %d, %v", n, err)
	}
	if n, err := firstrun.Samples(t.Context(), db, true); err != nil || n != 0 || count(t, db) != 0 {
		t.Errorf("Samples after a declined first run = %d, %v; want nothing loaded", n, err)
	}

	// A database whose first command was an import (or keys create) is
	// someone's blog: serve must not mix the samples into it.
	db = open(t, filepath.Join(t.TempDir(), "blog.db"))
	mine := &blog.Article{Slug: "mine", Title: "Mine", Body: "x", Language: "en", Tags: []string{}}
	mine.Normalize()
	if _, err := db.UpsertArticles(t.Context(), []*blog.Article{mine}, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := firstrun.Samples(t.Context(), db, true); err != nil || n != 0 || count(t, db) != 1 {
		t.Errorf("Samples on an imported blog = %d, %v (%d stored); want nothing loaded", n, err, count(t, db))
	}
}

// upsertFails is a database whose article writes fail, to check that a
// step that failed is not recorded.
type upsertFails struct {
	store.Backend
	err error
}

func (u upsertFails) UpsertArticles(context.Context, []*blog.Article, blog.Change) ([]blog.UpsertOutcome, error) {
	return nil, u.err
}

func TestSamplesRetriedAfterAFailure(t *testing.T) {
	t.Parallel()
	db := open(t, filepath.Join(t.TempDir(), "blog.db"))
	boom := errors.New("disk full")
	if _, err := firstrun.Samples(t.Context(), upsertFails{db, boom}, true); !errors.Is(err, boom) {
		t.Fatalf("Samples with a failing write = %v, want %v", err, boom)
	}
	// Nothing was recorded, so the next start loads them.
	if n, err := firstrun.Samples(t.Context(), db, true); err != nil || n == 0 {
		t.Errorf("Samples after a failed first attempt = %d, %v; want them loaded", n, err)
	}
}

var keyRE = regexp.MustCompile(`\bm2c_[A-Za-z0-9_]+`)

func TestAdminKeyPrintedOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db := open(t, path)
	keys := apikey.New(db, apikey.Options{})
	site := firstrun.Site{MCPURL: "http://127.0.0.1:3000/mcp", BaseURL: "http://127.0.0.1:3000"}
	var out strings.Builder
	if err := firstrun.AdminKey(t.Context(), db, keys, &out, site); err != nil {
		t.Fatal(err)
	}
	key := keyRE.FindString(out.String())
	if key == "" {
		t.Fatalf("no key printed:\n%s", out.String())
	}
	p, err := keys.Verify(t.Context(), key)
	if err != nil || !p.Has("articles:write") {
		t.Fatalf("the printed key does not verify with write access: %+v, %v", p, err)
	}
	// The configs carry the key and the URLs, each ready to paste.
	for _, want := range []string{`"X-API-KEY: ` + key + `"`, `"url": "` + site.MCPURL + `"`, `"--api-url",`, `"` + site.BaseURL + `"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("first-run output lacks %s:\n%s", want, out.String())
		}
	}
	// A second start, even with every key revoked (revoked keys stay
	// listed), prints no secret.
	k, _ := keys.List(t.Context())
	if err := keys.Revoke(t.Context(), k[0].ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, path)
	out.Reset()
	if err := firstrun.AdminKey(t.Context(), db, apikey.New(db, apikey.Options{}), &out, site); err != nil || out.Len() != 0 {
		t.Errorf("second run: %v, printed:\n%s", err, out.String())
	}
}

func TestAdminKeyNotMadeBesideExistingKeys(t *testing.T) {
	t.Parallel()
	db := open(t, filepath.Join(t.TempDir(), "blog.db"))
	keys := apikey.New(db, apikey.Options{})
	if _, _, err := keys.Create(t.Context(), "laptop", []string{"articles:read"}, 0); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := firstrun.AdminKey(t.Context(), db, keys, &out, firstrun.Site{}); err != nil || out.Len() != 0 {
		t.Errorf("AdminKey beside an existing key: %v, printed:\n%s", err, out.String())
	}
	if ks, _ := keys.List(t.Context()); len(ks) != 1 {
		t.Errorf("%d keys, want only the owner's", len(ks))
	}
}

func TestAdminUserPrintedOnce(t *testing.T) {
	t.Parallel()
	db := open(t, filepath.Join(t.TempDir(), "blog.db"))
	admin := oauth.NewAdmin(db, oauth.AdminOptions{})
	site := firstrun.Site{BaseURL: "http://127.0.0.1:3000"}
	var out strings.Builder
	if err := firstrun.AdminUser(t.Context(), db, admin, &out, site); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`shown only now:\s*\n\s+(\S+)\s*\n`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), site.BaseURL+"/oauth/login") {
		t.Fatalf("no password or sign-in URL printed:\n%s", out.String())
	}
	users, err := admin.ListUsers(t.Context())
	if err != nil || len(users) != 1 || users[0].Name != "admin" {
		t.Fatalf("users after the first run: %+v, %v", users, err)
	}
	out.Reset()
	if err := firstrun.AdminUser(t.Context(), db, admin, &out, site); err != nil || out.Len() != 0 {
		t.Errorf("second run: %v, printed:\n%s", err, out.String())
	}
	// With the last user removed nobody could sign in: the next start
	// makes a new admin and says so.
	if err := admin.DeleteUser(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := firstrun.AdminUser(t.Context(), db, admin, &out, site); err != nil || !strings.Contains(out.String(), "shown only now") {
		t.Errorf("run after the last user was removed: %v, printed:\n%s", err, out.String())
	}
	if users, err := admin.ListUsers(t.Context()); err != nil || len(users) != 1 {
		t.Errorf("users after that run: %+v, %v; want a new admin", users, err)
	}
}

// Several serve processes starting on one new database: each opens its
// own handle, and between them they create exactly one admin key and one
// admin user, each printed by one process only.
func TestAdminKeyAndUserOnceAcrossStarts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	open(t, path) // create the file, as the first of them would
	const starts = 6
	outs := make([]strings.Builder, starts)
	var wg sync.WaitGroup
	for i := range starts {
		db := open(t, path)
		wg.Go(func() {
			site := firstrun.Site{MCPURL: "http://127.0.0.1:3000/mcp", BaseURL: "http://127.0.0.1:3000"}
			if err := firstrun.AdminKey(t.Context(), db, apikey.New(db, apikey.Options{}), &outs[i], site); err != nil {
				t.Errorf("AdminKey: %v", err)
			}
			if err := firstrun.AdminUser(t.Context(), db, oauth.NewAdmin(db, oauth.AdminOptions{}), &outs[i], site); err != nil {
				t.Errorf("AdminUser: %v", err)
			}
		})
	}
	wg.Wait()
	var keys, users int
	for i := range outs {
		keys += len(keyRE.FindAllString(outs[i].String(), 1))
		users += strings.Count(outs[i].String(), `created the user "admin"`)
	}
	db := open(t, path)
	ks, err := apikey.New(db, apikey.Options{}).List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	us, err := oauth.NewAdmin(db, oauth.AdminOptions{}).ListUsers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 1 || keys != 1 || len(us) != 1 || users != 1 {
		t.Errorf("%d starts made %d keys (%d printed) and %d users (%d printed); want one of each, printed once", starts, len(ks), keys, len(us), users)
	}
}
