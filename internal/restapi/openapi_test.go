package restapi_test

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/restapi"
)

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml and the handler in step:
// every documented operation is served, every other method on a documented
// path is 405, every documented query parameter is accepted, and every
// $ref in the document points at something.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	checkRefs(t, doc, doc, "#")

	schemes, _ := dig(doc, "components", "securitySchemes").(map[string]any)
	if got := dig(schemes, "ApiKey", "name"); got != "X-API-KEY" {
		t.Errorf("ApiKey scheme header = %v, want X-API-KEY", got)
	}
	if got := dig(schemes, "Bearer", "scheme"); got != "bearer" {
		t.Errorf("Bearer scheme = %v, want bearer", got)
	}

	e := newEnv(t, restapi.Options{})
	e.seed(t)
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("no paths documented")
	}
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		// A request path for the template, with an existing article.
		concrete := strings.ReplaceAll(p, "{slug}", "go-generics")
		for _, method := range []string{"GET", "POST", "PATCH", "DELETE", "PUT"} {
			op, documented := ops[strings.ToLower(method)].(map[string]any)
			query := ""
			if method == "GET" && strings.HasSuffix(p, "/search") {
				query = "?q=go"
			}
			ctype, body := "", ""
			if method == "POST" || method == "PATCH" {
				ctype, body = "application/json", `{"title":"OpenAPI probe"}`
			}
			r := e.call(t, method, concrete+query, writeKey, ctype, body)
			if !documented {
				if r.status != http.StatusMethodNotAllowed {
					t.Errorf("%s %s is not documented but answers %d", method, p, r.status)
				}
				continue
			}
			if r.status == http.StatusMethodNotAllowed || (r.status == http.StatusNotFound && strings.Contains(string(r.body), "no API endpoint")) {
				t.Errorf("%s %s is documented but answers %d %s", method, p, r.status, r.body)
			}
			if _, ok := op["responses"].(map[string]any)[strconv.Itoa(r.status)]; !ok {
				t.Errorf("%s %s answered %d, which is not documented", method, p, r.status)
			}
			for _, prm := range parameters(t, doc, op) {
				if prm["in"] != "query" {
					continue
				}
				name, _ := prm["name"].(string)
				sep := "?"
				if query != "" {
					sep = "&"
				}
				r := e.call(t, method, concrete+query+sep+name+"=", writeKey, ctype, body)
				if strings.Contains(string(r.body), "is not a parameter") {
					t.Errorf("%s %s: documented parameter %q refused: %s", method, p, name, r.body)
				}
			}
		}
	}
}

// TestOpenAPIErrorAndSummary checks the parts of docs/openapi.yaml the
// tests above cannot reach by calling the API: every error response of
// every operation is the one Error schema; that schema holds exactly the
// members the server's error answers (this API's and internal/authn's)
// may carry; and listings and search results hold ArticleSummary, which
// is Article without body.
func TestOpenAPIErrorAndSummary(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}

	const errorRef = "#/components/schemas/Error"
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			responses, _ := dig(op, "responses").(map[string]any)
			for status, resp := range responses {
				if status < "400" {
					continue
				}
				m, _ := resp.(map[string]any)
				if ref, ok := m["$ref"].(string); ok {
					m, _ = resolve(doc, ref).(map[string]any)
				}
				if got := dig(m, "content", "application/json", "schema", "$ref"); got != errorRef {
					t.Errorf("%s %s %s: schema %v, want %s", method, p, status, got, errorRef)
				}
			}
		}
	}

	props, _ := dig(doc, "components", "schemas", "Error", "properties").(map[string]any)
	var got []string
	for k := range props {
		got = append(got, k)
	}
	slices.Sort(got)
	// authn.ErrorBody's members, and the API's field.
	want := []string{"error", "error_description", "field", "scope"}
	for f := range reflect.TypeFor[authn.ErrorBody]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !slices.Contains(want, name) {
			t.Errorf("authn.ErrorBody member %q is not in this test's list", name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Error schema members = %v, want %v", got, want)
	}
	if typ := dig(props, "error", "type"); typ != "string" {
		t.Errorf("Error.error type = %v, want string", typ)
	}

	schemas, _ := dig(doc, "components", "schemas").(map[string]any)
	const summaryRef = "#/components/schemas/ArticleSummary"
	if got := dig(schemas, "ArticlePage", "properties", "articles", "items", "$ref"); got != summaryRef {
		t.Errorf("ArticlePage.articles items = %v, want %s", got, summaryRef)
	}
	if got := dig(schemas, "SearchHit", "properties", "article", "$ref"); got != summaryRef {
		t.Errorf("SearchHit.article = %v, want %s", got, summaryRef)
	}
	if _, ok := dig(schemas, "ArticleSummary", "properties").(map[string]any)["body"]; ok {
		t.Error("ArticleSummary has a body")
	}
}

// parameters returns an operation's parameters with $refs resolved.
func parameters(t *testing.T, doc map[string]any, op map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := op["parameters"].([]any)
	for _, p := range list {
		m, _ := p.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			m, _ = resolve(doc, ref).(map[string]any)
		}
		if m == nil {
			t.Errorf("unresolvable parameter %v", p)
			continue
		}
		out = append(out, m)
	}
	return out
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func resolve(doc map[string]any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	return dig(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
}

func checkRefs(t *testing.T, doc map[string]any, v any, at string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok && resolve(doc, ref) == nil {
			t.Errorf("%s: $ref %q points at nothing", at, ref)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			checkRefs(t, doc, v[k], at+"/"+k)
		}
	case []any:
		for i, x := range v {
			checkRefs(t, doc, x, at+"/"+strconv.Itoa(i))
		}
	}
}
