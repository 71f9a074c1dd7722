package restapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/restapi"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// The test principal middleware's keys. The real authentication is
// internal/authn's job; here a header picks the scopes.
const (
	readKey  = "read-key"
	writeKey = "write-key"
	noKey    = ""
)

var clock = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// withTestPrincipal puts a principal on the request according to its
// X-API-KEY header, and none for an unknown or missing key, so the
// handler's own scope checks are what the tests see.
func withTestPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *authn.Principal
		switch r.Header.Get("X-API-KEY") {
		case readKey:
			p = &authn.Principal{Subject: "key:reader", Scopes: []string{authn.ScopeRead}, Method: "api_key"}
		case writeKey:
			p = &authn.Principal{Subject: "key:writer", Scopes: []string{authn.ScopeWrite}, Method: "api_key"}
		}
		if p != nil {
			r = r.WithContext(authn.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// env is a running API over a real SQLite-backed blog.Service.
type env struct {
	srv *httptest.Server
	svc *blog.Service
}

func newEnv(t *testing.T, opts restapi.Options) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	svc := blog.NewService(db, func() time.Time { return clock })
	srv := httptest.NewServer(withTestPrincipal(restapi.New(svc, opts)))
	t.Cleanup(srv.Close)
	return &env{srv: srv, svc: svc}
}

// seed is the blog the tests read: five published articles and a draft,
// newest first in this order: draft, sqlite-fts, rust-ownership,
// ca-phe-sua-da, go-generics, go-concurrency.
var seed = []blog.Article{
	{Slug: "go-concurrency", Title: "Concurrency in Go", Summary: "Goroutines and channels.", Body: "Goroutines are cheap. Channels connect goroutines.", Tags: []string{"go", "concurrency"}, Author: "An", PublishedAt: day(1, 5)},
	{Slug: "go-generics", Title: "Generics in Go", Body: "Type parameters arrived in Go 1.18.", Tags: []string{"go"}, PublishedAt: day(2, 10)},
	{Slug: "ca-phe-sua-da", Title: "Cà phê sữa đá", Body: "Cà phê phin với sữa đặc và đá.", Tags: []string{"coffee"}, Language: "vi", PublishedAt: day(3, 1)},
	{Slug: "rust-ownership", Title: "Ownership in Rust", Body: "Borrowing rules keep memory safe.", Tags: []string{"rust"}, PublishedAt: day(4, 1)},
	{Slug: "sqlite-fts", Title: "Full-text search with SQLite", Body: "FTS5 ranks with bm25. Go drives it.", Tags: []string{"sqlite", "go"}, PublishedAt: day(5, 1)},
	{Slug: "secret-draft", Title: "Unfinished goroutines post", Body: "Goroutines, more to come.", Tags: []string{"go", "draft-only"}, PublishedAt: day(6, 1), Draft: true},
}

func day(month time.Month, d int) time.Time { return time.Date(2026, month, d, 9, 0, 0, 0, time.UTC) }

func (e *env) seed(t *testing.T) {
	t.Helper()
	for _, a := range seed {
		if _, err := e.svc.Create(context.Background(), &a); err != nil {
			t.Fatalf("seeding %s: %v", a.Slug, err)
		}
	}
}

// reply is an answer as the tests see it.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request and checks what every answer must carry:
// Cache-Control: no-store, and a JSON Content-Type whenever there is a body.
func (e *env) call(t *testing.T, method, path, key, contentType, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-KEY", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", method, path, got)
	}
	if resp.StatusCode != http.StatusNoContent && method != http.MethodHead {
		if got, want := resp.Header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
			t.Errorf("%s %s: Content-Type = %q, want %q", method, path, got, want)
		}
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode decodes a JSON body strictly: a field the test's type lacks is
// a change of the API the test should notice.
func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %T from %s: %v", v, r.body, err)
	}
	return v
}

type (
	// errorBody is the error shape of the whole server, authn's
	// {"error":"…","error_description":"…"} plus field.
	errorBody struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Field       string `json:"field"`
	}
	// wireArticle is an article as the API sends it: blog.Article's
	// members and its state.
	wireArticle struct {
		blog.Article
		State string `json:"state"`
	}
	listBody struct {
		Articles   []wireArticle `json:"articles"`
		NextCursor string        `json:"next_cursor"`
	}
	searchBody struct {
		Hits []struct {
			Article wireArticle `json:"article"`
			Score   float64     `json:"score"`
			Snippet string      `json:"snippet"`
		} `json:"hits"`
		NextCursor string `json:"next_cursor"`
		Relaxed    bool   `json:"relaxed"`
	}
	tagsBody struct {
		Tags []blog.TagCount `json:"tags"`
	}
)

// wantError checks status and the error shape, and that the description
// holds every one of the given fragments.
func wantError(t *testing.T, r reply, status int, code string, fragments ...string) errorBody {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	e := decode[errorBody](t, r)
	if e.Error != code {
		t.Errorf("error code = %q, want %q (body %s)", e.Error, code, r.body)
	}
	if e.Description == "" {
		t.Errorf("error_description is empty (body %s)", r.body)
	}
	for _, f := range fragments {
		if !strings.Contains(e.Description, f) {
			t.Errorf("error_description %q does not contain %q", e.Description, f)
		}
	}
	if e.Field == "" {
		// The same shape as the authentication layer's answers: a client
		// reads both with one parser, and field appears only when set.
		want := authn.ErrorBody{Error: e.Error, Description: e.Description}
		if got := decode[authn.ErrorBody](t, r); got != want {
			t.Errorf("as authn.ErrorBody: %+v, want %+v", got, want)
		}
	}
	return e
}

// withoutBody is a as listings and searches send it.
func withoutBody(a blog.Article) blog.Article {
	a.Body = ""
	return a
}

// wantSummaries checks the articles of a listing or search answer r,
// which should hold n of them: none has a body member, and each has every
// other member of the same article's GET answer, with the same value. So
// the summary type cannot drift from blog.Article.
func (e *env) wantSummaries(t *testing.T, r reply, n int) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte(`"body"`)) {
		t.Errorf("answer holds article bodies: %s", r.body)
	}
	var page struct {
		Articles []map[string]any `json:"articles"`
		Hits     []struct {
			Article map[string]any `json:"article"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	articles := page.Articles
	for _, h := range page.Hits {
		articles = append(articles, h.Article)
	}
	if len(articles) != n {
		t.Errorf("%d articles in the answer, want %d: %s", len(articles), n, r.body)
	}
	for _, got := range articles {
		slug, _ := got["slug"].(string)
		full := e.call(t, "GET", "/api/v1/articles/"+slug, writeKey, "", "")
		var want map[string]any
		if err := json.Unmarshal(full.body, &want); err != nil || full.status != http.StatusOK {
			t.Fatalf("GET %s: status %d, %v (body %s)", slug, full.status, err, full.body)
		}
		if _, ok := want["body"]; !ok {
			t.Errorf("GET %s lacks the body: %s", slug, full.body)
		}
		delete(want, "body")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s in a listing (-GET without body +listed):\n%s", slug, diff)
		}
	}
}

func (e *env) mustGet(t *testing.T, slug string) *blog.Article {
	t.Helper()
	a, err := e.svc.Get(context.Background(), slug)
	if err != nil {
		t.Fatalf("svc.Get(%q): %v", slug, err)
	}
	return a
}

func slugs(as []wireArticle) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Slug)
	}
	return out
}

func TestGetArticle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	r := e.call(t, "GET", "/api/v1/articles/go-concurrency", readKey, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
	}
	got := decode[wireArticle](t, r)
	if diff := cmp.Diff(e.mustGet(t, "go-concurrency"), &got.Article); diff != "" {
		t.Errorf("article differs from blog.Service's (-want +got):\n%s", diff)
	}
	if got.State != "published" {
		t.Errorf("state %q, want published", got.State)
	}
	// The JSON names are the contract; check a few literally.
	for _, field := range []string{`"slug":"go-concurrency"`, `"published_at":"2026-01-05T09:00:00Z"`, `"tags":["concurrency","go"]`, `"draft":false`} {
		if !bytes.Contains(r.body, []byte(field)) {
			t.Errorf("body %s lacks %s", r.body, field)
		}
	}

	wantError(t, e.call(t, "GET", "/api/v1/articles/no-such-post", readKey, "", ""), 404, "not_found", "no-such-post")
	// A malformed slug is the caller's mistake, not a missing article.
	ve := wantError(t, e.call(t, "GET", "/api/v1/articles/Not_A_Slug", readKey, "", ""), 400, "invalid_argument", "slug")
	if ve.Field != "slug" {
		t.Errorf("field = %q, want slug", ve.Field)
	}
	// Without any principal (the auth middleware missing), nothing is served.
	wantError(t, e.call(t, "GET", "/api/v1/articles/go-concurrency", noKey, "", ""), 403, "forbidden", authn.ScopeRead)
}

func TestDraftVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	t.Run("get", func(t *testing.T) {
		r := e.call(t, "GET", "/api/v1/articles/secret-draft", readKey, "", "")
		missing := e.call(t, "GET", "/api/v1/articles/never-written", readKey, "", "")
		wantError(t, r, 404, "not_found")
		// Indistinguishable from an article that does not exist, but for
		// the slug in the message.
		if got, want := strings.ReplaceAll(string(r.body), "secret-draft", "X"), strings.ReplaceAll(string(missing.body), "never-written", "X"); got != want {
			t.Errorf("draft 404 = %s, missing 404 = %s; want the same", got, want)
		}
		r = e.call(t, "GET", "/api/v1/articles/secret-draft", writeKey, "", "")
		if r.status != 200 || !decode[wireArticle](t, r).Draft {
			t.Errorf("writer GET draft: status %d body %s, want 200 with draft true", r.status, r.body)
		}
	})

	tests := []struct {
		name, path, key string
		wantDraft       bool
	}{
		{"list reader asks", "/api/v1/articles?include_drafts=true&limit=50", readKey, false},
		{"list writer asks", "/api/v1/articles?include_drafts=true&limit=50", writeKey, true},
		{"list writer does not ask", "/api/v1/articles?limit=50", writeKey, false},
		{"search reader asks", "/api/v1/search?q=goroutines&include_drafts=true", readKey, false},
		{"search writer asks", "/api/v1/search?q=goroutines&include_drafts=true", writeKey, true},
		{"search writer does not ask", "/api/v1/search?q=goroutines", writeKey, false},
		{"tags reader asks", "/api/v1/tags?include_drafts=true", readKey, false},
		{"tags writer asks", "/api/v1/tags?include_drafts=true", writeKey, true},
		{"tags writer does not ask", "/api/v1/tags", writeKey, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, "GET", tt.path, tt.key, "", "")
			if r.status != 200 {
				t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
			}
			var got bool
			switch {
			case strings.HasPrefix(tt.path, "/api/v1/articles"):
				got = contains(slugs(decode[listBody](t, r).Articles), "secret-draft")
			case strings.HasPrefix(tt.path, "/api/v1/search"):
				for _, h := range decode[searchBody](t, r).Hits {
					got = got || h.Article.Slug == "secret-draft"
				}
			default:
				for _, tc := range decode[tagsBody](t, r).Tags {
					got = got || tc.Tag == "draft-only"
				}
			}
			if got != tt.wantDraft {
				t.Errorf("draft visible = %v, want %v (body %s)", got, tt.wantDraft, r.body)
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("more pages than articles; cursors do not advance: %v", got)
		}
		r := e.call(t, "GET", "/api/v1/articles?limit=2&cursor="+url.QueryEscape(cursor), readKey, "", "")
		if r.status != 200 {
			t.Fatalf("status = %d (body %s)", r.status, r.body)
		}
		page := decode[listBody](t, r)
		got = append(got, slugs(page.Articles)...)
		if page.NextCursor == "" {
			// The last page leaves next_cursor out altogether.
			if bytes.Contains(r.body, []byte("next_cursor")) {
				t.Errorf("last page body %s holds next_cursor", r.body)
			}
			break
		}
		cursor = page.NextCursor
	}
	want := []string{"sqlite-fts", "rust-ownership", "ca-phe-sua-da", "go-generics", "go-concurrency"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged listing (-want +got):\n%s", diff)
	}

	// The same pages blog.Service gives.
	wantPage, err := e.svc.List(context.Background(), blog.ListOptions{Tag: "go"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.call(t, "GET", "/api/v1/articles?tag=Go", readKey, "", "")
	gotPage := decode[listBody](t, r)
	var wantArticles []wireArticle
	for _, a := range wantPage.Articles {
		wantArticles = append(wantArticles, wireArticle{Article: withoutBody(*a), State: "published"})
	}
	if diff := cmp.Diff(wantArticles, gotPage.Articles); diff != "" {
		t.Errorf("tag=Go listing (-service without bodies +api):\n%s", diff)
	}
	// Listings leave the body out altogether, and nothing else.
	e.wantSummaries(t, e.call(t, "GET", "/api/v1/articles?limit=50&include_drafts=true", writeKey, "", ""), 6)

	r = e.call(t, "GET", "/api/v1/articles?language=vi", readKey, "", "")
	if got := slugs(decode[listBody](t, r).Articles); !cmp.Equal(got, []string{"ca-phe-sua-da"}) {
		t.Errorf("language=vi listing = %v, want [ca-phe-sua-da]", got)
	}

	// An empty result is an empty array, not null.
	r = e.call(t, "GET", "/api/v1/articles?tag=haskell", readKey, "", "")
	if !bytes.Contains(r.body, []byte(`"articles":[]`)) {
		t.Errorf("empty listing body = %s, want \"articles\":[]", r.body)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	r := e.call(t, "GET", "/api/v1/search?q=goroutines", readKey, "", "")
	if r.status != 200 {
		t.Fatalf("status = %d (body %s)", r.status, r.body)
	}
	got := decode[searchBody](t, r)
	if len(got.Hits) != 1 || got.Hits[0].Article.Slug != "go-concurrency" {
		t.Fatalf("hits = %+v, want go-concurrency only", got.Hits)
	}
	want, err := e.svc.Search(context.Background(), blog.SearchOptions{Query: "goroutines"})
	if err != nil {
		t.Fatal(err)
	}
	if h := got.Hits[0]; h.Score != want.Hits[0].Score || h.Snippet != want.Hits[0].Snippet || !strings.Contains(h.Snippet, "**") {
		t.Errorf("hit score %v snippet %q; want %v %q with ** marks", h.Score, h.Snippet, want.Hits[0].Score, want.Hits[0].Snippet)
	}
	// The hit's article is the service's without its body; the snippet,
	// cut from the body on the server, is all of the body that travels.
	if diff := cmp.Diff(wireArticle{Article: withoutBody(*want.Hits[0].Article), State: "published"}, got.Hits[0].Article); diff != "" {
		t.Errorf("hit article (-service without body +api):\n%s", diff)
	}
	e.wantSummaries(t, r, 1)
	e.wantSummaries(t, e.call(t, "GET", "/api/v1/search?q=go&limit=50&include_drafts=true", writeKey, "", ""), 4)
	if got.Relaxed || !bytes.Contains(r.body, []byte(`"relaxed":false`)) {
		t.Errorf("relaxed should be present and false: %s", r.body)
	}

	// No article holds both words, so the search relaxes to either.
	r = e.call(t, "GET", "/api/v1/search?q=borrowing+bm25", readKey, "", "")
	relaxed := decode[searchBody](t, r)
	if !relaxed.Relaxed || len(relaxed.Hits) != 2 {
		t.Errorf("relaxed search: relaxed=%v hits=%d, want true and 2 (body %s)", relaxed.Relaxed, len(relaxed.Hits), r.body)
	}

	// Diacritics fold both ways, and filters apply.
	r = e.call(t, "GET", "/api/v1/search?q=ca+phe&language=vi", readKey, "", "")
	if hits := decode[searchBody](t, r).Hits; len(hits) != 1 || hits[0].Article.Slug != "ca-phe-sua-da" {
		t.Errorf("q=ca phe&language=vi: %s", r.body)
	}
	r = e.call(t, "GET", "/api/v1/search?q=go&tag=sqlite", readKey, "", "")
	if hits := decode[searchBody](t, r).Hits; len(hits) != 1 || hits[0].Article.Slug != "sqlite-fts" {
		t.Errorf("q=go&tag=sqlite: %s", r.body)
	}

	// Paging: one hit per page until the cursor runs out.
	var pages []string
	cursor := ""
	for i := 0; i < 10; i++ {
		r := e.call(t, "GET", "/api/v1/search?q=go&limit=1&cursor="+url.QueryEscape(cursor), readKey, "", "")
		p := decode[searchBody](t, r)
		if len(p.Hits) != 1 {
			t.Fatalf("page %d: %d hits, want 1 (body %s)", i, len(p.Hits), r.body)
		}
		pages = append(pages, p.Hits[0].Article.Slug)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	all, err := e.svc.Search(context.Background(), blog.SearchOptions{Query: "go", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var wantSlugs []string
	for _, h := range all.Hits {
		wantSlugs = append(wantSlugs, h.Article.Slug)
	}
	if diff := cmp.Diff(wantSlugs, pages); diff != "" {
		t.Errorf("search pages (-one page +paged):\n%s", diff)
	}

	wantError(t, e.call(t, "GET", "/api/v1/search", readKey, "", ""), 400, "invalid_argument", "q")
	wantError(t, e.call(t, "GET", "/api/v1/search?q=%22%22", readKey, "", ""), 400, "invalid_argument", "query")
	r = e.call(t, "GET", "/api/v1/search?q=nothingmatchesthis", readKey, "", "")
	if !bytes.Contains(r.body, []byte(`"hits":[]`)) {
		t.Errorf("no hits body = %s, want \"hits\":[]", r.body)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	r := e.call(t, "GET", "/api/v1/tags", readKey, "", "")
	got := decode[tagsBody](t, r)
	want, err := e.svc.Tags(context.Background(), blog.TagOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Tags); diff != "" {
		t.Errorf("tags (-service +api):\n%s", diff)
	}
	if !bytes.Contains(r.body, []byte(`{"tag":"go","count":3}`)) {
		t.Errorf("body %s lacks {\"tag\":\"go\",\"count\":3}", r.body)
	}
	r = e.call(t, "GET", "/api/v1/tags?language=vi", readKey, "", "")
	if diff := cmp.Diff([]blog.TagCount{{Tag: "coffee", Count: 1}}, decode[tagsBody](t, r).Tags); diff != "" {
		t.Errorf("language=vi tags (-want +got):\n%s", diff)
	}
	r = e.call(t, "GET", "/api/v1/tags?language=fr", readKey, "", "")
	if !bytes.Contains(r.body, []byte(`"tags":[]`)) {
		t.Errorf("no tags body = %s, want \"tags\":[]", r.body)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	r := e.call(t, "POST", "/api/v1/articles", writeKey, "application/json",
		`{"title":"Hello, Wörld!","body":"# Hi\n<b>&</b>","tags":["Go","Go "," web dev"],"draft":true}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", r.status, r.body)
	}
	if got, want := r.header.Get("Location"), "/api/v1/articles/hello-world"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	got := decode[wireArticle](t, r)
	want := &blog.Article{Slug: "hello-world", Title: "Hello, Wörld!", Body: "# Hi\n<b>&</b>", Tags: []string{"go", "web-dev"},
		Language: "en", PublishedAt: clock, UpdatedAt: clock, Draft: true}
	if diff := cmp.Diff(want, &got.Article); diff != "" {
		t.Errorf("created article (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.mustGet(t, "hello-world")); diff != "" {
		t.Errorf("stored article (-want +got):\n%s", diff)
	}
	// Markdown is not HTML-escaped in transit.
	if !bytes.Contains(r.body, []byte(`<b>&</b>`)) {
		t.Errorf("body %s: HTML characters were escaped", r.body)
	}

	before := e.mustGet(t, "go-concurrency")
	tests := []struct {
		name, key, ctype, body string
		status                 int
		code                   string
		fragments              []string
	}{
		{"taken slug", writeKey, "application/json", `{"slug":"go-concurrency","title":"Again"}`, 409, "conflict", []string{`"go-concurrency"`}},
		{"taken derived slug", writeKey, "application/json", `{"title":"Go concurrency"}`, 409, "conflict", []string{`"go-concurrency"`}},
		{"reader", readKey, "application/json", `{"slug":"go-concurrency","title":"Mine"}`, 403, "forbidden", []string{authn.ScopeWrite}},
		{"no principal", noKey, "application/json", `{"title":"Mine"}`, 403, "forbidden", nil},
		{"no title", writeKey, "application/json", `{"slug":"x","body":"b"}`, 400, "invalid_argument", []string{"title"}},
		{"bad language", writeKey, "application/json", `{"title":"T","language":"english!"}`, 400, "invalid_argument", []string{"language"}},
		{"empty body", writeKey, "application/json", ``, 400, "invalid_argument", []string{"empty"}},
		{"broken JSON", writeKey, "application/json", `{"title":"T",}`, 400, "invalid_argument", []string{"not valid JSON"}},
		{"cut short", writeKey, "application/json", `{"title":"T"`, 400, "invalid_argument", []string{"ends too early"}},
		{"wrong type", writeKey, "application/json", `{"title":42}`, 400, "invalid_argument", []string{"title", "must be a string"}},
		{"tags not array", writeKey, "application/json", `{"title":"T","tags":"go"}`, 400, "invalid_argument", []string{"tags", "array"}},
		{"bad time", writeKey, "application/json", `{"title":"T","published_at":"yesterday"}`, 400, "invalid_argument", []string{"yesterday"}},
		{"unknown field", writeKey, "application/json", `{"title":"T","titel":"T"}`, 400, "invalid_argument", []string{"titel"}},
		{"trailing data", writeKey, "application/json", `{"title":"T"} {"title":"U"}`, 400, "invalid_argument", []string{"more than one"}},
		{"array", writeKey, "application/json", `[{"title":"T"}]`, 400, "invalid_argument", []string{"object"}},
		{"text/plain", writeKey, "text/plain", `{"title":"T"}`, 415, "unsupported_media_type", []string{"application/json"}},
		{"no content type", writeKey, "", `{"title":"T"}`, 415, "unsupported_media_type", nil},
		{"latin1", writeKey, "application/json; charset=iso-8859-1", `{"title":"T"}`, 415, "unsupported_media_type", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, "POST", "/api/v1/articles", tt.key, tt.ctype, tt.body)
			wantError(t, r, tt.status, tt.code, tt.fragments...)
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("failed create set Location %q", loc)
			}
		})
	}
	// None of the failures wrote anything.
	if diff := cmp.Diff(before, e.mustGet(t, "go-concurrency")); diff != "" {
		t.Errorf("go-concurrency changed by failed creates (-before +after):\n%s", diff)
	}
	page, err := e.svc.List(context.Background(), blog.ListOptions{IncludeDrafts: true, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(page.Articles), len(seed)+1; got != want {
		t.Errorf("%d articles after failed creates, want %d", got, want)
	}

	// The charset parameter in any case is fine.
	r = e.call(t, "POST", "/api/v1/articles", writeKey, "application/json; charset=UTF-8", `{"title":"Charset ok"}`)
	if r.status != 201 {
		t.Errorf("charset=UTF-8: status %d (body %s), want 201", r.status, r.body)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{MaxBodyBytes: 1024})
	e.seed(t)
	before := e.mustGet(t, "go-generics")

	big := `{"title":"Big","body":"` + strings.Repeat("x", 2048) + `"}`
	wantError(t, e.call(t, "POST", "/api/v1/articles", writeKey, "application/json", big), 413, "too_large", "1024")
	wantError(t, e.call(t, "PATCH", "/api/v1/articles/go-generics", writeKey, "application/merge-patch+json",
		`{"body":"`+strings.Repeat("y", 2048)+`"}`), 413, "too_large")
	if diff := cmp.Diff(before, e.mustGet(t, "go-generics")); diff != "" {
		t.Errorf("too-large patch changed the article (-before +after):\n%s", diff)
	}
	if _, err := e.svc.Get(context.Background(), "big"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("too-large create: Get(big) error = %v, want ErrNotFound", err)
	}
	// Just under the limit is fine.
	ok := `{"title":"Small","body":"` + strings.Repeat("x", 900) + `"}`
	if r := e.call(t, "POST", "/api/v1/articles", writeKey, "application/json", ok); r.status != 201 {
		t.Errorf("body under the limit: status %d (body %s)", r.status, r.body)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	r := e.call(t, "PATCH", "/api/v1/articles/go-concurrency", writeKey, "application/merge-patch+json",
		`{"title":"Concurrency in Go, revised","tags":["Go","CSP"],"summary":null,"draft":true}`)
	if r.status != 200 {
		t.Fatalf("status = %d, want 200 (body %s)", r.status, r.body)
	}
	want := *e.mustGet(t, "go-concurrency")
	if want.Title != "Concurrency in Go, revised" || want.Summary != "" || !cmp.Equal(want.Tags, []string{"csp", "go"}) || !want.Draft || want.Author != "An" {
		t.Errorf("stored after patch = %+v; want new title, no summary, tags [csp go], draft, author kept", want)
	}
	if diff := cmp.Diff(want, decode[wireArticle](t, r).Article); diff != "" {
		t.Errorf("answer differs from stored (-stored +answer):\n%s", diff)
	}
	// application/json is accepted too.
	r = e.call(t, "PATCH", "/api/v1/articles/go-concurrency", writeKey, "application/json", `{"draft":false}`)
	if r.status != 200 || decode[wireArticle](t, r).Draft {
		t.Errorf("application/json patch: status %d body %s", r.status, r.body)
	}
	// A translation key is set, then removed with null.
	r = e.call(t, "PATCH", "/api/v1/articles/go-concurrency", writeKey, "application/merge-patch+json", `{"translation_key":"posts/concurrency"}`)
	if r.status != 200 || e.mustGet(t, "go-concurrency").TranslationKey != "posts/concurrency" {
		t.Errorf("setting translation_key: status %d body %s", r.status, r.body)
	}
	r = e.call(t, "PATCH", "/api/v1/articles/go-concurrency", writeKey, "application/merge-patch+json", `{"translation_key":null}`)
	if got := e.mustGet(t, "go-concurrency"); r.status != 200 || got.TranslationKey != "" || got.Title != "Concurrency in Go, revised" {
		t.Errorf("removing translation_key: status %d body %s, stored %+v", r.status, r.body, got)
	}

	before := e.mustGet(t, "go-concurrency")
	long := strings.Repeat("t", blog.MaxTitleLen+1)
	tests := []struct {
		name, slug, key, ctype, body string
		status                       int
		code                         string
		fragments                    []string
	}{
		{"missing", "nope", writeKey, "application/merge-patch+json", `{"title":"x"}`, 404, "not_found", []string{`"nope"`}},
		{"bad slug", "NOPE", writeKey, "application/merge-patch+json", `{"title":"x"}`, 400, "invalid_argument", []string{"slug"}},
		{"too long", "go-concurrency", writeKey, "application/merge-patch+json", `{"title":"` + long + `"}`, 400, "invalid_argument", []string{"title"}},
		{"null title", "go-concurrency", writeKey, "application/merge-patch+json", `{"title":null}`, 400, "invalid_argument", []string{"title", "null"}},
		{"unknown field", "go-concurrency", writeKey, "application/merge-patch+json", `{"slug":"renamed"}`, 400, "invalid_argument", []string{"slug"}},
		{"reader", "go-concurrency", readKey, "application/merge-patch+json", `{"title":"x"}`, 403, "forbidden", []string{authn.ScopeWrite}},
		{"wrong type", "go-concurrency", writeKey, "text/plain", `{"title":"x"}`, 415, "unsupported_media_type", []string{"merge-patch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.call(t, "PATCH", "/api/v1/articles/"+tt.slug, tt.key, tt.ctype, tt.body), tt.status, tt.code, tt.fragments...)
		})
	}
	if diff := cmp.Diff(before, e.mustGet(t, "go-concurrency")); diff != "" {
		t.Errorf("failed patches changed the article (-before +after):\n%s", diff)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	wantError(t, e.call(t, "DELETE", "/api/v1/articles/go-generics", readKey, "", ""), 403, "forbidden")
	e.mustGet(t, "go-generics") // still there

	r := e.call(t, "DELETE", "/api/v1/articles/go-generics", writeKey, "", "")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("DELETE: status %d body %q, want 204 and no body", r.status, r.body)
	}
	if _, err := e.svc.Get(context.Background(), "go-generics"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("after DELETE, Get error = %v, want ErrNotFound", err)
	}
	wantError(t, e.call(t, "GET", "/api/v1/articles/go-generics", readKey, "", ""), 404, "not_found")
	wantError(t, e.call(t, "DELETE", "/api/v1/articles/go-generics", writeKey, "", ""), 404, "not_found", "go-generics")
}

func TestRoutingAndParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)

	tests := []struct {
		name, method, path string
		status             int
		code               string
		allow              string
		fragments          []string
	}{
		{"unknown route", "GET", "/api/v1/posts", 404, "not_found", "", []string{"/api/v1/posts"}},
		{"too deep", "GET", "/api/v1/articles/a/b", 404, "not_found", "", nil},
		{"empty slug", "GET", "/api/v1/articles/", 404, "not_found", "", nil},
		{"unclean path", "GET", "/api/v1//tags", 404, "not_found", "", nil},
		{"dot dot", "GET", "/api/v1/articles/../tags", 404, "not_found", "", nil},
		{"outside prefix", "GET", "/other", 404, "not_found", "", nil},
		{"PUT article", "PUT", "/api/v1/articles/go-generics", 405, "method_not_allowed", "GET, HEAD, PATCH, DELETE", nil},
		{"DELETE list", "DELETE", "/api/v1/articles", 405, "method_not_allowed", "GET, HEAD, POST", nil},
		{"POST search", "POST", "/api/v1/search", 405, "method_not_allowed", "GET, HEAD", nil},
		{"POST tags", "POST", "/api/v1/tags", 405, "method_not_allowed", "GET, HEAD", nil},
		{"limit not a number", "GET", "/api/v1/articles?limit=ten", 400, "invalid_argument", "", []string{"limit", "ten"}},
		{"limit too big", "GET", "/api/v1/articles?limit=51", 400, "invalid_argument", "", []string{"limit"}},
		{"limit negative", "GET", "/api/v1/search?q=go&limit=-1", 400, "invalid_argument", "", []string{"limit"}},
		{"search limit not a number", "GET", "/api/v1/search?q=go&limit=1.5", 400, "invalid_argument", "", []string{"limit"}},
		{"bad cursor", "GET", "/api/v1/articles?cursor=garbage!", 400, "invalid_argument", "", []string{"cursor"}},
		{"bad search cursor", "GET", "/api/v1/search?q=go&cursor=xyz", 400, "invalid_argument", "", []string{"cursor"}},
		{"bad bool", "GET", "/api/v1/articles?include_drafts=maybe", 400, "invalid_argument", "", []string{"include_drafts"}},
		{"unknown parameter", "GET", "/api/v1/articles?tags=go", 400, "invalid_argument", "", []string{"tags", "tag"}},
		{"repeated parameter", "GET", "/api/v1/articles?tag=go&tag=rust", 400, "invalid_argument", "", []string{"tag", "more than once"}},
		{"parameter on get", "GET", "/api/v1/articles/go-generics?x=1", 400, "invalid_argument", "", []string{"x"}},
		{"malformed query", "GET", "/api/v1/tags?language=%zz", 400, "invalid_argument", "", []string{"query"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.call(t, tt.method, tt.path, readKey, "", "")
			wantError(t, r, tt.status, tt.code, tt.fragments...)
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}

	// HEAD works wherever GET does, without a body.
	r := e.call(t, "HEAD", "/api/v1/articles/go-generics", readKey, "", "")
	if r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD: status %d body %q, want 200 and none", r.status, r.body)
	}
}

// stubArticles fails every call with err, to reach the error translations
// a real blog.Service over a healthy store cannot produce on demand.
type stubArticles struct{ err error }

func (s stubArticles) Get(context.Context, string) (*blog.Article, error) { return nil, s.err }
func (s stubArticles) List(context.Context, blog.ListOptions) (*blog.ArticlePage, error) {
	return nil, s.err
}
func (s stubArticles) Search(context.Context, blog.SearchOptions) (*blog.SearchPage, error) {
	return nil, s.err
}
func (s stubArticles) Tags(context.Context, blog.TagOptions) ([]blog.TagCount, error) {
	return nil, s.err
}
func (s stubArticles) Create(context.Context, *blog.Article) (*blog.Article, error) {
	return nil, s.err
}
func (s stubArticles) Update(context.Context, string, blog.Patch) (*blog.Article, error) {
	return nil, s.err
}
func (s stubArticles) Delete(context.Context, string) error { return s.err }
func (s stubArticles) Restore(context.Context, string) (*blog.Article, error) {
	return nil, s.err
}
func (s stubArticles) Revisions(context.Context, string, int, string) (*blog.RevisionPage, error) {
	return nil, s.err
}
func (s stubArticles) Revision(context.Context, string, int64) (*blog.Revision, error) {
	return nil, s.err
}
func (s stubArticles) RestoreRevision(context.Context, string, int64) (*blog.Article, error) {
	return nil, s.err
}

func TestErrorTable(t *testing.T) {
	t.Parallel()
	secret := "sqlite: disk I/O error at /var/lib/blog.db"
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("store: %w", errdefs.Invalid("cursor", "is stale")), 400, "invalid_argument"},
		{fmt.Errorf("%s: %w", secret, errdefs.ErrNotFound), 404, "not_found"},
		{fmt.Errorf("%s: %w", secret, errdefs.ErrConflict), 409, "conflict"},
		{fmt.Errorf("%s: %w", secret, errdefs.ErrForbidden), 403, "forbidden"},
		{fmt.Errorf("%s: %w", secret, errdefs.ErrUnavailable), 503, "unavailable"},
		{errors.New(secret), 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			srv := httptest.NewServer(withTestPrincipal(restapi.New(stubArticles{tt.err}, restapi.Options{Logger: logger})))
			defer srv.Close()
			e := &env{srv: srv}

			for _, rq := range []struct{ method, path, ctype, body string }{
				{"GET", "/api/v1/articles", "", ""},
				{"GET", "/api/v1/articles/some-post", "", ""},
				{"GET", "/api/v1/search?q=x", "", ""},
				{"GET", "/api/v1/tags", "", ""},
				{"POST", "/api/v1/articles", "application/json", `{"title":"T"}`},
				{"PATCH", "/api/v1/articles/some-post", "application/merge-patch+json", `{}`},
				{"DELETE", "/api/v1/articles/some-post", "", ""},
			} {
				r := e.call(t, rq.method, rq.path, writeKey, rq.ctype, rq.body)
				body := wantError(t, r, tt.status, tt.code)
				// Store details stay in the log; the caller gets words
				// meant for them.
				if strings.Contains(body.Description, "sqlite") {
					t.Errorf("%s %s: message %q leaks the store's error", rq.method, rq.path, body.Description)
				}
			}
			if tt.code == "internal" && !strings.Contains(logs.String(), "disk I/O error") {
				t.Errorf("internal error not logged; log:\n%s", logs.String())
			}
			if tt.code == "invalid_argument" {
				// Validation messages are for the caller and pass through.
				r := e.call(t, "GET", "/api/v1/articles", readKey, "", "")
				if eb := wantError(t, r, 400, "invalid_argument", "cursor: is stale"); eb.Field != "cursor" {
					t.Errorf("field = %q, want cursor", eb.Field)
				}
			}
		})
	}
}
