package deploytest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// The docs keep template.yaml's parameters, outputs and alarms and the
// configuration variables in tables; these tests keep the tables in step
// with the template and the code, and every relative link pointing at
// something that exists.

// docTable is one Markdown table: its header cells and its rows' cells.
type docTable struct {
	header []string
	rows   [][]string
}

// docTables returns the tables of a Markdown file, outside code blocks.
func docTables(md string) []docTable {
	var tables []docTable
	var cur *docTable
	inCode := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			cur = nil
			continue
		}
		if inCode || !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		cells := splitRow(line)
		switch {
		case cur == nil:
			tables = append(tables, docTable{header: cells})
			cur = &tables[len(tables)-1]
		case isDelimiterRow(cells):
		default:
			cur.rows = append(cur.rows, cells)
		}
	}
	return tables
}

// splitRow splits "| a | b \| c |" into its trimmed cells.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			b.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

func isDelimiterRow(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, ":-") != "" || c == "" {
			return false
		}
	}
	return true
}

// codeSpan is a cell's leading `name`, or "".
func codeSpan(cell string) string {
	if !strings.HasPrefix(cell, "`") {
		return ""
	}
	name, _, ok := strings.Cut(cell[1:], "`")
	if !ok {
		return ""
	}
	return name
}

// tableRows collects the rows of every table of file whose first header
// cell is first, keyed by the code span that starts the row's first cell.
// A row whose first cell is not a code span, or a name given twice, fails.
func tableRows(t *testing.T, file, first string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	found := false
	for _, tab := range docTables(string(readRepoFile(t, file))) {
		if len(tab.header) == 0 || tab.header[0] != first {
			continue
		}
		found = true
		for _, r := range tab.rows {
			name := codeSpan(r[0])
			if name == "" {
				t.Errorf("%s: a %s row does not start with a `name`: %q", file, first, r[0])
				continue
			}
			if _, dup := rows[name]; dup {
				t.Errorf("%s: %s %s has two rows", file, first, name)
			}
			if len(r) != len(tab.header) {
				t.Errorf("%s: %s %s: %d cells, the header has %d", file, first, name, len(r), len(tab.header))
			}
			rows[name] = r
		}
	}
	if !found {
		t.Fatalf("%s has no table whose first column is %q", file, first)
	}
	return rows
}

// sameNames reports names in want without a row and rows not in want.
func sameNames(t *testing.T, file, what string, want []string, rows map[string][]string) {
	t.Helper()
	for _, n := range want {
		if _, ok := rows[n]; !ok {
			t.Errorf("%s: %s %s of template.yaml has no row", file, what, n)
		}
	}
	for n := range rows {
		if !slices.Contains(want, n) {
			t.Errorf("%s: the row for %s %s names nothing in template.yaml", file, what, n)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// paramVariables maps each parameter that a function variable takes
// directly (!Ref) to that variable.
func paramVariables(t *testing.T, tpl map[string]any) map[string]string {
	t.Helper()
	vars := mapAt(t, tpl, "Globals", "Function", "Environment", "Variables")
	out := map[string]string{}
	for name, v := range vars {
		if m, ok := v.(map[string]any); ok {
			if p, ok := m["Ref"].(string); ok {
				out[p] = name
			}
		}
	}
	return out
}

// Every parameter of template.yaml has its row in docs/deploy.md, naming
// the variable it sets and its default; no row names a parameter the
// template does not have.
func TestDeployDocsParameters(t *testing.T) {
	const file = "docs/deploy.md"
	tpl := loadTemplate(t)
	params := asMap(t, tpl["Parameters"], "Parameters")
	rows := tableRows(t, file, "parameter")
	sameNames(t, file, "parameter", sortedKeys(params), rows)

	header := []string{"parameter", "variable", "default", "when to change it"}
	vars := paramVariables(t, tpl)
	for name, r := range rows {
		p, ok := params[name].(map[string]any)
		if !ok || len(r) != len(header) {
			continue
		}
		if v, ok := vars[name]; ok && codeSpan(r[1]) != v {
			t.Errorf("%s: parameter %s sets %s; its row says %q", file, name, v, r[1])
		}
		want := "required"
		if d, ok := p["Default"]; ok {
			want = "`" + fmt.Sprint(d) + "`"
			if fmt.Sprint(d) == "" {
				want = "empty"
			}
		}
		if r[2] != want {
			t.Errorf("%s: parameter %s: default %q, want %q", file, name, r[2], want)
		}
		if strings.TrimSpace(r[3]) == "" {
			t.Errorf("%s: parameter %s: say when to change it", file, name)
		}
	}
	var order []string
	for _, tab := range docTables(string(readRepoFile(t, file))) {
		if tab.header[0] != "parameter" {
			continue
		}
		if !slices.Equal(tab.header, header) {
			t.Errorf("%s: parameter table header %q, want %q", file, tab.header, header)
		}
		for _, r := range tab.rows {
			order = append(order, codeSpan(r[0]))
		}
	}
	// sam deploy --guided asks in the template's order; the page says the
	// table follows it.
	if want := parameterOrder(t); !slices.Equal(order, want) {
		t.Errorf("%s: parameter rows in the order %q, want the template's %q", file, order, want)
	}
}

// TestDocsParameterCount: the number of parameters the README and the
// deploy guide quote ("36 parameters") is the template's.
func TestDocsParameterCount(t *testing.T) {
	n := len(asMap(t, loadTemplate(t)["Parameters"], "Parameters"))
	for _, file := range []string{"README.md", "docs/deploy.md"} {
		md := string(readRepoFile(t, file))
		found := 0
		for _, m := range regexp.MustCompile(`\b(\d+) parameters\b`).FindAllStringSubmatch(md, -1) {
			found++
			if m[1] != strconv.Itoa(n) {
				t.Errorf("%s says %q; the template has %d", file, m[0], n)
			}
		}
		if found == 0 {
			t.Errorf("%s no longer says how many parameters the template has; keep the check or drop it", file)
		}
	}
}

// parameterOrder is the order of template.yaml's Parameters.
func parameterOrder(t *testing.T) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(readRepoFile(t, "template.yaml"), &doc); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "Parameters" {
			continue
		}
		var names []string
		params := top.Content[i+1]
		for j := 0; j+1 < len(params.Content); j += 2 {
			names = append(names, params.Content[j].Value)
		}
		return names
	}
	t.Fatal("template.yaml has no Parameters")
	return nil
}

// Every output of template.yaml has its row in docs/deploy.md, and every
// row is an output.
func TestDeployDocsOutputs(t *testing.T) {
	const file = "docs/deploy.md"
	outputs := asMap(t, loadTemplate(t)["Outputs"], "Outputs")
	rows := tableRows(t, file, "output")
	sameNames(t, file, "output", sortedKeys(outputs), rows)
	for name, r := range rows {
		if len(r) < 2 || strings.TrimSpace(r[1]) == "" {
			t.Errorf("%s: output %s: say what it is for", file, name)
		}
	}
}

// Every alarm of template.yaml has its row in docs/operate.md saying what
// to do, and every row is an alarm.
func TestOperateDocsAlarms(t *testing.T) {
	const file = "docs/operate.md"
	res := asMap(t, loadTemplate(t)["Resources"], "Resources")
	var alarms []string
	for _, id := range sortedKeys(res) {
		if r, ok := res[id].(map[string]any); ok && r["Type"] == "AWS::CloudWatch::Alarm" {
			alarms = append(alarms, id)
		}
	}
	if len(alarms) == 0 {
		t.Fatal("template.yaml has no alarms")
	}
	rows := tableRows(t, file, "alarm")
	sameNames(t, file, "alarm", alarms, rows)
	for name, r := range rows {
		if len(r) < 3 || strings.TrimSpace(r[2]) == "" {
			t.Errorf("%s: alarm %s: say what to do", file, name)
		}
	}
}

// Every variable the code reads (oauth.Variables) and every variable
// template.yaml sets has its row in docs/configuration.md. A row may name
// several variables ("`A`, `B`").
func TestConfigurationDocsVariables(t *testing.T) {
	const file = "docs/configuration.md"
	documented := map[string]bool{}
	varName := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	for _, tab := range docTables(string(readRepoFile(t, file))) {
		if tab.header[0] != "variable" {
			continue
		}
		for _, r := range tab.rows {
			for _, m := range varName.FindAllStringSubmatch(r[0], -1) {
				documented[m[1]] = true
			}
		}
	}
	want := slices.Clone(oauth.Variables)
	want = append(want, sortedKeys(mapAt(t, loadTemplate(t), "Globals", "Function", "Environment", "Variables"))...)
	for _, v := range want {
		if !documented[v] {
			t.Errorf("%s: variable %s has no row", file, v)
		}
	}
}

// docFiles are the Markdown files whose links are checked: the README and
// every page under docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root(), "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no docs/*.md")
	}
	files := []string{"README.md"}
	for _, p := range pages {
		rel, err := filepath.Rel(root(), p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.ToSlash(rel))
	}
	return files
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpanRe = regexp.MustCompile("`[^`]*`")
)

// mdLinks returns the link targets of a Markdown file, outside code blocks
// and code spans.
func mdLinks(md string) []string {
	var links []string
	inCode := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(codeSpanRe.ReplaceAllString(line, "``"), -1) {
			links = append(links, m[1])
		}
	}
	return links
}

// headingAnchors returns the anchors GitHub gives a Markdown file's
// headings: lower case, punctuation dropped (letters, digits, spaces, '-'
// and '_' kept), spaces as '-', a repeated anchor suffixed -1, -2, …
func headingAnchors(md string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for line := range strings.SplitSeq(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		text = mdLinkText.ReplaceAllString(text, "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

var mdLinkText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)

// Every relative link in the README and docs/ points at a file that exists,
// and a #fragment into a Markdown file at one of its headings.
func TestDocLinks(t *testing.T) {
	anchorsOf := map[string]map[string]bool{}
	anchors := func(file string) map[string]bool {
		if a, ok := anchorsOf[file]; ok {
			return a
		}
		a := headingAnchors(string(readRepoFile(t, file)))
		anchorsOf[file] = a
		return a
	}
	checked := 0
	for _, file := range docFiles(t) {
		for _, link := range mdLinks(string(readRepoFile(t, file))) {
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			checked++
			target, frag, _ := strings.Cut(link, "#")
			path := file
			if target != "" {
				path = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(file), target)))
				if strings.HasPrefix(path, "../") {
					t.Errorf("%s: link %s leaves the repository", file, link)
					continue
				}
				if _, err := os.Stat(filepath.Join(root(), path)); err != nil {
					t.Errorf("%s: link %s: %s does not exist", file, link, path)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(path, ".md") && !anchors(path)[frag] {
				t.Errorf("%s: link %s: %s has no heading with the anchor #%s", file, link, path, frag)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d relative links checked: is the link pattern still right?", checked)
	}
}

// The checks above see what they should: a sample with a broken link, a
// missing anchor and a table row.
func TestDocHelpers(t *testing.T) {
	md := "# Title: `x` and [y](z.md)\n\n## Title: x and y\n\n```\n[not](a link)\n```\n" +
		"| parameter | b |\n|---|---|\n| `One` | a \\| b |\n\nSee [p](other.md#part) and `[q](r)`.\n"
	if got, want := mdLinks(md), []string{"z.md", "other.md#part"}; !slices.Equal(got, want) {
		t.Errorf("mdLinks = %q, want %q", got, want)
	}
	a := headingAnchors(md)
	for _, want := range []string{"title-x-and-y", "title-x-and-y-1"} {
		if !a[want] {
			t.Errorf("headingAnchors = %v, want %s", a, want)
		}
	}
	tabs := docTables(md)
	if len(tabs) != 1 || len(tabs[0].rows) != 1 || codeSpan(tabs[0].rows[0][0]) != "One" || tabs[0].rows[0][1] != "a | b" {
		t.Errorf("docTables = %q", tabs)
	}
}

// docs/browser-apps.md's JavaScript is the dev server's browser-only app,
// word for word: each paragraph (the text between blank lines) of each js
// block in "The app's JavaScript" is in cmd/oauthfn/spa/app.js, and the
// blocks show the parts that talk to oauthfn.
func TestBrowserAppsSnippetsAreTheSPA(t *testing.T) {
	const page, file = "docs/browser-apps.md", "cmd/oauthfn/spa/app.js"
	src := string(readRepoFile(t, file))
	_, section, ok := strings.Cut(string(readRepoFile(t, page)), "\n## The app's JavaScript\n")
	section, _, _ = strings.Cut(section, "\n## ")
	if !ok {
		t.Fatalf("%s has no section \"The app's JavaScript\"", page)
	}
	var shown strings.Builder
	for rest := section; ; {
		_, after, ok := strings.Cut(rest, "```js\n")
		if !ok {
			break
		}
		block, tail, ok := strings.Cut(after, "```\n")
		if !ok {
			t.Fatalf("%s: a js block is not closed", page)
		}
		rest = tail
		for part := range strings.SplitSeq(strings.TrimSpace(block), "\n\n") {
			if !strings.Contains(src, part) {
				t.Errorf("%s shows code that is not in %s:\n%s", page, file, part)
			}
		}
		shown.WriteString(block)
	}
	for _, want := range []string{`"X-OAuthFn-CSRF": "1"`, "function bff(", "function signIn(", "async function refresh(", "async function signOut("} {
		if !strings.Contains(shown.String(), want) {
			t.Errorf("%s's JavaScript does not show %s", page, want)
		}
	}
}
