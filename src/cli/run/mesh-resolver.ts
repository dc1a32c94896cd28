/**
 * Loaded into a worker's Node by `sedna run` (`NODE_OPTIONS=--import=...`, edgemesh.ts) for the job
 * kinds whose workers reach each other through Service names (multi-edge inference): resolves the
 * run's Service names (`feature-extraction-fe`, `feature-extraction-fe.default`, `.svc`,
 * `.svc.cluster.local`) to the pods' local addresses, as edgemesh's DNS does in a cluster. Every
 * other name goes to the system resolver. The table is the JSON file named by
 * `SEDNA_RUN_MESH_HOSTS`, which the runner rewrites (atomically) as Services appear; it is read
 * again when it changed. Nothing else of the worker is touched.
 */
import dns from 'node:dns';
import fs from 'node:fs';

const TABLE_FILE = process.env.SEDNA_RUN_MESH_HOSTS;

let cached: { stamp: string; hosts: Record<string, string> } | undefined;

function table(): Record<string, string> {
  if (TABLE_FILE === undefined || TABLE_FILE === '') return {};
  try {
    const stat = fs.statSync(TABLE_FILE);
    const stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    if (cached?.stamp !== stamp) {
      const parsed: unknown = JSON.parse(fs.readFileSync(TABLE_FILE, 'utf8'));
      const hosts: Record<string, string> = {};
      if (parsed !== null && typeof parsed === 'object')
        for (const [name, ip] of Object.entries(parsed)) if (typeof ip === 'string') hosts[name] = ip;
      cached = { stamp, hosts };
    }
    return cached.hosts;
  } catch {
    return cached?.hosts ?? {};
  }
}

/** The local address of a Service name of the run, else undefined. */
export function meshAddress(hostname: string): string | undefined {
  return table()[hostname.toLowerCase().replace(/\.$/, '')];
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;

const systemLookup = dns.lookup.bind(dns) as unknown as (host: string, options: unknown, cb: LookupCallback) => void;

function meshLookup(hostname: string, options: unknown, callback?: unknown): void {
  const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
  const opts = typeof options === 'function' ? {} : options;
  const address = typeof hostname === 'string' ? meshAddress(hostname) : undefined;
  if (address === undefined) {
    systemLookup(hostname, opts ?? {}, cb);
    return;
  }
  const all = opts !== null && typeof opts === 'object' && (opts as { all?: unknown }).all === true;
  if (all) process.nextTick(cb, null, [{ address, family: 4 }]);
  else process.nextTick(cb, null, address, 4);
}

const systemPromiseLookup = dns.promises.lookup.bind(dns.promises) as (
  host: string,
  options?: unknown,
) => Promise<unknown>;

function meshPromiseLookup(hostname: string, options?: unknown): Promise<unknown> {
  const address = meshAddress(hostname);
  if (address === undefined) return systemPromiseLookup(hostname, options);
  const all = options !== null && typeof options === 'object' && (options as { all?: unknown }).all === true;
  return Promise.resolve(all ? [{ address, family: 4 }] : { address, family: 4 });
}

// net, http, fetch (undici) and kafkajs read `dns.lookup` from the module object at connect time.
Object.assign(dns, { lookup: meshLookup });
Object.assign(dns.promises, { lookup: meshPromiseLookup });
