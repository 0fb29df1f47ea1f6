package deploytest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// alarmIDs lists the AWS::CloudWatch::Alarm resources these parameters
// create, sorted.
func (s *stack) alarmIDs() []string {
	var ids []string
	for id, r := range mapAt(s.t, s.tpl, "Resources") {
		if asMap(s.t, r, id)["Type"] == "AWS::CloudWatch::Alarm" && s.exists(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestAlarmActions: every alarm notifies the topic created for AlarmEmail,
// the existing AlarmTopicArn, both or none, when it fires and when it
// recovers.
func TestAlarmActions(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		topic     bool     // the topic and its email subscription are created
		want      []string // "topic" stands for the created topic's ARN
	}{
		{"none", map[string]string{}, false, nil},
		{"email", map[string]string{"AlarmEmail": "ops@example.com"}, true, []string{"topic"}},
		{"existing topic", map[string]string{"AlarmTopicArn": alarmTopicARN}, false, []string{alarmTopicARN}},
		{"both", map[string]string{"AlarmEmail": "ops@example.com", "AlarmTopicArn": alarmTopicARN}, true, []string{"topic", alarmTopicARN}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.overrides["ClientId"] = "x"
			s := newStack(t, tc.overrides)
			for _, id := range []string{"AlarmTopic", "AlarmEmailSubscription"} {
				if got := s.exists(id); got != tc.topic {
					t.Errorf("%s created: got %v, want %v", id, got, tc.topic)
				}
			}
			want := []string{}
			for _, w := range tc.want {
				if w == "topic" {
					w = s.str(s.ref("AlarmTopic"))
				}
				want = append(want, w)
			}
			if tc.topic {
				sub := asMap(t, s.resolve(mapAt(t, s.resource("AlarmEmailSubscription"), "Properties")), "AlarmEmailSubscription")
				if sub["Protocol"] != "email" || sub["Endpoint"] != tc.overrides["AlarmEmail"] || sub["TopicArn"] != want[0] {
					t.Errorf("AlarmEmailSubscription: got %v, want email to %s on the topic", sub, tc.overrides["AlarmEmail"])
				}
			}
			ids := s.alarmIDs()
			if len(ids) < 10 {
				t.Fatalf("alarms: got %v, want at least 10", ids)
			}
			for _, id := range ids {
				p := asMap(t, s.resolve(mapAt(t, s.resource(id), "Properties")), id)
				for _, key := range []string{"AlarmActions", "OKActions"} {
					got, ok := p[key].([]any)
					if !ok {
						t.Errorf("%s.%s: got %v, want a list", id, key, p[key])
						continue
					}
					if g := list(got); !slices.Equal(g, want) {
						t.Errorf("%s.%s: got %v, want %v", id, key, g, want)
					}
				}
			}
		})
	}
}

// alarmMetric is one metric an alarm watches (a plain alarm has one, a
// metric-math alarm one per MetricStat).
type alarmMetric struct {
	namespace, name string
	dims            map[string]string
}

// alarmMetrics returns the metrics alarm id watches. For a metric-math
// alarm it also checks that the one returned expression uses every metric.
func alarmMetrics(t *testing.T, s *stack, id string) []alarmMetric {
	t.Helper()
	p := asMap(t, s.resolve(mapAt(t, s.resource(id), "Properties")), id)
	dims := func(v any) map[string]string {
		out := map[string]string{}
		for _, d := range v.([]any) {
			d := asMap(t, d, id+" dimension")
			out[s.str(d["Name"])] = s.str(d["Value"])
		}
		return out
	}
	if p["Metrics"] == nil {
		return []alarmMetric{{s.str(p["Namespace"]), s.str(p["MetricName"]), dims(p["Dimensions"])}}
	}
	var out []alarmMetric
	var ids []string
	var expr string
	for _, m := range p["Metrics"].([]any) {
		m := asMap(t, m, id+".Metrics")
		if e, ok := m["Expression"]; ok {
			if m["ReturnData"] != true || expr != "" {
				t.Errorf("%s: want one returned expression, got %v", id, m)
			}
			expr = s.str(e)
			continue
		}
		if m["ReturnData"] != false {
			t.Errorf("%s: metric %v: want ReturnData false", id, m["Id"])
		}
		ms := mapAt(t, m, "MetricStat")
		metric := mapAt(t, ms, "Metric")
		ids = append(ids, s.str(m["Id"]))
		out = append(out, alarmMetric{s.str(metric["Namespace"]), s.str(metric["MetricName"]), dims(metric["Dimensions"])})
	}
	used := regexp.MustCompile(`\[([^\]]*)\]`).FindStringSubmatch(expr)
	if used == nil || !slices.Equal(strings.Split(strings.ReplaceAll(used[1], " ", ""), ","), ids) {
		t.Errorf("%s: expression %q does not use exactly the metrics %v", id, expr, ids)
	}
	return out
}

// streamActions read the table's stream (DynamoDB Streams, not the table).
var streamActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

// TestAlarmCoverage: every function has an Errors alarm and is in the
// throttles alarm; the table alarm covers every DynamoDB operation the
// functions' roles allow; the API has a 5xx alarm. With and without the
// BFF function (EnableBff).
func TestAlarmCoverage(t *testing.T) {
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) { checkAlarmCoverage(t, newStack(t, ps.overrides)) })
	}
}

func checkAlarmCoverage(t *testing.T, s *stack) {
	byMetric := map[string][]alarmMetric{}
	for _, id := range s.alarmIDs() {
		for _, m := range alarmMetrics(t, s, id) {
			byMetric[m.namespace+" "+m.name] = append(byMetric[m.namespace+" "+m.name], m)
		}
	}
	watched := func(metric, dim string) []string {
		var out []string
		for _, m := range byMetric[metric] {
			out = append(out, m.dims[dim])
		}
		slices.Sort(out)
		return out
	}

	var functions, operations []string
	for _, fn := range s.functionIDs() {
		functions = append(functions, s.str(s.ref(fn)))
		for _, st := range statements(t, s.role(fn)) {
			for _, a := range list(st["Action"]) {
				// The table's operations (the stream's are not requests to the table).
				if op, ok := strings.CutPrefix(a, "dynamodb:"); ok && !slices.Contains(operations, op) && !slices.Contains(streamActions, a) {
					operations = append(operations, op)
				}
			}
		}
	}
	slices.Sort(functions)
	slices.Sort(operations)
	tests := []struct {
		name      string
		got, want []string
	}{
		{"functions with an Errors alarm", watched("AWS/Lambda Errors", "FunctionName"), functions},
		{"functions in the throttles alarm", watched("AWS/Lambda Throttles", "FunctionName"), functions},
		{"DynamoDB operations in the throttles alarm", watched("AWS/DynamoDB ThrottledRequests", "Operation"), operations},
		{"API 5xx alarm", watched("AWS/ApiGateway 5xx", "ApiId"), []string{s.str(s.ref("HttpApi"))}},
	}
	for _, tc := range tests {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	for _, m := range byMetric["AWS/DynamoDB ThrottledRequests"] {
		if m.dims["TableName"] != s.tableName() {
			t.Errorf("DynamoDB throttles alarm: %v is not on the stack's table", m.dims)
		}
	}
	if len(operations) == 0 || len(functions) == 0 {
		t.Fatal(fmt.Sprint("no functions or operations found: ", functions, operations))
	}
}

// TestDashboardFunctions: with every parameter set the dashboard's body is
// JSON and its function errors widget shows every function the stack
// creates (the BFF function only with EnableBff), and no other.
func TestDashboardFunctions(t *testing.T) {
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			s := newStack(t, ps.overrides)
			var shown []string
			for _, m := range dashboardMetrics(t, s) {
				if len(m) == 4 && m[0] == "AWS/Lambda" && m[1] == "Errors" {
					shown = append(shown, fmt.Sprint(m[3]))
				}
			}
			var want []string
			for _, fn := range s.functionIDs() {
				want = append(want, s.str(s.ref(fn)))
			}
			slices.Sort(shown)
			slices.Sort(want)
			if !slices.Equal(shown, want) {
				t.Errorf("dashboard function errors: got %v, want %v", shown, want)
			}
		})
	}
}
