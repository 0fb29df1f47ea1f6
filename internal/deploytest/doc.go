// Package deploytest holds the deployment files to the code: template.yaml,
// the Makefile, samconfig.toml and events/*.json are checked against
// pkg/oauth (the table layout and the due-index projection, the
// configuration LoadConfig needs) and aws-lambda-go's event types;
// template.yaml is linted with cfn-lint, its parameters are checked with good
// and bad values as CloudFormation would (patterns, bounds, Rules), its
// alarms, access log and roles are held to what an operator needs, and
// `make build` is run for each Lambda architecture.
//
// The package has tests only. The template is read with gopkg.in/yaml.v3 and
// its intrinsic functions (!Ref, !Sub, !GetAtt, !If, !FindInMap, ...) are
// evaluated for a given set of parameter values, with placeholder physical
// ids and ARNs for resources, the way CloudFormation would after the SAM
// transform.
package deploytest
