// Command refresh is the refresh Lambda: an EventBridge schedule invokes it
// and it runs one sweep (optionally over a shard range given as the
// schedule's input, {"shard_from":0,"shard_to":7}). All logic lives in
// pkg/oauth.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/oauthfn/oauthfn/internal/fnmain"
)

func main() {
	lambda.Start(fnmain.Handler("refresh").Sweep)
}
