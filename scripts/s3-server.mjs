#!/usr/bin/env node
/**
 * A real S3-compatible server for tests, CI and benchmarks: a single-node OpenStack Swift with the
 * s3api middleware (SigV4 signatures checked, real multipart uploads), on 127.0.0.1 only.
 *
 *   node scripts/s3-server.mjs [--bucket NAME]... [--keep-logs]
 *
 * Picks free ports at start (two runs never clash), writes every config file and the three
 * one-replica rings into a fresh temp folder, starts memcached, the account/container/object
 * servers and the proxy, waits for their /healthcheck, optionally creates buckets, then prints ONE
 * JSON line on stdout:
 *
 *   {"endpoint":"http://127.0.0.1:PORT","accessKeyId":"test:tester","secretAccessKey":"testing",
 *    "region":"us-east-1","pid":123,"dir":"/tmp/sedna-s3-...","buckets":[...],"startupMs":2100}
 *
 * It stops everything and removes the folder on SIGTERM, SIGINT, or when its parent process dies.
 * The servers themselves get SIGKILL from the kernel if this script is killed outright (setpriv
 * --pdeathsig), so no Swift process outlives it; folders left by a killed run are swept by the
 * next one.
 *
 * Needs the Debian packages `swift swift-proxy swift-account swift-container swift-object
 * memcached`: bash scripts/install-system-deps.sh
 */
/* global fetch, AbortSignal, setInterval */
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DIR_PREFIX = 'sedna-s3-';
const ACCESS_KEY = 'test:tester';
const SECRET_KEY = 'testing';
const REGION = 'us-east-1';
const STARTUP_TIMEOUT_MS = 30_000;
const INSTALL_HINT = 'install them with: bash scripts/install-system-deps.sh';
const BINARIES = [
  'memcached',
  'swift-proxy-server',
  'swift-account-server',
  'swift-container-server',
  'swift-object-server',
];

const args = process.argv.slice(2);
const buckets = [];
let keepLogs = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--bucket' && args[i + 1] !== undefined) buckets.push(args[++i]);
  else if (args[i] === '--keep-logs') keepLogs = true;
  else {
    console.error(`usage: node scripts/s3-server.mjs [--bucket NAME]... [--keep-logs] (unknown argument ${args[i]})`);
    process.exit(2);
  }
}

const started = Date.now();
/** @type {{ name: string, child: import('node:child_process').ChildProcess }[]} */
const children = [];
let dir = '';
let stopping = false;

function findBinary(name) {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/bin', '/usr/sbin'])) {
    const file = path.join(d, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** Free loopback ports: all held open together so they differ, then released for the servers. */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Removes folders of earlier runs whose owner process is gone (a run killed with SIGKILL). */
async function sweepStale() {
  const tmp = os.tmpdir();
  for (const name of await fsp.readdir(tmp).catch(() => [])) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const folder = path.join(tmp, name);
    const pid = Number(await fsp.readFile(path.join(folder, 'owner.pid'), 'utf8').catch(() => 'NaN'));
    if (!Number.isInteger(pid)) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if (err.code === 'ESRCH') await fsp.rm(folder, { recursive: true, force: true });
    }
  }
}

function storageConf(kind, port, user) {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = ${user}
swift_dir = ${dir}/etc
devices = ${dir}/srv
mount_check = false
log_level = WARNING

[pipeline:main]
pipeline = healthcheck ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}

[filter:healthcheck]
use = egg:swift#healthcheck
`;
}

function proxyConf(port, memcachePort, user) {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = ${user}
swift_dir = ${dir}/etc
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = ${REGION}

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = ${SECRET_KEY} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcachePort}

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
`;
}

// Swift's own RingBuilder (what swift-ring-builder runs), all three rings in one Python process:
// nine swift-ring-builder runs would cost ~3 s of interpreter start-up on two cores.
const RING_SCRIPT = `
import sys
from swift.common.ring import RingBuilder
swift_dir = sys.argv[1]
for spec in sys.argv[2:]:
    kind, port = spec.split(':')
    builder = RingBuilder(8, 1, 1)  # 2^8 partitions, 1 replica, min_part_hours 1
    builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),
                     'device': 'd1', 'weight': 100, 'meta': ''})
    builder.rebalance()
    builder.save('%s/%s.builder' % (swift_dir, kind))
    builder.get_ring().save('%s/%s.ring.gz' % (swift_dir, kind))
`;

async function buildRings(ports) {
  // The interpreter Swift's own scripts use (Debian: /usr/bin/python3), not whatever `python3` is on PATH.
  const shebang = (await fsp.readFile(findBinary('swift-proxy-server'), 'utf8')).split('\n', 1)[0];
  const python = /^#!\s*(\S+)/.exec(shebang)?.[1] ?? '/usr/bin/python3';
  await run(python, [
    '-c',
    RING_SCRIPT,
    path.join(dir, 'etc'),
    `account:${ports.account}`,
    `container:${ports.container}`,
    `object:${ports.object}`,
  ]);
}

function start(name, command, commandArgs) {
  const log = fs.openSync(path.join(dir, 'log', `${name}.log`), 'a');
  // setpriv makes the kernel kill the server if this script dies without cleaning up.
  const setpriv = findBinary('setpriv');
  const [file, argv] =
    setpriv === undefined ? [command, commandArgs] : [setpriv, ['--pdeathsig', 'SIGKILL', command, ...commandArgs]];
  const child = spawn(file, argv, { stdio: ['ignore', log, log], detached: false });
  fs.closeSync(log);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`s3-server: ${name} exited (${signal ?? code}); see ${path.join(dir, 'log', `${name}.log`)}`);
      void stop(1);
    }
  });
  children.push({ name, child });
}

async function healthy(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

function memcachedUp(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitReady(ports) {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const states = await Promise.all([
      memcachedUp(ports.memcached),
      healthy(ports.account),
      healthy(ports.container),
      healthy(ports.object),
      healthy(ports.proxy),
    ]);
    if (states.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`Swift did not become healthy within ${STARTUP_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Buckets are Swift containers of the account AUTH_test; create them through Swift's own API. */
async function createBuckets(proxyPort) {
  if (buckets.length === 0) return;
  const auth = await fetch(`http://127.0.0.1:${proxyPort}/auth/v1.0`, {
    headers: { 'x-auth-user': ACCESS_KEY, 'x-auth-key': SECRET_KEY },
  });
  const token = auth.headers.get('x-auth-token');
  const storage = auth.headers.get('x-storage-url');
  if (!auth.ok || token === null || storage === null) throw new Error(`tempauth answered ${auth.status}`);
  for (const bucket of buckets) {
    const res = await fetch(`${storage}/${encodeURIComponent(bucket)}`, {
      method: 'PUT',
      headers: { 'x-auth-token': token },
    });
    if (!res.ok) throw new Error(`creating bucket ${bucket}: Swift answered ${res.status}`);
  }
}

async function stop(code) {
  if (stopping) return;
  stopping = true;
  const exits = children.map(
    ({ child }) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  );
  const killTimer = setTimeout(() => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, 3000);
  await Promise.all(exits);
  clearTimeout(killTimer);
  if (dir !== '' && !keepLogs) await fsp.rm(dir, { recursive: true, force: true });
  process.exit(code);
}

async function main() {
  const missing = BINARIES.filter((b) => findBinary(b) === undefined);
  if (missing.length > 0 || !fs.existsSync('/etc/swift/swift.conf')) {
    throw new Error(
      `the S3 test server needs OpenStack Swift and memcached, but ${
        missing.length > 0 ? missing.join(', ') : '/etc/swift/swift.conf'
      } is missing; ${INSTALL_HINT}`,
    );
  }
  await sweepStale();
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), DIR_PREFIX));
  await fsp.writeFile(path.join(dir, 'owner.pid'), String(process.pid));
  await Promise.all(['etc', 'log', 'srv/d1'].map((d) => fsp.mkdir(path.join(dir, d), { recursive: true })));

  const [memcached, account, container, object, proxy] = await freePorts(5);
  const ports = { memcached, account, container, object, proxy };
  // Swift switches to `user` after binding; the current user keeps the folder readable and keeps
  // the kernel's parent-death signal (a uid change would clear it).
  const user = os.userInfo().username;
  await Promise.all([
    fsp.writeFile(path.join(dir, 'etc', 'account-server.conf'), storageConf('account', account, user)),
    fsp.writeFile(path.join(dir, 'etc', 'container-server.conf'), storageConf('container', container, user)),
    fsp.writeFile(path.join(dir, 'etc', 'object-server.conf'), storageConf('object', object, user)),
    fsp.writeFile(path.join(dir, 'etc', 'proxy-server.conf'), proxyConf(proxy, memcached, user)),
    buildRings(ports),
  ]);

  start('memcached', 'memcached', ['-l', '127.0.0.1', '-p', String(memcached), '-U', '0', '-m', '64', '-u', user]);
  for (const kind of ['account', 'container', 'object']) {
    start(kind, `swift-${kind}-server`, [path.join(dir, 'etc', `${kind}-server.conf`)]);
  }
  start('proxy', 'swift-proxy-server', [path.join(dir, 'etc', 'proxy-server.conf')]);
  await waitReady(ports);
  await createBuckets(proxy);

  process.stdout.write(
    `${JSON.stringify({
      endpoint: `http://127.0.0.1:${proxy}`,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET_KEY,
      region: REGION,
      pid: process.pid,
      dir,
      buckets,
      startupMs: Date.now() - started,
    })}\n`,
  );
}

process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
// The parent (a test runner, a benchmark) died without stopping us: we are reparented.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(0);
}, 500).unref();
// Keeps the event loop alive while the servers run.
setInterval(() => {}, 1 << 30);

main().catch((err) => {
  console.error(`s3-server: ${err instanceof Error ? err.message : String(err)}`);
  void stop(1);
});
