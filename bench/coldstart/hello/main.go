// Command hello is the baseline of bench/coldstart: the smallest
// aws-lambda-go function, built with the same flags as the real ones.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context) (string, error) { return "hello", nil })
}
