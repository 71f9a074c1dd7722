package blog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

func TestValidate(t *testing.T) {
	good := func() *Article {
		a := &Article{Slug: "ok", Title: "T", Body: "b", Tags: []string{" Go ", "go", "Machine  Learning"}, PublishedAt: time.Unix(1, 0)}
		a.Normalize()
		return a
	}
	if a := good(); a.Validate() != nil || a.Language != "en" || strings.Join(a.Tags, ",") != "go,machine-learning" {
		t.Fatalf("good article: %+v, %v", a, a.Validate())
	}
	for _, tc := range []struct {
		field string
		edit  func(a *Article)
	}{
		{"slug", func(a *Article) { a.Slug = "Bad Slug" }},
		{"slug", func(a *Article) { a.Slug = "a--b" }},
		{"title", func(a *Article) { a.Title = "" }},
		{"title", func(a *Article) { a.Title = strings.Repeat("é", MaxTitleLen+1) }},
		{"body", func(a *Article) { a.Body = strings.Repeat("x", MaxBodyBytes+1) }},
		{"body", func(a *Article) { a.Body = "bad \xff utf8" }},
		{"tags", func(a *Article) { a.Tags = make([]string, MaxTags+1) }},
		{"language", func(a *Article) { a.Language = "english!" }},
		{"published_at", func(a *Article) { a.PublishedAt = time.Time{} }},
	} {
		a := good()
		tc.edit(a)
		err := a.Validate()
		var ve *errdefs.ValidationError
		if !errors.As(err, &ve) || ve.Field != tc.field || !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want a errdefs.ValidationError on %q", tc.field, err, tc.field)
		}
	}
}

func TestNormalizeLanguageAndTags(t *testing.T) {
	for in, want := range map[string]string{"": "en", "EN": "en", "vi_VN": "vi-VN", "en-us": "en-US", " vi ": "vi", "zh-Hant-TW": "zh-Hant-TW"} {
		if got := NormalizeLanguage(in); got != want {
			t.Errorf("NormalizeLanguage(%q) = %q, want %q", in, got, want)
		}
	}
	a := &Article{Slug: "x", Title: "t", Tags: []string{"ok", "bad\xff"}, PublishedAt: time.Unix(1, 0)}
	a.Normalize()
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "tags") {
		t.Errorf("a tag with invalid UTF-8 passed: %v (tags %q)", err, a.Tags)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := cursor{Published: 1700000000, Slug: "x", Offset: 20, Any: true}
	got, err := decodeCursor(c.encode())
	if err != nil || got != c {
		t.Fatalf("decodeCursor(Encode(%+v)) = %+v, %v", c, got, err)
	}
	for _, bad := range []string{"!!", strings.Repeat("A", 600), "eyJvIjotMX0"} {
		if _, err := decodeCursor(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("decodeCursor(%q) = %v, want errdefs.ErrInvalid", bad, err)
		}
	}
}

func TestPageLimit(t *testing.T) {
	for in, want := range map[int]int{0: DefaultPage, 1: 1, MaxPage: MaxPage} {
		if got, err := pageLimit(in); err != nil || got != want {
			t.Errorf("pageLimit(%d) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []int{-1, MaxPage + 1} {
		if _, err := pageLimit(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("pageLimit(%d) = %v, want errdefs.ErrInvalid", bad, err)
		}
	}
}
