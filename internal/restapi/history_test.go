package restapi_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/restapi"
)

type revisionJSON struct {
	ID      int64    `json:"id"`
	Actor   string   `json:"actor"`
	Action  string   `json:"action"`
	Changed []string `json:"changed"`
	Article *struct {
		Body string `json:"body"`
	} `json:"article"`
}

// TestHistoryEndpoints: an update and a delete through the API are
// undone through it: the revisions name the key that made each change and
// what changed; DELETE puts the article in the trash, POST …/restore
// brings it back with its body; an earlier revision restored is a new
// revision. The history is the writers': it holds drafts, deleted text
// and who made each change, so a reader gets 403 for all of it.
func TestHistoryEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	e.seed(t)
	base := "/api/v1/articles/go-generics"
	if r := e.call(t, "PATCH", base, writeKey, "application/merge-patch+json", `{"body":"Rewritten by an assistant."}`); r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	for _, p := range []string{base + "/revisions", base + "/revisions/1", "/api/v1/articles/secret-draft/revisions"} {
		if r := e.call(t, "GET", p, readKey, "", ""); r.status != http.StatusForbidden {
			t.Errorf("GET %s as a reader: %d %s", p, r.status, r.body)
		}
	}
	r := e.call(t, "GET", base+"/revisions", writeKey, "", "")
	var page struct {
		Revisions []revisionJSON `json:"revisions"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &page) != nil || len(page.Revisions) != 2 {
		t.Fatalf("GET revisions: %d %s", r.status, r.body)
	}
	upd, created := page.Revisions[0], page.Revisions[1]
	if upd.Action != "updated" || upd.Actor != "key:writer" || strings.Join(upd.Changed, ",") != "body" || upd.Article != nil || created.Action != "created" {
		t.Errorf("revisions %+v", page.Revisions)
	}
	r = e.call(t, "GET", base+"/revisions/"+strconv.FormatInt(created.ID, 10), writeKey, "", "")
	var rev revisionJSON
	if r.status != 200 || json.Unmarshal(r.body, &rev) != nil || rev.Article == nil || rev.Article.Body != "Type parameters arrived in Go 1.18." {
		t.Fatalf("GET the first revision: %d %s", r.status, r.body)
	}
	// Undo the update: the old body again, and a third revision.
	if r := e.call(t, "POST", base+"/revisions/"+strconv.FormatInt(created.ID, 10)+"/restore", readKey, "", ""); r.status != http.StatusForbidden {
		t.Errorf("a reader restoring a revision: %d", r.status)
	}
	r = e.call(t, "POST", base+"/revisions/"+strconv.FormatInt(created.ID, 10)+"/restore", writeKey, "", "")
	if r.status != 200 || !strings.Contains(string(r.body), "Type parameters arrived") {
		t.Fatalf("restore the first revision: %d %s", r.status, r.body)
	}
	// Delete, then restore: the body is intact.
	if r := e.call(t, "DELETE", base, writeKey, "", ""); r.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := e.call(t, "GET", base, writeKey, "", ""); r.status != http.StatusNotFound {
		t.Errorf("GET a trashed article: %d", r.status)
	}
	if r := e.call(t, "GET", base+"/revisions", writeKey, "", ""); r.status != 200 || strings.Count(string(r.body), `"action"`) != 4 {
		t.Errorf("a writer listing the revisions of a trashed article: %d %s", r.status, r.body)
	}
	r = e.call(t, "POST", base+"/restore", writeKey, "", "")
	if r.status != 200 || !strings.Contains(string(r.body), "Type parameters arrived") {
		t.Fatalf("POST restore: %d %s", r.status, r.body)
	}
	if r := e.call(t, "GET", base, readKey, "", ""); r.status != 200 {
		t.Errorf("GET the restored article: %d", r.status)
	}
	if r := e.call(t, "POST", base+"/restore", writeKey, "", ""); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "in the trash") {
		t.Errorf("restoring what is not in the trash: %d %s", r.status, r.body)
	}
	// A post whose slug holds the word is not history.
	if restapi.Scope(httptestRequest("GET", "/api/v1/articles/revisions-explained")) != "articles:read" {
		t.Error("reading an article whose slug says revisions needs write")
	}
	if restapi.Scope(httptestRequest("GET", "/api/v1/articles/x/revisions/3")) != "articles:write" {
		t.Error("a revision needs only read")
	}
	if r := e.call(t, "GET", base+"/revisions/0", writeKey, "", ""); r.status != http.StatusBadRequest {
		t.Errorf("revision 0: %d %s", r.status, r.body)
	}
	if r := e.call(t, "GET", base+"/revisions/99999", writeKey, "", ""); r.status != http.StatusNotFound {
		t.Errorf("an unknown revision: %d %s", r.status, r.body)
	}
}

func httptestRequest(method, path string) *http.Request {
	r, _ := http.NewRequest(method, "http://blog.test"+path, nil)
	return r
}

// TestScheduledState: an article published in the future is a writer's
// "scheduled" article and a reader's 404 until its time.
func TestScheduledState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, restapi.Options{})
	future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	r := e.call(t, "POST", "/api/v1/articles", writeKey, "application/json", `{"title":"Soon","body":"Soon.","published_at":"`+future+`"}`)
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), `"state":"scheduled"`) {
		t.Fatalf("creating a scheduled article: %d %s", r.status, r.body)
	}
	if r := e.call(t, "GET", "/api/v1/articles/soon", readKey, "", ""); r.status != http.StatusNotFound {
		t.Errorf("a reader's GET of a scheduled article: %d", r.status)
	}
	if r := e.call(t, "GET", "/api/v1/articles?include_drafts=true", writeKey, "", ""); !strings.Contains(string(r.body), `"state":"scheduled"`) {
		t.Errorf("a writer's listing: %s", r.body)
	}
}
