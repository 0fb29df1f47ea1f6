package connect_test

import (
	"fmt"
	"net/url"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The app's backend sends its signed-in user to oauthfn with a connect URL,
// and reads the result oauthfn sends back.
func Example() {
	key := "the app key from the AppKeyArn secret, 64 characters long.........."

	u, err := connect.URL(key, "https://abc.execute-api.us-east-1.amazonaws.com/authorize", "user-42",
		connect.Options{ReturnTo: "https://app.example/connected", AppState: "settings"})
	if err != nil {
		panic(err)
	}
	p, _ := url.Parse(u)
	fmt.Println(p.Path, p.Query().Has("connect"))

	// …oauthfn redirects to https://app.example/connected?result=…; here a
	// result made the way the callback makes it:
	result, _ := connect.Keys{Current: key}.SignResult(connect.Result{User: "user-42", AccountID: "1001", Provider: "ringcentral", AppState: "settings"})
	r, err := connect.VerifyResult(key, result)
	if err != nil {
		panic(err) // forged, edited or expired: change nothing
	}
	fmt.Println(r.User, r.AccountID, r.Status, r.AppState)
	// Output:
	// /authorize true
	// user-42 1001 connected settings
}
