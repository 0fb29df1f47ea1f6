package oauth

import (
	"context"
	"fmt"
)

// ConnectionsForUser describes the connections of one of the app's users
// (the sub of the connect tokens they connected with), ordered by key, from
// the sparse user-index: one Query, no tokens. The index is eventually
// consistent: a connection made a moment ago may be missing, and
// HasRefreshToken and Source are not known from it (false and empty here;
// Connection tells).
func (h *Handler) ConnectionsForUser(ctx context.Context, endUser string) ([]ConnectionInfo, error) {
	cs, err := h.Store.ConnectionsByEndUser(ctx, endUser)
	if err != nil {
		return nil, fmt.Errorf("oauth: connections for user: %w", err)
	}
	out := make([]ConnectionInfo, len(cs))
	for i, c := range cs {
		out[i] = c.Info()
		out[i].Source = "" // not in the user-index: unknown here, not "browser"
	}
	return out, nil
}
