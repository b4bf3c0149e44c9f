/** A non-empty string field of a token request's body (JSON or form), else null. */
export function str(body: Record<string, unknown>, name: string): string | null {
  const v = body[name];
  return typeof v === 'string' && v !== '' ? v : null;
}
