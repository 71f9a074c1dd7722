package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// Copied counts what Copy wrote.
type Copied struct {
	Articles, Keys, Users, Clients, Grants, Revisions, Trashed int
}

func (c Copied) String() string {
	return fmt.Sprintf("%d articles, %d API keys, %d users, %d OAuth clients, %d grants, %d revisions, %d articles in the trash",
		c.Articles, c.Keys, c.Users, c.Clients, c.Grants, c.Revisions, c.Trashed)
}

// ErrNotEmpty is returned by Copy when the destination already holds a
// blog: copying into it would mix two blogs' keys and users.
var ErrNotEmpty = errors.New("the destination database is not empty")

// copyBatch is how many articles one transaction of Copy writes: the most
// a store is asked to list at once (blog.ListRange.Limit).
const copyBatch = blog.MaxPage + 1

// Copy copies a whole blog from src into dst, which must be empty: every
// article (drafts too) with its revisions, the trash, every API key (its hash: the keys people hold keep
// working, revoked and expired ones stay listed as they were), every user
// with their password hash, every stored OAuth client with its secret's
// hash, and every remembered approval. It is the way to move a blog from
// SQLite to PostgreSQL (or back) without losing anyone's access.
//
// Sign-in sessions, authorization codes and issued tokens are not copied:
// they are short-lived or rotate, and are not listed by the stores. After
// the move each connected app signs in once more; its grant is kept, so
// the user is not asked to approve it again.
//
// Writes to src while Copy runs may be missed: stop serving first.
func Copy(ctx context.Context, dst, src Backend) (Copied, error) {
	var c Copied
	if err := checkEmpty(ctx, dst); err != nil {
		return c, err
	}
	// Users before grants, which name them.
	users, err := src.ListUsers(ctx)
	if err != nil {
		return c, fmt.Errorf("reading users: %w", err)
	}
	for _, u := range users {
		if err := dst.CreateUser(ctx, u); err != nil {
			return c, fmt.Errorf("user %q: %w", u.Name, err)
		}
		c.Users++
	}
	keys, err := src.ListKeys(ctx)
	if err != nil {
		return c, fmt.Errorf("reading API keys: %w", err)
	}
	for _, k := range keys {
		if err := dst.CreateKey(ctx, k); err != nil {
			return c, fmt.Errorf("API key %s: %w", k.ID, err)
		}
		c.Keys++
	}
	clients, err := src.ListClients(ctx)
	if err != nil {
		return c, fmt.Errorf("reading OAuth clients: %w", err)
	}
	for _, cl := range clients {
		if err := dst.CreateClient(ctx, cl); err != nil {
			return c, fmt.Errorf("OAuth client %s: %w", cl.ID, err)
		}
		c.Clients++
	}
	grants, err := src.ListGrants(ctx, "")
	if err != nil {
		return c, fmt.Errorf("reading grants: %w", err)
	}
	for _, g := range grants {
		if err := dst.SaveGrant(ctx, g); err != nil {
			return c, fmt.Errorf("grant of %q to %s: %w", g.User, g.ClientID, err)
		}
		c.Grants++
	}
	// Articles last and in batches, each batch one transaction: a blog
	// of any size copies in bounded memory.
	r := blog.ListRange{Filter: blog.Filter{IncludeDrafts: true}, Limit: copyBatch}
	for {
		as, err := src.ListArticles(ctx, r)
		if err != nil {
			return c, fmt.Errorf("reading articles: %w", err)
		}
		if len(as) == 0 {
			break
		}
		// Quiet: the history is copied as it was, below.
		if _, err := dst.UpsertArticles(ctx, as, blog.Change{Actor: "copy", At: time.Now(), Quiet: true}); err != nil {
			return c, fmt.Errorf("writing articles: %w", err)
		}
		c.Articles += len(as)
		last := as[len(as)-1]
		r.After = &blog.Position{PublishedAt: last.PublishedAt, Slug: last.Slug}
	}
	// Where imported articles came from, for export.
	sources, err := src.ListSources(ctx)
	if err != nil {
		return c, fmt.Errorf("reading sources: %w", err)
	}
	if err := dst.SaveSources(ctx, sources); err != nil {
		return c, fmt.Errorf("writing sources: %w", err)
	}
	// The history: the trash, then every revision in order, in batches.
	trash, err := src.ListTrash(ctx)
	if err != nil {
		return c, fmt.Errorf("reading the trash: %w", err)
	}
	if err := dst.CopyHistory(ctx, nil, trash); err != nil {
		return c, fmt.Errorf("writing the trash: %w", err)
	}
	c.Trashed = len(trash)
	for after := int64(0); ; {
		revs, err := src.RevisionsAfter(ctx, after, copyBatch)
		if err != nil {
			return c, fmt.Errorf("reading revisions: %w", err)
		}
		if len(revs) == 0 {
			break
		}
		if err := dst.CopyHistory(ctx, revs, nil); err != nil {
			return c, fmt.Errorf("writing revisions: %w", err)
		}
		c.Revisions += len(revs)
		after = revs[len(revs)-1].ID
	}
	return c, nil
}

// checkEmpty fails with ErrNotEmpty when dst holds anything Copy writes.
func checkEmpty(ctx context.Context, dst Backend) error {
	var held []string
	n, err := dst.CountArticles(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		held = append(held, fmt.Sprintf("%d articles", n))
	}
	trash, err := dst.ListTrash(ctx)
	if err != nil {
		return err
	}
	if len(trash) > 0 {
		held = append(held, fmt.Sprintf("%d articles in the trash", len(trash)))
	}
	keys, err := dst.ListKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		held = append(held, fmt.Sprintf("%d API keys", len(keys)))
	}
	users, err := dst.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		held = append(held, fmt.Sprintf("%d users", len(users)))
	}
	clients, err := dst.ListClients(ctx)
	if err != nil {
		return err
	}
	if len(clients) > 0 {
		held = append(held, fmt.Sprintf("%d OAuth clients", len(clients)))
	}
	if len(held) > 0 {
		return fmt.Errorf("%w: it holds %s; copy into a new database", ErrNotEmpty, strings.Join(held, ", "))
	}
	return nil
}
