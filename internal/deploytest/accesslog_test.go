package deploytest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var contextVar = regexp.MustCompile(`\$(context|request|stageVariables)\.[A-Za-z0-9_.-]+`)

// queryOrSecrets matches access log variables that could carry the query
// string (the callback's code and state), headers (the binding cookie) or
// authorizer data.
var queryOrSecrets = regexp.MustCompile(`(?i)requestUri|query|^\$request\.|header|cookie|authorizer|requestOverride|responseOverride`)

// accessLogProblems checks an HTTP API access log format: a JSON object of
// string fields, each one $context variable, never one that can carry the
// query string or headers, and with the fields an operator needs.
func accessLogProblems(format string) []string {
	var problems []string
	vars := contextVar.FindAllString(format, -1)
	for _, v := range vars {
		if queryOrSecrets.MatchString(v) {
			problems = append(problems, fmt.Sprintf("%s may log the query string or headers", v))
		}
	}
	// API Gateway substitutes the variables; the line must stay JSON.
	var fields map[string]any
	if err := json.Unmarshal([]byte(contextVar.ReplaceAllString(format, "x")), &fields); err != nil {
		return append(problems, fmt.Sprintf("not a JSON object: %v", err))
	}
	for k, v := range fields {
		if str, ok := v.(string); !ok || str != "x" {
			problems = append(problems, fmt.Sprintf("field %s: got %v, want exactly one variable in a string", k, v))
		}
	}
	for _, need := range []string{"$context.requestId", "$context.routeKey", "$context.path", "$context.status", "$context.integrationErrorMessage"} {
		if !slices.Contains(vars, need) {
			problems = append(problems, "lacks "+need)
		}
	}
	return problems
}

// TestAccessLog: the HTTP API stage logs every request (serverless rules
// ES2000, WS2001) to a log group with retention, in JSON, without the query
// string; default route throttling is set (ES2003).
func TestAccessLog(t *testing.T) {
	s := newStack(t, paramSets[0].overrides)
	api := asMap(t, s.resolve(mapAt(t, s.resource("HttpApi"), "Properties")), "HttpApi")
	settings := mapAt(t, api, "AccessLogSettings")
	if got, want := settings["DestinationArn"], s.getAtt("ApiAccessLogGroup", "Arn"); got != want {
		t.Errorf("AccessLogSettings.DestinationArn: got %v, want %v", got, want)
	}
	if got := mapAt(t, s.resource("ApiAccessLogGroup"), "Properties")["RetentionInDays"]; got != 30 {
		t.Errorf("ApiAccessLogGroup RetentionInDays: got %v, want 30", got)
	}
	format := s.str(settings["Format"])
	if p := accessLogProblems(format); len(p) > 0 {
		t.Errorf("access log format %s:\n%s", format, strings.Join(p, "\n"))
	}
	throttle := mapAt(t, api, "DefaultRouteSettings")
	if throttle["ThrottlingBurstLimit"] == nil || throttle["ThrottlingRateLimit"] == nil {
		t.Errorf("DefaultRouteSettings: got %v, want burst and rate limits", throttle)
	}
}

// TestAccessLogProblems is the control for TestAccessLog: formats that log
// the query, headers, or no JSON are refused.
func TestAccessLogProblems(t *testing.T) {
	good := `{"requestId":"$context.requestId","routeKey":"$context.routeKey","path":"$context.path","status":"$context.status","e":"$context.integrationErrorMessage"}`
	if p := accessLogProblems(good); len(p) > 0 {
		t.Fatalf("good format refused: %v", p)
	}
	tests := []struct{ name, format, want string }{
		{"request URI", strings.Replace(good, "$context.path", "$context.requestUri", 1), "$context.requestUri may log"},
		{"query parameter", strings.Replace(good, `}`, `,"q":"$request.querystring.code"}`, 1), "$request.querystring.code may log"},
		{"cookie header", strings.Replace(good, `}`, `,"c":"$request.header.cookie"}`, 1), "$request.header.cookie may log"},
		{"CLF, not JSON", "$context.requestId $context.routeKey $context.path $context.status", "not a JSON object"},
		{"unquoted value", strings.Replace(good, `"$context.status"`, `$context.status`, 1), "not a JSON object"},
		{"two variables in a field", strings.Replace(good, `"$context.status"`, `"$context.status $context.path"`, 1), "want exactly one variable"},
		{"no route", strings.Replace(good, `"routeKey":"$context.routeKey",`, "", 1), "lacks $context.routeKey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := accessLogProblems(tc.format)
			if !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Errorf("accessLogProblems(%s): got %q, want %q", tc.format, p, tc.want)
			}
		})
	}
}
