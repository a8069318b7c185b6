package web_test

// The OpenAPI description (openapi.json) is kept true by these tests:
//
//   - TestOpenAPIDocument checks the document itself: OpenAPI 3.0.x, every
//     $ref resolves, every component is used, schemas only use keywords the
//     validator below understands, objects with properties are closed
//     (additionalProperties: false), path parameters match path templates,
//     and every operation documents the errors it can produce.
//   - TestOpenAPIRouteTable parses the package's sources with go/parser
//     (every {"METHOD", "/path", handler} element of a []route literal, as in
//     routes(), and every "METHOD /api/v1/…" mux pattern) and requires the
//     documented operations to be exactly those routes.
//   - TestOpenAPIValidatorCanFail shows that the small schema validator used
//     here rejects what it should.
//   - TestOpenAPIServer runs a whole Herald: every documented operation
//     answers 401 without a token, undocumented methods on documented paths
//     answer 404/405 (not 401); then, with real data, every operation is
//     called and each answer is validated against the documented schema for
//     its status. Every documented response of every operation must be
//     produced at least once, and no undocumented one may occur.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/apptest"
)

const specFile = "openapi.json"

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// client fails a hung request instead of hanging the test.
var client = &http.Client{Timeout: 10 * time.Second}

// loadSpec reads and decodes the document (numbers as json.Number).
func loadSpec(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := decodeJSONNumber(b, &doc); err != nil {
		t.Fatalf("%s is not valid JSON: %v", specFile, err)
	}
	return doc
}

func decodeJSONNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func str(v any) string { s, _ := v.(string); return s }

// resolvePointer resolves a local reference such as #/components/schemas/List.
func resolvePointer(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref follows $ref (possibly chained) to the target object.
func deref(doc map[string]any, v any) map[string]any {
	for range 10 {
		m := obj(v)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v, _ = resolvePointer(doc, ref)
	}
	return nil
}

// operation is one documented (method, path).
type operation struct {
	method, path string
	op           map[string]any
	params       []map[string]any // path-level and operation-level, resolved
}

func (o operation) key() string { return o.method + " " + o.path }

func operations(doc map[string]any) []operation {
	var out []operation
	for path, item := range obj(doc["paths"]) {
		it := obj(item)
		for _, m := range methods {
			op := obj(it[strings.ToLower(m)])
			if op == nil {
				continue
			}
			o := operation{method: m, path: path, op: op}
			for _, list := range []any{it["parameters"], op["parameters"]} {
				ps, _ := list.([]any)
				for _, p := range ps {
					o.params = append(o.params, deref(doc, p))
				}
			}
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

func (o operation) responses(doc map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for code, r := range obj(o.op["responses"]) {
		out[code] = deref(doc, r)
	}
	return out
}

func (o operation) public() bool {
	sec, ok := o.op["security"].([]any)
	return ok && len(sec) == 0
}

// jsonSchema returns the application/json schema of a response or request body.
func jsonSchema(content any) any {
	return obj(obj(content)["application/json"])["schema"]
}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

// --- the document ---

// Keywords the validator implements, and annotations it may ignore.
var (
	schemaKeywords = []string{"type", "format", "properties", "required", "additionalProperties", "items", "nullable",
		"enum", "$ref", "oneOf", "minimum", "maximum", "pattern"}
	schemaAnnotations = []string{"description", "default", "example", "title"}
	schemaTypes       = []string{"object", "array", "string", "integer", "number", "boolean"}
)

func TestOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)

	if v := str(doc["openapi"]); !regexp.MustCompile(`^3\.0\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.0.x", v)
	}
	info := obj(doc["info"])
	if str(info["title"]) == "" || str(info["version"]) == "" {
		t.Errorf("info needs a title and a version: %v", info)
	}
	if !reflect.DeepEqual(doc["servers"], []any{map[string]any{"url": "/api/v1"}}) {
		t.Errorf("servers = %v, want [{url: /api/v1}]", doc["servers"])
	}
	bearer := obj(obj(obj(doc["components"])["securitySchemes"])["bearerAuth"])
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("components.securitySchemes.bearerAuth = %v, want HTTP bearer", bearer)
	}
	if !reflect.DeepEqual(doc["security"], []any{map[string]any{"bearerAuth": []any{}}}) {
		t.Errorf("global security = %v, want [{bearerAuth: []}]", doc["security"])
	}

	// Every $ref resolves; every component is referenced.
	used := map[string]bool{}
	walkJSON(doc, "#", func(v map[string]any, where string) {
		ref, ok := v["$ref"]
		if !ok {
			return
		}
		r, _ := ref.(string)
		if _, ok := resolvePointer(doc, r); !ok {
			t.Errorf("%s: $ref %q does not resolve", where, ref)
		}
		used[r] = true
	})
	for _, kind := range []string{"schemas", "responses", "parameters"} {
		for name := range obj(obj(doc["components"])[kind]) {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never referenced", ref)
			}
		}
	}

	// Schemas use only what the test's validator checks.
	for name, s := range obj(obj(doc["components"])["schemas"]) {
		checkSchema(t, s, "#/components/schemas/"+name)
	}
	for where, v := range map[string]any{"#/paths": doc["paths"], "#/components/parameters": obj(doc["components"])["parameters"],
		"#/components/responses": obj(doc["components"])["responses"]} {
		walkJSON(v, where, func(v map[string]any, where string) {
			if s, ok := v["schema"]; ok {
				checkSchema(t, s, where+"/schema")
			}
		})
	}

	// Operations.
	ops := operations(doc)
	if len(ops) == 0 {
		t.Fatal("no operations")
	}
	ids := map[string]string{}
	for _, o := range ops {
		where := o.key()
		for k := range obj(obj(doc["paths"])[o.path]) {
			if !slices.Contains([]string{"get", "post", "put", "patch", "delete", "parameters", "summary", "description"}, k) {
				t.Errorf("%s: unexpected key %q in path item", o.path, k)
			}
		}
		id := str(o.op["operationId"])
		if id == "" {
			t.Errorf("%s: no operationId", where)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("%s: operationId %q already used by %s", where, id, prev)
		}
		ids[id] = where
		if str(o.op["summary"]) == "" {
			t.Errorf("%s: no summary", where)
		}

		// Path parameters are exactly the template's.
		var inTemplate, declared []string
		for _, m := range pathParamRE.FindAllStringSubmatch(o.path, -1) {
			inTemplate = append(inTemplate, m[1])
		}
		for _, p := range o.params {
			if p == nil {
				t.Errorf("%s: unresolvable parameter", where)
				continue
			}
			switch p["in"] {
			case "path":
				declared = append(declared, str(p["name"]))
				if p["required"] != true {
					t.Errorf("%s: path parameter %v must be required", where, p["name"])
				}
			case "query", "header":
			default:
				t.Errorf("%s: parameter %v in %v", where, p["name"], p["in"])
			}
			if p["schema"] == nil || str(p["description"]) == "" {
				t.Errorf("%s: parameter %v needs a schema and a description", where, p["name"])
			}
		}
		sort.Strings(inTemplate)
		sort.Strings(declared)
		if !slices.Equal(inTemplate, declared) {
			t.Errorf("%s: path parameters %v, template has %v", where, declared, inTemplate)
		}

		// Responses.
		resps := o.responses(doc)
		var success []string
		for code, r := range resps {
			if r == nil {
				t.Errorf("%s %s: unresolvable response", where, code)
				continue
			}
			if str(r["description"]) == "" {
				t.Errorf("%s %s: response without description", where, code)
			}
			switch {
			case code == "204":
				success = append(success, code)
				if r["content"] != nil {
					t.Errorf("%s 204 must have no content", where)
				}
			case code[0] == '2':
				success = append(success, code)
				if jsonSchema(r["content"]) == nil && !download(r) {
					t.Errorf("%s %s: no application/json schema (nor a documented download)", where, code)
				}
			case code[0] == '4' || code[0] == '5':
				if ref := str(obj(jsonSchema(r["content"]))["$ref"]); ref != "#/components/schemas/Error" {
					t.Errorf("%s %s: error response schema is %q, want the Error schema", where, code, ref)
				}
			default:
				t.Errorf("%s: unexpected response code %q", where, code)
			}
		}
		if len(success) != 1 {
			t.Errorf("%s: %d success responses %v, want exactly one", where, len(success), success)
		}
		need := []string{}
		if !o.public() {
			need = append(need, "401")
		}
		if len(inTemplate) > 0 {
			need = append(need, "404")
		}
		if rb := deref(doc, o.op["requestBody"]); rb != nil {
			need = append(need, "400", "413", "415")
			if rb["required"] != true || jsonSchema(rb["content"]) == nil {
				t.Errorf("%s: request body must be required and application/json", where)
			}
		}
		for _, code := range need {
			if resps[code] == nil {
				t.Errorf("%s: does not document %s", where, code)
			}
		}
	}
}

// walkJSON calls fn for every object in v.
func walkJSON(v any, where string, fn func(map[string]any, string)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v, where)
		for k, x := range v {
			walkJSON(x, where+"/"+k, fn)
		}
	case []any:
		for i, x := range v {
			walkJSON(x, where+"/"+strconv.Itoa(i), fn)
		}
	}
}

func checkSchema(t *testing.T, v any, where string) {
	t.Helper()
	s := obj(v)
	if s == nil {
		t.Errorf("%s: schema is not an object", where)
		return
	}
	for k := range s {
		if !slices.Contains(schemaKeywords, k) && !slices.Contains(schemaAnnotations, k) {
			t.Errorf("%s: keyword %q is not checked by the test's validator", where, k)
		}
	}
	if _, ok := s["$ref"]; ok {
		if len(s) != 1 {
			t.Errorf("%s: $ref with siblings (ignored in OpenAPI 3.0)", where)
		}
		return
	}
	typ := str(s["type"])
	if typ == "" && s["oneOf"] == nil {
		t.Errorf("%s: no type", where)
	} else if typ != "" && !slices.Contains(schemaTypes, typ) {
		t.Errorf("%s: unknown type %q", where, typ)
	}
	props := obj(s["properties"])
	if props != nil && s["additionalProperties"] != false {
		t.Errorf("%s: an object with properties must set additionalProperties: false, so that undocumented fields fail", where)
	}
	req, _ := s["required"].([]any)
	for _, r := range req {
		if _, ok := props[str(r)]; !ok {
			t.Errorf("%s: required %v is not a property", where, r)
		}
	}
	for name, p := range props {
		checkSchema(t, p, where+"/properties/"+name)
	}
	if it, ok := s["items"]; ok {
		checkSchema(t, it, where+"/items")
	} else if typ == "array" {
		t.Errorf("%s: array without items", where)
	}
	if ap, ok := s["additionalProperties"]; ok {
		if _, isBool := ap.(bool); !isBool {
			checkSchema(t, ap, where+"/additionalProperties")
		}
	}
	alts, _ := s["oneOf"].([]any)
	for i, a := range alts {
		checkSchema(t, a, where+"/oneOf/"+strconv.Itoa(i))
	}
	if p, ok := s["pattern"].(string); ok {
		if _, err := regexp.Compile(p); err != nil {
			t.Errorf("%s: pattern: %v", where, err)
		}
	}
	enum, _ := s["enum"].([]any)
	bare := map[string]any{}
	for k, x := range s {
		if k != "enum" {
			bare[k] = x
		}
	}
	for _, e := range enum {
		if errs := (&validator{}).validate(bare, e, "enum"); len(errs) > 0 {
			t.Errorf("%s: enum value %v: %v", where, e, errs)
		}
	}
}

// --- the route table ---

// servedRoutes parses the web package's non-test sources: every element of
// a []route literal (or a route{…} literal) and every mux pattern string
// "METHOD /api/v1/…" is an API route.
func servedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	routes := map[string]bool{}
	patternRE := regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /api/v1(/\S*)$`)
	isRoute := func(e ast.Expr) bool { id, ok := e.(*ast.Ident); return ok && id.Name == "route" }
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				var elems []ast.Expr
				if at, ok := n.Type.(*ast.ArrayType); ok && isRoute(at.Elt) {
					elems = n.Elts
				} else if isRoute(n.Type) {
					elems = []ast.Expr{n}
				}
				for _, e := range elems {
					cl, ok := e.(*ast.CompositeLit)
					if !ok || len(cl.Elts) < 2 {
						t.Errorf("%s: route table entry is not a {method, path, handler} literal", fset.Position(e.Pos()))
						continue
					}
					var mp [2]string
					for i := range mp {
						x := cl.Elts[i]
						if kv, ok := x.(*ast.KeyValueExpr); ok {
							x = kv.Value
						}
						lit, ok := x.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							t.Errorf("%s: route method and path must be string literals for this test", fset.Position(x.Pos()))
							continue
						}
						mp[i], _ = strconv.Unquote(lit.Value)
					}
					routes[mp[0]+" "+mp[1]] = true
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					s, _ := strconv.Unquote(n.Value)
					if m := patternRE.FindStringSubmatch(s); m != nil {
						routes[m[1]+" "+m[2]] = true
					}
				}
			}
			return true
		})
	}
	return routes
}

func TestOpenAPIRouteTable(t *testing.T) {
	doc := loadSpec(t)
	served := servedRoutes(t)
	if len(served) < 10 || !served["GET /openapi.json"] {
		t.Fatalf("found only %d routes in the web package's sources (%v): has the route table moved?", len(served), served)
	}
	documented := map[string]bool{}
	for _, o := range operations(doc) {
		documented[o.key()] = true
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("route %s is served but not documented in %s", r, specFile)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("%s is documented in %s but not in the route table", r, specFile)
		}
	}
}

// --- the validator ---

type validator struct{ doc map[string]any }

// validate returns the ways v fails schema s; at is v's location.
func (vd *validator) validate(s map[string]any, v any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		target, ok := resolvePointer(vd.doc, ref)
		if !ok {
			return []string{at + ": unresolvable " + ref}
		}
		return vd.validate(obj(target), v, at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		if s["type"] != nil {
			return []string{at + ": null is not allowed"}
		}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		fail("%v is not one of %v", v, enum)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if len(vd.validate(obj(a), v, at)) == 0 {
				n++
			}
		}
		if n != 1 {
			fail("matches %d of the oneOf alternatives, want exactly 1", n)
		}
	}
	switch typ := str(s["type"]); typ {
	case "":
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("%s is not an object", kindOf(v))
			break
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[str(r)]; !ok {
				fail("required field %q is missing", r)
			}
		}
		props := obj(s["properties"])
		for k, x := range m {
			if p, ok := props[k]; ok {
				errs = append(errs, vd.validate(obj(p), x, at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					fail("undocumented field %q", k)
				}
			case map[string]any:
				errs = append(errs, vd.validate(ap, x, at+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("%s is not an array", kindOf(v))
			break
		}
		for i, x := range a {
			errs = append(errs, vd.validate(obj(s["items"]), x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case "string":
		x, ok := v.(string)
		if !ok {
			fail("%s is not a string", kindOf(v))
			break
		}
		if !utf8.ValidString(x) {
			fail("invalid UTF-8")
		}
		switch str(s["format"]) {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				fail("%q is not an RFC 3339 date-time", x)
			}
		case "email":
			if i := strings.LastIndexByte(x, '@'); i < 1 || i == len(x)-1 {
				fail("%q is not an email address", x)
			}
		case "uri":
			if u, err := url.Parse(x); err != nil || u.Scheme == "" || u.Host == "" {
				fail("%q is not an absolute URI", x)
			}
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			fail("%q does not match %s", x, p)
		}
	case "integer", "number", "boolean":
		if typ == "boolean" {
			if _, ok := v.(bool); !ok {
				fail("%s is not a boolean", kindOf(v))
			}
			break
		}
		n, ok := v.(json.Number)
		if !ok {
			fail("%s is not a number", kindOf(v))
			break
		}
		f, err := n.Float64()
		if err != nil {
			fail("bad number %s", n)
			break
		}
		if _, err := n.Int64(); typ == "integer" && err != nil {
			fail("%s is not an integer", n)
		}
		if lim, ok := s["minimum"].(json.Number); ok {
			if l, _ := lim.Float64(); f < l {
				fail("%s is below the minimum %s", n, lim)
			}
		}
		if lim, ok := s["maximum"].(json.Number); ok {
			if l, _ := lim.Float64(); f > l {
				fail("%s is above the maximum %s", n, lim)
			}
		}
	default:
		fail("unknown type %q", typ)
	}
	return errs
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func TestOpenAPIValidatorCanFail(t *testing.T) {
	vd := &validator{doc: loadSpec(t)}
	list := map[string]any{"$ref": "#/components/schemas/List"}
	good := map[string]any{"id": json.Number("1"), "slug": "daily", "name": "Daily", "description": "", "visibility": "public",
		"optin": "double", "subscriber_count": json.Number("0"), "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05.123Z"}
	if errs := vd.validate(list, good, "list"); len(errs) > 0 {
		t.Fatalf("a good list fails: %v", errs)
	}
	for name, change := range map[string]func(m map[string]any){
		"undocumented field": func(m map[string]any) { m["secret"] = "x" },
		"missing field":      func(m map[string]any) { delete(m, "slug") },
		"wrong enum":         func(m map[string]any) { m["optin"] = "triple" },
		"string for integer": func(m map[string]any) { m["id"] = "1" },
		"fraction":           func(m map[string]any) { m["id"] = json.Number("1.5") },
		"below minimum":      func(m map[string]any) { m["subscriber_count"] = json.Number("-1") },
		"bad date-time":      func(m map[string]any) { m["created_at"] = "yesterday" },
		"null":               func(m map[string]any) { m["name"] = nil },
		"pattern":            func(m map[string]any) { m["slug"] = "Not A Slug" },
	} {
		bad := map[string]any{}
		for k, v := range good {
			bad[k] = v
		}
		change(bad)
		if errs := vd.validate(list, bad, "list"); len(errs) == 0 {
			t.Errorf("%s: not detected", name)
		}
	}
	if errs := vd.validate(map[string]any{"$ref": "#/components/schemas/ListPage"}, map[string]any{"data": []any{"x"},
		"total": json.Number("1"), "limit": json.Number("1"), "offset": json.Number("0")}, "page"); len(errs) == 0 {
		t.Error("a bad array item is not detected")
	}
}

// --- against a running Herald ---

// checker calls the API and validates answers against the document.
type checker struct {
	t       *testing.T
	in      *apptest.Instance
	doc     map[string]any
	vd      *validator
	ops     map[string]operation
	covered map[string]bool // "METHOD /path/{x} STATUS"
}

type request struct {
	method, tmpl, path string // tmpl: documented path; path: concrete, with query
	body               any    // marshalled and validated against the request schema
	raw                []byte // sent as is (with ctype), not validated
	ctype              string
	token              string // "" = the instance's token; "-" = none
}

// do sends the request, requires status want, validates the answer against
// the operation's documented response for that status, and returns the
// decoded answer.
func (c *checker) do(r request, want int) any {
	c.t.Helper()
	o, ok := c.ops[r.method+" "+r.tmpl]
	if !ok {
		c.t.Fatalf("%s %s is not documented", r.method, r.tmpl)
	}
	if !matchesTemplate(r.tmpl, r.path) {
		c.t.Fatalf("%s does not match template %s", r.path, r.tmpl)
	}
	body := r.raw
	ctype := r.ctype
	if r.body != nil {
		schema := obj(jsonSchema(deref(c.doc, o.op["requestBody"])["content"]))
		if schema == nil {
			c.t.Fatalf("%s %s: sending a body, but none is documented", r.method, r.tmpl)
		}
		var generic any
		b, _ := json.Marshal(r.body)
		_ = decodeJSONNumber(b, &generic)
		if errs := c.vd.validate(schema, generic, "request"); len(errs) > 0 {
			c.t.Errorf("%s %s: the request body does not fit the documented schema:\n  %s", r.method, r.path, strings.Join(errs, "\n  "))
		}
		body, ctype = b, "application/json"
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(r.method, c.in.URL+"/api/v1"+r.path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	switch r.token {
	case "":
		req.Header.Set("Authorization", "Bearer "+c.in.Token)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	res, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	where := fmt.Sprintf("%s %s → %d", r.method, r.path, res.StatusCode)
	if res.StatusCode != want {
		c.t.Fatalf("%s, want %d: %s", where, want, data)
	}
	code := strconv.Itoa(res.StatusCode)
	doc := o.responses(c.doc)[code]
	if doc == nil {
		c.t.Errorf("%s: status %s is not documented for %s %s", where, code, r.method, r.tmpl)
		return nil
	}
	c.covered[o.key()+" "+code] = true
	if doc["content"] == nil {
		if len(data) > 0 {
			c.t.Errorf("%s: documented without content, got %q", where, data)
		}
		return nil
	}
	for name := range obj(doc["headers"]) {
		if res.Header.Get(name) == "" {
			c.t.Errorf("%s: documented header %s is missing", where, name)
		}
	}
	if content := obj(doc["content"]); content["application/json"] == nil {
		// A download (zip, CSV): the media type must be one documented.
		mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
		if content[mt] == nil {
			c.t.Errorf("%s: Content-Type %q is not documented", where, res.Header.Get("Content-Type"))
		}
		return data
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		c.t.Errorf("%s: Content-Type %q, want application/json", where, ct)
	}
	var v any
	if err := decodeJSONNumber(data, &v); err != nil {
		c.t.Fatalf("%s: %v in %s", where, err, data)
	}
	if errs := c.vd.validate(obj(jsonSchema(doc["content"])), v, "body"); len(errs) > 0 {
		c.t.Errorf("%s: the answer does not fit the documented schema:\n  %s\n%s", where, strings.Join(errs, "\n  "), data)
	}
	return v
}

// fail is do for an error answer; it also checks the error code and field.
func (c *checker) fail(r request, want int, field string) {
	c.t.Helper()
	v := c.do(r, want)
	if v == nil {
		return // already reported
	}
	e := obj(obj(v)["error"])
	codes := map[int]string{400: "bad_request", 401: "unauthorized", 404: "not_found", 409: "conflict",
		413: "too_large", 415: "not_supported", 422: "invalid"}
	if e["code"] != codes[want] {
		c.t.Errorf("%s %s → %d: code %v, want %s", r.method, r.path, want, e["code"], codes[want])
	}
	if got := str(e["field"]); got != field {
		c.t.Errorf("%s %s → %d: field %q, want %q", r.method, r.path, want, got, field)
	}
}

func matchesTemplate(tmpl, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if ts[i] != ps[i] && !(strings.HasPrefix(ts[i], "{") && ps[i] != "") {
			return false
		}
	}
	return true
}

// sample fills a template's parameters with plausible values.
func sample(tmpl string) string {
	return pathParamRE.ReplaceAllString(tmpl, "1")
}

func get(v any, path ...string) any {
	for _, p := range path {
		if i, err := strconv.Atoi(p); err == nil {
			a, _ := v.([]any)
			if i >= len(a) {
				return nil
			}
			v = a[i]
			continue
		}
		v = obj(v)[p]
	}
	return v
}

func id(v any) string { n, _ := get(v, "id").(json.Number); return n.String() }

func TestOpenAPIServer(t *testing.T) {
	doc := loadSpec(t)
	// The fake Mailchimp of the integration's routes listens on loopback.
	in := apptest.Start(t, apptest.Options{Args: []string{"--fetch-allow", "127.0.0.1/32"}})
	c := &checker{t: t, in: in, doc: doc, vd: &validator{doc: doc}, ops: map[string]operation{}, covered: map[string]bool{}}
	for _, o := range operations(doc) {
		c.ops[o.key()] = o
	}

	t.Run("served", func(t *testing.T) {
		c.t = t
		want, _ := os.ReadFile(specFile)
		res, err := client.Get(in.URL + "/api/v1/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("GET /api/v1/openapi.json does not serve %s (%d bytes, want %d)", specFile, len(got), len(want))
		}
		c.do(request{method: "GET", tmpl: "/openapi.json", path: "/openapi.json", token: "-"}, 200)
	})

	t.Run("auth", func(t *testing.T) {
		c.t = t
		for _, o := range c.ops {
			if o.public() {
				continue
			}
			// Without a token, and with a wrong one: 401, before the body is looked at.
			c.fail(request{method: o.method, tmpl: o.path, path: sample(o.path), raw: []byte("{"), ctype: "application/json", token: "-"}, 401, "")
			c.fail(request{method: o.method, tmpl: o.path, path: sample(o.path), token: "hrld_wrong"}, 401, "")
		}
		// Methods not documented on documented paths, and unknown paths,
		// are not routes: 404 or 405, never 401.
		probe := func(method, path string) {
			req, _ := http.NewRequest(method, in.URL+"/api/v1"+path, nil)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 404 && res.StatusCode != 405 {
				t.Errorf("%s %s (undocumented) → %d, want 404 or 405: an undocumented route?", method, path, res.StatusCode)
			}
		}
		for path, item := range obj(doc["paths"]) {
			for _, m := range append(methods, "OPTIONS") {
				if obj(item)[strings.ToLower(m)] == nil {
					probe(m, sample(path))
				}
			}
		}
		for _, p := range []string{"/", "/nope", "/lists/1/nope", "/subscribers/1/consents/1", "/lists/", "/campaign"} {
			probe("GET", p)
		}
		probe("PUT", "/lists")
	})

	t.Run("conformance", func(t *testing.T) {
		c.t = t
		do := func(method, tmpl, path string, body any, want int) any {
			t.Helper()
			return c.do(request{method: method, tmpl: tmpl, path: path, body: body}, want)
		}

		// Disclosures.
		d := do("POST", "/disclosures", "/disclosures", map[string]any{"text": "The Daily Planet keeps your address to send you the newsletters you choose."}, 201)
		if get(d, "current") != true || get(d, "version") != json.Number("2") {
			t.Errorf("new disclosure: %v", d)
		}
		do("GET", "/disclosures", "/disclosures", nil, 200)
		do("GET", "/disclosures/current", "/disclosures/current", nil, 200)
		do("GET", "/disclosures/{version}", "/disclosures/1", nil, 200)

		// Lists.
		daily := do("POST", "/lists", "/lists", map[string]any{"slug": "daily", "name": "The Daily Briefing", "description": "Every morning"}, 201)
		sport := do("POST", "/lists", "/lists", map[string]any{"slug": "sport", "name": "Sport", "optin": "single", "visibility": "public"}, 201)
		do("POST", "/lists", "/lists", map[string]any{"slug": "vip", "name": "VIP", "visibility": "private", "optin": "double"}, 201)
		if n := len(get(do("GET", "/lists", "/lists", nil, 200), "data").([]any)); n != 3 {
			t.Errorf("GET /lists: %d lists, want 3", n)
		}
		do("GET", "/lists", "/lists?visibility=private", nil, 200)
		do("GET", "/lists/{id}", "/lists/daily", nil, 200)
		do("GET", "/lists/{id}", "/lists/"+id(daily), nil, 200)
		do("PATCH", "/lists/{id}", "/lists/"+id(sport), map[string]any{"description": "Results and fixtures"}, 200)

		// A reader signs up through the public form: consent events with
		// the disclosure, a confirmation mail in the outbox.
		form := url.Values{"email": {"rita@example.com"}, "name": {"Rita Reader"}, "lists": {"daily", "sport"},
			"source": {"https://news.example/2026/article"}}
		req, _ := http.NewRequest("POST", in.URL+"/subscribe", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "openapi-test")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST /subscribe: %d", res.StatusCode)
		}
		apptest.Eventually(t, "the confirmation mail in the outbox", func() bool {
			var p struct{ Total int }
			in.API(t, "GET", "/outbox?to=rita@example.com", nil, &p)
			return p.Total > 0
		})

		// Operators add subscribers.
		olga := do("POST", "/subscribers", "/subscribers", map[string]any{"email": "olga@example.com", "name": "Olga",
			"attributes": map[string]any{"plan": "pro", "seats": 3, "tags": []string{"a"}}, "lists": []string{"vip", "sport"}, "status": "confirmed"}, 201)
		pete := do("POST", "/subscribers", "/subscribers", map[string]any{"email": "pete@example.com", "lists": "daily"}, 201)
		do("POST", "/subscribers", "/subscribers", map[string]any{"email": "nolists@example.com"}, 201)

		page := do("GET", "/subscribers", "/subscribers", nil, 200)
		if get(page, "total") != json.Number("4") {
			t.Errorf("GET /subscribers: total %v, want 4", get(page, "total"))
		}
		rita := get(do("GET", "/subscribers", "/subscribers?email=RITA@example.com", nil, 200), "data", "0")
		if rita == nil {
			t.Fatal("GET /subscribers?email=: no match")
		}
		do("GET", "/subscribers", "/subscribers?list=daily&status=pending", nil, 200)
		do("GET", "/subscribers", "/subscribers?q=olg", nil, 200)
		do("GET", "/subscribers", "/subscribers?status=confirmed&limit=1&offset=1", nil, 200)
		do("GET", "/subscribers/{id}", "/subscribers/"+id(rita), nil, 200)
		do("PATCH", "/subscribers/{id}", "/subscribers/"+id(rita), map[string]any{"name": "Rita R.", "attributes": map[string]any{"city": "Oslo"},
			"subscriptions": []map[string]any{{"list": "daily", "status": "confirmed"}, {"list": "sport", "status": "unsubscribed"}}}, 200)

		ev := do("GET", "/subscribers/{id}/consents", "/subscribers/"+id(rita)+"/consents", nil, 200)
		if get(ev, "data", "0", "kind") != "signup_request" || get(ev, "data", "0", "disclosure_hash") == nil {
			t.Errorf("first consent event: %v", get(ev, "data", "0"))
		}
		do("GET", "/subscribers/{id}/consents", "/subscribers/"+id(olga)+"/consents", nil, 200)
		do("GET", "/subscribers/{id}/export", "/subscribers/"+id(pete)+"/export", nil, 200)
		exp := do("GET", "/subscribers/{id}/export", "/subscribers/"+id(rita)+"/export", nil, 200)
		if len(get(exp, "messages").([]any)) == 0 || len(get(exp, "consent_events").([]any)) == 0 {
			t.Errorf("export without messages or consent events: %v", exp)
		}
		do("PATCH", "/subscribers/{id}", "/subscribers/"+id(rita), map[string]any{"email": "rita.reader@example.com"}, 200)

		// Outbox.
		do("GET", "/relay", "/relay", nil, 200)
		box := do("GET", "/outbox", "/outbox", nil, 200)
		do("GET", "/outbox", "/outbox?to=pete@example.com&limit=10&offset=0", nil, 200)
		msg := do("GET", "/outbox/{id}", "/outbox/"+id(get(box, "data", "0")), nil, 200)
		if !strings.Contains(str(get(msg, "raw")), "Subject:") || !strings.Contains(str(get(msg, "text")), "/confirm/") {
			t.Errorf("outbox message without raw or decoded text: %v", msg)
		}

		// Jobs: one waiting, one failed for good (no handler for its kind;
		// the worker logs an expected ERROR for it).
		ctx := context.Background()
		if err := in.App.DB.Enqueue(ctx, "openapi_test_later", map[string]int{"n": 1}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := in.App.DB.Enqueue(ctx, "openapi_test_unknown", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		apptest.Eventually(t, "a failed job", func() bool {
			var p struct{ Total int }
			in.API(t, "GET", "/jobs?status=failed", nil, &p)
			return p.Total > 0
		})
		do("GET", "/jobs", "/jobs", nil, 200)
		if j := get(do("GET", "/jobs", "/jobs?status=failed", nil, 200), "data", "0"); get(j, "last_error") == nil {
			t.Errorf("failed job without last_error: %v", j)
		}
		do("GET", "/jobs", "/jobs?status=pending&limit=5", nil, 200)

		// Withdrawing a reader's links, erasure and deletion.
		do("POST", "/subscribers/{id}/revoke-links", "/subscribers/"+id(pete)+"/revoke-links", nil, 200)
		c.fail(request{method: "POST", tmpl: "/subscribers/{id}/revoke-links", path: "/subscribers/999999/revoke-links"}, 404, "")
		do("POST", "/subscribers/{id}/erase", "/subscribers/"+id(pete)+"/erase", nil, 200)
		do("DELETE", "/subscribers/{id}", "/subscribers/"+id(olga), nil, 204)
		do("DELETE", "/lists/{id}", "/lists/vip", nil, 204)
		do("GET", "/lists", "/lists", nil, 200)

		mailchimpConformance(t, c) // openapi_mailchimp_test.go
		importConformance(t, c)    // openapi_import_test.go
		campaignsConformance(t, c) // openapi_campaigns_test.go
		tokensConformance(t, c)    // openapi_tokens_test.go
		feedsConformance(t, c)     // openapi_feeds_test.go
	})

	t.Run("errors", func(t *testing.T) {
		c.t = t
		fail := func(method, tmpl, path string, body any, want int, field string) {
			t.Helper()
			c.fail(request{method: method, tmpl: tmpl, path: path, body: body}, want, field)
		}
		// Every operation with a body: unknown field 400, too large 413,
		// wrong content type 415. With a path: unknown id 404.
		for _, o := range c.ops {
			p := sample(o.path)
			if o.op["requestBody"] != nil {
				c.fail(request{method: o.method, tmpl: o.path, path: p, raw: []byte(`{"x_undocumented": 1}`), ctype: "application/json"}, 400, "x_undocumented")
				big := []byte(`{"name": "` + strings.Repeat("a", 1025<<10) + `"}`) // over every route's limit (campaigns take 1 MB)
				c.fail(request{method: o.method, tmpl: o.path, path: p, raw: big, ctype: "application/json"}, 413, "")
				c.fail(request{method: o.method, tmpl: o.path, path: p, raw: []byte(`{}`), ctype: "text/plain"}, 415, "")
			}
			if strings.Contains(o.path, "{") {
				r := request{method: o.method, tmpl: o.path, path: pathParamRE.ReplaceAllString(o.path, "999999")}
				if o.op["requestBody"] != nil {
					r.body = map[string]any{}
				}
				c.fail(r, 404, "")
			}
		}
		fail("GET", "/lists/{id}", "/lists/no-such-list", nil, 404, "")
		fail("GET", "/subscribers/{id}", "/subscribers/abc", nil, 404, "")
		fail("GET", "/disclosures/{version}", "/disclosures/first", nil, 404, "")

		fail("GET", "/lists", "/lists?visibility=secret", nil, 400, "visibility")
		fail("POST", "/lists", "/lists", map[string]any{"slug": "daily", "name": "Again"}, 409, "slug")
		fail("POST", "/lists", "/lists", map[string]any{"slug": "no", "name": "Bad\nname"}, 422, "name")
		c.fail(request{method: "POST", tmpl: "/lists", path: "/lists", raw: []byte(`{"slug": "Not A Slug", "name": "X"}`), ctype: "application/json"}, 422, "slug")
		c.fail(request{method: "POST", tmpl: "/lists", path: "/lists", raw: []byte(`{"slug": 7}`), ctype: "application/json"}, 400, "slug")
		fail("PATCH", "/lists/{id}", "/lists/sport", map[string]any{"slug": "daily"}, 409, "slug")
		c.fail(request{method: "PATCH", tmpl: "/lists/{id}", path: "/lists/sport", raw: []byte(`{"visibility": "hidden"}`), ctype: "application/json"}, 422, "visibility")

		fail("GET", "/subscribers", "/subscribers?limit=lots", nil, 400, "limit")
		fail("GET", "/subscribers", "/subscribers?limit=5000", nil, 400, "limit")
		fail("GET", "/subscribers", "/subscribers?status=bogus", nil, 400, "status")
		fail("POST", "/subscribers", "/subscribers", map[string]any{"email": "rita.reader@example.com"}, 409, "email")
		c.fail(request{method: "POST", tmpl: "/subscribers", path: "/subscribers", raw: []byte(`{"email": "not-an-address"}`), ctype: "application/json"}, 422, "email")
		fail("POST", "/subscribers", "/subscribers", map[string]any{"email": "new@example.com", "lists": []string{"nope"}}, 422, "lists")
		rita := get(c.do(request{method: "GET", tmpl: "/subscribers", path: "/subscribers?email=rita.reader@example.com"}, 200), "data", "0")
		fail("PATCH", "/subscribers/{id}", "/subscribers/"+id(rita), map[string]any{"email": "nolists@example.com"}, 409, "email")
		c.fail(request{method: "PATCH", tmpl: "/subscribers/{id}", path: "/subscribers/" + id(rita), raw: []byte(`{"subscriptions": [{"list": "daily", "status": "maybe"}]}`), ctype: "application/json"}, 422, "subscriptions")

		c.fail(request{method: "POST", tmpl: "/disclosures", path: "/disclosures", raw: []byte(`{"text": "   "}`), ctype: "application/json"}, 422, "text")
		fail("GET", "/outbox", "/outbox?offset=-1", nil, 400, "offset")
		fail("GET", "/jobs", "/jobs?status=done", nil, 400, "status")
	})

	// Every documented answer was seen.
	var missing []string
	for _, o := range c.ops {
		for code := range obj(o.op["responses"]) {
			if !c.covered[o.key()+" "+code] {
				missing = append(missing, o.key()+" "+code)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 && !t.Failed() {
		t.Errorf("documented responses never produced by the test (document or exercise them):\n  %s", strings.Join(missing, "\n  "))
	}
}

// download reports whether a response is a file to download: content in
// other media types than JSON, with a Content-Disposition header.
func download(r map[string]any) bool {
	content := obj(r["content"])
	return len(content) > 0 && content["application/json"] == nil && obj(r["headers"])["Content-Disposition"] != nil
}
