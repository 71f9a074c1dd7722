package mcpcall

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		method string
		args   []string
		want   Request
	}{
		{"tools/list", nil, Request{Method: "tools/list"}},
		{"tools/call", []string{"search_articles", "query=goroutines", "limit=5", "exact=true", `filter={"tags":["go"]}`, `id="42"`, "note=hello world", "big=12345678901234567890"},
			Request{Method: "tools/call", Name: "search_articles", Arguments: map[string]any{
				"query": "goroutines", "limit": json.Number("5"), "exact": true,
				"filter": map[string]any{"tags": []any{"go"}}, "id": "42", "note": "hello world",
				"big": json.Number("12345678901234567890"),
			}}},
		{"tools/call", []string{"t", "--json", `{"a":1,"b":"x"}`, "b=y"},
			Request{Method: "tools/call", Name: "t", Arguments: map[string]any{"a": json.Number("1"), "b": "y"}}},
		{"tools/call", []string{"t", `--json={"a":null}`}, Request{Method: "tools/call", Name: "t", Arguments: map[string]any{"a": nil}}},
		{"tools/call", []string{"t", "expr=1 2"}, Request{Method: "tools/call", Name: "t", Arguments: map[string]any{"expr": "1 2"}}},
		{"prompts/get", []string{"greet", "who=5"}, Request{Method: "prompts/get", Name: "greet", Arguments: map[string]any{"who": "5"}}},
		{"resources/read", []string{"blog://articles/hello"}, Request{Method: "resources/read", URI: "blog://articles/hello"}},
	} {
		got, err := Parse(tc.method, tc.args)
		if err != nil {
			t.Errorf("Parse(%s, %q): %v", tc.method, tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Parse(%s, %q) (-want +got):\n%s", tc.method, tc.args, diff)
		}
	}
	for _, tc := range []struct {
		method string
		args   []string
	}{
		{"tools/call", nil},
		{"tools/call", []string{"t", "noequals"}},
		{"tools/call", []string{"t", "--json"}},
		{"tools/call", []string{"t", "--json", "[1]"}},
		{"resources/read", nil},
		{"tools/list", []string{"extra"}},
		{"prompts/get", []string{"p", `--json={"n":1}`}},
		{"tools/destroy", nil},
	} {
		if _, err := Parse(tc.method, tc.args); err == nil {
			t.Errorf("Parse(%s, %q) succeeded, want an error", tc.method, tc.args)
		}
	}
}
