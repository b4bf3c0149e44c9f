import { errors } from './errors.js';

/** Deeper than any document the services take (an ACL is ~8 levels); far below what recursion survives. */
export const MAX_JSON_DEPTH = 64;

/**
 * The nesting depth of JSON text, scanned before it is parsed: a body nested 100k deep parses
 * fine but then overflows the stack of whatever walks it (validation, cloning), which used to
 * answer 500. Stops counting as soon as the limit is passed.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Parses a request body that must be a JSON object, with a clear 400 for every way it is not. */
export function parseJsonObject(text: string, what = 'Request body'): Record<string, unknown> {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw errors.badRequest(`${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw errors.badRequest(`${what} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw errors.badRequest(`${what} must be a JSON object`);
  return parsed as Record<string, unknown>;
}
