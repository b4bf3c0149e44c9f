import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** CIDR lists compiled into node's BlockList once per snapshot. */
export function compileCidrs(cidrs: readonly string[] | undefined): BlockList | null {
  if (!cidrs || cidrs.length === 0) return null;
  const list = new BlockList();
  for (const entry of cidrs) {
    // Strict: a lenient parse turns the typo `10.0.0.0/` into `/0`, an allow list open to everyone.
    const slash = entry.indexOf('/');
    const addr = slash === -1 ? entry : entry.slice(0, slash);
    const type = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
    if (type === null) throw new Error(`"${entry}" is not an IP address or CIDR`);
    if (slash === -1) {
      list.addAddress(addr, type);
      continue;
    }
    const bitsText = entry.slice(slash + 1);
    const bits = Number(bitsText);
    if (!/^[0-9]{1,3}$/.test(bitsText) || bits > (type === 'ipv4' ? 32 : 128)) {
      throw new Error(`"${entry}" has an invalid prefix length`);
    }
    list.addSubnet(addr, bits, type);
  }
  return list;
}

/** `::ffff:1.2.3.4` (IPv4 on a dual-stack socket) -> `1.2.3.4`. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

export function ipIn(list: BlockList, ip: string): boolean {
  if (isIPv4(ip)) return list.check(ip, 'ipv4');
  if (isIPv6(ip)) return list.check(ip, 'ipv6');
  return false;
}
