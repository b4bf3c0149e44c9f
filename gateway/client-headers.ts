import type { IncomingHttpHeaders } from 'node:http';
import { connectionListed, dropListed, HEADERS, STRIP_FROM_CLIENT } from './headers.js';

function first(v: string | string[]): string {
  return typeof v === 'string' ? v : (v[0] ?? '');
}

/**
 * Whether node's header object announces a body: a transfer coding, or a length other than 0 —
 * the rule `ClientHeaders.hasBody` applies in its one pass, for requests no context is made for
 * (a refusal before one, an upgrade).
 */
export function announcesBody(headers: IncomingHttpHeaders): boolean {
  const length = headers[HEADERS.CONTENT_LENGTH];
  return headers[HEADERS.TRANSFER_ENCODING] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The client's request headers, read in one pass: the fields the gateway decides on, and the list
 * sent upstream (hop-by-hop, internal and forwarding headers removed; the proxy appends its own).
 * Stages read fields of one shape instead of looking names up in node's header object, whose shape
 * differs from client to client (every such lookup was a megamorphic, often missing, property load).
 */
export class ClientHeaders {
  key: string | undefined = undefined;
  accessToken: string | undefined = undefined;
  authorization: string | undefined = undefined;
  userAgent: string | undefined = undefined;
  origin: string | undefined = undefined;
  host: string | undefined = undefined;
  xForwardedFor: string | undefined = undefined;
  /** The request has a body (a length other than 0, or a transfer coding). */
  hasBody = false;
  /** The declared `content-length`, as sent (null: none). */
  contentLength: string | null = null;
  /** Name/value pairs for the upstream, in the client's order; set-cookie lines stay separate. */
  readonly forward: string[] = [];
  /** Entries of `forward` that came from the client (the proxy appends its own after them). */
  clientCount = 0;

  constructor(src: IncomingHttpHeaders) {
    let connection: string | undefined;
    const forward = this.forward;
    for (const name in src) {
      const v = src[name];
      if (v === undefined) continue;
      switch (name) {
        case HEADERS.KEY:
          this.key = first(v);
          break;
        case HEADERS.AUTHORIZATION:
          this.authorization = first(v);
          break;
        case HEADERS.ACCESS_TOKEN:
          this.accessToken = first(v);
          break;
        case HEADERS.USER_AGENT:
          this.userAgent = first(v);
          break;
        case HEADERS.ORIGIN:
          this.origin = first(v);
          break;
        case HEADERS.HOST:
          this.host = first(v);
          break;
        case HEADERS.X_FORWARDED_FOR:
          this.xForwardedFor = first(v);
          break;
        case HEADERS.CONNECTION:
          connection = first(v);
          break;
        case HEADERS.CONTENT_LENGTH:
          this.contentLength = first(v);
          if (v !== '0') this.hasBody = true;
          break;
        case HEADERS.TRANSFER_ENCODING:
          this.hasBody = true;
          break;
      }
      if (STRIP_FROM_CLIENT.has(name)) continue;
      if (typeof v === 'string') forward.push(name, v);
      // Only set-cookie arrives as a list (node joins other repeats): one line each, as sent.
      else for (const item of v) forward.push(name, item);
    }
    // Names listed in Connection are hop-by-hop for this message: rare, so filtered afterwards.
    const listed = connectionListed(connection);
    if (listed !== null) dropListed(forward, listed);
    this.clientCount = forward.length;
  }
}
