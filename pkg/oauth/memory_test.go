package oauth_test

import (
	"testing"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/oauthtest"
)

func TestMemoryStore(t *testing.T) {
	oauthtest.RunStoreTests(t, func(t *testing.T) oauth.Store { return oauth.NewMemoryStore() })
}
