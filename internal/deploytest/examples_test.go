package deploytest

import (
	"fmt"
	"maps"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// TestEventBridgeExample: examples/eventbridge/reauth-required.yaml is
// cfn-lint clean, and its rule's pattern matches the events oauthfn sends
// for a connection that must be re-authorized, and no other detail type.
func TestEventBridgeExample(t *testing.T) {
	const file = "examples/eventbridge/reauth-required.yaml"
	rule := mapAt(t, lintedExample(t, file), "Resources", "ReauthRequiredRule", "Properties")
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

// lintedExample runs cfn-lint (with args) on an examples/ template, wanting
// no findings, and returns the template parsed as loadTemplate parses
// template.yaml.
func lintedExample(t *testing.T, file string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command(lookPath(t, "cfn-lint"), append(args, "--", file)...)
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
	return asMap(t, v, file)
}

// CloudFront's managed policies the same-site example uses (their ids are
// the same in every account).
const (
	cachingDisabled           = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	allViewerExceptHostHeader = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
)

// cloudFrontMatch reports whether a CloudFront path pattern matches path:
// * is any run of characters (slashes included), ? one character, the rest
// literal and case-sensitive.
func cloudFrontMatch(pattern, path string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(path)
}

// cloudFrontRoute is the cache behavior CloudFront picks for path: the
// first whose PathPattern matches, else the default.
func cloudFrontRoute(t *testing.T, dist map[string]any, path string) map[string]any {
	t.Helper()
	behaviors, _ := dist["CacheBehaviors"].([]any)
	for i, b := range behaviors {
		b := asMap(t, b, fmt.Sprint("CacheBehaviors[", i, "]"))
		if cloudFrontMatch(fmt.Sprint(b["PathPattern"]), path) {
			return b
		}
	}
	return mapAt(t, dist, "DefaultCacheBehavior")
}

// TestSpaSameSiteExample: examples/spa-same-site/template.yaml is cfn-lint
// clean, and its distribution puts the app and every BFF and callback route
// of template.yaml on one origin: each route reaches the oauthfn origin
// with its method allowed, uncached, with the viewer's cookies, query and
// headers but not its Host; the app's files come from a bucket only this
// distribution reads; /authorize and /confirm are not exposed there.
func TestSpaSameSiteExample(t *testing.T) {
	const file = "examples/spa-same-site/template.yaml"
	// Every check, informational and experimental ones included, as for template.yaml.
	ex := lintedExample(t, file, "--include-checks", "I", "--include-experimental")
	dist := mapAt(t, ex, "Resources", "Distribution", "Properties", "DistributionConfig")

	origins := map[string]map[string]any{}
	for i, o := range dist["Origins"].([]any) {
		o := asMap(t, o, fmt.Sprint("Origins[", i, "]"))
		origins[fmt.Sprint(o["Id"])] = o
	}
	api, spa := origins["oauthfn"], origins["spa"]
	if api == nil || spa == nil || len(origins) != 2 {
		t.Fatalf("origins %v: want spa and oauthfn", slices.Sorted(maps.Keys(origins)))
	}
	if !reflect.DeepEqual(api["DomainName"], map[string]any{"Ref": "ApiDomain"}) || mapAt(t, api, "CustomOriginConfig")["OriginProtocolPolicy"] != "https-only" {
		t.Errorf("oauthfn origin %v: want the ApiDomain parameter over https only", api)
	}

	// Every route the BFF function and the callback have in template.yaml.
	s := newStack(t, map[string]string{"ClientId": "x", "EnableBff": "true"})
	sample := strings.NewReplacer("{provider}", "ringcentral", "{proxy+}", "restapi/v1.0/account/~/extension/~")
	routes := 0
	for _, fn := range []string{"BffFunction", "CallbackFunction"} {
		for name, e := range mapAt(t, s.function(fn), "Events") {
			p := mapAt(t, asMap(t, e, name), "Properties")
			method, path := fmt.Sprint(p["Method"]), sample.Replace(fmt.Sprint(p["Path"]))
			if path == "/confirm" {
				continue // the app's backend calls it, not the browser
			}
			routes++
			b := cloudFrontRoute(t, dist, path)
			allowed := list(b["AllowedMethods"])
			methods := []string{method}
			if method == "ANY" {
				methods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
			}
			for _, m := range methods {
				if !slices.Contains(allowed, strings.ToUpper(m)) {
					t.Errorf("%s %s (%s): CloudFront allows %v only", method, path, fn, allowed)
				}
			}
			if b["TargetOriginId"] != "oauthfn" || b["CachePolicyId"] != cachingDisabled || b["OriginRequestPolicyId"] != allViewerExceptHostHeader {
				t.Errorf("%s %s (%s): behavior %v; want the oauthfn origin, CachingDisabled, AllViewerExceptHostHeader", method, path, fn, b)
			}
		}
	}
	if routes < 5 {
		t.Errorf("checked %d routes, want the BFF's four and the callback's", routes)
	}
	for _, path := range []string{"/", "/index.html", "/app.js", "/authorize", "/confirm", "/bffx", "/Bff/session"} {
		if b := cloudFrontRoute(t, dist, path); b["TargetOriginId"] != "spa" {
			t.Errorf("%s: routed to %v, want the app's bucket", path, b["TargetOriginId"])
		}
	}
	def := mapAt(t, dist, "DefaultCacheBehavior")
	if got := list(def["AllowedMethods"]); !slices.Equal(got, []string{"GET", "HEAD"}) {
		t.Errorf("default behavior methods %v, want GET and HEAD (static files)", got)
	}

	// The bucket: private, read by this distribution only.
	block := mapAt(t, ex, "Resources", "SpaBucket", "Properties", "PublicAccessBlockConfiguration")
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if block[k] != true {
			t.Errorf("SpaBucket %s: got %v, want true", k, block[k])
		}
	}
	if _, ok := spa["OriginAccessControlId"]; !ok {
		t.Error("spa origin: no OriginAccessControlId (the bucket is private)")
	}
	var allows int
	for _, st := range mapAt(t, ex, "Resources", "SpaBucketPolicy", "Properties", "PolicyDocument")["Statement"].([]any) {
		st := asMap(t, st, "SpaBucketPolicy statement")
		if st["Effect"] != "Allow" {
			continue
		}
		allows++
		principal, _ := st["Principal"].(map[string]any)
		cond := fmt.Sprint(st["Condition"])
		if principal["Service"] != "cloudfront.amazonaws.com" || st["Action"] != "s3:GetObject" || !strings.Contains(cond, "AWS:SourceArn") || !strings.Contains(cond, "distribution/${Distribution}") {
			t.Errorf("SpaBucketPolicy allows %v: want s3:GetObject for this distribution only", st)
		}
	}
	if allows != 1 {
		t.Errorf("SpaBucketPolicy: %d Allow statements, want 1", allows)
	}

	// The oauthfn stack configured as the example's comment says loads.
	cfg, err := oauth.LoadConfig(getenv(newStack(t, map[string]string{
		"ClientId": "x", "EnableBff": "true",
		"RedirectUrl": "https://app.example.com/callback", "AllowedReturnUrls": "https://app.example.com/",
	}).env("BffFunction")))
	if err != nil || cfg.RedirectURL != "https://app.example.com/callback" || len(cfg.AllowedReturn) != 1 {
		t.Errorf("the oauthfn stack behind the example: %v, redirect %q", err, cfg.RedirectURL)
	}
}

// TestCloudFrontMatch is the control for the route check above.
func TestCloudFrontMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"/bff/*", "/bff/api/restapi/v1.0/account/~", true},
		{"/bff/*", "/bff", false},
		{"/bff/*", "/BFF/session", false},
		{"/callback*", "/callback", true},
		{"/callback*", "/callback/rc", true},
		{"/callback*", "/callbacks-page.html", true},
		{"/a?c", "/abc", true},
		{"/a?c", "/a/bc", false},
		{"/v1.0/*", "/v1x0/x", false},
	} {
		if got := cloudFrontMatch(tc.pattern, tc.path); got != tc.want {
			t.Errorf("cloudFrontMatch(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}
