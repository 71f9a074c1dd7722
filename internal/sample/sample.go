// Package sample embeds the bundled sample articles: thirty short posts from
// the fictional "2coffee" blog, eighteen in English and twelve in Vietnamese,
// one of them a draft. They give a fresh installation, the tests and demos
// something realistic to list and search.
//
// Each file in articles/ is named <slug>.md and starts with YAML front
// matter (title, slug, date, tags, lang, summary, author and, for the draft,
// draft: true) followed by a Markdown body. This package only embeds the
// files; parsing them is left to the caller.
package sample

import "embed"

// Articles holds the sample articles as articles/<slug>.md.
//
//go:embed articles/*.md
var Articles embed.FS
