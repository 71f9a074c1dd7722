-- A second, small search index over the head of each article (title, tags
-- and summary), which search ranks with bm25; an article that matches only
-- in its body is not ranked but listed after those, newest first, as the
-- PostgreSQL backend does. Ranking every match of articles_fts read the
-- column sizes and the row of each one: 13 ms for a word in half of 10,000
-- articles. The head index holds a fraction of the words, and a word is in
-- fewer heads than bodies. Like articles_fts, it holds the folded words of
-- each field (blog.Words), its rowid is articles.id, and it keeps no copy
-- of the text.
CREATE VIRTUAL TABLE articles_head_fts USING fts5 (
    title, tags, summary,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- migrate fills it for the articles that exist (indexHeads), in this
-- migration's transaction: the words are computed in Go.
