/** JSON Merge Patch (RFC 7396). */

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Applies `patch` to `target` and returns the result; neither is modified. Objects merge member by
 * member, `null` removes a member, anything else (arrays included) replaces. Members are defined,
 * never assigned, so a `"__proto__"` member is a plain (and later refused) field, not a prototype.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? structuredClone(target) : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) {
      delete out[name];
      continue;
    }
    const merged = applyMergePatch(Object.hasOwn(out, name) ? out[name] : undefined, value);
    Object.defineProperty(out, name, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
