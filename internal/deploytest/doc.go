// Package deploytest holds the deployment files to the code: template.yaml,
// the Makefile and events/*.json are checked against pkg/oauth (the table
// layout, the configuration LoadConfig needs) and aws-lambda-go's event
// types, and template.yaml is linted with cfn-lint.
//
// The package has tests only. The template is read with gopkg.in/yaml.v3 and
// its intrinsic functions (!Ref, !Sub, !GetAtt, !If, !FindInMap, ...) are
// evaluated for a given set of parameter values, with placeholder physical
// ids and ARNs for resources, the way CloudFormation would after the SAM
// transform.
package deploytest
