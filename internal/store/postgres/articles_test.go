package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) blog.Store { return openTest(t) })
}

// TestHugeBody: a body twice the size any article may have (the store
// does not enforce blog.MaxBodyBytes; the Service does), every word of it
// distinct, so its words overflow what one tsvector can hold. It is stored
// whole and found by a word near its start; the words that did not fit
// are simply not indexed.
func TestHugeBody(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	var b strings.Builder
	for i := 0; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, "word%d ", i)
	}
	huge := &blog.Article{Slug: "huge", Title: "Huge", Body: b.String(), PublishedAt: time.Now(), UpdatedAt: time.Now()}
	huge.Normalize()
	if err := db.CreateArticle(t.Context(), huge, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatalf("CreateArticle of a %d-byte body: %v", len(huge.Body), err)
	}
	if _, err := db.UpsertArticles(t.Context(), []*blog.Article{huge}, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatalf("UpsertArticles of a %d-byte body: %v", len(huge.Body), err)
	}
	got, err := db.GetArticle(t.Context(), "huge")
	if err != nil || got.Body != huge.Body {
		t.Fatalf("GetArticle = %d bytes, %v; want the %d bytes written", len(got.Body), err, len(huge.Body))
	}
	for _, w := range []string{"word3", "word100000", "huge"} {
		q, _ := blog.ParseQuery(w)
		hits, err := db.SearchArticles(t.Context(), q, blog.SearchRange{Limit: 10})
		if err != nil || len(hits) != 1 {
			t.Errorf("search %q: %d hits, %v; want the huge article", w, len(hits), err)
		}
	}
}
