/**
 * A service that changed what the gateway enforces (a logout, a revocation, a revoked key, a
 * disabled user) answers with the registry version its write reached; the gateway that proxies the answer holds it back until its
 * own snapshot is at that version, so the client's next request through the same gateway already
 * sees the change. Other gateways follow within the propagation bound (change feed + poll).
 */
export const REGISTRY_VERSION_HEADER = 'x-tessera-registry-version';

/** How long a gateway holds an answer back for its snapshot to catch up before sending it anyway. */
export const CATCH_UP_TIMEOUT_MS = 2000;
