/** The SOAJS response envelope, as services answer. */
export interface ErrorEnvelope {
  result: false;
  errors: { codes: number[]; details: { code: number; message: string }[] };
}

export function fail(code: number, message: string): ErrorEnvelope {
  return { result: false, errors: { codes: [code], details: [{ code, message }] } };
}

export function ok<T>(data: T): { result: true; data: T } {
  return { result: true, data };
}

/** An expected failure a handler returns (or throws) with its HTTP status. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly code: number,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
