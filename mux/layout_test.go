package mux

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// maxFields bounds the fields of any struct of the package: a type with
// more holds several things, each of which should be a type of its own
// (as the parts of a Session are).
const maxFields = 30

func TestStructFields(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			fields := 0
			for _, fl := range st.Fields.List {
				fields += max(1, len(fl.Names))
			}
			if fields > maxFields {
				t.Errorf("%s: %s has %d fields, more than %d", name, ts.Name.Name, fields, maxFields)
			}
			return true
		})
	}
}
