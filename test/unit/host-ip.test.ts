import type os from 'node:os';
import { defaultRouteInterfaces, primaryHostIp } from '../../src/common/host-ip.js';

const v4 = (address: string, internal = false): os.NetworkInterfaceInfo => ({
  address,
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal,
  cidr: `${address}/24`,
});

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
// Captured from a node where podman has created its bridge (which sorts before eth0).
const ROUTES = [
  HEADER,
  'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
  'cni-podman0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
].join('\n');

const NODE = {
  lo: [v4('127.0.0.1', true)],
  'cni-podman0': [v4('10.88.0.1')],
  eth0: [v4('192.0.2.15')],
};

describe('primaryHostIp: the address Sedna get_host_ip() would find', () => {
  test('the default route interface wins over a container bridge that sorts first', () => {
    expect(primaryHostIp(NODE, ROUTES)).toBe('192.0.2.15');
  });

  test('of two default routes the lower metric wins; a route that is down is ignored', () => {
    const routes = [
      HEADER,
      'wlan0\t00000000\t010200C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'eth1\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0', // flags without RTF_UP
      'eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0',
    ].join('\n');
    expect(defaultRouteInterfaces(routes)).toEqual(['eth0', 'wlan0']);
    expect(
      primaryHostIp({ eth1: [v4('198.51.100.1')], wlan0: [v4('203.0.113.9')], eth0: [v4('192.0.2.7')] }, routes),
    ).toBe('192.0.2.7');
  });

  test('without a routing table, bridges rank after the node interfaces', () => {
    expect(primaryHostIp(NODE, undefined)).toBe('192.0.2.15');
    expect(primaryHostIp({ docker0: [v4('172.17.0.1')], veth1: [v4('169.254.1.1')] }, undefined)).toBe('172.17.0.1');
  });

  test('a default route through an interface without IPv4 falls back to the table', () => {
    const routes = [HEADER, 'tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0'].join('\n');
    expect(primaryHostIp(NODE, routes)).toBe('192.0.2.15');
  });

  test('only loopback: 127.0.0.1; garbage in the route table is ignored', () => {
    expect(primaryHostIp({ lo: [v4('127.0.0.1', true)] }, 'not a table\n\u0000\t\t')).toBe('127.0.0.1');
    expect(defaultRouteInterfaces('')).toEqual([]);
  });

  test('on this machine it is one of its own non-internal IPv4 addresses (or loopback)', () => {
    const found = primaryHostIp();
    expect(found).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
  });
});
