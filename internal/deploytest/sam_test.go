package deploytest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// samTemplate runs the AWS SAM translator (testdata/sam_translate.py, the
// library cfn-lint and CloudFormation's transform use) on template.yaml
// with these parameter values and returns the resulting CloudFormation
// template.
func samTemplate(t *testing.T, params map[string]string) map[string]any {
	t.Helper()
	in, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lookPath(t, "python3"), filepath.Join("testdata", "sam_translate.py"), filepath.Join(root(), "template.yaml"), string(in))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION="+testRegion)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("SAM translator: %v\n%s", err, stderr)
	}
	var tpl map[string]any
	if err := json.Unmarshal(out, &tpl); err != nil {
		t.Fatalf("SAM translator output: %v", err)
	}
	return tpl
}

// xrayPolicyARN is the one managed policy a function's role may have (with
// Tracing=Active).
const xrayPolicyARN = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"

// samStack is the SAM-transformed template (what CloudFormation deploys:
// the roles, schedules and event source mappings SAM generates) evaluated
// for these parameter overrides.
func samStack(t *testing.T, overrides map[string]string) *stack {
	t.Helper()
	s := newStack(t, overrides)
	return &stack{t: t, tpl: samTemplate(t, s.params), params: s.params}
}

// TestSAMTransform: the SAM transform accepts the template with every
// parameter set, keeps the access log on the API's stage, and attaches the
// X-Ray policy and tracing only when Tracing is Active.
func TestSAMTransform(t *testing.T) {
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			t.Parallel()
			s := samStack(t, ps.overrides)
			stage := s.resource("HttpApiApiGatewayDefaultStage")
			if mapAt(t, stage, "Properties")["AccessLogSettings"] == nil {
				t.Error("the HTTP API's stage has no AccessLogSettings")
			}
			tracing := s.params["Tracing"] == "Active"
			for fn := range functionDirs {
				if !s.exists(fn) {
					continue // BffFunction without EnableBff
				}
				props := mapAt(t, s.resource(fn), "Properties")
				if got := props["TracingConfig"] != nil; got != tracing {
					t.Errorf("%s TracingConfig: got %v, want it present: %v", fn, props["TracingConfig"], tracing)
				}
				arns := listOrNil(s.role(fn)["ManagedPolicyArns"])
				if got := slices.Contains(arns, xrayPolicyARN); got != tracing {
					t.Errorf("%s role managed policies %v: X-Ray policy present %v, want %v", fn, arns, got, tracing)
				}
			}
		})
	}
}
