package blog

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestFold(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Cà phê đá", "ca phe da"},
		{"ĐƯỜNG ĐẾN Đà Lạt", "duong den da lat"},
		{"Tiếng Việt có dấu: ắ ằ ẳ ẵ ặ ơ ư", "tieng viet co dau: a a a a a o u"},
		{"naïve café", "naive cafe"},
		{"Straße Łódź Ærø", "strasse lodz aero"},
		{"Go 1.26", "go 1.26"},
		{"", ""},
	} {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWords(t *testing.T) {
	got := Words(`"Cà-phê", title:x NEAR(a b) *go* 🙂 x_y`)
	want := []string{"ca", "phe", "title", "x", "near", "a", "b", "go", "x", "y"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Words (-want +got):\n%s", diff)
	}
}

func TestSlugify(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello, World!", "hello-world"},
		{"Đường đến Go 1.26", "duong-den-go-1-26"},
		{"  --  ", ""},
		{"日本語", ""},
		{strings.Repeat("word ", 40), strings.TrimSuffix(strings.Repeat("word-", 20), "-")},
	} {
		got := Slugify(tc.in)
		if got != tc.want {
			t.Errorf("Slugify(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got != "" {
			if err := ValidateSlug(got); err != nil {
				t.Errorf("Slugify(%q) = %q, which is not a valid slug: %v", tc.in, got, err)
			}
		}
	}
}

func TestParseQuery(t *testing.T) {
	w := func(p bool, ws ...string) Term { return Term{Words: ws, Prefix: p} }
	for _, tc := range []struct {
		in   string
		want []Term
	}{
		{"goroutines channels", []Term{w(false, "goroutines"), w(false, "channels")}},
		{`"cà phê" sữa`, []Term{w(false, "ca", "phe"), w(false, "sua")}},
		{"gorou*", []Term{w(true, "gorou")}},
		{`"buffered chan*"`, []Term{w(true, "buffered", "chan")}},
		{"a AND OR NOT b", []Term{w(false, "a"), w(false, "and"), w(false, "or"), w(false, "not"), w(false, "b")}},
		{`NEAR(x y) title:z ^w -v "unclosed`, []Term{w(false, "near"), w(false, "x"), w(false, "y"), w(false, "title"), w(false, "z"), w(false, "w"), w(false, "v"), w(false, "unclosed")}},
		{"* ** x*y z*", []Term{w(false, "x"), w(false, "y"), w(true, "z")}},
	} {
		q, err := ParseQuery(tc.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, q.Terms); diff != "" {
			t.Errorf("ParseQuery(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, bad := range []string{"", "   ", `"" * ()`, strings.Repeat("a", MaxQueryLen+1), "\xff\xfe"} {
		if _, err := ParseQuery(bad); err == nil {
			t.Errorf("ParseQuery(%.20q) succeeded, want an error", bad)
		}
	}
	q, _ := ParseQuery(strings.Repeat("w ", MaxQueryTerms+5))
	if n := len(q.Words()); n != MaxQueryTerms {
		t.Errorf("a long query kept %d words, want %d", n, MaxQueryTerms)
	}
}

// FuzzParseQuery checks the property every store relies on: a parsed
// query holds only word characters, so no user input becomes syntax.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`"a b"*`, `NEAR(a b)`, `title:x`, `(`, `\x00`, `cà phê *`, `"`, `-x OR y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			return
		}
		if len(q.Terms) == 0 || len(q.Words()) > MaxQueryTerms {
			t.Fatalf("ParseQuery(%q) = %d terms, %d words", s, len(q.Terms), len(q.Words()))
		}
		for _, w := range q.Words() {
			if w == "" || !utf8.ValidString(w) {
				t.Fatalf("ParseQuery(%q): bad word %q", s, w)
			}
			for _, r := range w {
				if !isWordRune(r) {
					t.Fatalf("ParseQuery(%q): word %q holds %q", s, w, r)
				}
			}
		}
	})
}

func TestSnippet(t *testing.T) {
	q, _ := ParseQuery("ca phe")
	body := strings.Repeat("lorem ipsum ", 30) + "Một ly cà phê, rồi code." + strings.Repeat(" dolor sit", 30)
	got := Snippet(body, q, 12)
	if !strings.Contains(got, "**cà** **phê**,") {
		t.Errorf("snippet %q does not bold the original words with punctuation outside", got)
	}
	if !strings.HasPrefix(got, "… ") || !strings.HasSuffix(got, " …") {
		t.Errorf("snippet %q does not mark both cut ends", got)
	}
	if n := len(strings.Fields(got)); n > 14 {
		t.Errorf("snippet has %d fields, want at most 12 words plus two ellipses", n)
	}
	pq, _ := ParseQuery("gorou*")
	if got := Snippet("# Goroutines\n\nMany goroutines.", pq, 30); got != "**Goroutines** Many **goroutines**." {
		t.Errorf("prefix snippet = %q", got)
	}
	if got := Snippet("", q, 10); got != "" {
		t.Errorf("empty text gave %q", got)
	}
}
