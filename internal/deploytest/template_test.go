package deploytest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/eventbus"
)

const (
	existingSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:oauthfn-client-AbCdEf"
	secretsKeyARN     = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	certificateARN    = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-90ab-cdef-1234-567890abcdef"
	alarmTopicARN     = "arn:aws:sns:us-east-1:123456789012:ops-pager"
	// A deleted stack's table and token key (kept by sam delete).
	existingStreamARN   = "arn:aws:dynamodb:us-east-1:123456789012:table/oauthfn-Table-OLD1OLD2OLD3/stream/2025-06-01T12:00:00.000"
	existingTokenKeyARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:TokenKey-OLDxyz-Ab1Cd2"
	eventBusARN         = "arn:aws:events:eu-west-1:210987654321:event-bus/apps-events"
)

// paramSets are the parameter values the template is evaluated with: the
// defaults (RingCentral, created placeholder secret, no BFF), every optional
// parameter set (generic provider, existing secret and its KMS key, alarm
// email and topic, tracing, reserved concurrency, deletion protection, the
// BFF with its own settings), and a custom domain with the BFF (the
// same-site deployment docs/browser-apps.md describes).
var paramSets = []struct {
	name      string
	overrides map[string]string
}{
	{"ringcentral defaults", map[string]string{"ClientId": "rc-client-id"}},
	{"generic provider, existing client secret", map[string]string{
		"ClientId":                "generic-client-id",
		"ProviderPreset":          "generic",
		"AuthUrl":                 "https://idp.example.com/oauth2/authorize",
		"TokenUrl":                "https://idp.example.com/oauth2/token",
		"RevokeUrl":               "https://idp.example.com/oauth2/revoke",
		"UserinfoUrl":             "https://idp.example.com/oauth2/userinfo",
		"Issuer":                  "https://idp.example.com",
		"ExistingClientSecretArn": existingSecretARN,
		"Scopes":                  "openid offline_access",
		"AuthStyle":               "post",
		"AllowedReturnUrls":       "https://app.example.com/oauth/,https://admin.example.com/",
		"RedirectUrl":             "https://auth.example.com/callback",
		"RefreshMode":             "eager",
		"RefreshSchedule":         "rate(5 minutes)",
		"RefreshWindow":           "20m",
		"KeepaliveMargin":         "72h",
		"SweepConcurrency":        "8",
		"TokenRatePerMin":         "0",
		"LogLevel":                "debug",
		"ReserveSweepConcurrency": "true",
		"TableDeletionProtection": "true",
		"SecretsKmsKeyArn":        secretsKeyARN,
		"AlarmEmail":              "ops@example.com",
		"AlarmTopicArn":           alarmTopicARN,
		"Tracing":                 "Active",
		"EventBusName":            "oauthfn-events",
		"EnableBff":               "true",
		"BffIdleTimeout":          "30m",
		"BffMaxSession":           "1d",
		"ApiPrefixes":             "https://api.example.com/v1/,https://files.example.com/",
	}},
	{"custom domain, BFF", map[string]string{
		"ClientId":       "rc-client-id",
		"DomainName":     "auth.example.com",
		"CertificateArn": certificateARN,
		"EnableBff":      "true",
	}},
	{"after sam delete: existing table and token key, bus ARN", map[string]string{
		"ClientId":               "rc-client-id",
		"ExistingTableStreamArn": existingStreamARN,
		"ExistingTokenKeyArn":    existingTokenKeyARN,
		"EventBusName":           eventBusARN,
	}},
}

// wantRedirectURL is OAUTH_REDIRECT_URL for these parameters: RedirectUrl,
// else the custom domain's callback, else empty (derived per request).
func wantRedirectURL(p map[string]string) string {
	switch {
	case p["RedirectUrl"] != "":
		return p["RedirectUrl"]
	case p["DomainName"] != "":
		return "https://" + p["DomainName"] + "/callback"
	}
	return ""
}

// localOnly are declared in the template only so that `sam local` can
// override them (it passes only declared variables); in AWS they are empty.
var localOnly = []string{"OAUTH_CLIENT_SECRET", "OAUTH_TOKEN_KEY", "OAUTH_APP_KEY", "AWS_ENDPOINT_URL"}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestTemplateEnvLoadsConfig(t *testing.T) {
	for _, ps := range paramSets {
		s := newStack(t, ps.overrides)
		wantSecretARN := ps.overrides["ExistingClientSecretArn"]
		if wantSecretARN == "" {
			wantSecretARN = s.str(s.ref("ClientSecret"))
		}
		for _, fn := range s.functionIDs() {
			t.Run(ps.name+"/"+fn, func(t *testing.T) {
				cfg, err := oauth.LoadConfig(getenv(s.env(fn)))
				if err != nil {
					t.Fatalf("LoadConfig(template env): %v", err)
				}
				p := s.params
				checks := []check{
					{"provider", cfg.Provider.Name, p["ProviderPreset"]},
					{"client id", cfg.ClientID, p["ClientId"]},
					{"client secret ARN", cfg.ClientSecretARN, wantSecretARN},
					{"plain client secret", string(cfg.ClientSecret), ""},
					{"token key ARN", cfg.TokenKeyARN, s.tokenKeyArn()},
					{"plain token key", string(cfg.TokenKey), ""},
					{"app key ARN", cfg.AppKeyARN, s.str(s.ref("AppKeySecret"))},
					{"plain app key", string(cfg.AppKey), ""},
					{"connect token required", cfg.RequireConnectToken, true},
					{"table", cfg.TableName, s.tableName()},
					// The metrics' Service dimension: the stack's own.
					{"metrics service", cfg.MetricsService, testStackName},
					{"redirect URL", cfg.RedirectURL, wantRedirectURL(p)},
					{"scopes", strings.Join(cfg.Scopes, " "), p["Scopes"]},
					{"issuer", cfg.Provider.Issuer, p["Issuer"]},
					// Every endpoint set: nothing read at start-up.
					{"OpenID discovery at start-up", cfg.NeedsDiscovery(), false},
					{"auth style", authStyleName(cfg.Provider.Endpoint.AuthStyle), wantAuthStyle(t, p)},
					{"allowed return URLs", len(cfg.AllowedReturn), len(strings.FieldsFunc(p["AllowedReturnUrls"], func(r rune) bool { return r == ',' }))},
					{"refresh mode", cfg.RefreshMode, p["RefreshMode"]},
					{"refresh window", cfg.RefreshWindow.String(), mustDuration(t, p["RefreshWindow"])},
					{"keepalive margin", cfg.KeepaliveMargin.String(), mustDuration(t, p["KeepaliveMargin"])},
					{"sweep concurrency", strconv.Itoa(cfg.SweepConcurrency), p["SweepConcurrency"]},
					{"token rate", strconv.Itoa(cfg.TokenRatePerMin), p["TokenRatePerMin"]},
					{"log level", strings.ToLower(cfg.LogLevel.String()), p["LogLevel"]},
					// Browser sessions: the BFF reads them, and the callback, which creates the session.
					{"BFF idle timeout", cfg.BFFIdleTimeout, mustBFFDuration(t, p["BffIdleTimeout"])},
					{"BFF max session", cfg.BFFMaxSession, mustBFFDuration(t, p["BffMaxSession"])},
				}
				if p["ApiPrefixes"] != "" {
					checks = append(checks, check{"API prefixes", strings.Join(cfg.Provider.APIPrefixes, ","), p["ApiPrefixes"]})
				} else if p["ProviderPreset"] == oauth.PresetRingCentral {
					server := cmp.Or(p["ServerUrl"], "https://platform.ringcentral.com")
					checks = append(checks, check{"API prefixes (the preset's)", strings.Join(cfg.Provider.APIPrefixes, ","), server + "/restapi/v1.0/"})
				}
				if p["ProviderPreset"] == oauth.PresetGeneric {
					checks = append(checks,
						check{"auth URL", cfg.Provider.Endpoint.AuthURL, p["AuthUrl"]},
						check{"token URL", cfg.Provider.Endpoint.TokenURL, p["TokenUrl"]},
						check{"revoke URL", cfg.Provider.RevokeURL, p["RevokeUrl"]},
						check{"userinfo URL", cfg.Provider.UserinfoURL, p["UserinfoUrl"]},
					)
				} else {
					checks = append(checks, check{"token URL", cfg.Provider.Endpoint.TokenURL, oauth.RingCentral(p["ServerUrl"]).Endpoint.TokenURL})
				}
				for _, c := range checks {
					if c.got != c.want {
						t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
					}
				}
			})
		}
	}
}

// mustBFFDuration reads a BffIdleTimeout or BffMaxSession value: a Go
// duration, or a whole number of days ("7d").
func mustBFFDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			t.Fatalf("parameter duration %q: %v", s, err)
		}
		return time.Duration(n) * 24 * time.Hour
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("parameter duration %q: %v", s, err)
	}
	return d
}

func mustDuration(t *testing.T, s string) string {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("parameter duration %q: %v", s, err)
	}
	return d.String()
}

// check is one got/want comparison.
type check struct {
	what      string
	got, want any
}

// TestTemplateEnvCatchesBadConfig is the control for the test above: a
// generic provider without endpoints is refused by the template's Rules
// before anything is created, and the code agrees: the environment the
// template would give fails LoadConfig, naming the missing variables.
func TestTemplateEnvCatchesBadConfig(t *testing.T) {
	s, err := tryStack(t, map[string]string{"ClientId": "x", "ProviderPreset": "generic"})
	for _, name := range []string{"AuthUrl", "TokenUrl", "AccountField or UserinfoUrl"} {
		if err == nil || !strings.Contains(err.Error(), "needs "+name) {
			t.Errorf("template rules: got %v, want a refusal naming %s", err, name)
		}
	}
	_, err = oauth.LoadConfig(getenv(s.env("AuthorizeFunction")))
	if err == nil {
		t.Fatal("LoadConfig: got no error for a generic provider without endpoints")
	}
	for _, name := range []string{"OAUTH_AUTH_URL", "OAUTH_TOKEN_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("LoadConfig error %q does not name %s", err, name)
		}
	}
}

// TestTemplateIssuerDiscovers: a generic provider given only Issuer passes
// the template's rules, and the environment it gives loads, with the
// endpoints left to OpenID discovery at start-up.
func TestTemplateIssuerDiscovers(t *testing.T) {
	s := newStack(t, map[string]string{"ClientId": "x", "ProviderPreset": "generic", "Issuer": "https://idp.example.com/realms/main"})
	for _, fn := range s.functionIDs() {
		cfg, err := oauth.LoadConfig(getenv(s.env(fn)))
		if err != nil {
			t.Fatalf("%s: LoadConfig: %v", fn, err)
		}
		if !cfg.NeedsDiscovery() || cfg.Provider.Issuer != "https://idp.example.com/realms/main" {
			t.Errorf("%s: needs discovery %t, issuer %q; want true, the parameter's", fn, cfg.NeedsDiscovery(), cfg.Provider.Issuer)
		}
	}
}

// TestSweepConcurrencyBound: the template's SweepConcurrency bounds are
// values LoadConfig accepts.
func TestSweepConcurrencyBound(t *testing.T) {
	p := mapAt(t, loadTemplate(t), "Parameters", "SweepConcurrency")
	for _, key := range []string{"MinValue", "MaxValue"} {
		n, ok := p[key].(int)
		if !ok {
			t.Fatalf("SweepConcurrency.%s: got %v, want a number", key, p[key])
		}
		s := newStack(t, map[string]string{"ClientId": "x", "SweepConcurrency": strconv.Itoa(n)})
		cfg, err := oauth.LoadConfig(getenv(s.env("RefreshFunction")))
		if err != nil || cfg.SweepConcurrency != n {
			t.Errorf("SWEEP_CONCURRENCY=%d (%s): got %d, %v; want it accepted", n, key, cfg.SweepConcurrency, err)
		}
	}
}

func TestTemplateEnvNames(t *testing.T) {
	s := newStack(t, paramSets[0].overrides)
	known := append(slices.Clone(oauth.Variables), "AWS_ENDPOINT_URL")
	known = append(known, eventbus.Variables...)
	var first map[string]string
	for _, fn := range s.functionIDs() {
		t.Run(fn, func(t *testing.T) {
			env := s.env(fn)
			for k := range env {
				if !slices.Contains(known, k) {
					t.Errorf("variable %s: not read by oauth.LoadConfig (typo?)", k)
				}
			}
			for _, k := range append(slices.Clone(oauth.Variables), eventbus.Variables...) {
				if _, ok := env[k]; !ok {
					t.Errorf("variable %s: not declared (sam local could not set it either)", k)
				}
			}
			for _, k := range localOnly {
				if env[k] != "" {
					t.Errorf("variable %s = %q in AWS, want empty (local development only)", k, env[k])
				}
			}
			if first == nil {
				first = env
			} else if !equalMaps(first, env) {
				t.Errorf("environment differs from the other functions':\n got %v\nwant %v", env, first)
			}
		})
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestTableMatchesStore(t *testing.T) {
	s := newStack(t, paramSets[0].overrides)
	tbl := s.resource("Table")
	if tbl["Type"] != "AWS::DynamoDB::Table" {
		t.Fatalf("Table type: got %v", tbl["Type"])
	}
	p := asMap(t, s.resolve(tbl["Properties"]), "Table.Properties")

	attrTypes := map[string]string{}
	for _, a := range p["AttributeDefinitions"].([]any) {
		m := asMap(t, a, "AttributeDefinitions")
		attrTypes[m["AttributeName"].(string)] = m["AttributeType"].(string)
	}
	wantTypes := map[string]string{
		oauth.AttrPK: "S", oauth.AttrSK: "S", oauth.AttrDueShard: "S", oauth.AttrRefreshAt: "N", oauth.AttrEndUser: "S",
	}
	if !equalMaps(attrTypes, wantTypes) {
		t.Errorf("AttributeDefinitions: got %v, want %v", attrTypes, wantTypes)
	}

	keys := func(v any) string {
		var out []string
		for _, k := range v.([]any) {
			m := asMap(t, k, "KeySchema")
			out = append(out, m["AttributeName"].(string)+" "+m["KeyType"].(string))
		}
		return strings.Join(out, ", ")
	}
	if got, want := keys(p["KeySchema"]), oauth.AttrPK+" HASH, "+oauth.AttrSK+" RANGE"; got != want {
		t.Errorf("KeySchema: got %s, want %s", got, want)
	}

	gsis := p["GlobalSecondaryIndexes"].([]any)
	if len(gsis) != 2 {
		t.Fatalf("GlobalSecondaryIndexes: got %d, want 2", len(gsis))
	}
	user := asMap(t, gsis[1], "GlobalSecondaryIndexes[1]")
	if user["IndexName"] != oauth.UserIndexName || keys(user["KeySchema"]) != oauth.AttrEndUser+" HASH" {
		t.Errorf("user index: got %v %s, want %s on %s", user["IndexName"], keys(user["KeySchema"]), oauth.UserIndexName, oauth.AttrEndUser)
	}
	userProj := mapAt(t, user, "Projection")
	if got := list(userProj["NonKeyAttributes"]); userProj["ProjectionType"] != "INCLUDE" || !slices.Equal(got, oauth.UserIndexAttributes()) {
		t.Errorf("user index projection: got %v %v, want INCLUDE %v (the store's list, never a token)", userProj["ProjectionType"], got, oauth.UserIndexAttributes())
	}
	gsi := asMap(t, gsis[0], "GlobalSecondaryIndexes[0]")
	if gsi["IndexName"] != oauth.DueIndexName {
		t.Errorf("IndexName: got %v, want %s", gsi["IndexName"], oauth.DueIndexName)
	}
	if got, want := keys(gsi["KeySchema"]), oauth.AttrDueShard+" HASH, "+oauth.AttrRefreshAt+" RANGE"; got != want {
		t.Errorf("index KeySchema: got %s, want %s", got, want)
	}
	// The index holds exactly what the sweep reads (QueryDue decodes the keys
	// and oauth.DueIndexAttributes; pkg/oauth's store tests run it on an index
	// projecting only those), never the sealed tokens.
	proj := mapAt(t, gsi, "Projection")
	if got := proj["ProjectionType"]; got != "INCLUDE" {
		t.Errorf("index ProjectionType: got %v, want INCLUDE", got)
	}
	if got, want := list(proj["NonKeyAttributes"]), oauth.DueIndexAttributes(); !slices.Equal(got, want) {
		t.Errorf("index NonKeyAttributes: got %v, want %v (what QueryDue reads)", got, want)
	}

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"BillingMode", p["BillingMode"], "PAY_PER_REQUEST"},
		{"TTL attribute", mapAt(t, p, "TimeToLiveSpecification")["AttributeName"], oauth.AttrTTL},
		{"TTL enabled", mapAt(t, p, "TimeToLiveSpecification")["Enabled"], true},
		{"PITR", mapAt(t, p, "PointInTimeRecoverySpecification")["PointInTimeRecoveryEnabled"], true},
		{"SSE", mapAt(t, p, "SSESpecification")["SSEEnabled"], true},
		// Off by default: on a failed first deploy it would stop the
		// rollback from deleting the new table (ROLLBACK_FAILED).
		{"DeletionProtectionEnabled", p["DeletionProtectionEnabled"], "false"},
		// Kept when the stack is deleted, deleted by a failed first deploy's rollback.
		{"DeletionPolicy", tbl["DeletionPolicy"], "RetainExceptOnCreate"},
		{"UpdateReplacePolicy", tbl["UpdateReplacePolicy"], "Retain"},
		{"StreamViewType (the events function reads both images)", mapAt(t, p, "StreamSpecification")["StreamViewType"], "NEW_AND_OLD_IMAGES"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	on := newStack(t, map[string]string{"ClientId": "x", "TableDeletionProtection": "true"})
	if got := mapAt(t, on.resolve(tbl["Properties"]).(map[string]any))["DeletionProtectionEnabled"]; got != "true" {
		t.Errorf("DeletionProtectionEnabled with TableDeletionProtection=true: got %v", got)
	}
}

// TestIAMLeastPrivilege holds each function's role to exactly the actions
// and resources its job needs: writing its own log group, the table (the
// stack's or the existing one), its indexes and stream, the secrets, the
// failure queues and the bus, nothing else and no wildcards, no managed
// policy but X-Ray's when tracing is on.
func TestIAMLeastPrivilege(t *testing.T) {
	for _, ps := range paramSets {
		s := newStack(t, ps.overrides)
		table := s.tableArn()
		index := table + "/index/" + oauth.DueIndexName
		clientSecret := existingSecretARN
		if ps.overrides["ExistingClientSecretArn"] == "" {
			clientSecret = s.str(s.ref("ClientSecret"))
		}
		tokenKey := s.tokenKeyArn()
		appKey := s.str(s.ref("AppKeySecret"))
		bus := "arn:aws:events:" + testRegion + ":" + testAccount + ":event-bus/" + s.params["EventBusName"]
		if strings.HasPrefix(s.params["EventBusName"], "arn:") {
			bus = s.params["EventBusName"]
		}
		// kms:Decrypt on SecretsKmsKeyArn only, for the roles reading the client secret.
		var kms []string
		if ps.overrides["SecretsKmsKeyArn"] != "" {
			kms = []string{"kms:Decrypt " + secretsKeyARN}
		}
		want := map[string][]string{
			"AuthorizeFunction": {
				"dynamodb:PutItem " + table,
				"secretsmanager:GetSecretValue " + tokenKey,
				"secretsmanager:GetSecretValue " + appKey,
			},
			"CallbackFunction": append([]string{
				"dynamodb:DeleteItem " + table,
				"dynamodb:GetItem " + table, // POST /confirm
				"dynamodb:PutItem " + table,
				"dynamodb:UpdateItem " + table,
				"secretsmanager:GetSecretValue " + clientSecret,
				"secretsmanager:GetSecretValue " + tokenKey,
				"secretsmanager:GetSecretValue " + appKey,
			}, kms...),
			"RefreshFunction": append([]string{
				"dynamodb:GetItem " + table,
				"dynamodb:Query " + index,
				"dynamodb:UpdateItem " + table,
				"secretsmanager:GetSecretValue " + clientSecret,
				"secretsmanager:GetSecretValue " + tokenKey,
				"sqs:SendMessage " + s.getAtt("SweepFailureQueue", "Arn"),
			}, kms...),
			// The stream actions on this table's stream only, not SAM's
			// AWSLambdaDynamoDBExecutionRole (every stream in the account).
			"EventsFunction": {
				"dynamodb:DescribeStream " + s.streamArn(),
				"dynamodb:GetRecords " + s.streamArn(),
				"dynamodb:GetShardIterator " + s.streamArn(),
				"dynamodb:ListStreams " + s.streamArn(),
				"events:PutEvents " + bus,
				"sqs:SendMessage " + s.getAtt("EventsFailureQueue", "Arn"),
			},
			"TokenFunction": append([]string{
				"dynamodb:GetItem " + table,
				"dynamodb:Query " + table + "/index/" + oauth.UserIndexName,
				"dynamodb:UpdateItem " + table,
				"secretsmanager:GetSecretValue " + clientSecret,
				"secretsmanager:GetSecretValue " + tokenKey,
			}, kms...),
			// Sessions, the login's pending authorization, the connection
			// (read, leased and refreshed on demand, deleted by a logout
			// everywhere); no index, and not the app key (it signs nothing).
			"BffFunction": append([]string{
				"dynamodb:DeleteItem " + table,
				"dynamodb:GetItem " + table,
				"dynamodb:PutItem " + table,
				"dynamodb:UpdateItem " + table,
				"secretsmanager:GetSecretValue " + clientSecret,
				"secretsmanager:GetSecretValue " + tokenKey,
			}, kms...),
		}
		wantFns := []string{"AuthorizeFunction", "CallbackFunction", "EventsFunction", "RefreshFunction", "TokenFunction"}
		if s.params["EnableBff"] == "true" {
			wantFns = []string{"AuthorizeFunction", "BffFunction", "CallbackFunction", "EventsFunction", "RefreshFunction", "TokenFunction"}
		}
		if got := s.functionIDs(); !slices.Equal(got, wantFns) {
			t.Fatalf("functions: got %v, want %v", got, wantFns)
		}
		for _, id := range []string{"BffFunction", "BffFunctionRole", "BffLogGroup", "BffErrorsAlarm"} {
			if got, want := s.exists(id), s.params["EnableBff"] == "true"; got != want {
				t.Errorf("%s created: got %v, want %v (EnableBff=%s)", id, got, want, s.params["EnableBff"])
			}
		}
		for _, fn := range s.functionIDs() {
			t.Run(ps.name+"/"+fn, func(t *testing.T) {
				if p, ok := s.function(fn)["Policies"]; ok {
					t.Errorf("%s.Policies = %v: SAM would add them to a role of its own; put them in the function's role", fn, p)
				}
				role := s.role(fn)
				// Writing its own log group (never creating one), then its job.
				logGroup := s.getAtt(s.logGroupOf(fn), "Arn")
				wantFn := append([]string{"logs:CreateLogStream " + logGroup, "logs:PutLogEvents " + logGroup}, want[fn]...)
				var got []string
				for _, st := range statements(t, role) {
					if st["Effect"] != "Allow" || st["NotAction"] != nil || st["NotResource"] != nil {
						t.Errorf("statement %v: want a plain Allow of Action on Resource", st)
					}
					// The only condition: the KMS key decrypts through Secrets Manager only.
					viaSecretsManager := map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager." + testRegion + ".amazonaws.com"}}
					if c := st["Condition"]; c != nil && (st["Action"] != "kms:Decrypt" || !reflect.DeepEqual(c, viaSecretsManager)) {
						t.Errorf("statement %v: unexpected condition", st)
					}
					if st["Action"] == "kms:Decrypt" && st["Condition"] == nil {
						t.Errorf("statement %v: kms:Decrypt without the kms:ViaService condition", st)
					}
					for _, a := range list(st["Action"]) {
						for _, r := range list(st["Resource"]) {
							// A log group's ARN ends in :* (its streams).
							if strings.Contains(a+strings.TrimSuffix(r, ":*"), "*") {
								t.Errorf("wildcard in %s %s", a, r)
							}
							got = append(got, a+" "+r)
						}
					}
				}
				slices.Sort(got)
				slices.Sort(wantFn)
				if !slices.Equal(got, wantFn) {
					t.Errorf("permissions:\n got %q\nwant %q", got, wantFn)
				}
				var wantManaged []string
				if s.params["Tracing"] == "Active" {
					wantManaged = []string{xrayPolicyARN}
				}
				if got := role["ManagedPolicyArns"]; !slices.Equal(listOrNil(got), wantManaged) {
					t.Errorf("ManagedPolicyArns: got %v, want %v", got, wantManaged)
				}
			})
		}
	}
}

// listOrNil is list, with nil (an absent property) as no items.
func listOrNil(v any) []string {
	if v == nil {
		return nil
	}
	return list(v)
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func TestFunctionSettings(t *testing.T) {
	for _, ps := range paramSets {
		s := newStack(t, ps.overrides)
		for _, fn := range s.functionIDs() {
			t.Run(ps.name+"/"+fn, func(t *testing.T) {
				r := s.resource(fn)
				f := s.function(fn)
				wantTimeout := 15
				switch fn {
				case "RefreshFunction":
					wantTimeout = 300
				case "CallbackFunction":
					wantTimeout = 28 // provider calls in a row, under the HTTP API's 30 s
				case "EventsFunction":
					wantTimeout = 60 // ten PutEvents calls, each entry tried four times
				case "TokenFunction":
					wantTimeout = 40 // waiting out another holder's refresh, then one of its own
				case "BffFunction":
					wantTimeout = 28 // a proxied call, a refresh under the lease and the retry, under the HTTP API's 30 s
				}
				logging := mapAt(t, f, "LoggingConfig")
				tests := []struct {
					name      string
					got, want any
				}{
					{"Metadata.BuildMethod", mapAt(t, r, "Metadata")["BuildMethod"], "makefile"},
					{"CodeUri (the Makefile's directory)", f["CodeUri"], "."},
					{"Runtime", f["Runtime"], "provided.al2023"},
					// Globals' one architecture (the Makefile builds for it).
					{"Architectures", fmt.Sprint(f["Architectures"]), fmt.Sprint(mapAt(t, s.tpl, "Globals", "Function")["Architectures"])},
					{"Handler", f["Handler"], "bootstrap"},
					{"MemorySize", f["MemorySize"], 128},
					{"Timeout", f["Timeout"], wantTimeout},
					{"LogFormat", logging["LogFormat"], "JSON"},
					{"ApplicationLogLevel", logging["ApplicationLogLevel"], strings.ToUpper(s.params["LogLevel"])},
					// SAM leaves out TracingConfig and the X-Ray policy for Disabled.
					{"Tracing", f["Tracing"], s.params["Tracing"]},
				}
				for _, tc := range tests {
					if tc.got != tc.want {
						t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
					}
				}
			})
		}

		t.Run(ps.name+"/http routes", func(t *testing.T) {
			// POST /confirm shares the callback's function (CallbackRoutes).
			want := map[string][]string{"AuthorizeFunction": {"GET /authorize", "GET /authorize/{provider}"}, "CallbackFunction": {"GET /callback", "GET /callback/{provider}", "POST /confirm"}}
			if s.exists("BffFunction") {
				// BFF-SPEC's fixed routes; {proxy+} is the path parameter BFFRoutes reads.
				want["BffFunction"] = []string{"ANY /bff/api/{proxy+}", "GET /bff/session", "GET /bff/{provider}/login", "POST /bff/logout"}
			}
			for fn, routes := range want {
				events := mapAt(t, s.function(fn), "Events")
				var got []string
				for name, e := range events {
					e := asMap(t, e, name)
					p := mapAt(t, e, "Properties")
					route := fmt.Sprint(p["Method"], " ", p["Path"])
					got = append(got, route)
					if e["Type"] != "HttpApi" || p["ApiId"] != s.ref("HttpApi") {
						t.Errorf("%s event %s: got %v %s on %v, want HttpApi on the stack's API", fn, name, e["Type"], route, p["ApiId"])
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, routes) {
					t.Errorf("%s: routes %q, want %q", fn, got, routes)
				}
			}
		})

		t.Run(ps.name+"/events stream", func(t *testing.T) {
			f := s.function("EventsFunction")
			evs := mapAt(t, f, "Events")
			if len(evs) != 1 {
				t.Fatalf("EventsFunction: got %d events, want the stream only", len(evs))
			}
			stream := mapAt(t, evs, "Stream")
			p := mapAt(t, stream, "Properties")
			failure := mapAt(t, p, "DestinationConfig", "OnFailure")
			filters := mapAt(t, p, "FilterCriteria")["Filters"].([]any)
			tests := []struct {
				name      string
				got, want any
			}{
				{"event type", stream["Type"], "DynamoDB"},
				{"Stream", p["Stream"], s.streamArn()},
				{"FunctionResponseTypes", fmt.Sprint(p["FunctionResponseTypes"]), "[ReportBatchItemFailures]"},
				{"BisectBatchOnFunctionError", p["BisectBatchOnFunctionError"], true},
				{"MaximumRetryAttempts", p["MaximumRetryAttempts"], 10},
				{"BatchSize", p["BatchSize"], 100},
				{"StartingPosition", p["StartingPosition"], "TRIM_HORIZON"},
				{"OnFailure.Type", failure["Type"], "SQS"},
				{"OnFailure.Destination", failure["Destination"], s.getAtt("EventsFailureQueue", "Arn")},
				{"one filter", len(filters), 1},
			}
			for _, tc := range tests {
				if tc.got != tc.want {
					t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
				}
			}
			// The filter passes connection items and nothing else.
			var pattern struct {
				DynamoDB struct {
					Keys map[string]struct {
						S []struct {
							Prefix string `json:"prefix"`
						} `json:"S"`
					} `json:"Keys"`
				} `json:"dynamodb"`
			}
			if err := json.Unmarshal([]byte(s.str(asMap(t, filters[0], "Filters[0]")["Pattern"])), &pattern); err != nil {
				t.Fatalf("filter pattern: %v", err)
			}
			// Connections, and pending connections (their rejection is
			// an event); nothing else.
			pk := pattern.DynamoDB.Keys[oauth.AttrPK].S
			var prefixes []string
			for _, m := range pk {
				prefixes = append(prefixes, m.Prefix)
			}
			want := []string{oauth.ConnectionKey("", "")[:5], oauth.BindKey("")[:5]}
			if !slices.Equal(prefixes, want) {
				t.Errorf("filter on pk: got prefixes %q, want %q", prefixes, want)
			}
			// Browser sessions (sess#...) never invoke the events function:
			// a session is no connection and its cookie hash is no event.
			for _, p := range prefixes {
				if strings.HasPrefix(oauth.SessionKey("a cookie"), p) {
					t.Errorf("filter prefix %q passes session items (sess#)", p)
				}
			}
			alarmed := false
			for id, r := range mapAt(t, s.tpl, "Resources") {
				r := asMap(t, r, id)
				if r["Type"] != "AWS::CloudWatch::Alarm" || !s.exists(id) {
					continue
				}
				p := asMap(t, s.resolve(r["Properties"]), id)
				dims, _ := p["Dimensions"].([]any) // metric-math alarms have none
				for _, d := range dims {
					d := asMap(t, d, id)
					if p["Namespace"] == "AWS/SQS" && d["Name"] == "QueueName" && d["Value"] == s.getAtt("EventsFailureQueue", "QueueName") {
						alarmed = true
					}
				}
			}
			if !alarmed {
				t.Error("no alarm on the events failure queue")
			}
		})

		t.Run(ps.name+"/token function", func(t *testing.T) {
			if evs, ok := s.function("TokenFunction")["Events"]; ok {
				t.Errorf("TokenFunction events: got %v, want none (no HTTP route: tokens never cross API Gateway)", evs)
			}
			pol := s.resource("TokenReaderPolicy")
			if pol["Type"] != "AWS::IAM::ManagedPolicy" {
				t.Fatalf("TokenReaderPolicy type: got %v", pol["Type"])
			}
			doc := asMap(t, s.resolve(mapAt(t, pol, "Properties", "PolicyDocument")), "PolicyDocument")
			var got []string
			for _, st := range doc["Statement"].([]any) {
				st := asMap(t, st, "Statement")
				for _, a := range list(st["Action"]) {
					for _, r := range list(st["Resource"]) {
						got = append(got, fmt.Sprint(st["Effect"], " ", a, " ", r))
					}
				}
			}
			want := []string{"Allow lambda:InvokeFunction " + s.getAtt("TokenFunction", "Arn")}
			if !slices.Equal(got, want) {
				t.Errorf("TokenReaderPolicy: got %q, want %q", got, want)
			}
			for name, want := range map[string]string{
				"TokenFunctionArn":     s.getAtt("TokenFunction", "Arn"),
				"TokenReaderPolicyArn": s.str(s.ref("TokenReaderPolicy")),
				"EventBusName":         s.params["EventBusName"],
			} {
				if got := s.resolve(mapAt(t, s.tpl, "Outputs", name)["Value"]); got != want {
					t.Errorf("Outputs.%s: got %v, want %v", name, got, want)
				}
			}
		})

		t.Run(ps.name+"/sweep", func(t *testing.T) {
			f := s.function("RefreshFunction")
			wantReserved := any(1)
			if s.params["ReserveSweepConcurrency"] == "false" {
				wantReserved = nil
			}
			inv := mapAt(t, f, "EventInvokeConfig")
			failure := mapAt(t, inv, "DestinationConfig", "OnFailure")
			sweep := mapAt(t, f, "Events", "Sweep")
			sp := mapAt(t, sweep, "Properties")
			tests := []struct {
				name      string
				got, want any
			}{
				{"ReservedConcurrentExecutions", f["ReservedConcurrentExecutions"], wantReserved},
				{"EventInvokeConfig.MaximumRetryAttempts", inv["MaximumRetryAttempts"], 0},
				{"OnFailure.Type", failure["Type"], "SQS"},
				{"OnFailure.Destination", failure["Destination"], s.getAtt("SweepFailureQueue", "Arn")},
				{"event type", sweep["Type"], "ScheduleV2"},
				{"ScheduleExpression", sp["ScheduleExpression"], s.params["RefreshSchedule"]},
				{"RetryPolicy.MaximumRetryAttempts", mapAt(t, sp, "RetryPolicy")["MaximumRetryAttempts"], 0},
				{"DeadLetterConfig.Arn", mapAt(t, sp, "DeadLetterConfig")["Arn"], s.getAtt("SweepFailureQueue", "Arn")},
				{"OmitName (one schedule name per stack)", sp["OmitName"], true},
			}
			for _, tc := range tests {
				if tc.got != tc.want {
					t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
				}
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			s := newStack(t, ps.overrides)
			existing := ps.overrides["ExistingClientSecretArn"]
			if got, want := s.exists("ClientSecret"), existing == ""; got != want {
				t.Errorf("placeholder ClientSecret created: got %v, want %v", got, want)
			}
			wantARN := existing
			if existing == "" {
				wantARN = s.str(s.ref("ClientSecret"))
				p := mapAt(t, s.resource("ClientSecret"), "Properties")
				if p["SecretString"] != "REPLACE_ME" {
					t.Errorf("ClientSecret.SecretString: got %v, want REPLACE_ME", p["SecretString"])
				}
			}
			if got := s.resolve(mapAt(t, s.tpl, "Outputs", "ClientSecretArn")["Value"]); got != wantARN {
				t.Errorf("Outputs.ClientSecretArn: got %v, want %s", got, wantARN)
			}
			for _, id := range []string{"TokenKey", "AppKeySecret"} {
				if !s.exists(id) {
					continue
				}
				gen := mapAt(t, s.resource(id), "Properties", "GenerateSecretString")
				if n, _ := gen["PasswordLength"].(int); n < oauth.MinTokenKeyLen || n < connect.MinKeyLen || n != 64 {
					t.Errorf("%s PasswordLength: got %v, want 64", id, gen["PasswordLength"])
				}
				if gen["ExcludePunctuation"] != true {
					t.Errorf("%s ExcludePunctuation: got %v, want true", id, gen["ExcludePunctuation"])
				}
			}
			// The token key: the stack's, kept when the stack is deleted, or
			// a deleted stack's (ExistingTokenKeyArn).
			if got, want := s.exists("TokenKey"), ps.overrides["ExistingTokenKeyArn"] == ""; got != want {
				t.Errorf("TokenKey created: got %v, want %v", got, want)
			}
			if got := s.resolve(mapAt(t, s.tpl, "Outputs", "TokenKeyArn")["Value"]); got != s.tokenKeyArn() {
				t.Errorf("Outputs.TokenKeyArn: got %v, want %s", got, s.tokenKeyArn())
			}
			if got := s.resolve(mapAt(t, s.tpl, "Outputs", "AppKeyArn")["Value"]); got != s.str(s.ref("AppKeySecret")) {
				t.Errorf("Outputs.AppKeyArn: got %v, want the AppKeySecret", got)
			}
			if got := s.resource("TokenKey")["UpdateReplacePolicy"]; got != "Retain" {
				t.Errorf("TokenKey UpdateReplacePolicy: got %v, want Retain (a new key cannot open stored tokens)", got)
			}
		})
	}
}

func TestOutputsAndLogGroups(t *testing.T) {
	api := "https://abc123defg.execute-api.us-east-1.amazonaws.com"
	dashboard := "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/" + testStackName + "-Dashboard" + physSuffix
	for _, ps := range paramSets {
		t.Run(ps.name, func(t *testing.T) {
			s := newStack(t, ps.overrides)
			base := api
			if d := ps.overrides["DomainName"]; d != "" {
				base = "https://" + d
			}
			callback := base + "/callback"
			if r := ps.overrides["RedirectUrl"]; r != "" {
				callback = r
			}
			outputs := map[string]any{
				"ApiUrl":       base,
				"AuthorizeUrl": base + "/authorize",
				"CallbackUrl":  callback,
				"DashboardUrl": dashboard,
				"TableName":    s.tableName(),
			}
			if ps.overrides["DomainName"] != "" {
				outputs["CustomDomainTarget"] = s.getAtt("ApiDomainName", "RegionalDomainName")
				outputs["CustomDomainZoneId"] = s.getAtt("ApiDomainName", "RegionalHostedZoneId")
			}
			if ps.overrides["AlarmEmail"] != "" {
				outputs["AlarmTopicArn"] = s.ref("AlarmTopic")
			}
			if ps.overrides["EnableBff"] == "true" {
				// The single provider's id is its preset's name.
				outputs["BffLoginUrl"] = base + "/bff/" + s.params["ProviderPreset"] + "/login"
			}
			for name, o := range mapAt(t, s.tpl, "Outputs") {
				o := asMap(t, o, name)
				if c, ok := o["Condition"].(string); ok && !s.condition(c) {
					if _, want := outputs[name]; want {
						t.Errorf("Outputs.%s: missing with these parameters", name)
					}
					continue
				}
				if name == "BffLoginUrl" && ps.overrides["EnableBff"] != "true" {
					t.Errorf("Outputs.BffLoginUrl: present without EnableBff")
				}
				want, ok := outputs[name]
				if !ok {
					continue
				}
				if got := s.resolve(o["Value"]); got != want {
					t.Errorf("Outputs.%s: got %v, want %v", name, got, want)
				}
			}
		})
	}

	// Every log group keeps 30 days; every function names its own
	// (LoggingConfig.LogGroup: created before the function, so no
	// invocation can create it first), and no other function shares it.
	s := newStack(t, paramSets[0].overrides)
	for id, r := range mapAt(t, s.tpl, "Resources") {
		if asMap(t, r, id)["Type"] == "AWS::Logs::LogGroup" {
			p := asMap(t, s.resolve(mapAt(t, r.(map[string]any), "Properties")), id)
			if p["RetentionInDays"] != 30 {
				t.Errorf("log group %s: RetentionInDays got %v, want 30", id, p["RetentionInDays"])
			}
		}
	}
	owner := map[string]string{}
	for _, fn := range s.functionIDs() {
		id := s.logGroupOf(fn)
		if other, ok := owner[id]; ok {
			t.Errorf("%s and %s share the log group %s", fn, other, id)
		}
		owner[id] = fn
		// The group's name must not depend on the function (a cycle now
		// that the function names the group).
		name := s.str(s.resolve(mapAt(t, s.resource(id), "Properties")["LogGroupName"]))
		if !strings.HasPrefix(name, "/aws/lambda/"+testStackName+"-") {
			t.Errorf("%s: LogGroupName %s, want /aws/lambda/<stack name>-...", id, name)
		}
	}
}

// The sweep's EMF lines (pkg/oauth metrics) must use this namespace, these
// metric names and this dimension for the alarms and the dashboard to see
// them.
const (
	metricNamespace = "oauthfn"
	metricDimension = "Service"
	// The stack's name (METRICS_SERVICE): two stacks in one account and
	// region must not share metrics, or alarms.
	metricService = testStackName
)

var sweepMetrics = []string{"due", "refreshed", "failed", "reauth_required", "rate_limited", "skipped_leased", "revoked", "duration_ms"}

// dashboardMetrics is every metric line of the dashboard's widgets; a body
// that is not JSON fails the test.
func dashboardMetrics(t *testing.T, s *stack) [][]any {
	t.Helper()
	body := s.str(s.resolve(mapAt(t, s.resource("Dashboard"), "Properties")["DashboardBody"]))
	var dash struct {
		Widgets []struct {
			Properties struct {
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v\n%s", err, body)
	}
	var out [][]any
	for _, w := range dash.Widgets {
		out = append(out, w.Properties.Metrics...)
	}
	return out
}

func TestAlarmsAndDashboard(t *testing.T) {
	s := newStack(t, paramSets[0].overrides)
	alarmed := map[string]bool{}
	for id, r := range mapAt(t, s.tpl, "Resources") {
		r := asMap(t, r, id)
		if r["Type"] != "AWS::CloudWatch::Alarm" || !s.exists(id) {
			continue
		}
		p := asMap(t, s.resolve(r["Properties"]), id)
		if p["Namespace"] != metricNamespace {
			continue
		}
		dims := p["Dimensions"].([]any)
		d := asMap(t, dims[0], id+".Dimensions")
		if len(dims) != 1 || d["Name"] != metricDimension || d["Value"] != metricService {
			t.Errorf("%s: dimensions %v, want %s=%s", id, dims, metricDimension, metricService)
		}
		if p["ComparisonOperator"] != "GreaterThanThreshold" || p["Threshold"] != 0 {
			t.Errorf("%s: got %v %v, want > 0", id, p["ComparisonOperator"], p["Threshold"])
		}
		alarmed[s.str(p["MetricName"])] = true
	}
	for _, m := range []string{"reauth_required", "rate_limited", "failed"} {
		if !alarmed[m] {
			t.Errorf("no alarm on %s/%s > 0", metricNamespace, m)
		}
	}

	shown := map[string]bool{}
	for _, m := range dashboardMetrics(t, s) {
		if len(m) >= 4 && m[0] == metricNamespace && m[2] == metricDimension && m[3] == metricService {
			shown[fmt.Sprint(m[1])] = true
		}
	}
	for _, m := range sweepMetrics {
		if !shown[m] {
			t.Errorf("dashboard does not show %s/%s", metricNamespace, m)
		}
	}
}

// TestTemplateProviders: with the Providers parameter the functions get
// OAUTH_PROVIDERS and no single-provider variable (LoadConfig accepts the
// environment and names the providers), the per-provider routes exist, and
// the Rules refuse a single-provider parameter next to it, or neither.
func TestTemplateProviders(t *testing.T) {
	providers := `{"rc":{"preset":"ringcentral","client_id":"rc-id"},"gh":{"preset":"github","client_id":"gh-id"}}`
	for _, extra := range []map[string]string{{}, {"DomainName": "auth.example.com", "CertificateArn": certificateARN}} {
		o := map[string]string{"Providers": providers}
		for k, v := range extra {
			o[k] = v
		}
		s := newStack(t, o)
		for _, fn := range s.functionIDs() {
			env := s.env(fn)
			for _, name := range oauth.SingleProviderVariables {
				if env[name] != "" {
					t.Errorf("%s: %s=%q next to OAUTH_PROVIDERS", fn, name, env[name])
				}
			}
			cfg, err := oauth.LoadConfig(getenv(env))
			if err != nil {
				t.Fatalf("%s: LoadConfig: %v", fn, err)
			}
			if ids := cfg.ProviderIDs(); !slices.Equal(ids, []string{"gh", "rc"}) || cfg.RedirectURL != "" {
				t.Errorf("%s: providers %v, redirect URL %q; want gh, rc and each provider's derived one", fn, ids, cfg.RedirectURL)
			}
		}
	}
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		want      string
	}{
		{"neither ClientId nor Providers", map[string]string{}, "SingleProviderNeedsClientId"},
		{"ClientId next to Providers", map[string]string{"Providers": providers, "ClientId": "x"}, "ProvidersReplaceSingleProviderParameters"},
		{"RedirectUrl next to Providers", map[string]string{"Providers": providers, "RedirectUrl": "https://auth.example.com/callback"}, "ProvidersReplaceSingleProviderParameters"},
	} {
		if _, err := tryStack(t, tc.overrides); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a refusal naming %s", tc.name, err, tc.want)
		}
	}
}

func authStyleName(s oauth2.AuthStyle) string {
	return map[oauth2.AuthStyle]string{oauth2.AuthStyleInHeader: "basic", oauth2.AuthStyleInParams: "post"}[s]
}

// wantAuthStyle is the client authentication a parameter set asks for: its
// AuthStyle, or, empty, its preset's documented method.
func wantAuthStyle(t *testing.T, p map[string]string) string {
	t.Helper()
	if p["AuthStyle"] != "" {
		return p["AuthStyle"]
	}
	row, ok := oauth.LookupPreset(p["ProviderPreset"])
	if !ok {
		t.Fatalf("preset %q unknown", p["ProviderPreset"])
	}
	return authStyleName(row.For("").Endpoint.AuthStyle)
}

// TestTemplateApiPrefixes: what the ApiPrefixes parameter accepts, the code
// reads as documented: empty the preset's, none no API at all, a list
// itself.
func TestTemplateApiPrefixes(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []string
	}{
		{"", []string{"https://platform.ringcentral.com/restapi/v1.0/"}},
		{"none", nil},
		{"https://a.example.com/v1/,https://b.example.com/", []string{"https://a.example.com/v1/", "https://b.example.com/"}},
	} {
		s := newStack(t, map[string]string{"ClientId": "x", "EnableBff": "true", "ApiPrefixes": tc.value})
		cfg, err := oauth.LoadConfig(getenv(s.env("BffFunction")))
		if err != nil || !slices.Equal(cfg.Provider.APIPrefixes, tc.want) {
			t.Errorf("ApiPrefixes=%q: got %q, %v; want %q", tc.value, cfg.Provider.APIPrefixes, err, tc.want)
		}
	}
}

// TestTemplateBffValuesLoadEverywhere: every function reads the BFF's
// variables (one shared environment), so any value the template accepts
// for a BFF parameter must load in every function, the BFF off or on: a
// value only the BFF uses must never stop the sweep or the callback.
func TestTemplateBffValuesLoadEverywhere(t *testing.T) {
	good := map[string][]string{}
	for _, ex := range paramExamples {
		if ex.param == "BffIdleTimeout" || ex.param == "BffMaxSession" || ex.param == "ApiPrefixes" {
			good[ex.param] = ex.good
		}
	}
	if len(good) != 3 {
		t.Fatalf("paramExamples lacks the BFF parameters: %v", good)
	}
	var sets []map[string]string
	for _, idle := range good["BffIdleTimeout"] {
		for _, max := range good["BffMaxSession"] {
			sets = append(sets, map[string]string{"BffIdleTimeout": idle, "BffMaxSession": max})
		}
	}
	for _, p := range good["ApiPrefixes"] {
		sets = append(sets, map[string]string{"ApiPrefixes": p})
	}
	for _, set := range sets {
		for _, enable := range []string{"false", "true"} {
			o := map[string]string{"ClientId": "x", "EnableBff": enable}
			maps.Copy(o, set)
			s := newStack(t, o)
			for _, fn := range s.functionIDs() {
				if _, err := oauth.LoadConfig(getenv(s.env(fn))); err != nil {
					t.Errorf("%v, EnableBff=%s: %s does not start: %v", set, enable, fn, err)
				}
			}
		}
	}
}
