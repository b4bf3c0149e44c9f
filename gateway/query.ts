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
