/** Value of `name` in a raw query string, decoded; undefined when absent, null when malformed. */
export function queryParam(query: string, name: string): string | undefined | null {
  if (query === '') return undefined;
  let from = 0;
  while (from <= query.length) {
    const amp = query.indexOf('&', from);
    const end = amp === -1 ? query.length : amp;
    if (query.startsWith(name, from) && query.charCodeAt(from + name.length) === 61 /* = */) {
      const value = query.slice(from + name.length + 1, end);
      try {
        return decodeURIComponent(value.replace(/\+/g, ' '));
      } catch {
        return null;
      }
    }
    if (amp === -1) break;
    from = amp + 1;
  }
  return undefined;
}

/**
 * A raw query without every `name=…` parameter (and a bare `name`), the rest as sent; '' when
 * nothing is left. Most queries do not mention it: answered without splitting.
 */
export function dropParam(query: string, name: string): string {
  if (query === '' || !query.includes(name)) return query;
  const kept = query.split('&').filter((p) => p !== name && !p.startsWith(`${name}=`));
  return kept.join('&');
}
