import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * SOAJS's ext key format (soajs-reference §4), for teams that keep SOAJS clients which parse
 * their keys: `tenantId (24 hex) + uId (24 hex) + internal key (32 hex) + len(package) + "_" +
 * package`, AES-256-CBC with key and IV from the env's key password by OpenSSL's EVP_BytesToKey
 * (MD5, one round, no salt) — what node's removed `crypto.createCipher` did. Tessera still stores
 * only the key's SHA-256; this only decides what the key looks like.
 */
function bytesToKey(password: string): { key: Buffer; iv: Buffer } {
  const out: Buffer[] = [];
  let prev = Buffer.alloc(0);
  let size = 0;
  while (size < 48) {
    prev = createHash('md5').update(Buffer.concat([prev, Buffer.from(password, 'binary')])).digest();
    out.push(prev);
    size += prev.length;
  }
  const all = Buffer.concat(out);
  return { key: all.subarray(0, 32), iv: all.subarray(32, 48) };
}

export interface SoajsKeyParts {
  tenantId: string;
  uId: string;
  internalKey: string;
  packageCode: string;
}

export function encodeSoajsKey(parts: Omit<SoajsKeyParts, 'uId'> & { uId?: string }, password: string): string {
  if (!/^[0-9a-f]{24}$/.test(parts.tenantId)) throw new Error('a SOAJS ext key needs a 24-hex tenant id');
  if (!/^[0-9a-f]{32}$/.test(parts.internalKey)) throw new Error('a SOAJS ext key needs a 32-hex internal key');
  if (parts.packageCode.length < 3) throw new Error('a SOAJS ext key needs a package code of 3 characters or more');
  const uId = parts.uId ?? randomBytes(12).toString('hex');
  const plain = `${parts.tenantId}${uId}${parts.internalKey}${parts.packageCode.length}_${parts.packageCode}`;
  const { key, iv } = bytesToKey(password);
  const c = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([c.update(plain, 'utf8'), c.final()]).toString('hex');
}

/** The parts of a SOAJS ext key, or null when it does not decrypt to that form with this password. */
export function decodeSoajsKey(extKey: string, password: string): SoajsKeyParts | null {
  if (!/^[0-9a-f]+$/.test(extKey) || extKey.length % 32 !== 0) return null;
  let plain: string;
  try {
    const { key, iv } = bytesToKey(password);
    const d = createDecipheriv('aes-256-cbc', key, iv);
    plain = Buffer.concat([d.update(Buffer.from(extKey, 'hex')), d.final()]).toString('utf8');
  } catch {
    return null;
  }
  const m = /^([0-9a-f]{24})([0-9a-f]{24})([0-9a-f]{32})(\d+)_(.+)$/.exec(plain);
  return m ? { tenantId: m[1]!, uId: m[2]!, internalKey: m[3]!, packageCode: m[5]! } : null;
}
