package deploytest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// samTranslate runs the AWS SAM translator (testdata/sam_translate.py, the
// library cfn-lint and CloudFormation's transform use) on template.yaml
// with these parameter values and returns the resulting resources.
func samTranslate(t *testing.T, params map[string]string) map[string]any {
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
	return asMap(t, tpl["Resources"], "Resources")
}

// TestSAMTransform: the SAM transform accepts the template with every
// parameter set, keeps the access log on the API's stage, and attaches the
// X-Ray policy and tracing only when Tracing is Active.
func TestSAMTransform(t *testing.T) {
	const xray = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			t.Parallel()
			params := newStack(t, ps.overrides).params
			res := samTranslate(t, params)
			stage := asMap(t, res["HttpApiApiGatewayDefaultStage"], "HttpApiApiGatewayDefaultStage")
			if mapAt(t, stage, "Properties")["AccessLogSettings"] == nil {
				t.Error("the HTTP API's stage has no AccessLogSettings")
			}
			tracing := params["Tracing"] == "Active"
			for fn := range functionDirs {
				props := mapAt(t, asMap(t, res[fn], fn), "Properties")
				if got := props["TracingConfig"] != nil; got != tracing {
					t.Errorf("%s TracingConfig: got %v, want it present: %v", fn, props["TracingConfig"], tracing)
				}
				role := mapAt(t, asMap(t, res[fn+"Role"], fn+"Role"), "Properties")
				arns := list(role["ManagedPolicyArns"])
				if got := slices.Contains(arns, xray); got != tracing {
					t.Errorf("%s role managed policies %v: X-Ray policy present %v, want %v", fn, arns, got, tracing)
				}
			}
		})
	}
}
