import type { JSONSchemaType } from 'ajv';

/** Process configuration: one schema, validated once at start-up, then frozen. */
export interface Config {
  /** Environment this gateway serves (SOAJS `SOAJS_ENV`), lower case. */
  env: string;
  gateway: {
    host: string;
    port: number;
    maintenancePort: number;
    /** Address the maintenance port binds: loopback unless an operator opens it (it lists every upstream). */
    maintenanceHost: string;
    /** CIDRs of proxies whose X-Forwarded-For is believed; empty: only the socket address counts. */
    trustedProxies: string[];
    /** Bytes; SOAJS_MAX_INJECT_HEADER_SIZE. */
    maxInjectHeaderBytes: number;
    /** On SIGTERM/SIGINT, how long in-flight requests may take to finish before they are cut, seconds. */
    drainSeconds: number;
    /** Request line and headers together, bytes: more is 431 (code 182). */
    maxHeaderBytes: number;
    /** The request target, bytes: more is 414 (code 183). */
    maxUrlBytes: number;
    /** Header fields: more is 431 (code 184), never a silent drop. */
    maxHeaderCount: number;
    /** A client must have sent its whole request head within this, seconds (slowloris): else 408 (code 185). */
    headersTimeoutSeconds: number;
    /** A response the client leaves unread (its socket full) this long is cut, and its upstream let go, seconds. */
    sendTimeoutSeconds: number;
    /** Open client connections per process; past it new ones are closed at once. 0: no limit. */
    maxConnections: number;
    /** Largest request body for services that set no `maxBodyBytes`, bytes; 0: no limit. */
    maxBodyBytes: number;
    /** Connections the kernel may queue before the gateway accepts them (capped by net.core.somaxconn). */
    listenBacklog: number;
    /**
     * When answers carry RateLimit-Policy/RateLimit: `always`; `near` (default) once a counted limit
     * has a fifth or less left, and on every 429; `off` (429s keep Retry-After).
     */
    rateLimitHeaders: 'always' | 'near' | 'off';
    websocket: {
      /** Proxy WebSocket upgrades; off: an upgrade is refused with 403 (code 192). */
      enabled: boolean;
      /** A session with no bytes either way for this long is closed, both sides, seconds. */
      idleSeconds: number;
      /** A session is closed this long after its upgrade whatever its traffic, seconds. */
      maxLifetimeSeconds: number;
    };
  };
  /** How the gateway treats the services behind it when they fail or slow down. */
  upstream: {
    /** Further attempts after a failed first one (idempotent requests without a body only). */
    retries: number;
    /** Retries may add at most this share of the traffic, percent (per process). */
    retryBudgetPercent: number;
    /** Retry 500/502/503/504 answers too, not only resets and refused connections. */
    retryOn5xx: boolean;
    /** Requests in flight to one upstream host per process; past it requests get 503 (code 189) at once. */
    maxRequestsPerHost: number;
    /** 5xx answers or failed exchanges in a row that eject a host; 0: no passive ejection. */
    ejectAfterErrors: number;
    /** The first ejection lasts this long; each next one of the same host once more, seconds. */
    ejectBaseSeconds: number;
    ejectMaxSeconds: number;
  };
  security: {
    /**
     * The secret the gateway signs `soajsinjectobj` with and services verify. Absent: one is
     * generated on first start and kept in the store, shared by every process of that store.
     */
    injectSecret?: string;
    /** Code of the platform's own tenant: only its owner/viewer groups reach the registry API. */
    ownerTenant: string;
    login: {
      /** Wrong passwords for one username before each further try must wait. */
      userFreeFailures: number;
      /** Wrong passwords from one client address before each further try must wait. */
      ipFreeFailures: number;
      /** Failures are forgotten this long after the last one, seconds. */
      windowSeconds: number;
      /** The wait doubles per failure past the free ones, up to this, seconds. */
      maxDelaySeconds: number;
    };
  };
  /** `file:<data dir>` (embedded) or `redis://host:port/db`. */
  store: string;
  /**
   * What a gateway does when the store lost the registry it serves (a Redis restarted without
   * AOF comes back empty): `hold` keeps serving the last good registry and cached keys, not ready,
   * until an operator runs `tessera store accept-reset`; `accept` takes the store as it is (for a
   * store meant to be thrown away, e.g. a test Redis reseeded on every start).
   */
  storeReset: 'hold' | 'accept';
  /** Directory of declarative YAML loaded into an empty store. */
  seed: string;
  /** The outbox of registry events (issue 17): what `GET /registry/events` reads. */
  events: {
    /** Events older than this are trimmed as new ones are written, days. */
    retentionDays: number;
  };
  /** Start the bundled services (example03, …) beside the gateway. */
  demo: boolean;
  timeouts: {
    /** Default upstream timeout, seconds, when a service sets none (SOAJS requestTimeout). */
    requestSeconds: number;
    connectSeconds: number;
    /** Longest a client may take to send a whole request, body included (slow-upload guard). */
    clientRequestSeconds: number;
    healthCheckSeconds: number;
    keepAliveSeconds: number;
  };
  cors: {
    enabled: boolean;
    origin: string;
    credentials: boolean;
    methods: string;
    headers: string;
    maxAgeSeconds: number;
  };
  oauth: {
    accessTokenSeconds: number;
    refreshTokenSeconds: number;
    /** PKCS#8 PEM of an EC P-256 key to sign access tokens; absent: one is generated and kept in the store. */
    signingKeyFile?: string;
  };
  soajs: {
    /** The env's SOAJS key password: lets the registry issue ext keys in SOAJS's encrypted format. */
    keyPassword?: string;
  };
  /** What the `tessera` admin commands (tenants, keys) call: the registry API through a gateway. */
  admin: {
    url: string;
    /** The owner tenant's ext key. */
    key?: string;
    /** An access token of an owner (or give user + password). */
    token?: string;
    user?: string;
    password?: string;
  };
  cache: {
    /** Ext keys kept in memory per gateway. */
    keys: number;
    /** Users kept in memory per gateway. */
    users: number;
    /** Verified access tokens kept in memory per gateway. */
    tokens: number;
  };
  services: {
    example03: { port: number };
    oauth: { port: number };
    urac: { port: number };
    registry: { port: number };
  };
}

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
/** An absent section starts empty and ajv (useDefaults) fills its fields' defaults in. */
const filledByDefaults = {} as never;

export const configSchema: JSONSchemaType<Config> = {
  type: 'object',
  additionalProperties: false,
  required: ['env', 'gateway', 'upstream', 'security', 'store', 'storeReset', 'seed', 'events', 'demo', 'timeouts', 'cors', 'oauth', 'soajs', 'admin', 'cache', 'services'],
  properties: {
    env: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$', default: 'dev', description: 'environment code, lower case' },
    gateway: {
      type: 'object',
      additionalProperties: false,
      required: [
        'host',
        'port',
        'maintenancePort',
        'maintenanceHost',
        'trustedProxies',
        'maxInjectHeaderBytes',
        'drainSeconds',
        'maxHeaderBytes',
        'maxUrlBytes',
        'maxHeaderCount',
        'headersTimeoutSeconds',
        'sendTimeoutSeconds',
        'maxConnections',
        'maxBodyBytes',
        'listenBacklog',
        'rateLimitHeaders',
        'websocket',
      ],
      default: filledByDefaults,
      properties: {
        host: { type: 'string', minLength: 1, default: '0.0.0.0', description: 'address the gateway binds' },
        port: { ...port, default: 4000, description: 'client port; 0 picks a free one' },
        maintenancePort: { ...port, default: 5000, description: 'heartbeat/awareness port' },
        maintenanceHost: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'address the maintenance port binds' },
        trustedProxies: { type: 'array', items: { type: 'string' }, default: [], description: 'CIDRs whose X-Forwarded-For is trusted' },
        maxInjectHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576, default: 65536, description: 'largest soajsinjectobj header' },
        drainSeconds: { type: 'number', minimum: 0, maximum: 3600, default: 30, description: 'graceful drain deadline' },
        maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576, default: 16384, description: 'request line + headers' },
        maxUrlBytes: { type: 'integer', minimum: 256, maximum: 1048576, default: 8192, description: 'request target' },
        maxHeaderCount: { type: 'integer', minimum: 8, maximum: 10000, default: 100, description: 'header fields' },
        headersTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 30, description: 'time to send the request head' },
        sendTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 60, description: 'time a client may leave its answer unread' },
        maxConnections: { type: 'integer', minimum: 0, maximum: 1000000, default: 10000, description: 'client connections per process, 0: no limit' },
        maxBodyBytes: { type: 'integer', minimum: 0, maximum: 1099511627776, default: 0, description: 'request body bytes, 0: no limit' },
        listenBacklog: { type: 'integer', minimum: 1, maximum: 65535, default: 4096, description: 'accept queue length' },
        rateLimitHeaders: { type: 'string', enum: ['always', 'near', 'off'], default: 'near', description: 'when answers carry the RateLimit headers' },
        websocket: {
          type: 'object',
          additionalProperties: false,
          required: ['enabled', 'idleSeconds', 'maxLifetimeSeconds'],
          default: filledByDefaults,
          properties: {
            enabled: { type: 'boolean', default: true, description: 'proxy WebSocket upgrades (off: 403, code 192)' },
            idleSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 300, description: 'no bytes either way for this long closes a session' },
            maxLifetimeSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 604800, default: 3600, description: 'longest a session may last' },
          },
        },
      },
    },
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['retries', 'retryBudgetPercent', 'retryOn5xx', 'maxRequestsPerHost', 'ejectAfterErrors', 'ejectBaseSeconds', 'ejectMaxSeconds'],
      default: filledByDefaults,
      properties: {
        retries: { type: 'integer', minimum: 0, maximum: 5, default: 1 },
        retryBudgetPercent: { type: 'number', minimum: 0, maximum: 100, default: 20 },
        retryOn5xx: { type: 'boolean', default: true },
        maxRequestsPerHost: { type: 'integer', minimum: 1, maximum: 100000, default: 512 },
        ejectAfterErrors: { type: 'integer', minimum: 0, maximum: 1000, default: 5 },
        ejectBaseSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 30 },
        ejectMaxSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 300 },
      },
    },
    security: {
      type: 'object',
      additionalProperties: false,
      required: ['ownerTenant', 'login'],
      default: filledByDefaults,
      properties: {
        injectSecret: { type: 'string', minLength: 32, maxLength: 512, nullable: true, description: 'at least 32 characters' },
        ownerTenant: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'OWNER' },
        login: {
          type: 'object',
          additionalProperties: false,
          required: ['userFreeFailures', 'ipFreeFailures', 'windowSeconds', 'maxDelaySeconds'],
          default: filledByDefaults,
          properties: {
            userFreeFailures: { type: 'integer', minimum: 1, maximum: 1000, default: 5 },
            ipFreeFailures: { type: 'integer', minimum: 1, maximum: 100000, default: 20 },
            windowSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 900 },
            maxDelaySeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
          },
        },
      },
    },
    store: { type: 'string', pattern: '^(file:.+|redis://.*)$', default: 'file:./data', description: 'file:<dir> or redis://host:port/db' },
    storeReset: {
      type: 'string',
      enum: ['hold', 'accept'],
      default: 'hold',
      description: 'hold (serve the last good registry, not ready, until `tessera store accept-reset`) or accept',
    },
    seed: { type: 'string', minLength: 1, default: './config/demo', description: 'directory of declarative YAML' },
    events: {
      type: 'object',
      additionalProperties: false,
      required: ['retentionDays'],
      default: filledByDefaults,
      properties: {
        retentionDays: { type: 'integer', minimum: 1, maximum: 3650, default: 30, description: 'days an event stays in the outbox' },
      },
    },
    demo: { type: 'boolean', default: true, description: 'start the bundled services' },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      required: ['requestSeconds', 'connectSeconds', 'clientRequestSeconds', 'healthCheckSeconds', 'keepAliveSeconds'],
      default: filledByDefaults,
      properties: {
        requestSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 30 },
        connectSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 600, default: 5 },
        clientRequestSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 300 },
        healthCheckSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 5 },
        keepAliveSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600, default: 4 },
      },
    },
    cors: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled', 'origin', 'credentials', 'methods', 'headers', 'maxAgeSeconds'],
      default: filledByDefaults,
      properties: {
        enabled: { type: 'boolean', default: true },
        origin: { type: 'string', default: '*' },
        // Off by default: with it on and origin `*`, every site's origin is reflected with credentials.
        credentials: { type: 'boolean', default: false },
        methods: { type: 'string', default: 'GET,HEAD,PUT,PATCH,POST,DELETE' },
        headers: {
          type: 'string',
          default: 'key,soajsauth,soajsDeviceId,accept,accept-encoding,accept-language,access_token,authorization,content-type,if-match',
        },
        maxAgeSeconds: { type: 'integer', minimum: 0, default: 1728000 },
      },
    },
    oauth: {
      type: 'object',
      additionalProperties: false,
      required: ['accessTokenSeconds', 'refreshTokenSeconds'],
      default: filledByDefaults,
      properties: {
        accessTokenSeconds: { type: 'integer', minimum: 1, maximum: 604800, default: 7200 },
        refreshTokenSeconds: { type: 'integer', minimum: 1, maximum: 31536000, default: 1209600 },
        signingKeyFile: { type: 'string', minLength: 1, nullable: true },
      },
    },
    soajs: {
      type: 'object',
      additionalProperties: false,
      required: [],
      default: filledByDefaults,
      properties: { keyPassword: { type: 'string', minLength: 1, nullable: true } },
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      default: filledByDefaults,
      properties: {
        url: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:4000' },
        key: { type: 'string', nullable: true },
        token: { type: 'string', nullable: true },
        user: { type: 'string', nullable: true },
        password: { type: 'string', nullable: true },
      },
    },
    cache: {
      type: 'object',
      additionalProperties: false,
      required: ['keys', 'users', 'tokens'],
      default: filledByDefaults,
      properties: {
        keys: { type: 'integer', minimum: 1, default: 100000 },
        users: { type: 'integer', minimum: 1, default: 100000 },
        tokens: { type: 'integer', minimum: 1, default: 100000 },
      },
    },
    services: {
      type: 'object',
      additionalProperties: false,
      required: ['example03', 'oauth', 'urac', 'registry'],
      default: filledByDefaults,
      properties: {
        example03: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          default: filledByDefaults,
          properties: { port: { ...port, default: 4023 } },
        },
        oauth: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          default: filledByDefaults,
          properties: { port: { ...port, default: 4002 } },
        },
        urac: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          default: filledByDefaults,
          properties: { port: { ...port, default: 4001 } },
        },
        registry: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          default: filledByDefaults,
          properties: { port: { ...port, default: 4005 } },
        },
      },
    },
  },
};

/**
 * Environment variables understood, and the config field each sets. Nothing outside `config/`
 * reads `process.env`.
 */
export const ENV_VARS: Readonly<Record<string, string>> = Object.freeze({
  TESSERA_ENV: 'env',
  TESSERA_HOST: 'gateway.host',
  TESSERA_PORT: 'gateway.port',
  TESSERA_MAINTENANCE_PORT: 'gateway.maintenancePort',
  TESSERA_MAINTENANCE_HOST: 'gateway.maintenanceHost',
  TESSERA_DRAIN_SECONDS: 'gateway.drainSeconds',
  TESSERA_MAX_HEADER_BYTES: 'gateway.maxHeaderBytes',
  TESSERA_MAX_URL_BYTES: 'gateway.maxUrlBytes',
  TESSERA_MAX_HEADER_COUNT: 'gateway.maxHeaderCount',
  TESSERA_HEADERS_TIMEOUT: 'gateway.headersTimeoutSeconds',
  TESSERA_SEND_TIMEOUT: 'gateway.sendTimeoutSeconds',
  TESSERA_MAX_CONNECTIONS: 'gateway.maxConnections',
  TESSERA_MAX_BODY_BYTES: 'gateway.maxBodyBytes',
  TESSERA_RATE_LIMIT_HEADERS: 'gateway.rateLimitHeaders',
  TESSERA_UPSTREAM_RETRIES: 'upstream.retries',
  TESSERA_MAX_REQUESTS_PER_HOST: 'upstream.maxRequestsPerHost',
  TESSERA_WEBSOCKET: 'gateway.websocket.enabled',
  TESSERA_WEBSOCKET_IDLE_SECONDS: 'gateway.websocket.idleSeconds',
  TESSERA_WEBSOCKET_MAX_LIFETIME_SECONDS: 'gateway.websocket.maxLifetimeSeconds',
  TESSERA_INJECT_SECRET: 'security.injectSecret',
  TESSERA_OWNER_TENANT: 'security.ownerTenant',
  TESSERA_TRUSTED_PROXIES: 'gateway.trustedProxies',
  TESSERA_MAX_INJECT_HEADER_BYTES: 'gateway.maxInjectHeaderBytes',
  TESSERA_STORE: 'store',
  TESSERA_STORE_RESET: 'storeReset',
  TESSERA_SEED: 'seed',
  TESSERA_EVENTS_RETENTION_DAYS: 'events.retentionDays',
  TESSERA_DEMO: 'demo',
  TESSERA_REQUEST_TIMEOUT: 'timeouts.requestSeconds',
  TESSERA_CONNECT_TIMEOUT: 'timeouts.connectSeconds',
  TESSERA_CLIENT_REQUEST_TIMEOUT: 'timeouts.clientRequestSeconds',
  TESSERA_HEALTH_CHECK_INTERVAL: 'timeouts.healthCheckSeconds',
  TESSERA_CORS: 'cors.enabled',
  TESSERA_CORS_ORIGIN: 'cors.origin',
  TESSERA_EXAMPLE03_PORT: 'services.example03.port',
  TESSERA_OAUTH_PORT: 'services.oauth.port',
  TESSERA_URAC_PORT: 'services.urac.port',
  TESSERA_REGISTRY_PORT: 'services.registry.port',
  TESSERA_ACCESS_TOKEN_SECONDS: 'oauth.accessTokenSeconds',
  TESSERA_REFRESH_TOKEN_SECONDS: 'oauth.refreshTokenSeconds',
  TESSERA_SIGNING_KEY_FILE: 'oauth.signingKeyFile',
  TESSERA_SOAJS_KEY_PASSWORD: 'soajs.keyPassword',
  TESSERA_ADMIN_URL: 'admin.url',
  TESSERA_ADMIN_KEY: 'admin.key',
  TESSERA_ADMIN_TOKEN: 'admin.token',
  TESSERA_ADMIN_USER: 'admin.user',
  TESSERA_ADMIN_PASSWORD: 'admin.password',
  TESSERA_CACHE_KEYS: 'cache.keys',
  TESSERA_CACHE_USERS: 'cache.users',
  TESSERA_CACHE_TOKENS: 'cache.tokens',
});
