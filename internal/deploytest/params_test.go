package deploytest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// paramExamples are values CloudFormation must accept (good) and refuse
// (bad) for each constrained parameter, each bad one for a reason that would
// otherwise surface only after the deploy (or never).
var paramExamples = []struct {
	param     string
	good, bad []string
}{
	{"RefreshSchedule",
		[]string{"rate(10 minutes)", "rate(1 minute)", "rate(2 hours)", "rate(1 day)", "cron(0/10 * * * ? *)"},
		[]string{"every 10 minutes", "rate(10 minute)", "rate(1 minutes)", "rate(0 minutes)", "cron(0 12 * * ?)", "at(2026-12-01T00:00:00)", "10m"}},
	{"AlarmTopicArn",
		[]string{"", alarmTopicARN, "arn:aws-us-gov:sns:us-gov-west-1:123456789012:alarms_1"},
		[]string{"ops-pager", "arn:aws:sqs:us-east-1:123456789012:ops-pager", "arn:aws:sns:us-east-1:123456789012:ops.fifo", "arn:aws:sns:us-east-1:1234:ops"}},
	{"AlarmEmail",
		[]string{"", "ops@example.com", "first.last+oauth@mail.example.co.uk"},
		[]string{"ops", "ops@localhost", "ops@example.com,dev@example.com", "ops @example.com"}},
	{"SweepConcurrency",
		[]string{"1", "16", "256"},
		[]string{"0", "257", "many"}},
	{"ExistingClientSecretArn",
		[]string{"", existingSecretARN, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/oauth/client-x1Y2z3"},
		[]string{"oauthfn-client-AbCdEf", "arn:aws:secretsmanager:us-east-1:123456789012:secret:oauthfn/client", "arn:aws:secretsmanager:us-east-1:123456789012:secret:oauthfn-client-AbC"}},
	{"SecretsKmsKeyArn",
		[]string{"", secretsKeyARN, "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"},
		[]string{"alias/secrets", "arn:aws:kms:us-east-1:123456789012:alias/secrets", "1234abcd-12ab-34cd-56ef-1234567890ab"}},
	{"DomainName",
		[]string{"", "auth.example.com", "oauth.eu-1.example.co.uk"},
		[]string{"https://auth.example.com", "Auth.Example.com", "auth.example.com/", "localhost"}},
	{"CertificateArn",
		[]string{"", certificateARN},
		[]string{"arn:aws:iam::123456789012:server-certificate/auth", "arn:aws:acm:us-east-1:123456789012:certificate/"}},
	{"AuthUrl",
		[]string{"", "https://idp.example.com/oauth2/authorize"},
		[]string{"http://idp.example.com/oauth2/authorize", "idp.example.com/authorize"}},
	{"TokenUrl",
		[]string{"", "https://idp.example.com/oauth2/token"},
		[]string{"http://idp.example.com/oauth2/token"}},
	{"RedirectUrl",
		[]string{"", "https://auth.example.com/callback"},
		[]string{"http://auth.example.com/callback"}},
	{"Tracing",
		[]string{"Disabled", "Active"},
		[]string{"PassThrough", "true"}},
	{"EventBusName",
		[]string{"default", "oauthfn-events", eventBusARN, "arn:aws-us-gov:events:us-gov-west-1:123456789012:event-bus/default"},
		[]string{"", "my bus", "arn:aws:sqs:us-east-1:123456789012:queue", "arn:aws:events:us-east-1:123456789012:rule/r", "arn:aws:events:us-east-1:1234:event-bus/x"}},
	{"ExistingTableStreamArn",
		[]string{"", existingStreamARN},
		[]string{"oauthfn-Table-OLD1OLD2OLD3", "arn:aws:dynamodb:us-east-1:123456789012:table/oauthfn-Table-OLD1OLD2OLD3", "arn:aws:kinesis:us-east-1:123456789012:stream/x"}},
	{"EnableBff",
		[]string{"true", "false"},
		[]string{"", "yes", "True"}},
	{"BffIdleTimeout",
		[]string{"8h", "30m", "1h"},
		[]string{"", "0h", "8", "1d", "1h30m", "-1h", "8 h"}},
	{"BffMaxSession",
		[]string{"7d", "12h", "90m", "30d"},
		[]string{"", "0d", "7", "1w", "7d12h", "P7D"}},
	{"ApiPrefixes",
		[]string{"", "none", "https://api.example.com/", "https://platform.ringcentral.com/restapi/v1.0/,https://media.ringcentral.com/restapi/v1.0/"},
		[]string{"http://api.example.com/", "https://api.example.com", "https://api.example.com/v1", "https://a.example.com/, https://b.example.com/", "https://a.example.com/,", "api.example.com/", "None", "none,https://api.example.com/",
			// Refused by the code too (OAUTH_API_PREFIXES): a value the
			// template let through would stop every function at start-up.
			"https://api.example.com/a//b/", "https://api.example.com/%61/", "https://api.example.com/./", "https://api.example.com/a/../",
			"https://user@api.example.com/", "https://api.example.com/a?b/", "https://api.example.com/a#b/", "https://api.example.com/a;b/", `https://api.example.com/a\b/`}},
	{"ExistingTokenKeyArn",
		[]string{"", existingTokenKeyARN},
		[]string{"TokenKey-OLDxyz", "arn:aws:secretsmanager:us-east-1:123456789012:secret:oauthfn/token"}},
}

// paramOverrides keeps the other parameters valid around one value:
// parameters that need a partner (Rules) get one.
func paramOverrides(param, value string) map[string]string {
	o := map[string]string{"ClientId": "x", param: value}
	switch param {
	case "DomainName":
		if value != "" {
			o["CertificateArn"] = certificateARN
		}
	case "CertificateArn":
		if value != "" {
			o["DomainName"] = "auth.example.com"
		}
	case "SecretsKmsKeyArn":
		if value != "" {
			o["ExistingClientSecretArn"] = existingSecretARN
		}
	case "ExistingTableStreamArn":
		if value != "" {
			o["ExistingTokenKeyArn"] = existingTokenKeyARN
		}
	case "ExistingTokenKeyArn":
		if value != "" {
			o["ExistingTableStreamArn"] = existingStreamARN
		}
	}
	return o
}

// TestParameterConstraints: each constrained parameter accepts its good
// examples and refuses each bad one, naming the parameter. cfn-lint cannot
// do this check (its E2900 with --parameters compares only AllowedValues,
// and not at all for a template with the SAM transform), so the values are
// checked here as CloudFormation does (checkParams), and each pattern's
// verdict is cross-checked with a second regular-expression engine
// (Python's re, closer to CloudFormation's Java patterns than Go's RE2).
func TestParameterConstraints(t *testing.T) {
	type verdict struct {
		Pattern, Value string
		Match          bool
	}
	var patterned []verdict
	decl := mapAt(t, loadTemplate(t), "Parameters")
	for _, ex := range paramExamples {
		pat, _ := asMap(t, decl[ex.param], ex.param)["AllowedPattern"].(string)
		for _, good := range []bool{true, false} {
			values := ex.bad
			if good {
				values = ex.good
			}
			for _, v := range values {
				t.Run(ex.param+"="+v, func(t *testing.T) {
					_, err := tryStack(t, paramOverrides(ex.param, v))
					switch {
					case good && err != nil:
						t.Errorf("refused: %v", err)
					case !good && err == nil:
						t.Errorf("accepted, want a refusal")
					case !good && !strings.Contains(err.Error(), "parameter "+ex.param+"="):
						t.Errorf("refusal %q does not name %s", err, ex.param)
					}
				})
				if pat != "" {
					patterned = append(patterned, verdict{pat, v, good})
				}
			}
		}
	}
	if len(patterned) == 0 {
		t.Fatal("no patterned examples")
	}

	in, err := json.Marshal(patterned)
	if err != nil {
		t.Fatal(err)
	}
	py := `import json, re, sys
for v in json.load(sys.stdin):
    if (re.fullmatch(v["Pattern"], v["Value"]) is not None) != v["Match"]:
        print("python re disagrees:", json.dumps(v))`
	cmd := exec.Command(lookPath(t, "python3"), "-c", py)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("python3 cross-check: %v\n%q", err, out)
	}
}

// TestParameterRules: parameters that need each other are refused alone,
// before anything is created.
func TestParameterRules(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		want      []string // rule names in the refusal; none: accepted
	}{
		{"generic without endpoints", map[string]string{"ProviderPreset": "generic"}, []string{"GenericProviderEndpoints"}},
		{"generic without account field or userinfo", map[string]string{"ProviderPreset": "generic", "AuthUrl": "https://idp.example.com/a", "TokenUrl": "https://idp.example.com/t"}, []string{"needs AccountField or UserinfoUrl"}},
		{"generic complete", map[string]string{"ProviderPreset": "generic", "AuthUrl": "https://idp.example.com/a", "TokenUrl": "https://idp.example.com/t", "AccountField": "sub"}, nil},
		// OpenID discovery supplies the endpoints and the userinfo endpoint.
		{"generic with only an issuer", map[string]string{"ProviderPreset": "generic", "Issuer": "https://idp.example.com"}, nil},
		{"issuer next to providers", map[string]string{"Providers": `{"a":{"preset":"generic","client_id":"x","issuer":"https://idp.example.com"}}`, "Issuer": "https://idp.example.com"}, []string{"ProvidersReplaceSingleProviderParameters"}},
		{"domain without certificate", map[string]string{"DomainName": "auth.example.com"}, []string{"CustomDomainNeedsCertificate"}},
		{"certificate without domain", map[string]string{"CertificateArn": certificateARN}, []string{"CertificateNeedsCustomDomain"}},
		{"KMS key without an existing secret", map[string]string{"SecretsKmsKeyArn": secretsKeyARN}, []string{"SecretsKmsKeyForExistingSecret"}},
		// A deleted stack's table is useless without its token key (its
		// tokens are sealed with it), and the key without the table.
		{"existing table without its token key", map[string]string{"ExistingTableStreamArn": existingStreamARN}, []string{"needs ExistingTokenKeyArn"}},
		{"existing token key without its table", map[string]string{"ExistingTokenKeyArn": existingTokenKeyARN}, []string{"needs ExistingTableStreamArn"}},
		{"existing table and token key", map[string]string{"ExistingTableStreamArn": existingStreamARN, "ExistingTokenKeyArn": existingTokenKeyARN}, nil},
		// Several providers: each provider's api_prefixes, not the single-provider parameter.
		{"api prefixes next to providers", map[string]string{"Providers": `{"rc":{"preset":"ringcentral","client_id":"x"}}`, "ApiPrefixes": "https://api.example.com/"}, []string{"ProvidersReplaceSingleProviderParameters", "Providers replaces ApiPrefixes"}},
		{"providers with the BFF", map[string]string{"Providers": `{"rc":{"preset":"ringcentral","client_id":"x"}}`, "EnableBff": "true"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.overrides["Providers"] == "" {
				tc.overrides["ClientId"] = "x"
			}
			_, err := tryStack(t, tc.overrides)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want a refusal naming %s", err, w)
				}
			}
		})
	}
}
