import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { startServer, type TestServer } from './servers.js';

/**
 * A minimal RFC 6455 peer for tests — both ends, no library: the handshake (§4), frames with and
 * without a mask (§5.2), text echo, ping/pong and the close handshake. Enough to prove the gateway
 * relays a real WebSocket, not to be one.
 */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export const OP = { TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 } as const;

export function frame(opcode: number, payload: Buffer, masked: boolean): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.alloc(head + (masked ? 4 : 0) + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = len;
  else if (len < 65536) {
    out[1] = 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!masked) {
    payload.copy(out, head);
    return out;
  }
  out[1] = out[1]! | 0x80;
  const mask = randomBytes(4);
  mask.copy(out, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Reads whole frames out of a byte stream as they complete. */
export class FrameReader {
  #buf: Buffer = Buffer.alloc(0);
  constructor(readonly onFrame: (opcode: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (b.length < at + len) return;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ b[maskAt + (i & 3)]!;
      this.#buf = b.subarray(at + len);
      this.onFrame(b[0]! & 0x0f, payload);
    }
  }
}

export interface Upgrade {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface WsEcho extends TestServer {
  /** Every upgrade request that reached it, in order. */
  readonly upgrades: Upgrade[];
  /** Plain HTTP requests that reached it. */
  readonly requests: Upgrade[];
  readonly maintenance: TestServer;
  /** Upgraded sockets not closed yet. */
  openSockets(): number;
  /** Every TCP connection it holds now, upgraded or not (`server.getConnections`). */
  connections(): Promise<number>;
}

/**
 * A WebSocket echo upstream with a heartbeat on its maintenance port. What it does depends on the
 * path it is asked for: `/abort-at-upgrade` destroys the socket right after its 101,
 * `/abort-on-message` at the first message, `/refuse` answers 403 (chunked) instead of upgrading,
 * `/refuse-abort` starts that answer and breaks off mid-body,
 * `/silent` never answers; anything else echoes text and binary messages.
 */
export async function startWsEcho(): Promise<WsEcho> {
  const upgrades: Upgrade[] = [];
  const requests: Upgrade[] = [];
  const open = new Set<Duplex>();
  const app = await startServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ result: true, data: { plain: req.url } }));
  });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', headers: req.headers });
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    // Like ws: a peer's FIN ends the connection (node's server sockets are half-open by default).
    socket.on('end', () => socket.end());
    const path = (req.url ?? '').split('?')[0]!;
    const key = req.headers['sec-websocket-key'];
    if (path.endsWith('/silent')) return;
    if (path.endsWith('/refuse-abort')) {
      socket.write('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nnot f\r\n');
      setTimeout(() => socket.destroy(), 20);
      return;
    }
    if (path.endsWith('/refuse') || typeof key !== 'string') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nx-tessera-registry-version: 7\r\n\r\n5\r\nnot f\r\n7\r\nor you.\r\n0\r\n\r\n');
      return;
    }
    const protocol = req.headers['sec-websocket-protocol']?.split(',')[0]?.trim();
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}x-upstream: ws-echo\r\n\r\n`,
    );
    if (path.endsWith('/abort-at-upgrade')) {
      socket.destroy();
      return;
    }
    const reader = new FrameReader((opcode, payload) => {
      if (path.endsWith('/abort-on-message')) return socket.destroy();
      if (opcode === OP.TEXT || opcode === OP.BINARY) socket.write(frame(opcode, payload, false));
      else if (opcode === OP.PING) socket.write(frame(OP.PONG, payload, false));
      else if (opcode === OP.CLOSE) socket.end(frame(OP.CLOSE, payload, false));
    });
    if (head.length > 0) reader.push(head);
    socket.on('data', (c: Buffer) => reader.push(c));
  });
  const maintenance = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"result":true}');
  });
  return {
    ...app,
    upgrades,
    requests,
    maintenance,
    openSockets: () => open.size,
    connections: () => new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n)))),
    async close() {
      for (const s of open) s.destroy();
      await app.close();
      await maintenance.close();
    },
  };
}

export interface WsReply {
  readonly status: number;
  /** Lower-case names; repeats joined with ', '. */
  readonly headers: Readonly<Record<string, string>>;
  /** For an answer other than 101: its body, read to the close (chunks decoded). */
  readonly body: string;
  /** The body came whole: its length, its last chunk, or (neither given) the close. */
  readonly complete: boolean;
  readonly socket: Socket;
  /** Resolves when the socket is closed (either side). */
  readonly closed: Promise<void>;
  send(text: string): void;
  /** The next text message from the server; rejects if the connection closes first. */
  next(): Promise<string>;
}

/**
 * Opens a WebSocket (or tries to) over a raw socket: the client side of the handshake, checking
 * Sec-WebSocket-Accept, then masked text frames out and unmasked ones in. A 101 resolves at once;
 * any other answer once the server has closed, with its body.
 */
export function wsConnect(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<WsReply> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const socket = connect(port, '127.0.0.1');
    const closed = once(socket, 'close').then(() => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to the upgrade of ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${key}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    socket.on('error', () => undefined);
    let buf: Buffer = Buffer.alloc(0);
    let reply: { status: number; headers: Record<string, string> } | null = null;
    const messages: string[] = [];
    const waiting: { resolve: (s: string) => void; reject: (e: Error) => void }[] = [];
    let ended = false;
    const reader = new FrameReader((opcode, payload) => {
      if (opcode !== OP.TEXT) return;
      const w = waiting.shift();
      if (w) w.resolve(payload.toString('utf8'));
      else messages.push(payload.toString('utf8'));
    });
    void closed.then(() => {
      ended = true;
      clearTimeout(timer);
      for (const w of waiting.splice(0)) w.reject(new Error('closed before a message came'));
      if (reply === null) reject(new Error(`closed before an answer to the upgrade of ${path}: ${JSON.stringify(buf.toString('latin1'))}`));
      else if (reply.status !== 101) resolve(done(...bodyOf(reply.headers, buf)));
    });
    const done = (body: string, complete: boolean): WsReply => ({
      status: reply!.status,
      headers: reply!.headers,
      body,
      complete,
      socket,
      closed,
      send: (text) => void socket.write(frame(OP.TEXT, Buffer.from(text, 'utf8'), true)),
      next: () =>
        messages.length > 0
          ? Promise.resolve(messages.shift()!)
          : ended
            ? Promise.reject(new Error('closed'))
            : new Promise((res, rej) => waiting.push({ resolve: res, reject: rej })),
    });
    socket.on('data', (chunk: Buffer) => {
      if (reply !== null && reply.status === 101) return reader.push(chunk);
      buf = Buffer.concat([buf, chunk]);
      if (reply !== null) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [statusLine, ...fields] = buf.subarray(0, end).toString('latin1').split('\r\n');
      const h: Record<string, string> = {};
      for (const f of fields) {
        const colon = f.indexOf(':');
        const name = f.slice(0, colon).trim().toLowerCase();
        const value = f.slice(colon + 1).trim();
        h[name] = h[name] === undefined ? value : `${h[name]}, ${value}`;
      }
      reply = { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers: h };
      buf = buf.subarray(end + 4);
      if (reply.status !== 101) return;
      clearTimeout(timer);
      if (h['sec-websocket-accept'] !== acceptFor(key)) {
        socket.destroy();
        reject(new Error(`101 with a wrong Sec-WebSocket-Accept: ${h['sec-websocket-accept']}`));
        return;
      }
      const rest = buf;
      buf = Buffer.alloc(0);
      resolve(done('', true));
      if (rest.length > 0) reader.push(rest);
    });
  });
}

/** A body read to the close, as its headers frame it. */
function bodyOf(headers: Readonly<Record<string, string>>, raw: Buffer): [string, boolean] {
  const length = headers['content-length'];
  if (length !== undefined) return [raw.toString('utf8'), raw.length === Number(length)];
  if (headers['transfer-encoding'] !== 'chunked') return [raw.toString('utf8'), true];
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol === -1) return [Buffer.concat(parts).toString('utf8'), false];
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return [Buffer.concat(parts).toString('utf8'), true];
    if (raw.length < eol + 2 + size) {
      parts.push(raw.subarray(eol + 2));
      return [Buffer.concat(parts).toString('utf8'), false];
    }
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 4 + size;
  }
}

/** Whether the socket closes within `ms` (the timer is cleared either way: no handle keeps the test alive). */
export async function closedWithin(ws: WsReply, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([ws.closed.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every few ms until it holds or `withinMs` passes; returns how long it took, or -1. */
export async function eventually(check: () => boolean | Promise<boolean>, withinMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < withinMs) {
    if (await check()) return Date.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return (await check()) ? Date.now() - t0 : -1;
}
