package render

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"text/template/parse"
)

// program is a campaign cut into static chunks and reader slots.
type program struct {
	slots    []*slot
	used     []int   // slots that appear in the output
	html     []piece // HTML part
	text     []piece // plain-text part
	htmlSize int     // static bytes, to size buffers
	textSize int
}

// piece is static text followed by a slot (or none, slot < 0).
type piece struct {
	static string
	slot   int
}

// maxStackSlots bounds the slot values kept in an array on the stack.
const maxStackSlots = 32

func (p *program) render(r *Reader, htmlOut, textOut *bytes.Buffer) bool {
	var arr [maxStackSlots]string
	vals := arr[:]
	if len(p.slots) > len(arr) {
		vals = make([]string, len(p.slots))
	}
	for _, i := range p.used {
		v, ok := p.slots[i].value(r)
		if !ok {
			return false
		}
		vals[i] = v
	}
	htmlOut.Grow(p.htmlSize + 64*len(p.used))
	for _, pc := range p.html {
		htmlOut.WriteString(pc.static)
		if pc.slot >= 0 {
			htmlOut.Write(appendEscaped(htmlOut.AvailableBuffer(), vals[pc.slot], p.slots[pc.slot].chain))
		}
	}
	if textOut != nil {
		textOut.Grow(p.textSize + 64*len(p.used))
		for _, pc := range p.text {
			textOut.WriteString(pc.static)
			if pc.slot >= 0 {
				textOut.Write(textValue(textOut.AvailableBuffer(), vals[pc.slot], p.slots[pc.slot].chain))
			}
		}
	}
	return true
}

// buildProgram prepares the fast path, or says why there is none.
func buildProgram(t *Template, funcs template.FuncMap, an *analysis, bodyTrees, layoutTrees map[string]*parse.Tree, testHTML string) (*program, string) {
	if an.problem != "" {
		return nil, an.problem
	}
	p := &program{slots: an.slots}

	// A sentinel no template text or campaign value contains.
	nonce := "Hrldslot"
	for strings.Contains(testHTML, nonce) || treesContain(bodyTrees, nonce) || treesContain(layoutTrees, nonce) {
		nonce += "q"
	}
	sentinel := func(id int) string { return nonce + strconv.Itoa(id) + "Z" }

	var bodyOut string
	slotFuncs := template.FuncMap{}
	for id, s := range p.slots {
		if s.src == srcBody {
			slotFuncs[slotFuncName(id)] = func() template.HTML { return template.HTML(bodyOut) }
		} else {
			v := sentinel(id)
			slotFuncs[slotFuncName(id)] = func() string { return v }
		}
	}
	run := func(trees map[string]*parse.Tree, entry string) (string, *template.Template, error) {
		set := template.New("").Funcs(funcs).Funcs(slotFuncs)
		for name, tree := range trees {
			if _, err := set.AddParseTree(name, tree); err != nil {
				return "", nil, err
			}
		}
		var b strings.Builder
		if err := set.ExecuteTemplate(&b, entry, &t.data); err != nil {
			return "", nil, err
		}
		return b.String(), set, nil
	}
	var err error
	var bodySet, layoutSet *template.Template
	if bodyOut, bodySet, err = run(bodyTrees, bodyName); err != nil {
		return nil, "sentinel run of the body failed: " + err.Error()
	}
	out, layoutSet, err := run(layoutTrees, layoutName)
	if err != nil {
		return nil, "sentinel run of the layout failed: " + err.Error()
	}

	// Read each slot's escapers from the escaped trees.
	for _, set := range []*template.Template{bodySet, layoutSet} {
		if reason := collectChains(set, p.slots); reason != "" {
			return nil, reason
		}
	}
	for _, s := range p.slots {
		if s.src == srcBody && s.rawChain != nil && !(len(s.rawChain) == 1 && s.rawChain[0] == "_html_template_htmlescaper") {
			return nil, "the layout places {{.Body}} somewhere other than HTML text"
		}
	}

	used := make([]bool, len(p.slots))
	if p.html, err = splitSentinels(out, nonce, p.slots, used); err != nil {
		return nil, err.Error()
	}
	var text bytes.Buffer
	htmlToText(&text, []byte(out))
	if p.text, err = splitSentinels(text.String(), nonce, p.slots, used); err != nil {
		return nil, err.Error()
	}
	for i, u := range used {
		if u {
			p.used = append(p.used, i)
		}
	}
	for _, pc := range p.html {
		p.htmlSize += len(pc.static)
	}
	for _, pc := range p.text {
		p.textSize += len(pc.static)
	}

	// Belt and braces: the fast path must print what html/template prints.
	for _, r := range probeReaders(p.slots) {
		var fast, slow bytes.Buffer
		if !p.render(r, &fast, nil) {
			continue
		}
		if err := t.renderSlow(r, &slow, nil); err != nil {
			return nil, "check render failed: " + err.Error()
		}
		if !bytes.Equal(fast.Bytes(), slow.Bytes()) {
			return nil, "pre-rendered output differs from html/template for a test reader (please report)"
		}
	}
	return p, ""
}

func treesContain(trees map[string]*parse.Tree, s string) bool {
	for _, t := range trees {
		if strings.Contains(t.Root.String(), s) {
			return true
		}
	}
	return false
}

// collectChains reads the escapers html/template appended to each slot
// call. A template that html/template had to copy for another context
// ("x$htmltemplate_…") is invisible here, and its slots would be escaped
// differently: when there is such a copy, give up.
func collectChains(set *template.Template, slots []*slot) string {
	derived, found := false, false
	var walk func(l *parse.ListNode) string
	walk = func(l *parse.ListNode) string {
		if l == nil {
			return ""
		}
		for _, n := range l.Nodes {
			switch n := n.(type) {
			case *parse.ActionNode:
				id, ok := slotCall(n.Pipe)
				if !ok || id >= len(slots) {
					continue
				}
				found = true
				s := slots[id]
				s.chain, s.rawChain = nil, []string{}
				for _, c := range n.Pipe.Cmds[1:] {
					ident, ok := c.Args[0].(*parse.IdentifierNode)
					if !ok || len(c.Args) != 1 {
						return fmt.Sprintf("unexpected escaping of %s", s.expr)
					}
					s.rawChain = append(s.rawChain, ident.Ident)
					if s.src == srcBody {
						continue
					}
					e, ok := escaperByName(ident.Ident)
					if !ok {
						return fmt.Sprintf("%s stands where html/template escapes with %s (e.g. a script, style or srcset)", s.expr, strings.TrimPrefix(ident.Ident, "_html_template_"))
					}
					s.chain = append(s.chain, e)
				}
			case *parse.IfNode:
				if r := walk(n.List); r != "" {
					return r
				}
				if r := walk(n.ElseList); r != "" {
					return r
				}
			case *parse.RangeNode:
				if r := walk(n.List); r != "" {
					return r
				}
				if r := walk(n.ElseList); r != "" {
					return r
				}
			case *parse.WithNode:
				if r := walk(n.List); r != "" {
					return r
				}
				if r := walk(n.ElseList); r != "" {
					return r
				}
			case *parse.TemplateNode:
				if strings.Contains(n.Name, "$htmltemplate_") {
					derived = true
				}
			}
		}
		return ""
	}
	for _, tt := range set.Templates() {
		if tt.Tree == nil {
			continue
		}
		if r := walk(tt.Tree.Root); r != "" {
			return r
		}
	}
	if derived && found {
		return "a template that prints reader fields is used in more than one HTML context"
	}
	return ""
}

// slotCall returns the slot id of an action rewritten by trySlot.
func slotCall(p *parse.PipeNode) (int, bool) {
	if p == nil || len(p.Cmds) == 0 || len(p.Cmds[0].Args) != 1 {
		return 0, false
	}
	ident, ok := p.Cmds[0].Args[0].(*parse.IdentifierNode)
	if !ok || !strings.HasPrefix(ident.Ident, slotFuncPrefix) {
		return 0, false
	}
	id, err := strconv.Atoi(strings.TrimPrefix(ident.Ident, slotFuncPrefix))
	return id, err == nil
}

// splitSentinels cuts out into pieces at each sentinel.
func splitSentinels(out, nonce string, slots []*slot, used []bool) ([]piece, error) {
	var pieces []piece
	for {
		i := strings.Index(out, nonce)
		if i < 0 {
			break
		}
		j := i + len(nonce)
		k := j
		for k < len(out) && out[k] >= '0' && out[k] <= '9' {
			k++
		}
		id, err := strconv.Atoi(out[j:k])
		if err != nil || k >= len(out) || out[k] != 'Z' || id >= len(slots) {
			return nil, fmt.Errorf("a sentinel was altered in the output")
		}
		s := slots[id]
		if s.src == srcBody {
			return nil, fmt.Errorf("a body sentinel leaked")
		}
		if len(s.chain) == 0 {
			return nil, fmt.Errorf("%s is printed where its escaping is unknown", s.expr)
		}
		used[id] = true
		pieces = append(pieces, piece{static: out[:i], slot: id})
		out = out[k+1:]
	}
	return append(pieces, piece{static: out, slot: -1}), nil
}

// probeReaders are awkward readers for the self-check of the fast path:
// markup, quotes, entities, NUL, invalid UTF-8, noncharacters, white space,
// dangerous and odd URLs, and attribute values of the JSON types.
func probeReaders(slots []*slot) []*Reader {
	nasty := []string{
		`O'Brien & "Sons" <script>alert(1)</script> +x`,
		"\x00 \t\n\r\v\f = ` \xff\xfe \uFFFD \uFDD0 \uFFFF Zoë 名前",
		"javascript:alert(1)//%zz%41%4g?a=b&c=d#f",
		" ",
		"",
	}
	urls := []string{
		"https://news.example.com/unsubscribe/abc?x=1&y=%20z#top",
		"JavaScript:alert('x')",
		"/relative path/ü?q=\"<>\"",
		"mailto:a+b@example.com?subject=hi there",
		"",
	}
	attrs := []any{"Berlin <b>&amp;</b>", 42.5, true, nil, "2024-03-01"}
	var readers []*Reader
	for i := range nasty {
		r := &Reader{
			Name:           nasty[i],
			Email:          nasty[(i+1)%len(nasty)] + "@example.com",
			UnsubscribeURL: urls[i],
			ManageURL:      urls[(i+2)%len(urls)],
			Attributes:     map[string]any{},
		}
		for j, s := range slots {
			if s.src != srcAttr {
				continue
			}
			switch v := attrs[(i+j)%len(attrs)]; {
			case i == len(nasty)-1:
				// missing attributes
			case v == nil:
				r.Attributes[s.key] = nil
			default:
				if str, ok := v.(string); ok && i%2 == 1 {
					v = nasty[(i+j)%len(nasty)] + str
				}
				r.Attributes[s.key] = v
			}
		}
		readers = append(readers, r)
	}
	return readers
}
