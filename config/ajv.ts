import { Ajv, type Options } from 'ajv';

/**
 * Every Ajv instance in Tessera comes from here, with ajv's code optimiser off.
 *
 * The optimiser tracks variable names in objects keyed by generated names (`key99`, `valid12`, …),
 * each started from `{}`. Compiling the registry's schemas adds well over a thousand distinct first
 * properties to V8's root map of `{}`, which then refuses new transitions for the rest of the
 * process: every object later built as `{}` + `o[name] = …` with a first key not seen before (header
 * objects in node, undici and the proxy) gets a map of its own, and the inline caches reading them
 * go megamorphic. Unoptimised validators differ by a few unused assignments; the data plane keeps
 * shared maps (`test/config/ajv.test.ts` checks it in a fresh process).
 */
export function newAjv(options: Options = {}): Ajv {
  return new Ajv({ ...options, code: { ...options.code, optimize: false } });
}
