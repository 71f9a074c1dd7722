package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/remote"
	"github.com/2coffee/mcp-2coffee/internal/restapi"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

const (
	writeKey = "m2c_write_0123456789abcdef"
	readKey  = "m2c_read_fedcba9876543210"
)

var clock = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// keyCheck stands in for internal/authn: the key in X-API-KEY picks the
// principal; any other key, or none, gets authn's 401 challenge.
// It also fails the test if a key ever shows up in a URL.
func keyCheck(t *testing.T, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{writeKey, readKey} {
			if strings.Contains(r.URL.String(), k) {
				t.Errorf("API key in the URL %s", r.URL)
			}
		}
		if got, want := r.Header.Get("User-Agent"), remote.DefaultUserAgent; got != want {
			t.Errorf("User-Agent = %q, want %q", got, want)
		}
		var scopes []string
		switch r.Header.Get("X-API-KEY") {
		case writeKey:
			scopes = []string{authn.ScopeWrite}
		case readKey:
			scopes = []string{authn.ScopeRead}
		default:
			authn.WriteChallenge(w, http.StatusUnauthorized, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInvalidToken, Description: "unknown API key"})
			return
		}
		p := &authn.Principal{Subject: "key:test", Scopes: scopes, Method: "api_key"}
		next.ServeHTTP(w, r.WithContext(authn.WithPrincipal(r.Context(), p)))
	})
}

// env is a blog.Service over real SQLite, served by restapi, with clients
// for both keys.
type env struct {
	svc            *blog.Service
	srv            *httptest.Server
	writer, reader *remote.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{svc: blog.NewService(db, func() time.Time { return clock })}
	e.srv = httptest.NewServer(keyCheck(t, restapi.New(e.svc, restapi.Options{})))
	t.Cleanup(e.srv.Close)
	e.writer = newClient(t, e.srv.URL, writeKey, remote.Options{})
	e.reader = newClient(t, e.srv.URL, readKey, remote.Options{})
	for _, a := range seed {
		if _, err := e.svc.Create(context.Background(), &a); err != nil {
			t.Fatalf("seeding %s: %v", a.Slug, err)
		}
	}
	return e
}

func newClient(t *testing.T, base, key string, opts remote.Options) *remote.Client {
	t.Helper()
	c, err := remote.New(base, key, opts)
	if err != nil {
		t.Fatalf("remote.New(%q): %v", base, err)
	}
	return c
}

func day(month time.Month, d int) time.Time { return time.Date(2026, month, d, 9, 0, 0, 0, time.UTC) }

var seed = []blog.Article{
	{Slug: "go-concurrency", Title: "Concurrency in Go", Summary: "Goroutines and channels.", Body: "Goroutines are cheap. Channels connect goroutines.", Tags: []string{"go", "concurrency"}, Author: "An", PublishedAt: day(1, 5)},
	{Slug: "go-generics", Title: "Generics in Go", Body: "Type parameters arrived in Go 1.18.", Tags: []string{"go"}, PublishedAt: day(2, 10)},
	{Slug: "ca-phe-sua-da", Title: "Cà phê sữa đá", Body: "Cà phê phin với sữa đặc và đá. <b>&</b>", Tags: []string{"coffee"}, Language: "vi", PublishedAt: day(3, 1)},
	{Slug: "rust-ownership", Title: "Ownership in Rust", Body: "Borrowing rules keep memory safe.", Tags: []string{"rust"}, PublishedAt: day(4, 1)},
	{Slug: "sqlite-fts", Title: "Full-text search with SQLite", Body: "FTS5 ranks with bm25. Go drives it.", Tags: []string{"sqlite", "go"}, PublishedAt: day(5, 1)},
	{Slug: "secret-draft", Title: "Unfinished goroutines post", Body: "Goroutines, more to come.", Tags: []string{"go", "draft-only"}, PublishedAt: day(6, 1), Draft: true},
}

// listed is a page as List through the API returns it: the articles
// without their bodies.
func listed(p *blog.ArticlePage) *blog.ArticlePage {
	if p == nil {
		return nil
	}
	out := *p
	out.Articles = nil
	if p.Articles != nil {
		out.Articles = make([]*blog.Article, 0, len(p.Articles))
	}
	for _, a := range p.Articles {
		c := *a
		c.Body = ""
		out.Articles = append(out.Articles, &c)
	}
	return &out
}

// found is a page as Search through the API returns it: the hits'
// articles without their bodies, the snippets as they are.
func found(p *blog.SearchPage) *blog.SearchPage {
	if p == nil {
		return nil
	}
	out := *p
	out.Hits = nil
	if p.Hits != nil {
		out.Hits = make([]blog.SearchHit, 0, len(p.Hits))
	}
	for _, h := range p.Hits {
		c := *h.Article
		c.Body = ""
		h.Article = &c
		out.Hits = append(out.Hits, h)
	}
	return &out
}

// same checks that the client gave what blog.Service gave for the same
// call: equal values, or errors of the same kind with the same words for
// validation errors, which the server passes through verbatim.
func same[T any](t *testing.T, call string, want T, wantErr error, got T, gotErr error) {
	t.Helper()
	if (wantErr == nil) != (gotErr == nil) {
		t.Errorf("%s: error = %v, want %v", call, gotErr, wantErr)
		return
	}
	if wantErr != nil {
		var wantVE, gotVE *errdefs.ValidationError
		if errors.As(wantErr, &wantVE) {
			if !errors.As(gotErr, &gotVE) {
				t.Errorf("%s: error = %v (%T), want a *errdefs.ValidationError %v", call, gotErr, gotErr, wantErr)
			} else if diff := cmp.Diff(wantVE, gotVE); diff != "" {
				t.Errorf("%s: validation error (-service +client):\n%s", call, diff)
			}
		}
		for _, s := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalid, errdefs.ErrForbidden, errdefs.ErrUnavailable} {
			if errors.Is(wantErr, s) != errors.Is(gotErr, s) {
				t.Errorf("%s: errors.Is(%v, %v) = %v, want %v (service: %v)", call, gotErr, s, errors.Is(gotErr, s), errors.Is(wantErr, s), wantErr)
			}
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-service +client):\n%s", call, diff)
	}
}

func TestReadsMatchService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	for _, slug := range []string{"go-concurrency", "ca-phe-sua-da", "secret-draft", "missing-post", "Bad Slug", " go-generics "} {
		want, wantErr := e.svc.Get(ctx, slug)
		got, gotErr := e.writer.Get(ctx, slug)
		same(t, fmt.Sprintf("Get(%q)", slug), want, wantErr, got, gotErr)
	}

	for _, opts := range []blog.ListOptions{
		{},
		{Tag: "Go"},
		{Language: "vi"},
		{Limit: 2},
		{IncludeDrafts: true},
		{Tag: "haskell"},
		{Limit: 51},
		{Limit: -1},
		{Cursor: "not-a-cursor"},
	} {
		want, wantErr := e.svc.List(ctx, opts)
		got, gotErr := e.writer.List(ctx, opts)
		same(t, fmt.Sprintf("List(%+v)", opts), listed(want), wantErr, got, gotErr)
	}

	for _, opts := range []blog.SearchOptions{
		{Query: "goroutines"},
		{Query: "goroutines", IncludeDrafts: true},
		{Query: "ca phe"},
		{Query: "go", Tag: "sqlite"},
		{Query: "go", Limit: 1},
		{Query: "borrowing bm25"}, // relaxed
		{Query: "nothingmatches"},
		{Query: ""},
		{Query: "!!!"},
		{Query: strings.Repeat("a", blog.MaxQueryLen+1)},
		{Query: "go", Cursor: "zzz"},
	} {
		want, wantErr := e.svc.Search(ctx, opts)
		got, gotErr := e.writer.Search(ctx, opts)
		same(t, fmt.Sprintf("Search(%+v)", opts), found(want), wantErr, got, gotErr)
	}

	for _, opts := range []blog.TagOptions{{}, {Language: "vi"}, {IncludeDrafts: true}, {Language: "fr"}} {
		want, wantErr := e.svc.Tags(ctx, opts)
		got, gotErr := e.writer.Tags(ctx, opts)
		same(t, fmt.Sprintf("Tags(%+v)", opts), want, wantErr, got, gotErr)
	}
}

func TestPagingMatchesService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	// Cursors handed out through the API work through the API, page by
	// page, and give the pages the service gives.
	lopts := blog.ListOptions{Limit: 2}
	sopts := blog.SearchOptions{Query: "go", Limit: 1}
	for i := 0; ; i++ {
		if i > len(seed) {
			t.Fatal("paging does not end")
		}
		want, err := e.svc.List(ctx, lopts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.writer.List(ctx, lopts)
		same(t, fmt.Sprintf("List page %d", i), listed(want), nil, got, err)
		if got == nil || got.NextCursor == "" {
			break
		}
		lopts.Cursor = got.NextCursor
	}
	for i := 0; ; i++ {
		if i > len(seed) {
			t.Fatal("search paging does not end")
		}
		want, err := e.svc.Search(ctx, sopts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.writer.Search(ctx, sopts)
		same(t, fmt.Sprintf("Search page %d", i), found(want), nil, got, err)
		if got == nil || got.NextCursor == "" {
			break
		}
		sopts.Cursor = got.NextCursor
	}
}

// TestPagesWithoutBodies: listings and searches come without article
// bodies, so a page of long articles stays small; the client's response
// bound, which one long article exceeds, does not stop them.
func TestPagesWithoutBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	const n, bodySize, bound = 12, 64 << 10, 32 << 10
	for i := range n {
		a := &blog.Article{
			Slug:  fmt.Sprintf("long-read-%d", i),
			Title: fmt.Sprintf("Long read %d", i),
			Body:  strings.Repeat("Espresso is pressed through finely ground coffee. ", bodySize/50),
		}
		if _, err := e.svc.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, e.srv.URL, writeKey, remote.Options{MaxResponseBytes: bound})

	if _, err := c.Get(ctx, "long-read-0"); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Get of a %d-byte article with a %d-byte bound: error = %v, want the answer refused", bodySize, bound, err)
	}

	want, err := e.svc.List(ctx, blog.ListOptions{Limit: blog.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.List(ctx, blog.ListOptions{Limit: blog.MaxPage})
	same(t, "List of long articles", listed(want), nil, got, err)
	if got != nil && len(got.Articles) != n+len(seed)-1 {
		t.Errorf("List gave %d articles, want %d", len(got.Articles), n+len(seed)-1)
	}

	sopts := blog.SearchOptions{Query: "espresso", Limit: blog.MaxPage}
	wantHits, err := e.svc.Search(ctx, sopts)
	if err != nil {
		t.Fatal(err)
	}
	gotHits, err := c.Search(ctx, sopts)
	same(t, "Search of long articles", found(wantHits), nil, gotHits, err)
	if gotHits != nil {
		if len(gotHits.Hits) != n {
			t.Errorf("Search gave %d hits, want %d", len(gotHits.Hits), n)
		}
		for _, h := range gotHits.Hits {
			// The snippet is cut from the body on the server.
			if !strings.Contains(h.Snippet, "**Espresso**") {
				t.Errorf("hit %s: snippet %q lacks the match", h.Article.Slug, h.Snippet)
			}
		}
	}
}

// TestPagesDropBodies: List and Search return articles without a body
// even from a server that sends one, as their documentation says.
func TestPagesDropBodies(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	ctx := context.Background()
	list := serve(t, answer{200, js, `{"articles":[{"slug":"a","title":"A","body":"all of it","tags":[]}]}`, nil})
	page, err := newClient(t, list.URL, writeKey, remote.Options{}).List(ctx, blog.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Articles) != 1 || page.Articles[0].Slug != "a" || page.Articles[0].Body != "" {
		t.Errorf("List = %+v, want article a without a body", page.Articles)
	}
	search := serve(t, answer{200, js, `{"hits":[{"article":{"slug":"a","body":"all of it"},"score":1,"snippet":"**all**"}],"relaxed":false}`, nil})
	hits, err := newClient(t, search.URL, writeKey, remote.Options{}).Search(ctx, blog.SearchOptions{Query: "all"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits.Hits) != 1 || hits.Hits[0].Article.Body != "" || hits.Hits[0].Snippet != "**all**" {
		t.Errorf("Search = %+v, want article a without a body, with its snippet", hits.Hits)
	}
}

func TestWritesMatchService(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	created, err := e.writer.Create(ctx, &blog.Article{Title: "Hello, Wörld!", Body: "# Hi\n\n<b>&</b> \"quoted\"", Tags: []string{"Go", "Web Dev"}, Draft: true})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	stored, err := e.svc.Get(ctx, "hello-world")
	if err != nil {
		t.Fatalf("svc.Get after Create: %v", err)
	}
	if diff := cmp.Diff(stored, created); diff != "" {
		t.Errorf("Create returned (-stored +returned):\n%s", diff)
	}

	title, empty, tags, draft := "Hello again", "", []string{"CSP"}, false
	updated, err := e.writer.Update(ctx, "hello-world", blog.Patch{Title: &title, Summary: &empty, Tags: &tags, Draft: &draft})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	stored, err = e.svc.Get(ctx, "hello-world")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, updated); diff != "" {
		t.Errorf("Update returned (-stored +returned):\n%s", diff)
	}
	if stored.Title != title || !cmp.Equal(stored.Tags, []string{"csp"}) || stored.Draft || stored.Body != created.Body {
		t.Errorf("after Update: %+v; want new title, tags [csp], published, body kept", stored)
	}

	if err := e.writer.Delete(ctx, "hello-world"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := e.svc.Get(ctx, "hello-world"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("svc.Get after Delete: %v, want ErrNotFound", err)
	}

	// Failing writes fail alike, and leave the blog as it was.
	before, err := e.svc.List(ctx, blog.ListOptions{IncludeDrafts: true, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", blog.MaxTitleLen+1)
	for _, a := range []blog.Article{
		{},
		{Slug: "go-concurrency", Title: "Again"},
		{Title: "Go generics"}, // the derived slug is taken
		{Slug: "new-one", Title: long},
		{Slug: "new-one", Title: "T", Language: "english!"},
		{Slug: "Bad Slug", Title: "T"},
	} {
		want, wantErr := e.svc.Create(ctx, &a)
		got, gotErr := e.writer.Create(ctx, &a)
		same(t, fmt.Sprintf("Create(%+v)", a), want, wantErr, got, gotErr)
	}
	for _, tc := range []struct {
		slug string
		p    blog.Patch
	}{
		{"missing-post", blog.Patch{Title: &title}},
		{"go-generics", blog.Patch{Title: &long}},
		{"go-generics", blog.Patch{Title: &empty}},
		{"Bad Slug", blog.Patch{}},
	} {
		want, wantErr := e.svc.Update(ctx, tc.slug, tc.p)
		got, gotErr := e.writer.Update(ctx, tc.slug, tc.p)
		same(t, fmt.Sprintf("Update(%q)", tc.slug), want, wantErr, got, gotErr)
	}
	for _, slug := range []string{"missing-post", "Bad Slug", ""} {
		wantErr := e.svc.Delete(ctx, slug)
		gotErr := e.writer.Delete(ctx, slug)
		same(t, fmt.Sprintf("Delete(%q)", slug), struct{}{}, wantErr, struct{}{}, gotErr)
	}
	after, err := e.svc.List(ctx, blog.ListOptions{IncludeDrafts: true, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("failed writes changed the blog (-before +after):\n%s", diff)
	}
}

func TestReadOnlyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	// Drafts are invisible to a key that cannot write, whatever it asks.
	want, err := e.svc.List(ctx, blog.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.reader.List(ctx, blog.ListOptions{IncludeDrafts: true})
	same(t, "read-only List(IncludeDrafts)", listed(want), nil, got, err)
	if _, err := e.reader.Get(ctx, "secret-draft"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("read-only Get(draft) error = %v, want ErrNotFound", err)
	}

	_, err = e.reader.Create(ctx, &blog.Article{Title: "Nope"})
	if !errors.Is(err, errdefs.ErrForbidden) || !strings.Contains(err.Error(), authn.ScopeWrite) {
		t.Errorf("read-only Create error = %v, want ErrForbidden naming %s", err, authn.ScopeWrite)
	}
	if err := e.reader.Delete(ctx, "go-generics"); !errors.Is(err, errdefs.ErrForbidden) {
		t.Errorf("read-only Delete error = %v, want ErrForbidden", err)
	}
	if _, err := e.svc.Get(ctx, "go-generics"); err != nil {
		t.Errorf("article gone after a refused Delete: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := newClient(t, e.srv.URL, "m2c_wrong_key_000", remote.Options{})
	_, err := c.Get(context.Background(), "go-generics")
	if !errors.Is(err, remote.ErrUnauthorized) {
		t.Fatalf("error = %v, want remote.ErrUnauthorized", err)
	}
	for _, s := range []error{errdefs.ErrForbidden, errdefs.ErrUnavailable, errdefs.ErrNotFound} {
		if errors.Is(err, s) {
			t.Errorf("error %v also matches %v", err, s)
		}
	}
	if msg := err.Error(); !strings.Contains(msg, "X-API-KEY") || !strings.Contains(msg, e.srv.URL) || strings.Contains(msg, "m2c_wrong_key_000") {
		t.Errorf("message %q should name X-API-KEY and %s, and not hold the key", msg, e.srv.URL)
	}
}

// answer is a canned response for the error mapping tests.
type answer struct {
	status int
	ctype  string
	body   string
	header map[string]string
}

func serve(t *testing.T, a answer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		if a.ctype != "" {
			w.Header().Set("Content-Type", a.ctype)
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	const js = "application/json; charset=utf-8"
	errBody := func(code, msg string) string {
		return fmt.Sprintf(`{"error":%q,"error_description":%q}`, code, msg)
	}
	tests := []struct {
		name      string
		answer    answer
		is        []error // the error must match all of these
		isNot     []error // and none of these
		fragments []string
		withURL   bool // the message names the server's URL
	}{
		{"400", answer{400, js, `{"error":"invalid_argument","error_description":"title: must not be empty","field":"title"}`, nil},
			[]error{errdefs.ErrInvalid}, nil, []string{"title: must not be empty"}, false},
		{"400 without field", answer{400, js, errBody("invalid_argument", "the request body is empty"), nil},
			[]error{errdefs.ErrInvalid}, nil, []string{"the request body is empty"}, false},
		{"413", answer{413, js, errBody("too_large", "the request body is larger than 2097152 bytes"), nil},
			[]error{errdefs.ErrInvalid}, nil, []string{"larger than"}, false},
		{"401", answer{401, js, errBody("unauthorized", "nope"), nil},
			[]error{remote.ErrUnauthorized}, []error{errdefs.ErrForbidden, errdefs.ErrUnavailable}, []string{"X-API-KEY", "401"}, true},
		{"401 bare", answer{401, "", "", map[string]string{"WWW-Authenticate": `Bearer`}},
			[]error{remote.ErrUnauthorized}, nil, nil, true},
		{"403", answer{403, js, errBody("forbidden", "this request needs the articles:write scope"), nil},
			[]error{errdefs.ErrForbidden}, nil, []string{"articles:write"}, false},
		{"403 challenge", answer{403, "text/plain", "Forbidden", map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope", scope="articles:write"`}},
			[]error{errdefs.ErrForbidden}, nil, []string{"articles:write"}, false},
		{"403 scope in the body", answer{403, js, `{"error":"insufficient_scope","scope":"articles:write"}`, nil},
			[]error{errdefs.ErrForbidden}, nil, []string{"articles:write"}, false},
		{"404", answer{404, js, errBody("not_found", `no article with slug "x"`), nil},
			[]error{errdefs.ErrNotFound}, []error{errdefs.ErrUnavailable}, []string{`no article with slug "x"`}, false},
		// Not our shape: a proxy or another server, not a missing article.
		{"404 html", answer{404, "text/html", "<h1>Not Found</h1>", nil},
			[]error{errdefs.ErrUnavailable}, []error{errdefs.ErrNotFound}, []string{"404", "mcp-2coffee"}, true},
		{"404 other json", answer{404, js, `{"message":"no route"}`, nil},
			[]error{errdefs.ErrUnavailable}, []error{errdefs.ErrNotFound}, nil, true},
		// The nested shape of early development builds is not the blog's.
		{"404 nested error", answer{404, js, `{"error":{"code":"not_found","message":"no article"}}`, nil},
			[]error{errdefs.ErrUnavailable}, []error{errdefs.ErrNotFound}, nil, true},
		{"409", answer{409, js, errBody("conflict", `an article with slug "x" already exists`), nil},
			[]error{errdefs.ErrConflict}, nil, []string{"already exists"}, false},
		{"429", answer{429, "", "", nil}, []error{errdefs.ErrUnavailable}, nil, []string{"429"}, true},
		{"500", answer{500, js, errBody("internal", "internal server error"), nil},
			[]error{errdefs.ErrUnavailable}, nil, []string{"500", "internal server error"}, true},
		{"502 html", answer{502, "text/html", "<h1>Bad Gateway</h1>", nil},
			[]error{errdefs.ErrUnavailable}, nil, []string{"502"}, true},
		{"503", answer{503, js, errBody("unavailable", "try again later"), nil},
			[]error{errdefs.ErrUnavailable}, nil, []string{"503", "try again later"}, true},
		{"415", answer{415, js, errBody("unsupported_media_type", "send JSON"), nil},
			nil, []error{errdefs.ErrInvalid, errdefs.ErrNotFound, errdefs.ErrUnavailable, errdefs.ErrForbidden}, []string{"415", "send JSON"}, true},
		{"200 html", answer{200, "text/html", "<html>login</html>", nil},
			[]error{errdefs.ErrUnavailable}, nil, []string{"text/html"}, true},
		{"200 bad json", answer{200, js, `{"slug":`, nil}, []error{errdefs.ErrUnavailable}, nil, nil, true},
		{"200 two values", answer{200, js, `{"slug":"a"} {"slug":"b"}`, nil}, []error{errdefs.ErrUnavailable}, nil, nil, true},
		{"200 no slug", answer{200, js, `{"title":"x"}`, nil}, []error{errdefs.ErrUnavailable}, nil, []string{"incomplete"}, true},
		{"200 wrong type", answer{200, js, `{"slug":"a","tags":"go"}`, nil}, []error{errdefs.ErrUnavailable}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, tt.answer)
			c := newClient(t, srv.URL, writeKey, remote.Options{})
			_, err := c.Get(context.Background(), "x")
			if err == nil {
				t.Fatal("Get succeeded, want an error")
			}
			for _, s := range tt.is {
				if !errors.Is(err, s) {
					t.Errorf("error %q does not match %v", err, s)
				}
			}
			for _, s := range tt.isNot {
				if errors.Is(err, s) {
					t.Errorf("error %q matches %v, want not", err, s)
				}
			}
			msg := err.Error()
			for _, f := range tt.fragments {
				if !strings.Contains(msg, f) {
					t.Errorf("message %q lacks %q", msg, f)
				}
			}
			if tt.withURL && !strings.Contains(msg, srv.URL) {
				t.Errorf("message %q does not name %s", msg, srv.URL)
			}
			if strings.Contains(msg, writeKey) {
				t.Errorf("message %q holds the API key", msg)
			}
		})
	}

	// A 400 comes back as the ValidationError the service would return.
	srv := serve(t, answer{400, js, `{"error":"invalid_argument","error_description":"title: must not be empty","field":"title"}`, nil})
	_, err := newClient(t, srv.URL, writeKey, remote.Options{}).Create(context.Background(), &blog.Article{})
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *errdefs.ValidationError", err, err)
	}
	if diff := cmp.Diff(&errdefs.ValidationError{Field: "title", Message: "must not be empty"}, ve); diff != "" {
		t.Errorf("ValidationError (-want +got):\n%s", diff)
	}
}

// TestAuthnAnswers checks the answers of the authentication layer, which
// come before a request reaches the REST API, in the shape the API uses
// too ({"error":"…","error_description":"…"}), written by authn itself.
func TestAuthnAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		write     func(w http.ResponseWriter)
		is        error
		fragments []string
	}{
		{"401 missing", func(w http.ResponseWriter) {
			authn.WriteChallenge(w, http.StatusUnauthorized, authn.Challenge{Realm: authn.Realm, Description: "send an API key", Scope: authn.ScopeRead})
		}, remote.ErrUnauthorized, []string{"X-API-KEY"}},
		{"401 invalid", func(w http.ResponseWriter) {
			authn.WriteChallenge(w, http.StatusUnauthorized, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInvalidToken, Description: "the key is revoked"})
		}, remote.ErrUnauthorized, []string{"X-API-KEY"}},
		{"403 insufficient scope", func(w http.ResponseWriter) {
			authn.WriteChallenge(w, http.StatusForbidden, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInsufficientScope, Description: "this needs more", Scope: authn.ScopeWrite})
		}, errdefs.ErrForbidden, []string{"this needs more"}},
		{"403 bare challenge", func(w http.ResponseWriter) {
			w.Header().Set("WWW-Authenticate", authn.Challenge{Realm: authn.Realm, Error: authn.CodeInsufficientScope, Scope: authn.ScopeWrite}.String())
			w.WriteHeader(http.StatusForbidden)
		}, errdefs.ErrForbidden, []string{authn.ScopeWrite}},
		{"400 invalid request", func(w http.ResponseWriter) {
			authn.WriteChallenge(w, http.StatusBadRequest, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInvalidRequest, Description: "send one credential"})
		}, errdefs.ErrInvalid, []string{"send one credential"}},
		{"503 key store down", func(w http.ResponseWriter) {
			authn.WriteError(w, http.StatusServiceUnavailable, authn.CodeUnavailable, "the key could not be checked")
		}, errdefs.ErrUnavailable, []string{"503", "the key could not be checked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tt.write(w) }))
			defer srv.Close()
			_, err := newClient(t, srv.URL, writeKey, remote.Options{}).List(context.Background(), blog.ListOptions{})
			if !errors.Is(err, tt.is) {
				t.Fatalf("error = %v, want one matching %v", err, tt.is)
			}
			for _, f := range tt.fragments {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("message %q lacks %q", err, f)
				}
			}
		})
	}
}

// recorder counts requests and remembers the keys it was sent.
type recorder struct {
	mu   sync.Mutex
	n    int
	keys []string
}

func (rec *recorder) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.n++
		if k := r.Header.Get("X-API-KEY"); k != "" {
			rec.keys = append(rec.keys, k)
		}
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// The target is another origin (same host, another port) that would
	// happily serve the API, and log the key.
	var target recorder
	other := httptest.NewServer(target.handler(keyCheck(t, restapi.New(e.svc, restapi.Options{}))))
	defer other.Close()

	mux := http.NewServeMux()
	mux.Handle("/moved/", http.RedirectHandler(other.URL+"/api/v1/tags", http.StatusTemporaryRedirect))
	mux.Handle("/old/", http.StripPrefix("/old", http.RedirectHandler("/api/v1/tags", http.StatusPermanentRedirect)))
	mux.Handle("/", keyCheck(t, restapi.New(e.svc, restapi.Options{})))
	var origin recorder
	first := httptest.NewServer(origin.handler(mux))
	defer first.Close()

	_, err := newClient(t, first.URL+"/moved", writeKey, remote.Options{}).Tags(context.Background(), blog.TagOptions{})
	if err == nil {
		t.Fatal("cross-origin redirect was followed")
	}
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), other.URL) || !strings.Contains(err.Error(), "another origin") || strings.Contains(err.Error(), "cannot be reached") {
		t.Errorf("error = %v; want ErrUnavailable naming %s as another origin", err, other.URL)
	}
	if target.n != 0 || len(target.keys) != 0 {
		t.Errorf("redirect target got %d requests with keys %q; want none", target.n, target.keys)
	}

	// Within the origin, a redirect is followed, key and all.
	got, err := newClient(t, first.URL+"/old", writeKey, remote.Options{}).Tags(context.Background(), blog.TagOptions{})
	if err != nil {
		t.Fatalf("same-origin redirect: %v", err)
	}
	want, err := e.svc.Tags(context.Background(), blog.TagOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tags through a same-origin redirect (-service +client):\n%s", diff)
	}

	// A caller's http.Client is used, but not changed.
	hc := &http.Client{Timeout: time.Second}
	if _, err := newClient(t, first.URL+"/moved", writeKey, remote.Options{HTTPClient: hc}).Tags(context.Background(), blog.TagOptions{}); err == nil {
		t.Error("cross-origin redirect followed with a caller's http.Client")
	}
	if hc.CheckRedirect != nil {
		t.Error("remote.New changed the caller's http.Client")
	}
	if target.n != 0 {
		t.Errorf("redirect target got %d requests; want none", target.n)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now

	c := newClient(t, base, writeKey, remote.Options{})
	_, err = c.List(context.Background(), blog.ListOptions{})
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
	if msg := err.Error(); !strings.Contains(msg, base) || !strings.Contains(msg, "cannot be reached") || strings.Contains(msg, writeKey) {
		t.Errorf("message %q should say %s cannot be reached, without the key", msg, base)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release) // runs before srv.Close, which waits for handlers

	c := newClient(t, srv.URL, writeKey, remote.Options{HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	_, err := c.Get(context.Background(), "slow-post")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "did not answer in time") || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error = %v; want ErrUnavailable saying %s did not answer in time", err, srv.URL)
	}

	// A caller giving up is reported as that, and still matches its cause.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Get(ctx, "slow-post")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: error = %v, want context.Canceled", err)
	}
}

func TestOversizedResponse(t *testing.T) {
	t.Parallel()
	huge := `{"slug":"big","body":"` + strings.Repeat("x", remote.DefaultMaxResponseBytes) + `"}`
	srv := serve(t, answer{200, "application/json", huge, nil})
	_, err := newClient(t, srv.URL, writeKey, remote.Options{}).Get(context.Background(), "big")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("error = %v; want ErrUnavailable refusing a body of more than %d bytes", err, remote.DefaultMaxResponseBytes)
	}

	// The bound is the option's, and a body right at it is fine.
	body := `{"slug":"ok"}`
	srv = serve(t, answer{200, "application/json", body, nil})
	if _, err := newClient(t, srv.URL, writeKey, remote.Options{MaxResponseBytes: int64(len(body))}).Get(context.Background(), "ok"); err != nil {
		t.Errorf("body of exactly MaxResponseBytes: %v", err)
	}
	if _, err := newClient(t, srv.URL, writeKey, remote.Options{MaxResponseBytes: int64(len(body) - 1)}).Get(context.Background(), "ok"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("body one byte over MaxResponseBytes: error = %v, want ErrUnavailable", err)
	}
}

func TestNew(t *testing.T) {
	good := []struct{ in, want string }{
		{"https://blog.example.com", "https://blog.example.com"},
		{"https://Blog.Example.com/", "https://blog.example.com"},
		{"http://127.0.0.1:3000/api/v1/", "http://127.0.0.1:3000"},
		{"https://example.com/blog/", "https://example.com/blog"},
		{"  https://example.com  ", "https://example.com"},
	}
	for _, tt := range good {
		c, err := remote.New(tt.in, writeKey, remote.Options{})
		if err != nil {
			t.Errorf("New(%q): %v", tt.in, err)
			continue
		}
		if got := c.BaseURL(); got != tt.want {
			t.Errorf("New(%q).BaseURL() = %q, want %q", tt.in, got, tt.want)
		}
	}

	bad := []struct{ url, key, fragment string }{
		{"ftp://blog.example.com", writeKey, "https://"},
		{"blog.example.com", writeKey, "https://"},
		{"https://", writeKey, "no host"},
		{"https://:443", writeKey, "no host"},
		{"https://user:secret@blog.example.com", writeKey, "user name"},
		{"https://blog.example.com/?key=abc", writeKey, "query"},
		{"https://blog.example.com/?", writeKey, "query"},
		{"https://blog.example.com/#top", writeKey, "fragment"},
		{"http://blog.example.com:99999", writeKey, "port"},
		{"http://[::1", writeKey, "not a URL"},
		{"https://blog.example.com", "", "no API key"},
		{"https://blog.example.com", "  ", "no API key"},
		{"https://blog.example.com", "abc\r\nX-Evil: 1", "control character"},
	}
	for _, tt := range bad {
		_, err := remote.New(tt.url, tt.key, remote.Options{})
		if err == nil {
			t.Errorf("New(%q, %q) succeeded, want an error", tt.url, tt.key)
			continue
		}
		if !strings.Contains(err.Error(), tt.fragment) {
			t.Errorf("New(%q, %q) error %q lacks %q", tt.url, tt.key, err, tt.fragment)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%q) error %q repeats the password", tt.url, err)
		}
	}
}

// A host equal to the base's only under Unicode case mapping is another
// origin: "maİl.test" lowers to "mail.test" in Go, but the HTTP client
// dials its IDNA form, xn--mail-swc.test, which anyone may register.
func TestLookalikeRedirect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var leaked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "mail.test:1" {
			mu.Lock()
			leaked = append(leaked, r.Host+" "+r.Header.Get("X-API-KEY"))
			mu.Unlock()
			return
		}
		w.Header().Set("Location", "http://ma\u0130l.test:1/api/v1/tags")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	defer tr.CloseIdleConnections()
	c := newClient(t, "http://mail.test:1", writeKey, remote.Options{HTTPClient: &http.Client{Transport: tr}})
	if _, err := c.Tags(context.Background(), blog.TagOptions{}); err == nil || !strings.Contains(err.Error(), "another origin") {
		t.Errorf("error = %v; want a refused redirect to another origin", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("requests reached the look-alike host: %q", leaked)
	}
}
