package paramheader

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFor(t *testing.T) {
	t.Parallel()
	schema := json.RawMessage(`{"type":"object","properties":{
		"region":{"type":"string","x-mcp-header":"Region"},
		"count":{"type":"integer","x-mcp-header":"Count"},
		"dry":{"type":"boolean","x-mcp-header":"Dry-Run"},
		"plain":{"type":"string"},
		"target":{"type":"object","properties":{"zone":{"type":"string","x-mcp-header":"Zone"}}}}}`)
	for _, tc := range []struct {
		name, version, args string
		want                http.Header
	}{
		{"all kinds", FirstVersion, `{"region":"eu-west1","count":3,"dry":true,"plain":"x","target":{"zone":"b"}}`,
			http.Header{"Mcp-Param-Region": {"eu-west1"}, "Mcp-Param-Count": {"3"}, "Mcp-Param-Dry-Run": {"true"}, "Mcp-Param-Zone": {"b"}}},
		{"integer written as a float", FirstVersion, `{"count":1e3}`, http.Header{"Mcp-Param-Count": {"1000"}}},
		{"not an integer", FirstVersion, `{"count":1.5}`, nil},
		{"beyond 2^53", FirstVersion, `{"count":9007199254740993}`, nil},
		{"null and absent", FirstVersion, `{"region":null}`, nil},
		{"wrong type", FirstVersion, `{"region":{"a":1},"dry":"yes"}`, http.Header{"Mcp-Param-Dry-Run": {"yes"}}},
		{"non-ASCII", FirstVersion, `{"region":"Zürich"}`, http.Header{"Mcp-Param-Region": {"=?base64?WsO8cmljaA==?="}}},
		{"surrounding blank", FirstVersion, `{"region":" a"}`, http.Header{"Mcp-Param-Region": {"=?base64?IGE=?="}}},
		{"looks encoded", FirstVersion, `{"region":"=?base64?eA==?="}`, http.Header{"Mcp-Param-Region": {"=?base64?PT9iYXNlNjQ/ZUE9PT89?="}}},
		{"line break", FirstVersion, `{"region":"a\nb"}`, http.Header{"Mcp-Param-Region": {"=?base64?YQpi?="}}},
		{"older revision", "2025-11-25", `{"region":"eu"}`, nil},
		{"arguments not an object", FirstVersion, `[1]`, nil},
	} {
		if got := For(tc.version, schema, json.RawMessage(tc.args)); !cmp.Equal(tc.want, got) {
			t.Errorf("%s: For(%s) = %v, want %v", tc.name, tc.args, got, tc.want)
		}
	}
}

func TestForRefusesInvalidMarks(t *testing.T) {
	t.Parallel()
	for _, schema := range []string{
		`{"properties":{"a":{"type":"string","x-mcp-header":"Bad Name"}}}`,
		`{"properties":{"a":{"type":"string","x-mcp-header":""}}}`,
		`{"properties":{"a":{"type":"number","x-mcp-header":"A"}}}`,
		`{"properties":{"a":{"type":"string","x-mcp-header":"A"},"b":{"type":"string","x-mcp-header":"a"}}}`,
	} {
		if got := For(FirstVersion, json.RawMessage(schema), json.RawMessage(`{"a":"1","b":"2"}`)); got != nil {
			t.Errorf("For with schema %s = %v, want nil", schema, got)
		}
	}
	// A schema given as a Go value is read the same way.
	m := map[string]any{"properties": map[string]any{"a": map[string]any{"type": "string", "x-mcp-header": "A"}}}
	if got := For(FirstVersion, m, json.RawMessage(`{"a":"1"}`)); got.Get("Mcp-Param-A") != "1" {
		t.Errorf("For with a map schema = %v", got)
	}
}

func TestApplyReplacesHeaders(t *testing.T) {
	t.Parallel()
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", nil)
	req.Header.Set("Mcp-Param-Stale", "x")
	req.Header.Set("X-Other", "y")
	if got := Apply(req); got != req {
		t.Errorf("Apply without headers in the context changed the request")
	}
	got := Apply(req.WithContext(With(context.Background(), http.Header{"Mcp-Param-Region": {"eu"}})))
	want := http.Header{"Mcp-Param-Region": {"eu"}, "X-Other": {"y"}}
	if diff := cmp.Diff(want, got.Header); diff != "" {
		t.Errorf("headers after Apply (-want +got):\n%s", diff)
	}
	if req.Header.Get("Mcp-Param-Stale") != "x" {
		t.Errorf("Apply changed the caller's request")
	}
}
