package blog

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold maps text to the form that search indexes and compares: Unicode
// canonical decomposition with the combining marks dropped, "đ"/"Đ" mapped to
// "d" (the Vietnamese letter has no decomposition, so dropping marks alone
// would keep it apart from "d"), and everything lower-cased. "Cà phê đá"
// folds to "ca phe da", so a query typed without diacritics finds text
// written with them, and the other way round.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	var it norm.Iter
	it.InitString(norm.NFD, s)
	for !it.Done() {
		seg := it.Next()
		for len(seg) > 0 {
			r, n := utf8.DecodeRune(seg)
			seg = seg[n:]
			switch {
			case unicode.Is(unicode.Mn, r):
				continue
			case r == 'đ' || r == 'Đ':
				r = 'd'
			case foldSpecial[r] != "":
				// Letters without a decomposition that readers treat
				// as plain Latin letters.
				b.WriteString(foldSpecial[r])
				continue
			default:
				r = unicode.ToLower(r)
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

var foldSpecial = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
	'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'þ': "th", 'Þ': "th", 'ð': "d", 'Ð': "d",
}

// isWordRune reports whether r belongs inside a search word: letters,
// numbers and private-use characters. SQLite's unicode61 tokenizer draws
// the line slightly differently (it keeps some newer symbols inside words),
// so stores index the words Words returns, joined by spaces, rather than
// raw folded text: the index then holds exactly the words a query is built
// from.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// Words folds s and splits it into search words.
func Words(s string) []string {
	return strings.FieldsFunc(Fold(s), func(r rune) bool { return !isWordRune(r) })
}

// Slugify derives a slug from a title: folded, ASCII letters and digits
// joined by single hyphens, cut at a word boundary to MaxSlugLen. It returns
// "" when the title has no ASCII letters or digits at all.
func Slugify(title string) string {
	var b strings.Builder
	for _, w := range Words(title) {
		var part strings.Builder
		for _, r := range w {
			if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				part.WriteRune(r)
			}
		}
		if part.Len() == 0 {
			continue
		}
		if b.Len()+1+part.Len() > MaxSlugLen {
			if b.Len() == 0 {
				return part.String()[:MaxSlugLen]
			}
			break
		}
		if b.Len() > 0 {
			b.WriteByte('-')
		}
		b.WriteString(part.String())
	}
	return b.String()
}
