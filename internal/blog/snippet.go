package blog

import (
	"strings"
)

// Snippet picks the stretch of at most maxWords words of text that holds the
// most distinct query words (ties go to the earliest), wraps every matching
// word in "**", and marks cut ends with "…". It works on the original text,
// not the folded index, so Vietnamese snippets keep their diacritics while
// matching a query typed without them. Markdown markers at word edges (#, >,
// `, *, _) are dropped so the snippet reads as prose.
func Snippet(text string, q Query, maxWords int) string {
	if maxWords <= 0 {
		maxWords = 30
	}
	fields := strings.Fields(text)
	cleaned := fields[:0:0]
	for _, f := range fields {
		f = strings.Trim(f, "#>`*_|")
		if f != "" && f != "-" {
			cleaned = append(cleaned, f)
		}
	}
	fields = cleaned
	if len(fields) == 0 {
		return ""
	}

	exact := map[string]int{}
	var prefixes []string
	var prefixIDs []int
	id := 0
	for _, t := range q.Terms {
		for i, w := range t.Words {
			if t.Prefix && i == len(t.Words)-1 {
				prefixes = append(prefixes, w)
				prefixIDs = append(prefixIDs, id)
			} else if _, ok := exact[w]; !ok {
				exact[w] = id
			}
			id++
		}
	}
	// match[i] is the id of the query word that field i matches, or -1.
	match := make([]int, len(fields))
	for i, f := range fields {
		match[i] = -1
		for _, w := range Words(f) {
			if m, ok := exact[w]; ok {
				match[i] = m
				break
			}
			for j, p := range prefixes {
				if strings.HasPrefix(w, p) {
					match[i] = prefixIDs[j]
					break
				}
			}
			if match[i] >= 0 {
				break
			}
		}
	}

	// Slide a window of maxWords fields, counting distinct matched ids.
	n := min(maxWords, len(fields))
	counts := map[int]int{}
	distinct, hits := 0, 0
	add := func(i, d int) {
		m := match[i]
		if m < 0 {
			return
		}
		hits += d
		counts[m] += d
		if d > 0 && counts[m] == 1 {
			distinct++
		}
		if d < 0 && counts[m] == 0 {
			distinct--
		}
	}
	for i := range n {
		add(i, 1)
	}
	best, bestDistinct, bestHits := 0, distinct, hits
	for start := 1; start+n <= len(fields); start++ {
		add(start-1, -1)
		add(start+n-1, 1)
		if distinct > bestDistinct || (distinct == bestDistinct && hits > bestHits) {
			best, bestDistinct, bestHits = start, distinct, hits
		}
	}
	// Start a little before the first hit so the reader gets context.
	if bestHits > 0 {
		first := best
		for first < best+n && match[first] < 0 {
			first++
		}
		lead := min(5, n/4)
		if first-lead > best {
			best = min(first-lead, len(fields)-n)
		}
	}

	var b strings.Builder
	if best > 0 {
		b.WriteString("… ")
	}
	for i := best; i < best+n; i++ {
		if i > best {
			b.WriteByte(' ')
		}
		if match[i] >= 0 {
			// Bold the word itself; punctuation around it stays outside.
			f := fields[i]
			core := strings.TrimFunc(f, func(r rune) bool { return !isWordRune(r) })
			if core == "" {
				core = f
			}
			at := strings.Index(f, core)
			b.WriteString(f[:at] + "**" + core + "**" + f[at+len(core):])
		} else {
			b.WriteString(fields[i])
		}
	}
	if best+n < len(fields) {
		b.WriteString(" …")
	}
	return b.String()
}
