package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// The operators' commands print one line per failure: what happened and
// what to do, without the chain of package prefixes that wrapping leaves
// ("oauth: token for alice: oauth: get connection: oauth: not found").

// explain turns an error the library returned for account ("" when the
// command is not about one account) into what happened and what to do.
// Errors it does not know keep their text, without the stutter.
func explain(account string, err error) error {
	var noTable *types.ResourceNotFoundException
	switch {
	case errors.Is(err, oauth.ErrNotFound):
		return fmt.Errorf("no connection for account %s: send the user to /authorize to connect it (oauthfn list shows the connections)", account)
	case errors.Is(err, oauth.ErrCredentialRefused) && errors.Is(err, oauth.ErrReauthRequired):
		return fmt.Errorf("the provider refused account %s's server credential: a JWT (expired or revoked): create a new one and run `oauthfn credential rotate -account %s < credential-file`; client_credentials (the client refused or not allowed the grant): fix the client, then run `oauthfn credential add -source client_credentials -account %s`", account, account, account)
	case errors.Is(err, oauth.ErrReauthRequired):
		why := "its refresh token was refused or the session ended"
		if strings.Contains(err.Error(), "no refresh token") {
			why = "its access token expired and the provider issued no refresh token"
		}
		return fmt.Errorf("account %s must connect again (%s): send the user to /authorize", account, why)
	case errors.Is(err, oauth.ErrRateLimited):
		return fmt.Errorf("the provider's token endpoint is rate limited (%s): try again later; TOKEN_RATE_PER_MIN sets the deployment's budget", destutter(err))
	case errors.Is(err, oauth.ErrBusy):
		return fmt.Errorf("another refresh of account %s is in progress (the sweep or an app holds its lease): try again in a few seconds", account)
	case errors.As(err, &noTable):
		return fmt.Errorf("the DynamoDB table does not exist: check TABLE_NAME and the AWS region (or AWS_ENDPOINT_URL for a local DynamoDB); %s", destutter(err))
	}
	return err
}

// configError explains a start-up failure: every bad variable, on one line,
// and where the values come from.
func configError(err error) error {
	msg := strings.ReplaceAll(destutter(err), "\n", "; ")
	return fmt.Errorf("%s (set the variables the functions have: see docs/configuration.md; for the dev server, run the export lines it prints)", msg)
}

// destutter is err's text without the "oauth: " prefixes of each wrapping
// layer.
func destutter(err error) string {
	return strings.ReplaceAll(err.Error(), "oauth: ", "")
}
