import type { DeviceRule, DeviceRules, VersionBound } from './types.js';

/**
 * Ext-key device rules (SOAJS `device.allow`/`device.deny`), matched against the User-Agent.
 * The parser knows the families SOAJS's `useragent` reports for common clients; anything else is
 * family "Other", which an allow list does not admit unless it says "*" or "Other".
 */
export interface Agent {
  family: string;
  major: string;
  minor: string;
  patch: string;
  os: { family: string; major: string; minor: string; patch: string };
}

const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Edge'],
  [/\bOPR\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Opera'],
  [/\bCriOS\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Chrome Mobile iOS'],
  [/\bChrome\/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*\bMobile\b/, 'Chrome Mobile'],
  [/\bChrome\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Chrome'],
  [/\bFxiOS\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Firefox iOS'],
  [/\bFirefox\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Firefox'],
  [/\bVersion\/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*\bMobile\/\S+ Safari/, 'Mobile Safari'],
  [/\bVersion\/(\d+)(?:\.(\d+))?(?:\.(\d+))?.*\bSafari\//, 'Safari'],
  [/\bMSIE (\d+)(?:\.(\d+))?/, 'IE'],
  [/\bTrident\/.*\brv:(\d+)(?:\.(\d+))?/, 'IE'],
  [/^curl\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'curl'],
  [/^Wget\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Wget'],
  [/^PostmanRuntime\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'PostmanRuntime'],
  [/^node-fetch\/(\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'node-fetch'],
];

const SYSTEMS: readonly [RegExp, string][] = [
  [/\b(?:iPhone|CPU) OS (\d+)(?:_(\d+))?(?:_(\d+))?/, 'iOS'],
  [/\bAndroid (\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Android'],
  [/\bWindows NT (\d+)(?:\.(\d+))?/, 'Windows'],
  [/\bMac OS X (\d+)(?:[_.](\d+))?(?:[_.](\d+))?/, 'Mac OS X'],
  [/\bCrOS \S+ (\d+)(?:\.(\d+))?(?:\.(\d+))?/, 'Chrome OS'],
  [/\bUbuntu\b/, 'Ubuntu'],
  [/\bLinux\b/, 'Linux'],
];

function first(ua: string, table: readonly [RegExp, string][]): { family: string; major: string; minor: string; patch: string } {
  for (const [re, family] of table) {
    const m = re.exec(ua);
    if (m) return { family, major: m[1] ?? '', minor: m[2] ?? '', patch: m[3] ?? '' };
  }
  return { family: 'Other', major: '', minor: '', patch: '' };
}

export function parseUserAgent(ua: string): Agent {
  const b = first(ua, BROWSERS);
  return { ...b, os: first(ua, SYSTEMS) };
}

function bound(rule: VersionBound | undefined, value: string): boolean {
  if (rule === undefined || rule === '*') return true;
  if (typeof rule === 'string') return rule === value;
  const n = Number(value);
  if (value === '' || Number.isNaN(n)) return false;
  if (rule.min !== undefined && rule.min !== '*' && n < Number(rule.min)) return false;
  if (rule.max !== undefined && rule.max !== '*' && n > Number(rule.max)) return false;
  return true;
}

function family(rule: string | undefined, value: string): boolean {
  return rule === undefined || rule === '*' || rule.toLowerCase() === value.toLowerCase();
}

function matches(rule: DeviceRule, a: Agent): boolean {
  return (
    family(rule.family, a.family) &&
    bound(rule.major, a.major) &&
    bound(rule.minor, a.minor) &&
    bound(rule.patch, a.patch) &&
    (rule.os === undefined ||
      (family(rule.os.family, a.os.family) &&
        bound(rule.os.major, a.os.major) &&
        bound(rule.os.minor, a.os.minor) &&
        bound(rule.os.patch, a.os.patch)))
  );
}

/** True when the agent may use the key: not denied, and allowed when an allow list exists. */
export function deviceAllowed(rules: DeviceRules, userAgent: string): boolean {
  const agent = parseUserAgent(userAgent);
  if (rules.deny?.some((r) => matches(r, agent))) return false;
  if (rules.allow && rules.allow.length > 0) return rules.allow.some((r) => matches(r, agent));
  return true;
}
