/**
 * Service versions: "1", "1.1". SOAJS stores "1.1" as "1x1" in ACL keys and compares with
 * parseFloat ("1.10" == "1.1"); Tessera compares major then minor as integers.
 */
const VERSION = /^v?([0-9]+)(?:[.x]([0-9]+))?$/;

/** Canonical "M" or "M.m", or null when the text is no version. */
export function normalizeVersion(text: string): string | null {
  const m = VERSION.exec(text);
  if (!m) return null;
  const major = String(Number(m[1]));
  return m[2] === undefined ? major : `${major}.${Number(m[2])}`;
}

export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

export function latestVersion(versions: Iterable<string>): string | null {
  let best: string | null = null;
  for (const v of versions) if (best === null || compareVersions(v, best) > 0) best = v;
  return best;
}
