package oauth

import "time"

// SetRevokeLimit bounds h's revocations at /callback by limit instead of
// revokeTimeout (3 s): for the external tests (package oauth_test) whose
// revocation endpoint answers for real, so a loaded machine cannot turn a
// slow real answer into a revocation given up on.
func SetRevokeLimit(h *Handler, limit time.Duration) { h.revokeLimit = limit }
