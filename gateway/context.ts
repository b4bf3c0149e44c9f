import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Snapshot } from '../registry/view/snapshot.js';
import { ClientHeaders } from './client-headers.js';
import { Decision } from './decision.js';

export type { AclLevel, TokenSource } from './decision.js';

/**
 * One request: its own parts (the request, the response, the pinned snapshot, the client's headers
 * and address) and what the decide stages make of it (`decision`). Stages read and write the
 * decided fields through the accessors below, so they need not know that a kept decision may be
 * another request's, shared by reference (decision-memo.ts).
 */
export class RequestContext {
  /** Pinned once: the request never sees two registry versions. */
  readonly snapshot: Snapshot;
  /** The client's headers as the gateway reads them, and the list forwarded upstream. */
  readonly headers: ClientHeaders;
  clientIp = '';
  /** Fresh for a request the decide stages run for; a kept one for a repeated request. */
  decision = new Decision();
  /** Headers an every-request stage adds to this request's answer, whoever writes it (RateLimit); a flat name/value list. */
  responseHeaders: string[] | null = null;

  constructor(
    readonly req: IncomingMessage,
    /** For a WebSocket upgrade, a response bound to the raw socket (respond.ts `responseOnSocket`): a denial is written the same way. */
    readonly res: ServerResponse,
    snapshot: Snapshot,
    /** A WebSocket upgrade's first bytes past its head (often empty); null for every other request. */
    readonly upgradeHead: Buffer | null = null,
  ) {
    this.snapshot = snapshot;
    this.headers = new ClientHeaders(req.headers);
  }

  get path(): string {
    return this.decision.path;
  }
  set path(v: string) {
    this.decision.path = v;
  }
  get query(): string {
    return this.decision.query;
  }
  set query(v: string) {
    this.decision.query = v;
  }
  get serviceName(): string {
    return this.decision.serviceName;
  }
  set serviceName(v: string) {
    this.decision.serviceName = v;
  }
  get service(): Decision['service'] {
    return this.decision.service;
  }
  set service(v: Decision['service']) {
    this.decision.service = v;
  }
  get requestedVersion(): string | null {
    return this.decision.requestedVersion;
  }
  set requestedVersion(v: string | null) {
    this.decision.requestedVersion = v;
  }
  get version(): string | null {
    return this.decision.version;
  }
  set version(v: string | null) {
    this.decision.version = v;
  }
  get flags(): Decision['flags'] {
    return this.decision.flags;
  }
  set flags(v: Decision['flags']) {
    this.decision.flags = v;
  }
  get keyed(): boolean {
    return this.decision.keyed;
  }
  set keyed(v: boolean) {
    this.decision.keyed = v;
  }
  get aclPath(): string {
    return this.decision.aclPath;
  }
  set aclPath(v: string) {
    this.decision.aclPath = v;
  }
  get upstreamPath(): string {
    return this.decision.upstreamPath;
  }
  set upstreamPath(v: string) {
    this.decision.upstreamPath = v;
  }
  get extKey(): string | null {
    return this.decision.extKey;
  }
  set extKey(v: string | null) {
    this.decision.extKey = v;
  }
  get keyHash(): string | null {
    return this.decision.keyHash;
  }
  set keyHash(v: string | null) {
    this.decision.keyHash = v;
  }
  get key(): Decision['key'] {
    return this.decision.key;
  }
  set key(v: Decision['key']) {
    this.decision.key = v;
  }
  get pkg(): Decision['pkg'] {
    return this.decision.pkg;
  }
  set pkg(v: Decision['pkg']) {
    this.decision.pkg = v;
  }
  get serviceAcl(): Decision['serviceAcl'] {
    return this.decision.serviceAcl;
  }
  set serviceAcl(v: Decision['serviceAcl']) {
    this.decision.serviceAcl = v;
  }
  get aclLevel(): Decision['aclLevel'] {
    return this.decision.aclLevel;
  }
  set aclLevel(v: Decision['aclLevel']) {
    this.decision.aclLevel = v;
  }
  get acl(): Decision['acl'] {
    return this.decision.acl;
  }
  set acl(v: Decision['acl']) {
    this.decision.acl = v;
  }
  get api(): Decision['api'] {
    return this.decision.api;
  }
  set api(v: Decision['api']) {
    this.decision.api = v;
  }
  get isPublic(): boolean {
    return this.decision.isPublic;
  }
  set isPublic(v: boolean) {
    this.decision.isPublic = v;
  }
  get token(): string | null {
    return this.decision.token;
  }
  set token(v: string | null) {
    this.decision.token = v;
  }
  get tokenSource(): Decision['tokenSource'] {
    return this.decision.tokenSource;
  }
  set tokenSource(v: Decision['tokenSource']) {
    this.decision.tokenSource = v;
  }
  get user(): Decision['user'] {
    return this.decision.user;
  }
  set user(v: Decision['user']) {
    this.decision.user = v;
  }
  get tokenClaims(): Decision['tokenClaims'] {
    return this.decision.tokenClaims;
  }
  set tokenClaims(v: Decision['tokenClaims']) {
    this.decision.tokenClaims = v;
  }
  get userEntry(): Decision['userEntry'] {
    return this.decision.userEntry;
  }
  set userEntry(v: Decision['userEntry']) {
    this.decision.userEntry = v;
  }
  get inject(): string | null {
    return this.decision.inject;
  }
  set inject(v: string | null) {
    this.decision.inject = v;
  }
}
