import { SIGNATURE_HEADER, signInject } from '../../registry/view/inject-signature.js';

/** The headers a gateway holding `secret` sends a service: the context and its signature, made now. */
export function signedInject(secret: Buffer, inject: string, nowMs = Date.now()): Record<string, string> {
  return { soajsinjectobj: inject, [SIGNATURE_HEADER]: signInject(secret, inject, Math.floor(nowMs / 1000)) };
}
