import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToRegExp } from '../../registry/view/acl.js';
import { REGISTRY_VERSION_HEADER } from '../../registry/view/read-your-writes.js';
import { StoreUnavailableError, type Store } from '../../registry/control/store/types.js';
import { checkInjectSignature, SIGNATURE_HEADER } from '../../registry/view/inject-signature.js';
import { fail, ServiceError } from './envelope.js';
import { errors } from './errors.js';
import { parseInject, type SoajsContext } from './inject.js';
import { parseJsonObject } from './json.js';

export interface ServiceRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: Readonly<Record<string, string>>;
  readonly headers: IncomingMessage['headers'];
  /** Parsed JSON or form body (empty object when none); read only for routes that declare `body`. */
  readonly body: Record<string, unknown>;
  /** Null when the service is not keyed and the gateway sent no context. */
  readonly soajs: SoajsContext | null;
  readonly raw: IncomingMessage;
}

/** A handler's answer: a body to send as JSON (status 200), or a full reply. */
export type Reply = unknown | { status: number; headers?: Record<string, string>; json: unknown };

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  path: string;
  /** Read and parse the request body (JSON or form), at most `maxBodyBytes`. */
  body?: boolean;
  handler(req: ServiceRequest): Reply | Promise<Reply>;
}

export interface ServiceOptions {
  name: string;
  port: number;
  /** Defaults to port + 1000 (SOAJS maintenance convention). */
  maintenancePort?: number;
  host?: string;
  /** Reject calls that did not come through the gateway (no `soajsinjectobj`) with 142. */
  extKeyRequired: boolean;
  /**
   * The deployment's secret the gateway signs `soajsinjectobj` with: a context without a fresh,
   * valid signature is refused (403, code 142) and never reaches a handler.
   */
  injectSecret: Buffer;
  /** ms since the epoch, for the signature's freshness (tests inject a clock). */
  now?: () => number;
  routes: readonly Route[];
  maxBodyBytes?: number;
  onError?: (err: unknown) => void;
  /**
   * The store this service writes what the gateway enforces to: every successful answer to a
   * write carries the registry version, so the gateway that proxies it sends it only once it
   * enforces the change (the client's next request sees it).
   */
  writesTo?: Pick<Store, 'registryVersion'>;
}

/** What every bundled service is started with: where it listens and how it trusts the gateway. */
export interface ServiceBase {
  port: number;
  host?: string;
  maintenancePort?: number;
  injectSecret: Buffer;
  /** Unexpected errors (the caller got a 500): logged by whoever started the service. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

/** The ServiceOptions fields a ServiceBase gives (optional ones only when set). */
export function baseOptions(b: ServiceBase): Pick<ServiceOptions, 'port' | 'host' | 'maintenancePort' | 'injectSecret' | 'onError' | 'now'> {
  return {
    port: b.port,
    injectSecret: b.injectSecret,
    ...(b.host !== undefined ? { host: b.host } : {}),
    ...(b.maintenancePort !== undefined ? { maintenancePort: b.maintenancePort } : {}),
    ...(b.onError !== undefined ? { onError: b.onError } : {}),
    ...(b.now !== undefined ? { now: b.now } : {}),
  };
}

export interface RunningService {
  readonly name: string;
  readonly port: number;
  readonly maintenancePort: number;
  readonly host: string;
  close(): Promise<void>;
}

interface CompiledRoute extends Route {
  re: RegExp | null;
  names: string[];
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(json);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendError(res: ServerResponse, err: ServiceError): void {
  send(res, err.status, fail(err.code, err.message));
}

function isFullReply(v: unknown): v is { status: number; headers?: Record<string, string>; json: unknown } {
  return typeof v === 'object' && v !== null && 'status' in v && 'json' in v && typeof (v as { status: unknown }).status === 'number';
}

async function readBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw errors.tooLarge(limit);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const text = Buffer.concat(chunks).toString('utf8');
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  // application/json and its structured-syntax variants (RFC 6839), e.g. merge-patch+json.
  if (type === 'application/json' || type === '' || (type.startsWith('application/') && type.endsWith('+json'))) {
    return parseJsonObject(text);
  }
  throw errors.unsupportedType(type);
}

/**
 * A small SOAJS-style service: routes answering in the envelope, the gateway's context parsed from
 * `soajsinjectobj`, and `/heartbeat` on the maintenance port.
 */
export async function startService(opts: ServiceOptions): Promise<RunningService> {
  const host = opts.host ?? '127.0.0.1';
  const limit = opts.maxBodyBytes ?? 1024 * 1024;
  const now = opts.now ?? Date.now;
  const routes: CompiledRoute[] = opts.routes.map((r) => {
    const names = [...r.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
    return { ...r, re: names.length ? pathToRegExp(r.path) : null, names };
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://service');
    const path = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
    const header = req.headers['soajsinjectobj'];
    let soajs: SoajsContext | null = null;
    if (header !== undefined) {
      const value = Array.isArray(header) ? header.join(',') : header;
      const fault = checkInjectSignature(opts.injectSecret, value, req.headers[SIGNATURE_HEADER] as string | undefined, Math.floor(now() / 1000));
      if (fault !== null) {
        sendError(res, errors.badSignature(fault));
        req.resume();
        return;
      }
      soajs = parseInject(value);
    }
    if (opts.extKeyRequired && soajs === null) {
      sendError(res, errors.notThroughGateway());
      return;
    }
    let route: CompiledRoute | undefined;
    let params: Record<string, string> = {};
    for (const r of routes) {
      if (r.method !== req.method) continue;
      if (r.re === null) {
        if (r.path === path) {
          route = r;
          break;
        }
        continue;
      }
      const m = r.re.exec(path);
      if (m) {
        route = r;
        try {
          params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? '')]));
        } catch {
          throw errors.badRequest('Malformed request path');
        }
        break;
      }
    }
    if (route === undefined) {
      sendError(res, errors.unknownApi());
      return;
    }
    const body = route.body ? await readBody(req, limit) : {};
    const reply = await route.handler({ method: req.method ?? 'GET', path, query: url.searchParams, params, headers: req.headers, body, soajs, raw: req });
    const full = isFullReply(reply) ? reply : { status: 200, json: reply, headers: undefined };
    let headers = full.headers;
    if (opts.writesTo !== undefined && route.method !== 'GET' && full.status < 400) {
      // The gateway holds this answer until it enforces what the write changed (registry/view/read-your-writes.ts).
      headers = { ...headers, [REGISTRY_VERSION_HEADER]: String(await opts.writesTo.registryVersion()) };
    }
    send(res, full.status, full.json, headers);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ServiceError) {
        sendError(res, err);
        return;
      }
      if (err instanceof StoreUnavailableError) {
        // Every write is one atomic store call: a failed one changed nothing, and saying so lets
        // the client retry safely.
        sendError(res, errors.storeUnavailable());
        return;
      }
      opts.onError?.(err);
      sendError(res, errors.internal());
    });
  });
  const maintenance = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    if (route !== '/heartbeat') {
      send(res, 404, { result: false, ts: Date.now(), service: { service: opts.name, type: 'rest', route } });
      return;
    }
    send(res, 200, { result: true, ts: Date.now(), service: { service: opts.name, type: 'rest', route: '/heartbeat' } });
  });

  server.listen(opts.port, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  maintenance.listen(opts.maintenancePort ?? (opts.port === 0 ? 0 : port + 1000), host);
  await once(maintenance, 'listening');
  const maintenancePort = (maintenance.address() as AddressInfo).port;

  return {
    name: opts.name,
    port,
    maintenancePort,
    host,
    async close() {
      const closing = [once(server, 'close'), once(maintenance, 'close')];
      server.close();
      maintenance.close();
      server.closeAllConnections();
      maintenance.closeAllConnections();
      await Promise.all(closing);
    },
  };
}
