package importer

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"
)

// kind is the shape of a front-matter value once YAML or TOML has been
// decoded. The importer only needs these few shapes, so both formats are
// mapped onto them and the field rules are written once.
type kind int

const (
	kindNull kind = iota
	kindString
	kindNumber
	kindBool
	kindTime // a TOML date or datetime; YAML timestamps stay strings
	kindList
	kindMap
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "empty"
	case kindString:
		return "text"
	case kindNumber:
		return "a number"
	case kindBool:
		return "true/false"
	case kindTime:
		return "a date"
	case kindList:
		return "a list"
	case kindMap:
		return "a map"
	}
	return "unknown"
}

// value is one decoded front-matter value. line is the file line it starts
// on, or 0 when the decoder does not say (items of TOML arrays).
type value struct {
	kind   kind
	text   string // kindString and kindNumber
	b      bool
	t      time.Time
	items  []value
	fields map[string]value // kindMap, keys lower-cased
	line   int
}

// field is one top-level key of the front matter that the importer reads.
type field struct {
	name string // as written in the file, for messages
	line int    // file line of the key
	val  value
}

// frontMatter holds the keys the importer knows, looked up
// case-insensitively, plus where the document parts start.
type frontMatter struct {
	fields    map[string]field // lower-cased key → field
	startLine int              // the opening delimiter
	bodyLine  int              // first line after the closing delimiter
	body      string
	// format is FormatYAML or FormatTOML; extra is what no field rule
	// maps (every key but the known ones, and url and permalink, which
	// only feed the slug), re-encoded in that format, in the file's order
	// for YAML (TOML's encoder sorts): what an export writes back.
	format, extra string
}

// The front-matter formats a Source records.
const (
	FormatYAML = "yaml"
	FormatTOML = "toml"
)

// keptKeys are known keys an export still writes back as they were: they
// only feed the slug, and a site may need them (a Jekyll permalink).
var keptKeys = map[string]bool{"url": true, "permalink": true, "categories": true, "category": true}

// knownKeys are the (lower-cased) keys any rule reads. Only these are
// converted, so a huge or deeply aliased value under an unrelated key costs
// nothing.
var knownKeys = map[string]bool{
	"title": true, "slug": true, "url": true, "permalink": true,
	"date": true, "pubdate": true, "publishdate": true, "published": true, "created": true,
	"updated": true, "lastmod": true, "updateddate": true, "modified": true, "last_modified_at": true,
	"tags": true, "categories": true, "category": true,
	"draft": true, "eleventyexcludefromcollections": true,
	"description": true, "summary": true, "excerpt": true, "subtitle": true,
	"lang": true, "language": true, "locale": true,
	"author": true, "authors": true,
	"translationkey": true,
}

// maxValueNodes bounds the work of converting one YAML document. YAML
// aliases let a small file describe an enormous tree; a real front matter
// has a few dozen values.
const maxValueNodes = 10000

// ErrNoFrontMatter is wrapped by the error Parse returns for a file that
// does not start with a front-matter block.
var ErrNoFrontMatter = errors.New("no front matter: the file must start with a --- (YAML) or +++ (TOML) line")

// splitFrontMatter finds the front-matter block of text (BOM removed, LF
// line endings) and decodes it. Errors carry the file line they refer to.
func splitFrontMatter(text string) (*frontMatter, int, error) {
	first, rest, _ := strings.Cut(text, "\n")
	var delim, format string
	switch strings.TrimRight(first, " \t") {
	case "---":
		delim, format = "---", "YAML"
	case "+++":
		delim, format = "+++", "TOML"
	default:
		return nil, 1, ErrNoFrontMatter
	}

	// Walk the lines after the opening delimiter until the closing one.
	// YAML also allows "..." (the end-of-document marker) to close it.
	var fm strings.Builder
	line := 1
	for {
		if rest == "" {
			return nil, 1, fmt.Errorf("the %s front matter opened on line 1 is never closed by a %s line", format, delim)
		}
		var l string
		l, rest, _ = strings.Cut(rest, "\n")
		line++
		t := strings.TrimRight(l, " \t")
		if t == delim || (format == "YAML" && t == "...") {
			break
		}
		fm.WriteString(l)
		fm.WriteByte('\n')
	}

	f := &frontMatter{
		fields:    map[string]field{},
		startLine: 1,
		bodyLine:  line + 1,
		body:      blog.NormalizeBody(rest),
	}
	// The front matter's first line is line 2 of the file.
	const offset = 1
	var err error
	var errLine int
	if format == "YAML" {
		f.format = FormatYAML
		errLine, err = f.decodeYAML(fm.String(), offset)
	} else {
		f.format = FormatTOML
		errLine, err = f.decodeTOML(fm.String(), offset)
	}
	if err != nil {
		return nil, errLine, err
	}
	return f, 0, nil
}

// syntaxError is a YAML or TOML syntax error with the decoder's own line
// prefix removed, since the ParseError around it states the file line. It
// unwraps to the decoder's error.
type syntaxError struct {
	format string
	msg    string
	err    error
}

func (e *syntaxError) Error() string { return "invalid " + e.format + " front matter: " + e.msg }
func (e *syntaxError) Unwrap() error { return e.err }

// yamlLineRE is compiled on first use: only a failed import needs it, and
// every command of the binary would otherwise compile it at start.
var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): `) })

// yamlErrorLine returns the front-matter line (1-based) a yaml.v3 error
// names and its message without the "yaml: line N:" prefix.
//
// yaml.v3 is inconsistent here: scanner errors ("found ...", "mapping
// values are not allowed ...") give a 1-based line, but parser errors
// ("did not find expected ...") give the 0-based line of the construct
// being parsed, and an error on the very first line gives no line at all.
// Correcting for that points users at the line they have to fix.
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	m := yamlLineRE().FindStringSubmatch(msg)
	if m == nil {
		msg = strings.TrimPrefix(msg, "yaml: ")
		for _, p := range []string{"did not find expected", "found ", "could not find expected", "mapping values", "block sequence entries", "block mapping entries"} {
			if strings.HasPrefix(msg, p) {
				return 1, msg // a scanner or parser error on 0-based line 0
			}
		}
		return 0, msg
	}
	n, _ := strconv.Atoi(m[1])
	msg = msg[len(m[0]):]
	if strings.HasPrefix(msg, "did not find expected") {
		n++
	}
	return n, msg
}

func (f *frontMatter) decodeYAML(src string, offset int) (int, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		line, msg := yamlErrorLine(err)
		if line == 0 {
			line = f.startLine - offset // unknown: point at the opening delimiter
		}
		return line + offset, &syntaxError{format: "YAML", msg: msg, err: err}
	}
	if len(doc.Content) == 0 {
		return 0, nil // only comments or nothing at all
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return root.Line + offset, &syntaxError{format: "YAML", msg: fmt.Sprintf("want key: value pairs, found %s", yamlShape(root)), err: errNotMapping}
	}
	budget := maxValueNodes
	extra := &yaml.Node{Kind: yaml.MappingNode}
	defer func() {
		if len(extra.Content) == 0 {
			return
		}
		// An alias in a kept key may name an anchor on a key the article
		// holds (title: &t …, og_title: *t): the kept front matter stands
		// alone, so aliases become copies of what they name.
		budget := maxValueNodes
		kept, ok := resolveAliases(extra, &budget, 0)
		if !ok {
			return // an alias bomb: nothing kept rather than all of it
		}
		if b, err := yaml.Marshal(kept); err == nil {
			f.extra = string(b)
		}
	}()
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			extra.Content = append(extra.Content, k, v)
			continue // complex keys never name a field we read
		}
		lk := strings.ToLower(k.Value)
		if !knownKeys[lk] || keptKeys[lk] {
			extra.Content = append(extra.Content, k, v)
		}
		if !knownKeys[lk] {
			continue
		}
		val, err := yamlValue(v, offset, &budget, 0)
		if err != nil {
			return k.Line + offset, fmt.Errorf("%s: %w", k.Value, err)
		}
		if err := f.add(k.Value, k.Line+offset, val); err != nil {
			return k.Line + offset, err
		}
	}
	return 0, nil
}

var errNotMapping = errors.New("front matter is not a mapping")

// resolveAliases copies n with every alias replaced by a copy of the node
// it names (and the anchors dropped), spending budget on each node; false
// when that runs out.
func resolveAliases(n *yaml.Node, budget *int, depth int) (*yaml.Node, bool) {
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops > 8 {
			return nil, false
		}
		n = n.Alias
	}
	*budget--
	if *budget < 0 || depth > 32 {
		return nil, false
	}
	c := *n
	c.Anchor = ""
	c.Content = nil
	for _, child := range n.Content {
		cc, ok := resolveAliases(child, budget, depth+1)
		if !ok {
			return nil, false
		}
		c.Content = append(c.Content, cc)
	}
	return &c, true
}

func yamlShape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "something else"
}

// yamlValue converts n, following aliases and spending budget on every
// node so that alias bombs stop early.
func yamlValue(n *yaml.Node, offset int, budget *int, depth int) (value, error) {
	line := n.Line + offset
	for hops := 0; n.Kind == yaml.AliasNode; hops++ {
		if n.Alias == nil || hops > 8 {
			return value{}, errors.New("an alias that leads nowhere")
		}
		n = n.Alias
	}
	*budget--
	if *budget < 0 || depth > 8 {
		return value{}, errors.New("holds too many values (lists, maps or aliases)")
	}
	v := value{line: line}
	switch n.Kind {
	case yaml.SequenceNode:
		v.kind = kindList
		for _, c := range n.Content {
			item, err := yamlValue(c, offset, budget, depth+1)
			if err != nil {
				return value{}, err
			}
			v.items = append(v.items, item)
		}
	case yaml.MappingNode:
		v.kind = kindMap
		v.fields = map[string]value{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Kind != yaml.ScalarNode {
				continue
			}
			item, err := yamlValue(n.Content[i+1], offset, budget, depth+1)
			if err != nil {
				return value{}, err
			}
			k := strings.ToLower(n.Content[i].Value)
			if _, dup := v.fields[k]; !dup {
				v.fields[k] = item
			}
		}
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			v.kind = kindNull
		case "!!bool":
			v.kind = kindBool
			if err := n.Decode(&v.b); err != nil {
				return value{}, err
			}
		case "!!int", "!!float":
			v.kind, v.text = kindNumber, n.Value
		default:
			// Strings, timestamps (parsed later by our own date rules,
			// which accept every YAML timestamp form) and custom tags.
			v.kind, v.text = kindString, n.Value
		}
	default:
		v.kind = kindNull
	}
	return v, nil
}

// tomlLineProbe is decoded into a TOML value only to make the decoder fail
// and so report, through toml.ParseError, the line of the key being
// decoded. BurntSushi/toml keeps key positions but does not export them.
type tomlLineProbe struct{}

var errLineProbe = errors.New("line probe")

func (*tomlLineProbe) UnmarshalTOML(any) error { return errLineProbe }

func (f *frontMatter) decodeTOML(src string, offset int) (int, error) {
	var raw map[string]toml.Primitive
	md, err := toml.Decode(src, &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if line == 0 {
				line = f.startLine - offset
			}
			return line + offset, &syntaxError{format: "TOML", msg: pe.Message, err: err}
		}
		return f.startLine, &syntaxError{format: "TOML", msg: err.Error(), err: err}
	}
	// Go maps are unordered; sort so that duplicate-key errors name the
	// same pair every time.
	keys := make([]string, 0, len(raw))
	extra := map[string]any{}
	for k := range raw {
		if lk := strings.ToLower(k); !knownKeys[lk] || keptKeys[lk] {
			var v any
			if err := md.PrimitiveDecode(raw[k], &v); err == nil {
				extra[k] = v
			}
		}
		if knownKeys[strings.ToLower(k)] {
			keys = append(keys, k)
		}
	}
	if len(extra) > 0 {
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(extra); err == nil {
			f.extra = b.String()
		}
	}
	slices.Sort(keys)
	type entry struct {
		name string
		line int
		val  any
	}
	entries := make([]entry, 0, len(keys))
	for _, k := range keys {
		var v any
		if err := md.PrimitiveDecode(raw[k], &v); err != nil {
			return f.startLine, fmt.Errorf("%s: %w", k, err)
		}
		line := 0
		var pe toml.ParseError
		if err := md.PrimitiveDecode(raw[k], &tomlLineProbe{}); errors.As(err, &pe) {
			line = pe.Position.Line
		}
		if line > 0 {
			line += offset
		} else {
			line = f.startLine
		}
		entries = append(entries, entry{k, line, v})
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.line - b.line })
	for _, e := range entries {
		if err := f.add(e.name, e.line, tomlValue(e.val, e.line)); err != nil {
			return e.line, err
		}
	}
	return 0, nil
}

// tomlValue converts what BurntSushi/toml decodes into an interface value.
func tomlValue(x any, line int) value {
	v := value{line: line}
	switch x := x.(type) {
	case nil:
		v.kind = kindNull
	case string:
		v.kind, v.text = kindString, x
	case bool:
		v.kind, v.b = kindBool, x
	case int64:
		v.kind, v.text = kindNumber, strconv.FormatInt(x, 10)
	case float64:
		v.kind, v.text = kindNumber, strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		v.kind, v.t = kindTime, x
	case []any:
		v.kind = kindList
		for _, item := range x {
			v.items = append(v.items, tomlValue(item, line))
		}
	case []map[string]any:
		v.kind = kindList
		for _, item := range x {
			v.items = append(v.items, tomlValue(item, line))
		}
	case map[string]any:
		v.kind = kindMap
		v.fields = map[string]value{}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			lk := strings.ToLower(k)
			if _, dup := v.fields[lk]; !dup {
				v.fields[lk] = tomlValue(x[k], line)
			}
		}
	default:
		v.kind, v.text = kindString, fmt.Sprint(x)
	}
	return v
}

// add records a known key. Keys are case-insensitive (as in Hugo), so
// "Title" and "title" in one file are the same key written twice: which
// one was meant is a guess we refuse to make.
func (f *frontMatter) add(name string, line int, v value) error {
	lk := strings.ToLower(name)
	if prev, ok := f.fields[lk]; ok {
		return errdefs.Invalid(name, "is set twice (as %q on line %d and %q on line %d)", prev.name, prev.line, name, line)
	}
	f.fields[lk] = field{name: name, line: line, val: v}
	return nil
}

// get returns the first of keys (lower-case) that the front matter sets to
// a non-empty value.
func (f *frontMatter) get(keys ...string) (field, bool) {
	for _, k := range keys {
		if fl, ok := f.fields[k]; ok && fl.val.kind != kindNull {
			return fl, true
		}
	}
	return field{}, false
}
