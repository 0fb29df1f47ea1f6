package deploytest

import (
	"slices"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/pkg/oauth/eventbus"
)

// The stack in an account it shares with other stacks (staging and
// production, other teams' applications): checked on the SAM-transformed
// template, the roles and schedules SAM generates included.

// TestRolesInTransform: no role of the deployed stack reaches beyond the
// stack. No AWS managed policy (AWSLambdaBasicExecutionRole writes and
// creates every log group in the account, AWSLambdaDynamoDBExecutionRole
// reads every stream) but X-Ray's when tracing is on; no statement on "*";
// no logs:CreateLogGroup; the stream actions on this table's stream only;
// log writes to the function's own log group only.
func TestRolesInTransform(t *testing.T) {
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			t.Parallel()
			s := samStack(t, ps.overrides)
			fns := newStack(t, ps.overrides).functionIDs()
			// The log group each role may write: its function's.
			logGroupOfRole := map[string]string{}
			for id, r := range mapAt(t, s.tpl, "Resources") {
				if asMap(t, r, id)["Type"] != "AWS::Lambda::Function" || !s.exists(id) {
					continue
				}
				roleID := s.str(asMap(t, mapAt(t, s.resource(id), "Properties")["Role"], id+".Role")["Fn::GetAtt"].([]any)[0])
				logGroupOfRole[roleID] = s.getAtt(s.logGroupOf(id), "Arn")
			}
			if len(logGroupOfRole) != len(fns) {
				t.Errorf("functions with a role of their own: got %v, want one per function (%v)", logGroupOfRole, fns)
			}
			for id, r := range mapAt(t, s.tpl, "Resources") {
				if asMap(t, r, id)["Type"] != "AWS::IAM::Role" || !s.exists(id) {
					continue
				}
				role := asMap(t, s.resolve(mapAt(t, s.resource(id), "Properties")), id)
				var wantManaged []string
				if s.params["Tracing"] == "Active" && logGroupOfRole[id] != "" {
					wantManaged = []string{xrayPolicyARN}
				}
				if got := listOrNil(role["ManagedPolicyArns"]); !slices.Equal(got, wantManaged) {
					t.Errorf("%s ManagedPolicyArns: got %v, want %v", id, got, wantManaged)
				}
				for _, st := range statements(t, role) {
					for _, a := range list(st["Action"]) {
						for _, res := range list(st["Resource"]) {
							switch {
							case res == "*" || strings.HasSuffix(res, ":*") && !strings.HasPrefix(a, "logs:"):
								t.Errorf("%s: %s on %s: want a resource of the stack", id, a, res)
							case a == "logs:CreateLogGroup":
								t.Errorf("%s: %s on %s: the function's log group exists before it runs", id, a, res)
							case strings.HasPrefix(a, "logs:") && res != logGroupOfRole[id]:
								t.Errorf("%s: %s on %s, want the function's own log group %s", id, a, res, logGroupOfRole[id])
							case slices.Contains(streamActions, a) && res != s.streamArn():
								t.Errorf("%s: %s on %s, want this table's stream %s", id, a, res, s.streamArn())
							}
						}
					}
				}
			}
			// The event source mapping reads that stream.
			esm := asMap(t, s.resolve(mapAt(t, s.resource("EventsFunctionStream"), "Properties")), "EventsFunctionStream")
			if got := esm["EventSourceArn"]; got != s.streamArn() {
				t.Errorf("EventsFunctionStream.EventSourceArn: got %v, want %s", got, s.streamArn())
			}
		})
	}
}

// TestSchedulerRoleTrust: the role EventBridge Scheduler assumes to start
// the sweep trusts scheduler.amazonaws.com only for this account's
// schedules in this stack's schedule group (aws:SourceAccount,
// aws:SourceArn: the confused deputy), and the sweep's schedule is in that
// group.
func TestSchedulerRoleTrust(t *testing.T) {
	s := samStack(t, paramSets[0].overrides)
	schedules := 0
	for id, r := range mapAt(t, s.tpl, "Resources") {
		if asMap(t, r, id)["Type"] != "AWS::Scheduler::Schedule" {
			continue
		}
		schedules++
		p := mapAt(t, s.resource(id), "Properties")
		target := asMap(t, s.resolve(p["Target"]), id+".Target")
		att, _ := asMap(t, mapAt(t, p, "Target")["RoleArn"], id+".Target.RoleArn")["Fn::GetAtt"].([]any)
		if len(att) != 2 {
			t.Fatalf("%s.Target.RoleArn: got %v, want !GetAtt of a role of the stack", id, mapAt(t, p, "Target")["RoleArn"])
		}
		roleID := s.str(att[0])
		group := asMap(t, p["GroupName"], id+".GroupName")
		groupID, _ := group["Ref"].(string)
		if groupID == "" || s.resourceType(groupID) != "AWS::Scheduler::ScheduleGroup" {
			t.Fatalf("%s.GroupName: got %v, want !Ref of a schedule group of the stack (not default)", id, p["GroupName"])
		}
		if target["RoleArn"] != s.getAtt(roleID, "Arn") {
			t.Errorf("%s role: got %v", id, target["RoleArn"])
		}
		trust := asMap(t, s.resolve(mapAt(t, s.resource(roleID), "Properties", "AssumeRolePolicyDocument")), roleID)
		want := map[string]map[string]string{
			"StringEquals": {"aws:SourceAccount": testAccount},
			"ArnEquals":    {"aws:SourceArn": s.getAtt(groupID, "Arn")},
		}
		for _, st := range trust["Statement"].([]any) {
			st := asMap(t, st, roleID+" trust")
			principal := mapAt(t, st, "Principal")
			if got := list(principal["Service"]); !slices.Equal(got, []string{"scheduler.amazonaws.com"}) || st["Action"] != "sts:AssumeRole" {
				t.Errorf("%s trust: %v, want scheduler.amazonaws.com to sts:AssumeRole", roleID, st)
			}
			cond, _ := st["Condition"].(map[string]any)
			for op, kv := range want {
				c, _ := cond[op].(map[string]any)
				for k, v := range kv {
					if c[k] != v {
						t.Errorf("%s trust condition %s %s: got %v, want %s", roleID, op, k, c[k], v)
					}
				}
			}
		}
	}
	if schedules != 1 {
		t.Errorf("schedules: got %d, want the sweep's", schedules)
	}
}

// TestEveryResourceResolves: with every parameter set, each resource the
// deployed stack creates and each output refer only to resources that are
// created: with an existing table and token key nothing names the stack's
// own (not created), and they are not created.
func TestEveryResourceResolves(t *testing.T) {
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			t.Parallel()
			s := samStack(t, ps.overrides)
			for id, r := range mapAt(t, s.tpl, "Resources") {
				if !s.exists(id) {
					continue
				}
				s.resolve(asMap(t, r, id)["Properties"])
			}
			for name, o := range mapAt(t, s.tpl, "Outputs") {
				o := asMap(t, o, name)
				if c, ok := o["Condition"].(string); ok && !s.condition(c) {
					continue
				}
				s.resolve(o["Value"])
			}
			for param, id := range map[string]string{"ExistingTableStreamArn": "Table", "ExistingTokenKeyArn": "TokenKey"} {
				if got, want := s.exists(id), s.params[param] == ""; got != want {
					t.Errorf("%s created: got %v, want %v (%s=%q)", id, got, want, param, s.params[param])
				}
			}
			// Lambda's environment names the table and key in use.
			for id, r := range mapAt(t, s.tpl, "Resources") {
				if asMap(t, r, id)["Type"] != "AWS::Lambda::Function" || !s.exists(id) {
					continue
				}
				env := mapAt(t, asMap(t, s.resolve(mapAt(t, s.resource(id), "Properties")), id), "Environment", "Variables")
				if env["TABLE_NAME"] != s.tableName() || env["OAUTH_TOKEN_KEY_ARN"] != s.tokenKeyArn() {
					t.Errorf("%s: TABLE_NAME %v, OAUTH_TOKEN_KEY_ARN %v; want %s, %s", id, env["TABLE_NAME"], env["OAUTH_TOKEN_KEY_ARN"], s.tableName(), s.tokenKeyArn())
				}
			}
		})
	}
}

// TestEventBusNameOrARN: EventBusName takes what EVENT_BUS_NAME is
// documented to take, a bus name or ARN, and the events function reads it
// as given (its IAM resource is checked by TestIAMLeastPrivilege).
func TestEventBusNameOrARN(t *testing.T) {
	for _, bus := range []string{"default", "oauthfn-events", eventBusARN, "arn:aws:events:us-east-1:123456789012:event-bus/default"} {
		t.Run(bus, func(t *testing.T) {
			s := newStack(t, map[string]string{"ClientId": "x", "EventBusName": bus})
			cfg, err := eventbus.LoadConfig(getenv(s.env("EventsFunction")))
			if err != nil || cfg.BusName != bus {
				t.Errorf("eventbus.LoadConfig: got %q, %v; want %q", cfg.BusName, err, bus)
			}
		})
	}
}
