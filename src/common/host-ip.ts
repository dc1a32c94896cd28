import fs from 'node:fs';
import os from 'node:os';

/**
 * The primary interface's IPv4 address, as Sedna's `get_host_ip()` finds it. Sedna "connects" a
 * UDP socket to 8.8.8.8 and reads the source address the kernel picks, which is the address of the
 * default route's interface. We ask the same question without the network: the interface of the
 * default route in the kernel's routing table (Linux `/proc/net/route`, lowest metric wins).
 * Without a routing table (not Linux, or no default route) the first non-internal IPv4 address
 * by interface name wins, skipping the bridges that container runtimes add (docker0, cni-podman0,
 * veth…), which sort before eth0 and would otherwise be taken on a host-network node.
 * Falls back to 127.0.0.1 when there is no external interface.
 */
export function primaryHostIp(
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
  routeTable: string | undefined = readRouteTable(),
): string {
  const ipv4Of = (name: string): string | undefined =>
    interfaces[name]?.find((info) => info.family === 'IPv4' && !info.internal)?.address;
  for (const name of defaultRouteInterfaces(routeTable)) {
    const address = ipv4Of(name);
    if (address !== undefined) return address;
  }
  const names = Object.keys(interfaces).sort();
  const ranked = [...names.filter((n) => !VIRTUAL_BRIDGE.test(n)), ...names.filter((n) => VIRTUAL_BRIDGE.test(n))];
  for (const name of ranked) {
    const address = ipv4Of(name);
    if (address !== undefined) return address;
  }
  return '127.0.0.1';
}

/** Interfaces that container runtimes and hypervisors create beside the node's own. */
const VIRTUAL_BRIDGE = /^(docker\d*|br-|cni|podman|veth|virbr|flannel|cali|tunl|vxlan|kube-|weave|lxc|lxd)/;

/** The interfaces that carry a default route (destination 0.0.0.0/0, route up), lowest metric first. */
export function defaultRouteInterfaces(routeTable: string | undefined): string[] {
  if (routeTable === undefined) return [];
  const routes: { iface: string; metric: number }[] = [];
  for (const line of routeTable.split('\n').slice(1)) {
    const [iface, destination, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (iface === undefined || destination !== '00000000' || mask !== '00000000') continue;
    const up = (Number.parseInt(flags ?? '0', 16) & 0x1) === 1;
    if (up) routes.push({ iface, metric: Number.parseInt(metric ?? '0', 10) || 0 });
  }
  return routes.sort((a, b) => a.metric - b.metric).map((r) => r.iface);
}

function readRouteTable(): string | undefined {
  try {
    return fs.readFileSync('/proc/net/route', 'utf8');
  } catch {
    return undefined;
  }
}
