package main

import (
	"net/url"
	"strings"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// awsExported are the AWS SDK variables the export lines carry when set:
// where DynamoDB is and which profile. The region is printed from the
// configuration the server loaded (AWS_REGION and AWS_DEFAULT_REGION both:
// boto3 reads only the second); credentials only for a stand-in on
// loopback (see ExportLines).
var awsExported = []string{
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE",
}

// loopbackStandIn reports whether an AWS endpoint is set and every one set
// is an http(s) URL on a loopback host: a stand-in on this machine
// (moto_server, DynamoDB Local).
func loopbackStandIn(getenv func(string) string) bool {
	set := false
	for _, name := range awsEndpointVars {
		v := getenv(name)
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !isLoopbackHost(u.Hostname()) {
			return false
		}
		set = true
	}
	return set
}

// ExportLines are printed after the startup line: with -store dynamodb, the
// shell lines that point the operator commands (oauthfn list, token, sweep,
// disconnect) at this server's deployment (the same provider, client, token
// key and table), so using them is one step: run the lines in their shell.
// With the memory store they say why the commands cannot reach it.
//
// Secrets (see secretVariable): the mock's client secret is mockrc's public
// default, and a key random for this run protects only the mock's tokens,
// so those are printed (on stdout, never in a log or on a page). A secret
// that came from the environment (a real provider's client secret, a key
// you set) is never printed: the lines say to export the same value. AWS
// credentials are printed only when every AWS endpoint set is a stand-in on
// loopback, which is all they ever authenticate to; for AWS (or a stand-in
// elsewhere) the lines say to export the same ones.
func (ds *devServer) ExportLines() string {
	if ds.table == "" {
		return "# operator commands (oauthfn list, token, sweep, disconnect) read DynamoDB, not this server's memory store: start it with -store dynamodb to use them against it\n"
	}
	mock := ds.mocked()
	var b strings.Builder
	b.WriteString("# operator commands against this server (oauthfn list, token, sweep, disconnect): run these lines in their shell\n")
	var vars, notes []string
	for _, name := range oauth.Variables {
		v := ds.env(name)
		switch {
		case v == "":
		case secretVariable(name) && !(mock && v != ds.opts.Getenv(name)):
			// A secret of the environment's: never printed.
			notes = append(notes, "# "+name+": export the value this server was started with")
		default:
			vars = append(vars, name+"="+shellQuote(v))
		}
	}
	for _, name := range awsExported {
		if v := ds.opts.Getenv(name); v != "" {
			vars = append(vars, name+"="+shellQuote(v))
		}
	}
	if ds.awsRegion != "" {
		vars = append(vars, "AWS_REGION="+shellQuote(ds.awsRegion), "AWS_DEFAULT_REGION="+shellQuote(ds.awsRegion))
	}
	switch c := ds.standInCreds; {
	case c != nil:
		// Credentials of a stand-in on this machine, printed as the keys
		// made up for the run are: without them the commands would fall
		// through the SDK's chain, and DynamoDB Local keeps one database
		// per access key id, so they must be the same values.
		vars = append(vars, "AWS_ACCESS_KEY_ID="+shellQuote(c.AccessKeyID), "AWS_SECRET_ACCESS_KEY="+shellQuote(c.SecretAccessKey))
		if c.SessionToken != "" {
			vars = append(vars, "AWS_SESSION_TOKEN="+shellQuote(c.SessionToken))
		}
	case ds.opts.Getenv("AWS_PROFILE") == "":
		// Real AWS (or a stand-in elsewhere): never printed.
		notes = append(notes, "# AWS credentials: export the same as this server's (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
	}
	for _, v := range vars {
		b.WriteString("export " + v + "\n")
	}
	for _, n := range notes {
		b.WriteString(n + "\n")
	}
	return b.String()
}

// secretVariable reports whether a configuration variable holds a secret
// (OAUTH_CLIENT_SECRET, OAUTH_TOKEN_KEY, and any other *_SECRET or *_KEY).
// The export lines print one only when the mock mode made it up for this
// run (mockrc's public client secret, a random key); never one that came
// from the environment.
func secretVariable(name string) bool {
	return strings.HasSuffix(name, "_SECRET") || strings.HasSuffix(name, "_KEY")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
