package bridge

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// reservedHeaders are set by the MCP transport itself; a --header must not
// override them, or the protocol breaks in ways that are hard to see.
var reservedHeaders = []string{
	"Accept", "Connection", "Content-Length", "Content-Type", "Host",
	"Last-Event-Id", "Mcp-Method", "Mcp-Name", "Mcp-Protocol-Version",
	"Mcp-Session-Id", "Transfer-Encoding", "Upgrade",
}

// LookupEnv finds an environment variable; os.LookupEnv has this type.
type LookupEnv func(name string) (string, bool)

// ParseHeaders turns "Name: value" lines (the --header values) into a
// header set. In values, ${VAR} is replaced by the environment variable
// VAR, so that a secret can live in an MCP client configuration's "env"
// rather than in its "args"; an unset variable is an error. Only the
// braced form is expanded, so a value with a bare '$' is left alone.
// Repeated names add values.
func ParseHeaders(lines []string, lookup LookupEnv) (http.Header, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	h := make(http.Header)
	for _, line := range lines {
		name, value, err := parseHeaderLine(line, lookup)
		if err != nil {
			return nil, err
		}
		h.Add(name, value)
	}
	return h, nil
}

// ReadHeaderFile reads header lines from a file (--header-file): one
// "Name: value" per line; blank lines and lines starting with '#' are
// skipped. The lines are returned unexpanded, for ParseHeaders.
func ReadHeaderFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("header file: %w", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("header file %s: %w", path, err)
	}
	return lines, nil
}

func parseHeaderLine(line string, lookup LookupEnv) (name, value string, err error) {
	n, v, ok := strings.Cut(line, ":")
	if !ok {
		return "", "", fmt.Errorf("header %q: want \"Name: value\"", redactLine(line))
	}
	name = strings.TrimSpace(n)
	if !httpguts.ValidHeaderFieldName(name) {
		return "", "", fmt.Errorf("header %q: invalid name", name)
	}
	name = http.CanonicalHeaderKey(name)
	for _, r := range reservedHeaders {
		if name == r {
			return "", "", fmt.Errorf("header %s is set by the MCP transport and cannot be overridden", name)
		}
	}
	value, err = ExpandEnv(strings.TrimSpace(v), lookup)
	if err != nil {
		return "", "", fmt.Errorf("header %s: %w", name, err)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("header %s: the value contains a line break or NUL", name)
	}
	return name, value, nil
}

// redactLine shows at most the start of a malformed header line: it may be
// a secret pasted without its name.
func redactLine(s string) string {
	if len(s) > 12 {
		return s[:4] + "…"
	}
	return s
}

// ExpandEnv replaces each ${VAR} in s with the value of the environment
// variable VAR. An unset variable, or a "${" without a valid name and a
// closing brace, is an error.
func ExpandEnv(s string, lookup LookupEnv) (string, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in value")
		}
		name := rest[:j]
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable name %q in ${…}", name)
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s = rest[j+1:]
	}
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
