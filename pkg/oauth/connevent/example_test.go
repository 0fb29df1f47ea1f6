package connevent_test

import (
	"encoding/json"
	"fmt"

	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// An app's handler of the events (a Lambda target of an EventBridge rule,
// or a consumer of the queue it fills) decodes the detail into Detail.
func ExampleDetail() {
	// The EventBridge event as the rule's target receives it.
	body := `{"source": "oauthfn", "detail-type": "Connection Reauth Required",
	  "detail": {"provider": "ringcentral", "account_id": "1001", "end_user": "user-42",
	    "status": "reauth_required", "version": 7, "reason": "invalid_grant",
	    "at": "2026-03-01T12:00:00Z", "event_id": "3f0c9a1e5b7d2c4f8a6e1b3d5c7f9a0b"}}`
	var ev struct {
		Source     string           `json:"source"`
		DetailType string           `json:"detail-type"`
		Detail     connevent.Detail `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		fmt.Println(err)
		return
	}
	if ev.Source == connevent.Source && ev.DetailType == connevent.ReauthRequired {
		fmt.Printf("ask %s to connect %s again (%s)\n", ev.Detail.EndUser, ev.Detail.Provider, ev.Detail.Reason)
	}
	// Output: ask user-42 to connect ringcentral again (invalid_grant)
}
