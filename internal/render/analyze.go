package render

import (
	"fmt"
	"html/template"
	"strings"
	"text/template/parse"
)

// The analysis walks copies of the parse trees of body and layout, the way
// text/template would execute them, and tracks what each value derives
// from. An action that only prints a reader field, optionally through
// default, upper, lower or date with literal arguments, becomes a slot: its
// pipeline is replaced by a call of a function that prints a sentinel. Any
// other use of reader data (a condition, a range, a function argument, a
// variable…) is a problem, and the campaign takes the fallback path.

// kind is what a template value derives from.
type kind uint8

const (
	kConst kind = iota // the same for every reader
	kRoot              // the whole template data, which holds the reader fields
)

// source is the reader field a slot prints.
type source uint8

const (
	srcName source = iota + 1
	srcFirstName
	srcEmail
	srcAttr
	srcUnsubscribe
	srcManage
	srcBody // the layout's {{.Body}}
)

// transform is a template function applied to a slot's value.
type transform struct {
	name string // default, upper, lower, date
	arg  string // the literal argument of default and date
}

// slot is one action that prints a reader field.
type slot struct {
	src        source
	key        string // attribute key for srcAttr
	expr       string // the action as written, for messages
	transforms []transform
	chain      []escaper // from html/template's escaped tree
	rawChain   []string
}

// analysis is the result for body and layout together; slot ids are
// shared, so one sentinel output can hold slots of both.
type analysis struct {
	slots    []*slot
	problem  string // first reason the fast path cannot be used
	usesBody bool   // the layout refers to .Body
}

type walker struct {
	an      *analysis
	part    string
	layout  bool
	trees   map[string]*parse.Tree
	visited map[string]bool
}

func analyze(body, layout map[string]*parse.Tree) *analysis {
	an := &analysis{}
	for _, w := range []*walker{
		{an: an, part: bodyName, trees: body},
		{an: an, part: layoutName, layout: true, trees: layout},
	} {
		w.visited = map[string]bool{}
		w.template(w.part, kRoot)
	}
	return an
}

// copyTrees copies the parse trees of all templates associated with t.
func copyTrees(t *template.Template) map[string]*parse.Tree {
	m := map[string]*parse.Tree{}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			m[tt.Name()] = tt.Tree.Copy()
		}
	}
	return m
}

const slotFuncPrefix = "heraldSlot"

func slotFuncName(id int) string { return fmt.Sprintf("%s%d", slotFuncPrefix, id) }

func (w *walker) fail(tree *parse.Tree, n parse.Node, what string) {
	if w.an.problem != "" {
		return
	}
	loc, _ := tree.ErrorContext(n)
	w.an.problem = fmt.Sprintf("%s: %s", loc, what)
}

func (w *walker) template(name string, dot kind) {
	key := fmt.Sprintf("%s/%d", name, dot)
	if w.visited[key] {
		return
	}
	w.visited[key] = true
	tree := w.trees[name]
	if tree == nil {
		return // html/template reports the missing template at execution
	}
	w.list(tree, tree.Root, dot, map[string]kind{"$": dot})
}

func (w *walker) list(tree *parse.Tree, l *parse.ListNode, dot kind, vars map[string]kind) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		w.node(tree, n, dot, vars)
	}
}

func scope(vars map[string]kind) map[string]kind {
	m := make(map[string]kind, len(vars)+2)
	for k, v := range vars {
		m[k] = v
	}
	return m
}

func (w *walker) node(tree *parse.Tree, n parse.Node, dot kind, vars map[string]kind) {
	switch n := n.(type) {
	case *parse.ActionNode:
		if w.trySlot(tree, n, dot, vars) {
			return
		}
		k := w.pipe(tree, n.Pipe, dot, vars)
		if len(n.Pipe.Decl) == 0 && k == kRoot {
			w.fail(tree, n, n.String()+" prints all template data, including the reader's")
		}
	case *parse.IfNode:
		inner := scope(vars)
		w.pipe(tree, n.Pipe, dot, inner)
		w.list(tree, n.List, dot, scope(inner))
		w.list(tree, n.ElseList, dot, scope(inner))
	case *parse.WithNode:
		inner := scope(vars)
		k := w.pipe(tree, n.Pipe, dot, inner)
		w.list(tree, n.List, k, scope(inner))
		w.list(tree, n.ElseList, dot, scope(inner))
	case *parse.RangeNode:
		inner := scope(vars)
		k := w.pipe(tree, n.Pipe, dot, inner)
		if k == kRoot {
			w.fail(tree, n, "ranges over all template data")
		}
		for _, v := range n.Pipe.Decl {
			inner[v.Ident[0]] = kConst
		}
		w.list(tree, n.List, kConst, scope(inner))
		w.list(tree, n.ElseList, dot, scope(inner))
	case *parse.TemplateNode:
		k := kConst
		if n.Pipe != nil {
			k = w.pipe(tree, n.Pipe, dot, vars)
		}
		w.template(n.Name, k)
	}
}

// pipe evaluates a pipeline and declares its variables in vars.
func (w *walker) pipe(tree *parse.Tree, p *parse.PipeNode, dot kind, vars map[string]kind) kind {
	if p == nil {
		return kConst
	}
	k, has := kConst, false
	for _, c := range p.Cmds {
		k = w.cmd(tree, c, dot, vars, k, has)
		has = true
	}
	if p.IsAssign && k == kRoot {
		// The variable may belong to an outer scope, which this walk does
		// not update; keep it simple.
		w.fail(tree, p, "assigns all template data to an existing variable")
	}
	for _, v := range p.Decl {
		vars[v.Ident[0]] = k
	}
	return k
}

func (w *walker) cmd(tree *parse.Tree, c *parse.CommandNode, dot kind, vars map[string]kind, prev kind, hasPrev bool) kind {
	if len(c.Args) == 0 {
		return kConst
	}
	args := c.Args
	first := kConst
	if _, isFunc := args[0].(*parse.IdentifierNode); !isFunc {
		first = w.arg(tree, args[0], dot, vars)
		if len(args) == 1 && !hasPrev {
			return first
		}
	}
	// A function (or method) call: its result is the same for every
	// reader unless the whole data reaches it.
	for _, a := range args[1:] {
		if w.arg(tree, a, dot, vars) == kRoot {
			w.fail(tree, c, c.String()+" passes all template data to a function")
		}
	}
	if first == kRoot || hasPrev && prev == kRoot {
		w.fail(tree, c, c.String()+" passes all template data to a function")
	}
	return kConst
}

func (w *walker) arg(tree *parse.Tree, n parse.Node, dot kind, vars map[string]kind) kind {
	switch n := n.(type) {
	case *parse.DotNode:
		return dot
	case *parse.FieldNode:
		return w.field(tree, n, dot, n.Ident)
	case *parse.VariableNode:
		return w.field(tree, n, vars[n.Ident[0]], n.Ident[1:])
	case *parse.ChainNode:
		return w.field(tree, n, w.arg(tree, n.Node, dot, vars), n.Field)
	case *parse.PipeNode:
		return w.pipe(tree, n, dot, scope(vars))
	}
	return kConst
}

// field reports a use of a reader field outside a slot.
func (w *walker) field(tree *parse.Tree, n parse.Node, base kind, path []string) kind {
	if base != kRoot || len(path) == 0 {
		return base
	}
	switch path[0] {
	case "Reader", "UnsubscribeURL", "ManageURL":
		w.fail(tree, n, fmt.Sprintf("uses .%s in a way that depends on the reader (only printing it, optionally through default, upper, lower or date, can be pre-rendered)", strings.Join(path, ".")))
	case "Body":
		if w.layout {
			w.an.usesBody = true
			w.fail(tree, n, "uses .Body other than as {{.Body}}")
		}
	}
	return kConst
}

// trySlot turns an action that only prints a reader field into a slot.
func (w *walker) trySlot(tree *parse.Tree, n *parse.ActionNode, dot kind, vars map[string]kind) bool {
	p := n.Pipe
	if p == nil || len(p.Decl) > 0 || p.IsAssign || len(p.Cmds) == 0 {
		return false
	}
	src, key, ok := w.slotSource(p.Cmds[0], dot, vars)
	if !ok {
		return false
	}
	var trs []transform
	for _, c := range p.Cmds[1:] {
		tr, ok := parseTransform(c)
		if !ok {
			return false
		}
		trs = append(trs, tr)
	}
	if src == srcBody {
		if len(trs) > 0 {
			return false
		}
		w.an.usesBody = true
	}
	id := len(w.an.slots)
	w.an.slots = append(w.an.slots, &slot{src: src, key: key, expr: n.String(), transforms: trs})
	pos := p.Cmds[0].Pos
	call := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: []parse.Node{
		parse.NewIdentifier(slotFuncName(id)).SetTree(tree).SetPos(pos),
	}}
	p.Cmds = []*parse.CommandNode{call}
	return true
}

// slotSource recognises .Reader.Name, $.Reader.Attributes.key,
// index .Reader.Attributes "key", .UnsubscribeURL, … evaluated on the
// template data.
func (w *walker) slotSource(c *parse.CommandNode, dot kind, vars map[string]kind) (source, string, bool) {
	path := func(n parse.Node) ([]string, bool) {
		switch n := n.(type) {
		case *parse.FieldNode:
			return n.Ident, dot == kRoot
		case *parse.VariableNode:
			k, ok := vars[n.Ident[0]]
			return n.Ident[1:], ok && k == kRoot
		}
		return nil, false
	}
	switch len(c.Args) {
	case 1:
		p, ok := path(c.Args[0])
		if !ok {
			return 0, "", false
		}
		switch strings.Join(p, ".") {
		case "Reader.Name":
			return srcName, "", true
		case "Reader.FirstName":
			return srcFirstName, "", true
		case "Reader.Email":
			return srcEmail, "", true
		case "UnsubscribeURL":
			return srcUnsubscribe, "", true
		case "ManageURL":
			return srcManage, "", true
		case "Body":
			return srcBody, "", w.layout
		}
		if len(p) == 3 && p[0] == "Reader" && p[1] == "Attributes" {
			return srcAttr, p[2], true
		}
	case 3:
		if id, ok := c.Args[0].(*parse.IdentifierNode); !ok || id.Ident != "index" {
			return 0, "", false
		}
		p, ok := path(c.Args[1])
		key, isStr := c.Args[2].(*parse.StringNode)
		if ok && isStr && len(p) == 2 && p[0] == "Reader" && p[1] == "Attributes" {
			return srcAttr, key.Text, true
		}
	}
	return 0, "", false
}

func parseTransform(c *parse.CommandNode) (transform, bool) {
	if len(c.Args) == 0 {
		return transform{}, false
	}
	id, ok := c.Args[0].(*parse.IdentifierNode)
	if !ok {
		return transform{}, false
	}
	switch id.Ident {
	case "upper", "lower":
		if len(c.Args) == 1 {
			return transform{name: id.Ident}, true
		}
	case "default", "date":
		if len(c.Args) == 2 {
			if s, ok := c.Args[1].(*parse.StringNode); ok {
				return transform{name: id.Ident, arg: s.Text}, true
			}
		}
	}
	return transform{}, false
}

// apply runs the transform as the template function of the same name does.
func (tr transform) apply(v any) any {
	switch tr.name {
	case "default":
		return defaultFunc(tr.arg, v)
	case "upper":
		return upperFunc(v)
	case "lower":
		return lowerFunc(v)
	case "date":
		return formatDate(tr.arg, v)
	}
	panic("render: unknown transform " + tr.name)
}

// applyString is apply for string values, without boxing them.
func (tr transform) applyString(s string) string {
	switch tr.name {
	case "default":
		if isBlank(s) {
			return tr.arg
		}
		return s
	case "upper":
		return strings.ToUpper(s)
	case "lower":
		return strings.ToLower(s)
	case "date":
		return formatDateString(tr.arg, s)
	}
	panic("render: unknown transform " + tr.name)
}

// value is the text the slot prints for r; ok is false when html/template
// might print the value differently than the fast path (unusual attribute
// types), and the message must be rendered in full.
func (s *slot) value(r *Reader) (string, bool) {
	var str string
	switch s.src {
	case srcName:
		str = r.Name
	case srcFirstName:
		str = firstName(r.Name)
	case srcEmail:
		str = r.Email
	case srcUnsubscribe:
		str = r.UnsubscribeURL
	case srcManage:
		str = r.ManageURL
	case srcAttr:
		v := r.Attributes[s.key]
		if x, isStr := v.(string); isStr {
			str = x
			break
		}
		for _, tr := range s.transforms {
			v = tr.apply(v)
		}
		return stringValue(v)
	default:
		return "", false
	}
	for _, tr := range s.transforms {
		str = tr.applyString(str)
	}
	return str, true
}
