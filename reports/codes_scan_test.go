package reports

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestEveryFindingCodeListed reads the audit and waves packages' sources: every exported
// string constant named Code… (audit) or Finding… (waves) must be among the codes the
// catalogue test checks, so a finding added there cannot reach a report untranslated.
func TestEveryFindingCodeListed(t *testing.T) {
	listed := findingCodes()
	for _, c := range []struct{ dir, prefix, key string }{
		{"../planner/audit", "Code", "finding."},
		{"../planner/waves", "Finding", "planfinding."},
	} {
		found := constStrings(t, c.dir, c.prefix)
		if len(found) == 0 {
			t.Fatalf("no %s… constant found in %s: the scan is broken", c.prefix, c.dir)
		}
		for name, v := range found {
			if !slices.Contains(listed[c.key], v) {
				t.Errorf("%s.%s = %q is not in findingCodes()[%q]: add it there and to both catalogues", filepath.Base(c.dir), name, v, c.key)
			}
		}
	}
}

// TestEveryDiffKindListed: every verify.DiffKind constant is in diffKinds (the order the
// report shows them in, whose messages the catalogue test requires).
func TestEveryDiffKindListed(t *testing.T) {
	found := typedConstStrings(t, "../planner/verify", "DiffKind")
	if len(found) < 10 {
		t.Fatalf("%d DiffKind constants found in planner/verify: the scan is broken", len(found))
	}
	for name, v := range found {
		if !slices.Contains(diffCodes(), v) {
			t.Errorf("verify.%s = %q is not in diffKinds: add it there and to both catalogues (diff.%s)", name, v, v)
		}
	}
}

// typedConstStrings returns the string constants of the non-test files in dir declared with
// the type typ, by name.
func typedConstStrings(t *testing.T, dir, typ string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachConst(t, dir, func(name string, vs *ast.ValueSpec, i int) {
		if id, ok := vs.Type.(*ast.Ident); ok && id.Name == typ && i < len(vs.Values) {
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					out[name] = v
				}
			}
		}
	})
	return out
}

// constStrings returns the exported string constants of the non-test files in dir whose
// names start with prefix, by name.
func constStrings(t *testing.T, dir, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eachConst(t, dir, func(name string, vs *ast.ValueSpec, i int) {
		if !strings.HasPrefix(name, prefix) || !ast.IsExported(name) || i >= len(vs.Values) {
			return
		}
		if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil {
				out[name] = v
			}
		}
	})
	return out
}

// eachConst calls fn for every constant name declared in the non-test Go files of dir.
func eachConst(t *testing.T, dir string, fn func(name string, vs *ast.ValueSpec, i int)) {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					fn(n.Name, vs, i)
				}
			}
		}
	}
}
