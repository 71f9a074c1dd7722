package authn

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// BenchmarkScanCalls is the scope check's reading of a request body: the
// get_article call of the load benchmarks, and a create_article with a
// body of 20 KB to skip.
func BenchmarkScanCalls(b *testing.B) {
	long := make([]byte, 20000)
	for i := range long {
		long[i] = "abcdefghij klmnopqrs\\n"[i%22]
	}
	for name, body := range map[string]string{
		"get_article":    `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_article","arguments":{"slug":"a-semaphore-with-a-buffered-channel"}}}`,
		"create_article": `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_article","arguments":{"title":"T","body":"` + string(long) + `","tags":["go","x"]}}}`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				calls, n := scanCalls([]byte(body))
				if n != 1 || len(calls) != 1 {
					b.Fatalf("scanCalls = %v, %d", calls, n)
				}
			}
		})
	}
}

// FuzzScanCallsSeesWhatADecoderSees: whatever body a JSON decoder reads
// as a call, the scope check must see that call too, or the check could
// be talked past. encoding/json stands in for the go-sdk's decoder here;
// it is the more lenient of the two (keys matched ignoring case, the last
// of duplicate keys wins).
func FuzzScanCallsSeesWhatADecoderSees(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_article","arguments":{"slug":"x"}}}`,
		`{"jsonrpc":"2.0","id":1,"METHOD":"tools/list","method":"tools/call","params":{"name":"create_article"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles"},"params":{"Name":"create_article"}}`,
		`{"jsonrpc":"2.0","id":1,"meth\u006fd":"tools/call","params":{"n\u0061me":"create\u005farticle"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_article"}}]`,
		`{"method":"tools/call","params":{"arguments":{"name":"x"},"name":"create_article"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		type message struct {
			Method string `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		var wants []message
		var one message
		var batch []message
		if json.Unmarshal([]byte(body), &one) == nil {
			wants = append(wants, one)
		} else if json.Unmarshal([]byte(body), &batch) == nil && len(batch) <= MaxBatch {
			wants = batch
		}
		calls, _ := scanCalls([]byte(body))
		for _, m := range wants {
			if m.Method == "" {
				continue
			}
			want := call{method: m.Method}
			if m.Method == "tools/call" {
				want.tool = m.Params.Name
			}
			if !slices.Contains(calls, want) && !(want.tool != "" && slices.Contains(calls, call{method: m.Method})) {
				t.Errorf("a decoder reads %+v from %q; the scan found only %+v", want, body, calls)
			}
		}
	})
}

// TestScanCallsIsLinearInTheBody: a message repeating "method" and "name"
// keys yields each distinct call once. Pairing every method with every
// name made 405,000 calls of a 20 KB body (and the scope check a slice as
// long), and a body within the 3 MiB limit could exhaust the memory.
func TestScanCallsIsLinearInTheBody(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,` + strings.Repeat(`"method":"tools/call",`, 450) +
		`"params":{` + strings.Repeat(`"name":"a",`, 900) + `"name":"create_article","x":1}}`
	calls, n := scanCalls([]byte(body))
	want := []call{{method: "tools/call", tool: "a"}, {method: "tools/call", tool: "create_article"}}
	if n != 1 || !slices.Equal(calls, want) {
		t.Errorf("scanCalls of a %d-byte body: %d calls (%.3v), want %v", len(body), len(calls), calls, want)
	}
	// Distinct names still all count.
	var b strings.Builder
	b.WriteString(`{"method":"tools/call","method":"tools/list","params":{`)
	for i := range 200 {
		fmt.Fprintf(&b, `"name":"t%03d",`, i)
	}
	b.WriteString(`"x":1}}`)
	calls, _ = scanCalls([]byte(b.String()))
	if len(calls) != 201 || !slices.Contains(calls, call{method: "tools/call", tool: "t199"}) || !slices.Contains(calls, call{method: "tools/list"}) {
		t.Errorf("200 distinct names and two methods: %d calls, want 201", len(calls))
	}
}
