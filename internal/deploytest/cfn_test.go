package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

// Placeholder values the evaluated template uses for pseudo parameters and
// physical resource ids.
const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
	// Not "oauthfn": the metrics' Service dimension must be the stack's
	// name, not a constant that happens to equal it.
	testStackName = "oauthfn-staging"
	physSuffix    = "-1A2B3C4D5E6F"
)

// root is the repository root (template.yaml, Makefile, events/).
func root() string { return testenv.RepoRoot() }

// readRepoFile reads a file relative to the repository root.
func readRepoFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(), name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// loadTemplate parses template.yaml into plain maps and lists, turning the
// short-form tags into their long form: !Ref x -> {"Ref": x},
// !GetAtt a.b -> {"Fn::GetAtt": [a, b]}, !Sub s -> {"Fn::Sub": s}, ...
func loadTemplate(t testing.TB) map[string]any {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(readRepoFile(t, "template.yaml"), &doc); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	v, err := fromNode(&doc)
	if err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("template.yaml: top level is %T, want a mapping", v)
	}
	return m
}

func fromNode(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn := n.Tag[1:]
		plain := *n
		plain.Tag = ""
		if n.Kind == yaml.ScalarNode {
			plain.Tag = "!!str"
		}
		arg, err := fromNode(&plain)
		if err != nil {
			return nil, err
		}
		switch fn {
		case "Ref", "Condition":
			return map[string]any{fn: arg}, nil
		case "GetAtt":
			if s, ok := arg.(string); ok {
				id, attr, _ := strings.Cut(s, ".")
				arg = []any{id, attr}
			}
		}
		return map[string]any{"Fn::" + fn: arg}, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			v, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// stack is template.yaml evaluated for one set of parameter values.
type stack struct {
	t      testing.TB
	tpl    map[string]any
	params map[string]string
}

// noValue is what AWS::NoValue resolves to; containers drop it.
type noValueT struct{}

var noValue = noValueT{}

// newStack applies overrides to the parameters' defaults and checks the
// values as CloudFormation would before creating the stack (checkParams):
// a value it would refuse fails the test.
func newStack(t testing.TB, overrides map[string]string) *stack {
	t.Helper()
	s, err := tryStack(t, overrides)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tryStack is newStack returning CloudFormation's refusal as an error.
func tryStack(t testing.TB, overrides map[string]string) (*stack, error) {
	t.Helper()
	tpl := loadTemplate(t)
	s := &stack{t: t, tpl: tpl, params: map[string]string{}}
	decl := mapAt(t, tpl, "Parameters")
	for name := range overrides {
		if _, ok := decl[name]; !ok {
			t.Fatalf("override of undeclared parameter %s", name)
		}
	}
	for name, d := range decl {
		p := asMap(t, d, "Parameters."+name)
		v, ok := overrides[name]
		if !ok {
			def, has := p["Default"]
			if !has {
				t.Fatalf("parameter %s has no default and no value", name)
			}
			v = fmt.Sprint(def)
		}
		s.params[name] = v
	}
	return s, s.checkParams()
}

// checkParams checks every parameter value against its AllowedValues,
// AllowedPattern (the whole value, as CloudFormation anchors it),
// MinLength, MaxLength, MinValue and MaxValue, then the template's Rules
// (RuleCondition and Assertions). It returns every refusal at once.
func (s *stack) checkParams() error {
	s.t.Helper()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	decl := mapAt(s.t, s.tpl, "Parameters")
	names := make([]string, 0, len(decl))
	for name := range decl {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := asMap(s.t, decl[name], "Parameters."+name)
		v := s.params[name]
		if allowed, ok := p["AllowedValues"].([]any); ok {
			if !slices.ContainsFunc(allowed, func(a any) bool { return fmt.Sprint(a) == v }) {
				bad("parameter %s=%q: not one of %v", name, v, allowed)
			}
		}
		if pat, ok := p["AllowedPattern"].(string); ok {
			if !regexp.MustCompile(`^(?:` + pat + `)$`).MatchString(v) {
				bad("parameter %s=%q does not match AllowedPattern %s", name, v, pat)
			}
		}
		if n, ok := p["MinLength"].(int); ok && len(v) < n {
			bad("parameter %s=%q: shorter than MinLength %d", name, v, n)
		}
		if n, ok := p["MaxLength"].(int); ok && len(v) > n {
			bad("parameter %s=%q: longer than MaxLength %d", name, v, n)
		}
		if p["Type"] == "Number" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				bad("parameter %s=%q: not a number", name, v)
				continue
			}
			if n, ok := p["MinValue"].(int); ok && f < float64(n) {
				bad("parameter %s=%q: below MinValue %d", name, v, n)
			}
			if n, ok := p["MaxValue"].(int); ok && f > float64(n) {
				bad("parameter %s=%q: above MaxValue %d", name, v, n)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	rules, _ := s.tpl["Rules"].(map[string]any)
	for name, r := range rules {
		r := asMap(s.t, r, "Rules."+name)
		if c, ok := r["RuleCondition"]; ok && !s.cond(c) {
			continue
		}
		for _, a := range r["Assertions"].([]any) {
			a := asMap(s.t, a, "Rules."+name+".Assertions")
			if !s.cond(a["Assert"]) {
				bad("rule %s: %v", name, a["AssertDescription"])
			}
		}
	}
	return errors.Join(errs...)
}

func asMap(t testing.TB, v any, where string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: got %T, want a mapping", where, v)
	}
	return m
}

func mapAt(t testing.TB, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	cur := m
	for i, k := range keys {
		cur = asMap(t, cur[k], strings.Join(keys[:i+1], "."))
	}
	return cur
}

// resource returns the (unresolved) resource id.
func (s *stack) resource(id string) map[string]any {
	s.t.Helper()
	return mapAt(s.t, s.tpl, "Resources", id)
}

func (s *stack) resourceType(id string) string {
	s.t.Helper()
	typ, _ := s.resource(id)["Type"].(string)
	return typ
}

// exists reports whether the resource is created with these parameters.
func (s *stack) exists(id string) bool {
	s.t.Helper()
	c, ok := s.resource(id)["Condition"].(string)
	return !ok || s.condition(c)
}

// ref is what !Ref returns.
func (s *stack) ref(name string) any {
	s.t.Helper()
	switch name {
	case "AWS::Region":
		return testRegion
	case "AWS::AccountId":
		return testAccount
	case "AWS::StackName":
		return testStackName
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::Partition":
		return "aws"
	case "AWS::NoValue":
		return noValue
	}
	if v, ok := s.params[name]; ok {
		return v
	}
	if _, ok := mapAt(s.t, s.tpl, "Resources")[name]; !ok {
		s.t.Fatalf("!Ref %s: no such parameter or resource", name)
	}
	if !s.exists(name) {
		s.t.Fatalf("!Ref %s: the resource is not created with these parameters", name)
	}
	switch s.resourceType(name) {
	case "AWS::SecretsManager::Secret":
		return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-AbCdEf", testRegion, testAccount, name)
	case "AWS::SQS::Queue":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", testRegion, testAccount, s.physicalName(name))
	case "AWS::Serverless::HttpApi":
		return "abc123defg"
	case "AWS::SNS::Topic":
		return fmt.Sprintf("arn:aws:sns:%s:%s:%s", testRegion, testAccount, s.physicalName(name))
	}
	return s.physicalName(name)
}

func (s *stack) physicalName(id string) string { return testStackName + "-" + id + physSuffix }

// getAtt is what !GetAtt returns.
func (s *stack) getAtt(id, attr string) string {
	s.t.Helper()
	if !s.exists(id) {
		s.t.Fatalf("!GetAtt %s.%s: the resource is not created with these parameters", id, attr)
	}
	typ := s.resourceType(id)
	switch {
	case typ == "AWS::DynamoDB::Table" && attr == "Arn":
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", testRegion, testAccount, s.physicalName(id))
	case typ == "AWS::DynamoDB::Table" && attr == "StreamArn":
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/2026-01-01T00:00:00.000", testRegion, testAccount, s.physicalName(id))
	case typ == "AWS::SQS::Queue" && attr == "Arn":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", testRegion, testAccount, s.physicalName(id))
	case typ == "AWS::SQS::Queue" && attr == "QueueName":
		return s.physicalName(id)
	case (typ == "AWS::Serverless::Function" || typ == "AWS::Lambda::Function") && attr == "Arn":
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", testRegion, testAccount, s.physicalName(id))
	case typ == "AWS::Logs::LogGroup" && attr == "Arn":
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", testRegion, testAccount, s.str(s.ref(id)))
	case typ == "AWS::IAM::Role" && attr == "Arn":
		return fmt.Sprintf("arn:aws:iam::%s:role/%s", testAccount, s.physicalName(id))
	case typ == "AWS::Scheduler::ScheduleGroup" && attr == "Arn":
		return fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule-group/%s", testRegion, testAccount, s.str(s.ref(id)))
	case typ == "AWS::ApiGatewayV2::DomainName" && attr == "RegionalDomainName":
		return "d-abc123defg.execute-api." + testRegion + ".amazonaws.com"
	case typ == "AWS::ApiGatewayV2::DomainName" && attr == "RegionalHostedZoneId":
		return "Z1UJRXOUMOOFQ8"
	}
	s.t.Fatalf("!GetAtt %s.%s: attribute not known to the test (type %s)", id, attr, typ)
	return ""
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// resolve evaluates the intrinsic functions in v.
func (s *stack) resolve(v any) any {
	s.t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if r, ok := s.intrinsic(fn, arg); ok {
					return r
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if r := s.resolve(e); r != noValue {
				out[k] = r
			}
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if r := s.resolve(e); r != noValue {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}

func (s *stack) intrinsic(fn string, arg any) (any, bool) {
	s.t.Helper()
	args, _ := arg.([]any)
	switch fn {
	case "Ref":
		return s.ref(s.str(arg)), true
	case "Fn::GetAtt":
		if len(args) != 2 {
			s.t.Fatalf("Fn::GetAtt %v: want [id, attribute]", arg)
		}
		return s.getAtt(s.str(args[0]), s.str(args[1])), true
	case "Fn::Sub":
		text, vars := "", map[string]any{}
		switch a := arg.(type) {
		case string:
			text = a
		case []any:
			if len(a) != 2 {
				s.t.Fatalf("Fn::Sub %v: want [text, variables]", arg)
			}
			text, vars = s.str(a[0]), asMap(s.t, a[1], "Fn::Sub variables")
		default:
			s.t.Fatalf("Fn::Sub %v: unexpected argument", arg)
		}
		return subVar.ReplaceAllStringFunc(text, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if v, ok := vars[name]; ok {
				return s.str(s.resolve(v))
			}
			if id, attr, ok := strings.Cut(name, "."); ok {
				return s.getAtt(id, attr)
			}
			return s.str(s.ref(name))
		}), true
	case "Fn::If":
		if len(args) != 3 {
			s.t.Fatalf("Fn::If %v: want [condition, then, else]", arg)
		}
		if s.condition(s.str(args[0])) {
			return s.resolve(args[1]), true
		}
		return s.resolve(args[2]), true
	case "Fn::FindInMap":
		if len(args) != 3 {
			s.t.Fatalf("Fn::FindInMap %v: want [map, key, key]", arg)
		}
		m := mapAt(s.t, s.tpl, "Mappings", s.str(s.resolve(args[0])), s.str(s.resolve(args[1])))
		v, ok := m[s.str(s.resolve(args[2]))]
		if !ok {
			s.t.Fatalf("Fn::FindInMap %v: no such key", arg)
		}
		return v, true
	case "Fn::Split":
		if len(args) != 2 {
			s.t.Fatalf("Fn::Split %v: want [separator, string]", arg)
		}
		var out []any
		for _, p := range strings.Split(s.str(s.resolve(args[1])), s.str(args[0])) {
			out = append(out, p)
		}
		return out, true
	case "Fn::Select":
		if len(args) != 2 {
			s.t.Fatalf("Fn::Select %v: want [index, list]", arg)
		}
		i, err := strconv.Atoi(s.str(s.resolve(args[0])))
		l, ok := s.resolve(args[1]).([]any)
		if err != nil || !ok || i < 0 || i >= len(l) {
			// CloudFormation fails the stack on an index out of range.
			s.t.Fatalf("Fn::Select %v: index out of range or not a list", arg)
		}
		return l[i], true
	case "Fn::Join":
		if len(args) != 2 {
			s.t.Fatalf("Fn::Join %v: want [separator, list]", arg)
		}
		var parts []string
		for _, p := range s.resolve(args[1]).([]any) {
			parts = append(parts, s.str(p))
		}
		return strings.Join(parts, s.str(args[0])), true
	}
	if strings.HasPrefix(fn, "Fn::") {
		s.t.Fatalf("intrinsic %s: not known to the test", fn)
	}
	return nil, false
}

// condition evaluates a named condition.
func (s *stack) condition(name string) bool {
	s.t.Helper()
	c, ok := mapAt(s.t, s.tpl, "Conditions")[name]
	if !ok {
		s.t.Fatalf("condition %s: not declared", name)
	}
	return s.cond(c)
}

func (s *stack) cond(v any) bool {
	s.t.Helper()
	m := asMap(s.t, v, "condition")
	if len(m) != 1 {
		s.t.Fatalf("condition %v: want one function", v)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			return s.condition(s.str(arg))
		case "Fn::Equals":
			if len(args) != 2 {
				s.t.Fatalf("Fn::Equals %v: want two values", arg)
			}
			return s.str(s.resolve(args[0])) == s.str(s.resolve(args[1]))
		case "Fn::Not":
			return !s.cond(args[0])
		case "Fn::And", "Fn::Or":
			all, some := true, false
			for _, a := range args {
				b := s.cond(a)
				all, some = all && b, some || b
			}
			if fn == "Fn::And" {
				return all
			}
			return some
		}
		s.t.Fatalf("condition function %s: not known to the test", fn)
	}
	return false
}

// str renders a resolved scalar as CloudFormation passes it on (numbers and
// booleans become strings); anything else fails the test.
func (s *stack) str(v any) string {
	s.t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case int, float64, bool:
		return fmt.Sprint(x)
	}
	s.t.Fatalf("got %#v, want a string", v)
	return ""
}

// functionIDs lists the AWS::Serverless::Function resources these
// parameters create (BffFunction only with EnableBff), sorted.
func (s *stack) functionIDs() []string {
	var ids []string
	for id, r := range mapAt(s.t, s.tpl, "Resources") {
		if asMap(s.t, r, id)["Type"] == "AWS::Serverless::Function" && s.exists(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// function returns a function's properties with Globals.Function merged in
// (SAM: maps merge, lists append, scalars are overridden), resolved.
func (s *stack) function(id string) map[string]any {
	s.t.Helper()
	props := mapAt(s.t, s.resource(id), "Properties")
	globals := mapAt(s.t, s.tpl, "Globals", "Function")
	return asMap(s.t, s.resolve(mergeGlobals(globals, props)), id+".Properties")
}

func mergeGlobals(global, local any) any {
	gm, gok := global.(map[string]any)
	lm, lok := local.(map[string]any)
	if gok && lok {
		out := make(map[string]any, len(gm)+len(lm))
		for k, v := range gm {
			out[k] = v
		}
		for k, v := range lm {
			if g, ok := out[k]; ok {
				out[k] = mergeGlobals(g, v)
			} else {
				out[k] = v
			}
		}
		return out
	}
	gl, gok := global.([]any)
	ll, lok := local.([]any)
	if gok && lok {
		return append(slices.Clone(gl), ll...)
	}
	return local
}

// env is a function's environment as Lambda would see it.
func (s *stack) env(id string) map[string]string {
	s.t.Helper()
	vars := mapAt(s.t, s.function(id), "Environment", "Variables")
	env := make(map[string]string, len(vars))
	for k, v := range vars {
		env[k] = s.str(v)
	}
	return env
}

// tableName, tableArn and streamArn are the table the functions use: the
// stack's, or the one ExistingTableStreamArn names (computed here from the
// parameter, not from the template's expressions).
func (s *stack) tableName() string {
	if arn := s.params["ExistingTableStreamArn"]; arn != "" {
		return strings.Split(arn, "/")[1]
	}
	return s.str(s.ref("Table"))
}

func (s *stack) tableArn() string {
	if arn := s.params["ExistingTableStreamArn"]; arn != "" {
		return arn[:strings.Index(arn, "/stream/")]
	}
	return s.getAtt("Table", "Arn")
}

func (s *stack) streamArn() string {
	if arn := s.params["ExistingTableStreamArn"]; arn != "" {
		return arn
	}
	return s.getAtt("Table", "StreamArn")
}

// tokenKeyArn is the token key the functions use: the stack's, or
// ExistingTokenKeyArn.
func (s *stack) tokenKeyArn() string {
	if arn := s.params["ExistingTokenKeyArn"]; arn != "" {
		return arn
	}
	return s.str(s.ref("TokenKey"))
}

// role returns the resolved properties of the role a function runs as: the
// resource its Role names (!GetAtt <id>.Arn).
func (s *stack) role(fn string) map[string]any {
	s.t.Helper()
	ref := asMap(s.t, mapAt(s.t, s.resource(fn), "Properties")["Role"], fn+".Role")
	att, ok := ref["Fn::GetAtt"].([]any)
	if !ok || len(att) != 2 || att[1] != "Arn" {
		s.t.Fatalf("%s.Role: got %v, want !GetAtt <role>.Arn (a role of its own, not SAM's)", fn, ref)
	}
	id := s.str(att[0])
	if s.resourceType(id) != "AWS::IAM::Role" {
		s.t.Fatalf("%s.Role: %s is a %s, want an AWS::IAM::Role", fn, id, s.resourceType(id))
	}
	return asMap(s.t, s.resolve(mapAt(s.t, s.resource(id), "Properties")), id)
}

// logGroupOf returns the id of the log group a function writes to: the
// AWS::Logs::LogGroup resource its LoggingConfig.LogGroup names (!Ref), so
// the group exists before the function can run.
func (s *stack) logGroupOf(fn string) string {
	s.t.Helper()
	lc, _ := mapAt(s.t, s.resource(fn), "Properties")["LoggingConfig"].(map[string]any)
	ref, _ := lc["LogGroup"].(map[string]any)
	id, _ := ref["Ref"].(string)
	if id == "" || s.resourceType(id) != "AWS::Logs::LogGroup" {
		s.t.Fatalf("%s.LoggingConfig.LogGroup: got %v, want !Ref of a log group of the stack", fn, lc["LogGroup"])
	}
	return id
}

// statements flattens the inline policies of resolved role properties.
func statements(t testing.TB, role map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range role["Policies"].([]any) {
		doc := mapAt(t, asMap(t, p, "Policies"), "PolicyDocument")
		for _, st := range doc["Statement"].([]any) {
			out = append(out, asMap(t, st, "Statement"))
		}
	}
	return out
}

// decodeStrict decodes JSON into v, refusing unknown fields, keys that
// match a field only without regard to case (encoding/json accepts
// "rawpath" for "rawPath"; Lambda's real payloads are exact) and trailing
// data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	return exactKeys(raw, reflect.TypeOf(v), "")
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
)

// exactKeys checks that every object key in raw names a field of typ by its
// exact JSON name.
func exactKeys(raw any, typ reflect.Type, path string) error {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ == rawMessageType || typ == timeType {
		return nil
	}
	switch x := raw.(type) {
	case map[string]any:
		switch typ.Kind() {
		case reflect.Map:
			for k, v := range x {
				if err := exactKeys(v, typ.Elem(), path+"."+k); err != nil {
					return err
				}
			}
		case reflect.Struct:
			fields := map[string]reflect.Type{}
			for i := range typ.NumField() {
				f := typ.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "" {
					name = f.Name
				}
				fields[name] = f.Type
			}
			for k, v := range x {
				ft, ok := fields[k]
				if !ok {
					return fmt.Errorf("%s.%s: no field of %s has exactly this JSON name", path, k, typ)
				}
				if err := exactKeys(v, ft, path+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array {
			for i, v := range x {
				if err := exactKeys(v, typ.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
