import { compileCidrs, ipIn, plainIp } from '../registry/view/net.js';
import type { RequestContext } from './context.js';

/**
 * The client's address: the socket's, unless the socket is one of our trusted proxies
 * (`gateway.trustedProxies`); then the rightmost X-Forwarded-For hop that is not one of them —
 * anything left of it was written by the client (SOAJS trusted any X-Forwarded-For).
 */
export function createClientIp(trustedProxies: readonly string[]): (ctx: RequestContext) => string {
  const trusted = compileCidrs(trustedProxies);
  return function clientIp(ctx: RequestContext): string {
    const socketIp = plainIp(ctx.req.socket.remoteAddress ?? '');
    if (trusted === null || !ipIn(trusted, socketIp)) return socketIp;
    const xff = ctx.headers.xForwardedFor;
    if (xff === undefined) return socketIp;
    const hops = xff.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = plainIp(hops[i]!.trim());
      if (!ipIn(trusted, ip)) return ip;
    }
    return socketIp;
  };
}
