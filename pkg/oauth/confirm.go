package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// maxConfirmBody bounds POST /confirm's body: {"confirm": <a JWT of a few
// hundred bytes>}.
const maxConfirmBody = 8 << 10

// acceptAttempts bounds how often accept reads the connection again when a
// concurrent writer (a refresh) changed it between the read and the
// transaction.
const acceptAttempts = 3

// confirmAnswer is a JSON answer of POST /confirm: a decision (status 200,
// ok) or an error (code and description). Plain strings, so the package's
// answers cost nothing at start-up.
type confirmAnswer struct {
	status      int
	code        string
	description string
	ok          connect.Confirmation
}

var (
	ansConfirmBadRequest = confirmAnswer{status: 400, code: "invalid_request", description: `want a JSON body {"confirm": "<confirm token>"}`}
	ansConfirmBadToken   = confirmAnswer{status: 401, code: "invalid_confirm_token", description: "the confirm token is not valid (signature, audience, lifetime, claims)"}
	ansConfirmNotFound   = confirmAnswer{status: 404, code: "not_found", description: "no pending connection for this result: unknown, expired or already decided"}
	ansConfirmMismatch   = confirmAnswer{status: 409, code: "user_mismatch", description: "the result was made for another user: the connection is rejected"}
	ansConfirmInternal   = confirmAnswer{status: 500, code: "internal_error", description: "the confirmation could not be completed; try again"}
)

// Confirm is POST /confirm: the app's backend, having checked that the user
// signed in to it in the browser that brought a pending result back is the
// result's user, accepts (or rejects) the pending connection the result
// names, with a confirm token signed with the app key (connect.Keys.
// VerifyConfirm: HS256, aud oauthfn:confirm, exp at most 5 minutes after
// iat, jti = the result's jti, decision accept or reject).
//
// Answers (JSON): 200 {"status":"connected",provider,account_id,end_user}
// after an accept; 200 {"status":"rejected"} after a reject; 409
// user_mismatch when the token's sub is not the pending connection's end
// user (the connection is rejected too); 404 not_found for an unknown,
// expired or already decided one (an expired one found here is rejected on
// the spot); 401 invalid_confirm_token; 400 invalid_request for a malformed
// body. A pending connection is decided once: the confirm token is single
// use. Accepting writes the connection and deletes the pending one in one
// transaction; the session it replaces is revoked after that commits.
func (h *Handler) Confirm(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	a := h.confirm(ctx, req)
	var body []byte
	if a.status == 200 {
		body, _ = json.Marshal(a.ok)
	} else {
		body, _ = json.Marshal(struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}{a.code, a.description})
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: a.status, Headers: securityHeaders("application/json"), Body: string(body)}, nil
}

func (h *Handler) confirm(ctx context.Context, req events.APIGatewayV2HTTPRequest) confirmAnswer {
	tok, err := confirmBody(req)
	if err != nil {
		h.Log.WarnContext(ctx, "confirm refused", "outcome", "invalid_request", "reason", err.Error())
		return ansConfirmBadRequest
	}
	var cr connect.ConfirmRequest
	err, keyErr := h.verifyAppSigned(ctx, func(keys connect.Keys) (err error) {
		cr, err = keys.VerifyConfirm(tok)
		return err
	})
	if keyErr != nil {
		h.Log.ErrorContext(ctx, "confirm failed: app key unavailable", "outcome", "internal_error", "err", keyErr)
		return ansConfirmInternal
	}
	if err != nil {
		var ce *connect.Error
		check := "other"
		if errors.As(err, &ce) {
			check = ce.Check
		}
		h.Log.WarnContext(ctx, "confirm refused", "outcome", "invalid_confirm_token", "check", check, "reason", err.Error())
		return ansConfirmBadToken
	}
	key := BindKey(cr.ID)
	p, err := h.Store.GetPendingConnection(ctx, key)
	if errors.Is(err, ErrNotFound) || (err == nil && p.Status != StatusPending) {
		h.Log.WarnContext(ctx, "confirm refused", "outcome", "not_found", "reason", "no pending connection (unknown or already decided)", "end_user", cr.User)
		return ansConfirmNotFound
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "confirm failed: read pending connection", "outcome", "internal_error", "err", err)
		return ansConfirmInternal
	}
	// The connection's own provider decides, revokes and accepts.
	v := h.of(p.Conn.Provider)
	if v == nil {
		h.Log.ErrorContext(ctx, "confirm failed: the pending connection's provider is not configured any more", "outcome", "internal_error", "provider", p.Conn.Provider)
		return ansConfirmInternal
	}
	h = v
	now := h.Now()
	switch {
	case !p.ExpiresAt.After(now):
		// Expired first, whoever asks: the same answer and reason as when
		// the sweep got there before this confirm.
		if _, err := h.rejectPending(ctx, key, ReasonExpired); err != nil && !errors.Is(err, ErrNotFound) {
			return ansConfirmInternal
		}
		h.Log.WarnContext(ctx, "confirm refused", "outcome", "not_found", "reason", "pending connection expired", "end_user", cr.User)
		return ansConfirmNotFound
	case cr.User != p.Conn.EndUser:
		// Whatever the decision: the browser that came back is not the
		// user's the link was made for (a forwarded link).
		if _, err := h.rejectPending(ctx, key, ReasonUserMismatch); errors.Is(err, ErrNotFound) {
			return ansConfirmNotFound
		} else if err != nil {
			return ansConfirmInternal
		}
		return ansConfirmMismatch
	case cr.Decision == connect.DecisionReject:
		if _, err := h.rejectPending(ctx, key, ReasonAppRejected); errors.Is(err, ErrNotFound) {
			return ansConfirmNotFound
		} else if err != nil {
			return ansConfirmInternal
		}
		return confirmAnswer{status: 200, ok: connect.Confirmation{Status: connect.StatusRejected}}
	}
	c, err := h.accept(ctx, p, now)
	switch {
	case errors.Is(err, ErrNotFound):
		h.Log.WarnContext(ctx, "confirm refused", "outcome", "not_found", "reason", "pending connection decided meanwhile", "end_user", cr.User)
		return ansConfirmNotFound
	case err != nil:
		h.Log.ErrorContext(ctx, "confirm failed: accept", "outcome", "internal_error", "account_id", p.Conn.AccountID, "err", err)
		return ansConfirmInternal
	}
	return confirmAnswer{status: 200, ok: connect.Confirmation{Status: connect.StatusConnected, Provider: c.Provider, AccountID: c.AccountID, EndUser: c.EndUser}}
}

// confirmBody reads {"confirm": "<token>"}: one key, exactly that name (no
// case folding), no duplicate, a string.
func confirmBody(req events.APIGatewayV2HTTPRequest) (string, error) {
	body := req.Body
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return "", errors.New("body is not valid base64")
		}
		body = string(b)
	}
	if len(body) > maxConfirmBody {
		return "", fmt.Errorf("body is larger than %d bytes", maxConfirmBody)
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", errors.New("body is not a JSON object")
	}
	var tok string
	seen := false
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "", errors.New("body is not valid JSON")
		}
		if k != "confirm" || seen {
			return "", errors.New(`want exactly one key, "confirm"`)
		}
		seen = true
		if err := dec.Decode(&tok); err != nil {
			return "", errors.New(`"confirm" is not a string`)
		}
	}
	if _, err := dec.Token(); err != nil {
		return "", errors.New("body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("trailing data after the JSON object")
	}
	if tok == "" {
		return "", errors.New(`"confirm" is missing or empty`)
	}
	return tok, nil
}

// accept turns p into its connection: the tokens re-sealed for the
// connection's key, written with the pending connection's deletion in one
// transaction, conditioned on the connection it replaces being unchanged
// since it was read. The replaced session is revoked after the commit, never
// before: a failed transaction leaves the old connection working.
func (h *Handler) accept(ctx context.Context, p *PendingConnection, now time.Time) (*Connection, error) {
	c := p.Conn
	c.Status = StatusActive
	c.UpdatedAt = now
	c.LastRefreshAt = c.CreatedAt
	if err := h.resealFrom(ctx, &c, p.Key); err != nil {
		return nil, err
	}
	c.RefreshAt = h.Config.refreshAt(&c)
	c.TTL = connectionTTL(&c)
	waitUntil := h.Now().Add(h.providerTimeout() + writeBudget)
	for attempt := 1; ; attempt++ {
		old, err := h.Store.GetConnection(ctx, c.Provider, c.AccountID)
		switch {
		case errors.Is(err, ErrNotFound):
			old = nil
		case err != nil:
			return nil, err
		}
		if old != nil && !leaseFree(old.LeaseUntil, h.Now()) {
			// A Disconnect or a refresh holds the connection: replacing it
			// now would let the Disconnect delete the accepted connection,
			// or drop the tokens the refresh rotated. Wait for it.
			if h.Now().After(waitUntil) {
				return nil, fmt.Errorf("oauth: accept: the connection stays leased: %w", ErrBusy)
			}
			if err := h.sleep(ctx, pollInterval); err != nil {
				return nil, fmt.Errorf("oauth: accept: %w", err)
			}
			attempt--
			continue
		}
		var oldVersion int64
		c.Version = 1
		if old != nil {
			// Skip a version: the stream tells a replacement from a
			// refresh (old+1, same created_at) by it (connevent).
			oldVersion = old.Version
			c.Version = old.Version + 2
		}
		err = h.Store.AcceptPending(ctx, p.Key, p.Conn.EndUser, h.Now(), &c, oldVersion)
		if (errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)) && h.acceptedEarlier(ctx, &c) {
			// This very accept committed and its reply was lost: the SDK's
			// retry found the pending connection gone and the connection
			// written. (DynamoDB answers such a retry from its
			// ClientRequestToken; a stand-in may not.) Its sealed access
			// token, with a nonce of this request's own, proves it.
			err = nil
		}
		if errors.Is(err, ErrConflict) && attempt < acceptAttempts {
			continue // a refresh, a lease or another accept changed the connection meanwhile
		}
		if err != nil {
			return nil, err
		}
		h.Log.InfoContext(ctx, "account connected: the app confirmed", "outcome", "connected", "provider", c.Provider,
			"account_id", c.AccountID, "end_user", c.EndUser, "replaced", old != nil)
		if old != nil {
			if old.EndUser != c.EndUser {
				h.Log.InfoContext(ctx, "account moved to another end user", "account_id", c.AccountID, "end_user", c.EndUser, "previous_end_user", old.EndUser)
			}
			h.revokeReplaced(ctx, old)
		}
		return &c, nil
	}
}

// acceptedEarlier reports whether the connection in place is c as this
// accept wrote it (its sealed access token is unique to this request).
func (h *Handler) acceptedEarlier(ctx context.Context, c *Connection) bool {
	cur, err := h.Store.GetConnection(ctx, c.Provider, c.AccountID)
	return err == nil && cur.AccessToken == c.AccessToken && cur.Version == c.Version
}

// resealFrom opens c's tokens, sealed for the item key from, and seals them
// again for c's own key.
func (h *Handler) resealFrom(ctx context.Context, c *Connection, from string) error {
	access, err := h.openSealed(ctx, c.AccessToken, from, attrAccessToken)
	if err != nil {
		return fmt.Errorf("oauth: accept: open access token: %w", err)
	}
	var refresh string
	if c.RefreshToken != "" {
		if refresh, err = h.openSealed(ctx, c.RefreshToken, from, attrRefreshToken); err != nil {
			return fmt.Errorf("oauth: accept: open refresh token: %w", err)
		}
	}
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		return fmt.Errorf("oauth: accept: token key unavailable: %w", err)
	}
	if c.AccessToken, err = sealer.SealField(access, c.Key(), attrAccessToken); err != nil {
		return err
	}
	if refresh != "" {
		if c.RefreshToken, err = sealer.SealField(refresh, c.Key(), attrRefreshToken); err != nil {
			return err
		}
	}
	c.KeyID = sealer.KeyID()
	return nil
}

// rejectPending decides the pending connection under key as rejected for
// reason: marked so (only if still pending; the stream turns that into a
// Connection Rejected event), its new session revoked at the provider, then
// deleted. ErrNotFound when it was not pending any more.
func (h *Handler) rejectPending(ctx context.Context, key, reason string) (*PendingConnection, error) {
	p, err := h.Store.RejectPending(ctx, key, reason, newNonce(), h.Now())
	if errors.Is(err, ErrNotFound) {
		h.Log.WarnContext(ctx, "pending connection already decided", "outcome", "not_found", "reason", reason)
		return nil, err
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "could not reject a pending connection", "outcome", "internal_error", "reason", reason, "err", err)
		return nil, err
	}
	if v := h.of(p.Conn.Provider); v != nil {
		v.revokeBoundedAt(ctx, &p.Conn, p.Key, "rejected session")
	} else {
		h.Log.WarnContext(ctx, "rejected pending connection not revoked: its provider is not configured any more", "provider", p.Conn.Provider, "account_id", p.Conn.AccountID)
	}
	if err := h.Store.DeletePendingConnection(ctx, p.Key); err != nil {
		// Rejected already: nothing serves it; its ttl removes it.
		h.Log.WarnContext(ctx, "could not delete a rejected pending connection; its ttl removes it", "account_id", p.Conn.AccountID, "err", err)
	}
	h.Log.InfoContext(ctx, "pending connection rejected", "outcome", StatusRejected, "reason", reason, "provider", p.Conn.Provider,
		"account_id", p.Conn.AccountID, "end_user", p.Conn.EndUser)
	return p, nil
}

// CallbackRoutes serves the callback function's two routes: POST /confirm
// (Confirm) and GET /callback (Callback). They share one function because
// the app's confirmation follows its callback within seconds: it lands on
// the environment the callback warmed, with the app key, token key and
// client secret cached, and needs exactly the callback's permissions.
func (h *Handler) CallbackRoutes(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RequestContext.HTTP.Method == "POST" {
		return h.Confirm(ctx, req)
	}
	return h.Callback(ctx, req)
}
