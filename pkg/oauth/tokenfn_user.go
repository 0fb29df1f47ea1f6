package oauth

import (
	"context"
	"errors"
)

// Waiting for the connect branch (Connection.EndUser, ConnectionsForUser):
// replaced when it is merged.
func endUserOf(c *Connection) string { return "" }

func (h *Handler) connectionsOfUser(ctx context.Context, endUser string) ([]ConnectionInfo, error) {
	return nil, errors.New("oauth: connections by end user: not available before the connect branch is merged")
}
