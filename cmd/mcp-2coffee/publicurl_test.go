package main

import (
	"strings"
	"testing"
)

func TestParsePublicURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:3000":       "http://127.0.0.1:3000",
		"http://localhost:3000/":      "http://localhost:3000",
		"https://blog.example/blog/":  "https://blog.example/blog",
		"https://blog.example:8443/x": "https://blog.example:8443/x",
	} {
		u, err := parsePublicURL(in)
		if err != nil || u.String() != want {
			t.Errorf("parsePublicURL(%q) = %v, %v; want %q", in, u, err, want)
		}
	}
	for in, why := range map[string]string{
		"ftp://blog.example":           "http://",
		"https://u:p@blog.example":     "without credentials",
		"https://blog.example/?x=1":    "without credentials, query",
		"http://blog.example":          "over https",
		"https://blog.example/my%20b":  "plain characters",
		"http://[fe80::1%25eth0]:3000": "no zone",
		"https://":                     "without credentials",
	} {
		if u, err := parsePublicURL(in); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("parsePublicURL(%q) = %v, %v; want an error about %q", in, u, err, why)
		}
	}
}
