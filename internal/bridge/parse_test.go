package bridge

import (
	"strings"
	"testing"
)

func FuzzExpandEnv(f *testing.F) {
	for _, s := range []string{"", "plain", "${A}", "a${A}b${B_2}", "${", "${}", "$A", "${A", "${1}", "}${A}{"} {
		f.Add(s)
	}
	lookup := env(map[string]string{"A": "x", "B_2": "${A}"})
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ExpandEnv(s, lookup)
		if err != nil {
			return
		}
		if !strings.Contains(s, "${") && out != s {
			t.Errorf("ExpandEnv(%q) = %q, changed a value without ${", s, out)
		}
		// Expansion is not recursive: a value that itself contains ${A}
		// stays as it is.
		if strings.Contains(s, "${B_2}") && !strings.Contains(out, "${A}") {
			t.Errorf("ExpandEnv(%q) = %q expanded a variable's value", s, out)
		}
	})
}
