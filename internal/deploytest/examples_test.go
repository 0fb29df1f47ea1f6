package deploytest

import (
	"fmt"
	"os/exec"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// TestEventBridgeExample: examples/eventbridge/reauth-required.yaml is
// cfn-lint clean, and its rule's pattern matches the events oauthfn sends
// for a connection that must be re-authorized, and no other detail type.
func TestEventBridgeExample(t *testing.T) {
	const file = "examples/eventbridge/reauth-required.yaml"
	cfnLint := lookPath(t, "cfn-lint")
	cmd := exec.Command(cfnLint, file)
	cmd.Dir = root()
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("cfn-lint %s: %v\n%s", file, err, out)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(readRepoFile(t, file), &doc); err != nil {
		t.Fatal(err)
	}
	v, err := fromNode(&doc)
	if err != nil {
		t.Fatal(err)
	}
	rule := mapAt(t, asMap(t, v, file), "Resources", "ReauthRequiredRule", "Properties")
	pattern := mapAt(t, rule, "EventPattern")
	if len(pattern) != 2 {
		t.Fatalf("EventPattern %v: want source and detail-type only", pattern)
	}
	matches := func(source, detailType string) bool {
		return slices.Contains(list(pattern["source"]), source) && slices.Contains(list(pattern["detail-type"]), detailType)
	}
	for _, dt := range []string{connevent.Connected, connevent.ReauthRequired, connevent.RefreshFailing, connevent.Disconnected, connevent.Expired} {
		want := dt == connevent.ReauthRequired
		if got := matches(connevent.Source, dt); got != want {
			t.Errorf("pattern %v on %s/%s: matches %v, want %v", pattern, connevent.Source, dt, got, want)
		}
	}
	// The webhook's input paths name fields of the event's detail.
	targets := rule["Targets"].([]any)
	hook := asMap(t, asMap(t, targets[1], "Targets[1]")["Fn::If"].([]any)[1], "webhook target")
	paths := mapAt(t, hook, "InputTransformer", "InputPathsMap")
	fields := map[string]bool{"$.detail.account_id": true, "$.detail.end_user": true, "$.detail.reason": true, "$.detail.event_id": true}
	for k, p := range paths {
		if !fields[fmt.Sprint(p)] {
			t.Errorf("InputPathsMap %s = %v: not a field of the event detail", k, p)
		}
	}
}
