package testsupport

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the module's root folder, two levels up from here.
const root = "../.."

const module = "github.com/plexusnet/plexus"

// TestNoTestSupportInLibrary checks that no non-test package of the module
// depends on a package under internal/testsupport.
func TestNoTestSupportInLibrary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	support := module + "/internal/testsupport"
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := fields[0]
		if pkg == support || strings.HasPrefix(pkg, support+"/") {
			continue
		}
		checked++
		for _, dep := range fields[1:] {
			if dep == support || strings.HasPrefix(dep, support+"/") {
				t.Errorf("%s depends on the test-support package %s", pkg, dep)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d packages listed; is the module root right?", checked)
	}
}

// goFiles calls f for every Go file of the module (not of the bench
// module, and not under testdata), parsed with comments.
func goFiles(t *testing.T, f func(path string, fset *token.FileSet, file *ast.File)) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		f(path, fset, file)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// maxFields is the most fields a struct of the library may have: past it,
// a struct holds several jobs that want types of their own.
const maxFields = 30

// TestStructSize checks that no struct type of the library (test files
// aside) has more than maxFields fields.
func TestStructSize(t *testing.T) {
	largest, where := 0, ""
	goFiles(t, func(path string, fset *token.FileSet, file *ast.File) {
		if strings.HasSuffix(path, "_test.go") {
			return
		}
		ast.Inspect(file, func(n ast.Node) bool {
			st, ok := n.(*ast.StructType)
			if !ok {
				return true
			}
			count := 0
			for _, f := range st.Fields.List {
				if len(f.Names) == 0 {
					count++ // embedded
				}
				count += len(f.Names)
			}
			pos := fset.Position(st.Pos())
			if count > largest {
				largest, where = count, pos.String()
			}
			if count > maxFields {
				t.Errorf("%s: a struct with %d fields (at most %d)", pos, count, maxFields)
			}
			return true
		})
	})
	t.Logf("largest struct: %d fields, at %s", largest, where)
}

// maxSleeps is how many time.Sleep calls the tests may hold, each with a
// comment saying why time, not state, is what it waits for.
const maxSleeps = 24

// TestSleepsSayWhy checks that the tests wait on state, not time: a
// time.Sleep in a test file needs a comment on its line or just above it
// saying why, and there are at most maxSleeps of them.
func TestSleepsSayWhy(t *testing.T) {
	total := 0
	goFiles(t, func(path string, fset *token.FileSet, file *ast.File) {
		if !strings.HasSuffix(path, "_test.go") {
			return
		}
		commented := make(map[int]bool) // lines that hold a comment
		for _, g := range file.Comments {
			for _, c := range g.List {
				commented[fset.Position(c.Pos()).Line] = true
				commented[fset.Position(c.End()).Line] = true
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Sleep" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "time" {
				return true
			}
			total++
			line := fset.Position(call.Pos()).Line
			if !commented[line] && !commented[line-1] {
				t.Errorf("%s: time.Sleep without a comment saying why time, not state, is what it waits for", fset.Position(call.Pos()))
			}
			return true
		})
	})
	t.Logf("%d time.Sleep calls in the tests", total)
	if total > maxSleeps {
		t.Errorf("%d time.Sleep calls in the tests, at most %d: wait on observable state instead", total, maxSleeps)
	}
}
