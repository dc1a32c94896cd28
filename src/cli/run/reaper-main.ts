/**
 * The reaper: a tiny process `sedna run` starts first, in its own process group, reading the
 * process groups of the workers from a pipe (`+PGID` / `-PGID` lines). When the pipe closes (the
 * runner exited, was killed with SIGKILL, crashed) it sends every group still registered SIGTERM,
 * then SIGKILL after a grace period, and exits: no worker outlives its `sedna run`.
 * Node's child processes cannot ask the kernel for a parent-death signal; a pipe the kernel closes
 * for us is the portable equivalent.
 */
import readline from 'node:readline';

const GRACE_MS = Number(process.env.SEDNA_REAPER_GRACE_MS ?? '5000');
const groups = new Set<number>();

function alive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

async function reap(): Promise<void> {
  const live = [...groups].filter(alive);
  for (const pgid of live) signal(pgid, 'SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (Date.now() < deadline && live.some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const pgid of live) if (alive(pgid)) signal(pgid, 'SIGKILL');
  process.exit(0);
}

// The reaper must outlive a terminal's Ctrl-C or hang-up aimed at the runner.
for (const sig of ['SIGINT', 'SIGHUP', 'SIGTERM'] as const) process.on(sig, () => {});

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const pgid = Number(line.slice(1));
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  if (line.startsWith('+')) groups.add(pgid);
  else if (line.startsWith('-')) groups.delete(pgid);
});
lines.on('close', () => {
  void reap();
});
