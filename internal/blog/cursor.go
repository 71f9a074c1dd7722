package blog

import (
	"encoding/base64"
	"encoding/json"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// cursor is the decoded form of the opaque page cursors the Service hands
// out: a keyset position for listings and an offset for ranked search
// results. Only the Service reads and writes them; stores see ListRange
// and SearchRange.
type cursor struct {
	Published int64  `json:"p,omitempty"` // Unix seconds of the last item
	Slug      string `json:"s,omitempty"` // slug of the last item
	Offset    int    `json:"o,omitempty"` // results already returned
	// Any records that a search page was relaxed to match any word, so
	// later pages keep matching the same way.
	Any bool `json:"a,omitempty"`
	// Revision is the id of the last revision of a page of revisions.
	Revision int64 `json:"r,omitempty"`
}

// encode returns the opaque text form of c.
func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses a cursor made by encode. The empty string is the
// zero cursor (the first page).
func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 512 || json.Unmarshal(b, &c) != nil || c.Offset < 0 || c.Revision < 0 {
		return cursor{}, errdefs.Invalid("cursor", "is not a cursor this server handed out")
	}
	return c, nil
}

// pageLimit returns the page size to use for a requested limit, or an
// error when the limit is out of range.
func pageLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return DefaultPage, nil
	case limit < 0 || limit > MaxPage:
		return 0, errdefs.Invalid("limit", "must be between 1 and %d", MaxPage)
	}
	return limit, nil
}
