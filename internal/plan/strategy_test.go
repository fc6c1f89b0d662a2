package plan

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// strategyOf names the strategy a file of this package belongs to, "" for the files
// both strategies share.
func strategyOf(file string) string {
	base := filepath.Base(file)
	switch {
	case strings.HasPrefix(base, "bluegreen"):
		return "blueGreen"
	case strings.HasPrefix(base, "canary"):
		return "canary"
	}
	return ""
}

// TestStrategiesDoNotCallEachOther keeps each strategy readable on its own: a file of
// one strategy calls its own functions and the shared ones (shared.go and the other
// strategy-neutral files), never a function defined in the other strategy's files.
func TestStrategiesDoNotCallEachOther(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	parsed := map[string]*ast.File{}
	definedIn := map[string]string{} // function or method name -> strategy of its file
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed[f] = af
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if s := strategyOf(f); s != "" {
					definedIn[fd.Name.Name] = s
				}
			}
		}
	}
	if len(definedIn) == 0 {
		t.Fatal("found no strategy functions: the file naming this test relies on changed")
	}
	var bad []string
	for f, af := range parsed {
		own := strategyOf(f)
		if own == "" {
			continue
		}
		ast.Inspect(af, func(n ast.Node) bool {
			var id *ast.Ident
			switch n := n.(type) {
			case *ast.CallExpr:
				id, _ = n.Fun.(*ast.Ident)
			case *ast.SelectorExpr:
				// Method calls, and method values handed on without a call.
				id = n.Sel
			}
			if id == nil {
				return true
			}
			if s, ok := definedIn[id.Name]; ok && s != own {
				bad = append(bad, fset.Position(id.Pos()).String()+": "+own+" file uses "+id.Name+", defined in a "+s+" file")
			}
			return true
		})
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}
