import os from 'node:os';

/**
 * The primary interface's IPv4 address, as Sedna's `get_host_ip()` finds it, but without its
 * trick of "connecting" a UDP socket to 8.8.8.8: we read the interface table, which needs no
 * network and gives the same answer on a pod (one non-internal interface). Falls back to
 * 127.0.0.1 when there is no external interface.
 */
export function primaryHostIp(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string {
  for (const name of Object.keys(interfaces).sort()) {
    for (const info of interfaces[name] ?? []) {
      if (info.family === 'IPv4' && !info.internal) return info.address;
    }
  }
  return '127.0.0.1';
}
