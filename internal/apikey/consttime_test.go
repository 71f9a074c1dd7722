package apikey

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestConstantTimeCompare is a code review written down: a timing test
// would be flaky, so instead this checks that Verify compares hashes with
// crypto/subtle and that no variable-time comparison of bytes appears in
// the package.
func TestConstantTimeCompare(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var sawSubtleInVerify bool
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		var fn string
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.FuncDecl); ok {
				fn = d.Name.Name
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			switch pkg.Name + "." + sel.Sel.Name {
			case "subtle.ConstantTimeCompare":
				if fn == "Verify" {
					sawSubtleInVerify = true
				}
			case "bytes.Equal", "bytes.Compare", "reflect.DeepEqual", "slices.Equal":
				t.Errorf("%s: %s.%s in %s; compare secrets and hashes with subtle.ConstantTimeCompare",
					fset.Position(call.Pos()), pkg.Name, sel.Sel.Name, fn)
			}
			return true
		})
	}
	if !sawSubtleInVerify {
		t.Error("Verify does not call subtle.ConstantTimeCompare")
	}
}
