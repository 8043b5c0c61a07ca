package reports

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/planner/audit"
	"github.com/bascule-migrate/bascule/planner/verify"
	"github.com/bascule-migrate/bascule/planner/waves"
)

// The JSON Schemas under schema/ are generated from the Go types whose JSON the reports
// write (field docs become descriptions). TestSchemas fails when a type changed and its
// schema was not regenerated (go test -run TestSchemas -update), and checks that the golden
// JSON documents have every required field of their schema.

var schemaTypes = []struct {
	file, title, pkgDir string
	v                   any
	// own: the type is this package's, its schema must be regenerated at every change.
	// The others belong to planner/…, whose rule is "fields are only ever added": their
	// schema must stay true (every field it names exists, with its type), and is
	// regenerated to document added fields.
	own bool
}{
	{"run.schema.json", "Bascule run report (run.json)", ".", RunReport{}, true},
	{"audit.schema.json", "Bascule audit report (audit.json, bascule audit --output json)", "../planner/audit", audit.Report{}, false},
	{"plan.schema.json", "Bascule migration plan (plan.json, plan.yaml, bascule plan --output json)", "../planner/waves", waves.Plan{}, false},
	{"verify.schema.json", "Bascule verification report (verify.json, bascule verify --output json)", "../planner/verify", verify.Report{}, false},
}

// fieldDocs reads the doc comments of the struct fields of the package in dir.
func fieldDocs(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
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
			var prev string
			for _, fl := range st.Fields.List {
				doc := strings.Join(strings.Fields(fl.Doc.Text()), " ")
				if doc == "" && fl.Comment != nil {
					doc = strings.Join(strings.Fields(fl.Comment.Text()), " ")
				}
				if fl.Doc != nil {
					prev = doc
				}
				for _, nm := range fl.Names {
					d := doc
					// A comment naming several fields ("Owner grants, Grantee receives")
					// documents the undocumented ones that follow it.
					if d == "" && strings.Contains(prev, nm.Name) {
						d = prev
					}
					docs[ts.Name.Name+"."+nm.Name] = d
				}
			}
			return true
		})
	}
	return docs
}

var timeType = reflect.TypeOf(time.Time{})

func schemaOf(t reflect.Type, docs map[string]string, defs map[string]any) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := schemaOf(t.Elem(), docs, defs)
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": []string{"array", "null"}, "items": schemaOf(t.Elem(), docs, defs)}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": schemaOf(t.Elem(), docs, defs)}
	case reflect.Struct:
		name := t.Name()
		if _, ok := defs[name]; !ok {
			defs[name] = nil // placeholder against recursion
			props := map[string]any{}
			var required []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				jn, opts, _ := strings.Cut(tag, ",")
				if jn == "" {
					jn = f.Name
				}
				s := schemaOf(f.Type, docs, defs)
				if d := docs[name+"."+f.Name]; d != "" {
					s = withDescription(s, d)
				}
				props[jn] = s
				if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
					required = append(required, jn)
				}
			}
			sort.Strings(required)
			defs[name] = map[string]any{"type": "object", "properties": props, "required": required}
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	return map[string]any{}
}

func withDescription(s map[string]any, d string) map[string]any {
	out := map[string]any{"description": d}
	if ref, ok := s["$ref"]; ok { // siblings of $ref are allowed in 2020-12
		out["$ref"] = ref
		return out
	}
	for k, v := range s {
		out[k] = v
	}
	return out
}

func buildSchema(t *testing.T, title, dir string, v any) []byte {
	defs := map[string]any{}
	root := schemaOf(reflect.TypeOf(v), fieldDocs(t, dir), defs)
	doc := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "https://github.com/bascule-migrate/bascule/reports/schema/" + strings.ToLower(strings.Fields(title)[1]) + ".schema.json",
		"title":   title,
		"$ref":    root["$ref"],
		"$defs":   defs,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestSchemas(t *testing.T) {
	for _, s := range schemaTypes {
		got := buildSchema(t, s.title, s.pkgDir, s.v)
		p := filepath.Join("schema", s.file)
		if *update {
			if err := os.WriteFile(p, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%v (go test -run TestSchemas ./reports -update)", err)
		}
		if s.own {
			if !bytes.Equal(got, want) {
				t.Errorf("%s is out of date with its Go type (go test -run TestSchemas ./reports -update):\n%s", p, firstDiff(string(got), string(want)))
			}
			continue
		}
		var g, w map[string]any
		json.Unmarshal(got, &g)  //nolint:errcheck
		json.Unmarshal(want, &w) //nolint:errcheck
		strip := func(m map[string]any) string {
			c := maps.Clone(m)
			delete(c, "description")
			b, _ := json.Marshal(c)
			return string(b)
		}
		for name, wd := range w["$defs"].(map[string]any) {
			gd, ok := g["$defs"].(map[string]any)[name].(map[string]any)
			if !ok {
				t.Errorf("%s: type %s is gone from the Go types", p, name)
				continue
			}
			gp := gd["properties"].(map[string]any)
			for field, ws := range wd.(map[string]any)["properties"].(map[string]any) {
				gs, ok := gp[field].(map[string]any)
				if !ok {
					t.Errorf("%s: %s.%s is gone from the Go type (a breaking change of its schema)", p, name, field)
					continue
				}
				if strip(gs) != strip(ws.(map[string]any)) {
					t.Errorf("%s: %s.%s changed type: %s, the schema says %s", p, name, field, strip(gs), strip(ws.(map[string]any)))
				}
			}
		}
	}
}

// TestJSONMatchesSchema checks the JSON each report writes against its schema (a small
// validator for the subset the generator writes): types, required fields, and for the run
// report no field the schema does not name.
func TestJSONMatchesSchema(t *testing.T) {
	for _, s := range schemaTypes {
		name := strings.TrimSuffix(s.file, ".schema.json")
		var schema map[string]any
		b, err := os.ReadFile(filepath.Join("schema", s.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &schema); err != nil {
			t.Fatal(err)
		}
		for _, rc := range reportCases() {
			if rc.name != name {
				continue
			}
			dir := t.TempDir()
			res, err := rc.write(dir, Options{Formats: []Format{JSON}, Generated: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			jb, _ := os.ReadFile(res.Files[0])
			if err := json.Unmarshal(jb, &doc); err != nil {
				t.Fatal(err)
			}
			for _, e := range validate(schema, schema, doc, name) {
				if !s.own && strings.Contains(e, "not in the schema") {
					continue // a field added to the planner type since the schema was made
				}
				t.Errorf("%s.json: %s", name, e)
			}
		}
	}
}

func validate(root, s map[string]any, v any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		def := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		return validate(root, def, v, path)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		if v == nil {
			return nil
		}
		return validate(root, alts[0].(map[string]any), v, path)
	}
	types := map[string]bool{}
	switch ty := s["type"].(type) {
	case string:
		types[ty] = true
	case []any:
		for _, x := range ty {
			types[x.(string)] = true
		}
	}
	var errs []string
	switch x := v.(type) {
	case nil:
		if !types["null"] {
			errs = append(errs, path+": null")
		}
	case string:
		if !types["string"] {
			errs = append(errs, path+": string, want "+strings.Join(keys(types), "|"))
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				errs = append(errs, path+": "+err.Error())
			}
		}
	case float64:
		if !types["number"] && !(types["integer"] && x == float64(int64(x))) {
			errs = append(errs, path+": number, want "+strings.Join(keys(types), "|"))
		}
	case bool:
		if !types["boolean"] {
			errs = append(errs, path+": boolean")
		}
	case []any:
		if !types["array"] {
			errs = append(errs, path+": array")
		}
		for i, e := range x {
			errs = append(errs, validate(root, s["items"].(map[string]any), e, path+"["+itoa(i)+"]")...)
		}
	case map[string]any:
		if !types["object"] {
			errs = append(errs, path+": object")
		}
		if props, ok := s["properties"].(map[string]any); ok {
			for _, r := range s["required"].([]any) {
				if _, ok := x[r.(string)]; !ok {
					errs = append(errs, path+": required field "+r.(string)+" missing")
				}
			}
			for k, e := range x {
				if ps, ok := props[k].(map[string]any); ok {
					errs = append(errs, validate(root, ps, e, path+"."+k)...)
				} else {
					errs = append(errs, path+": field "+k+" not in the schema")
				}
			}
		} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
			for k, e := range x {
				errs = append(errs, validate(root, ap, e, path+"."+k)...)
			}
		}
	}
	return errs
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
