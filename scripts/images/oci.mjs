/**
 * The container engine as the image builds and tests use it: buildah and podman with the settings
 * of ../shared/tools/oci (runc, cgroupfs, storage under $OCI_HOME, the build-time CA mounts).
 * The network backend is ours to choose, explicitly, because podman's own choice depends on the
 * store (netavark for a fresh one, CNI once it holds images from before): containers run with
 * netavark and aardvark-dns, so containers on one network find each other by name and by
 * `--network-alias` (the Service names Sedna's controller creates; under CNI names do not
 * resolve); builds run with CNI, because in this sandbox only CNI's bridge reaches the npm registry
 * from a RUN step (netavark's resolves no outside name: on a fresh store every `npm install` in a
 * build hung until it timed out). Runs need no outside network.
 *
 * Plain JavaScript: Jest's globalSetup loads it without the TypeScript transform.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_OCI = path.resolve(ROOT, '..', 'shared', 'tools', 'oci');
/** Label of every container and network the tests make, so a teardown finds leftovers. */
export const TEST_LABEL = 'sedna-sdk-test=images';

/** Debian packages the network backend needs, beside what make-node-base.sh installs. */
const NETWORK_PACKAGES = ['netavark', 'aardvark-dns'];

let cached;

/**
 * The environments (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, OCI_HOME) and build mounts of the
 * shared tool's env.sh, with the network backend set: netavark in `env` (runs), CNI in `buildEnv`.
 * @returns {Promise<{ env: NodeJS.ProcessEnv, buildEnv: NodeJS.ProcessEnv, buildMounts: string[] }>}
 */
export async function engine() {
  if (cached !== undefined) return cached;
  const script =
    'source "$1" >/dev/null && printf "%s\\n" "$OCI_HOME" "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF" "${OCI_BUILD_MOUNTS[@]}"';
  const { stdout } = await run('bash', ['-c', script, 'oci-env', path.join(SHARED_OCI, 'env.sh')]);
  const [ociHome, conf, storageConf, ...buildMounts] = stdout.trimEnd().split('\n');
  const shared = fs.readFileSync(conf, 'utf8');
  if (/^\[network\]/m.test(shared)) throw new Error(`${conf} sets [network] already: images/oci.mjs sets it`);
  /** The shared settings plus the network backend, in a file of our own beside them. */
  const withBackend = (backend) => {
    const file = path.join(ociHome, `containers.sedna-sdk-images-${backend}.conf`);
    fs.writeFileSync(file, `${shared}\n[network]\nnetwork_backend = "${backend}"\n`);
    return file;
  };
  const common = { ...process.env, OCI_HOME: ociHome, CONTAINERS_STORAGE_CONF: storageConf };
  cached = {
    env: { ...common, CONTAINERS_CONF: withBackend('netavark') },
    buildEnv: { ...common, CONTAINERS_CONF: withBackend('cni') },
    buildMounts,
  };
  return cached;
}

/**
 * Installs what is missing (buildah, podman, runc, ...; netavark and aardvark-dns) and builds the
 * node:20-bookworm-slim stand-in with the shared tool when it is not in the store (once per machine).
 */
export async function ensureEngine(log = () => {}) {
  const missing = [];
  for (const pkg of NETWORK_PACKAGES) {
    try {
      await run('dpkg', ['-s', pkg]);
    } catch {
      missing.push(pkg);
    }
  }
  if (missing.length > 0) {
    log(`installing ${missing.join(', ')}`);
    await run('apt-get', ['update', '-qq']);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  const { stdout } = await run('bash', [path.join(SHARED_OCI, 'make-node-base.sh')], { maxBuffer: 64 << 20 });
  log(stdout.trim());
}

/**
 * Runs podman (or buildah with `tool: 'buildah'`, in the build environment) to completion. Its
 * stdin is closed (/dev/null): a pipe written to after a quick exit failed the caller with EPIPE.
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
export async function oci(args, { tool = 'podman', timeoutMs = 600_000 } = {}) {
  const { env, buildEnv } = await engine();
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: tool === 'buildah' ? buildEnv : env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like `oci()`, but a non-zero exit is an error carrying the output. */
export async function ociOk(args, options) {
  const result = await oci(args, options);
  if (result.code !== 0) {
    const tool = options?.tool ?? 'podman';
    throw new Error(`${tool} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim().slice(-2000)}`);
  }
  return result.stdout;
}
