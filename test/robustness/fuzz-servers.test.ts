/**
 * Fuzzes every server of test/robustness/servers.mjs (issue 13, item 8): SEDNA_FUZZ_INPUTS inputs
 * each (default 10,000; more with the variable), seeded by SEDNA_FUZZ_SEED (default 13). Asserts
 * no crash, no hang, every 4xx answer `{code, message}`, no 500, good traffic interleaved still
 * succeeding, and bounded RSS growth. The figures go to the log and to
 * $TMPDIR/sedna-robustness-fuzz.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  goodRequest,
  goodWsClient,
  httpInput,
  isCoded,
  isLcShape,
  prng,
  sendRaw,
  sendWs,
  startServer,
  wsInput,
  type ServerProcess,
} from './fuzz.js';

const INPUTS = Number(process.env.SEDNA_FUZZ_INPUTS ?? 10_000);
const SEED = Number(process.env.SEDNA_FUZZ_SEED ?? 13);
const LANES = 8;
const GOOD_EVERY = 50;
const HANG_MS = 10_000;
const BODY_LIMIT = 64 * 1024; // servers.mjs LIMITS
const WS_MAX_MESSAGE = 256 * 1024;
const MIB = 1024 * 1024;
/** RSS may grow this much from the warmed-up baseline (heaps and pools settle) ... */
const RSS_GROWTH_LIMIT = 128 * MIB;
/** ... and this much over the second half of the run: memory must level off, not grow per input. */
const RSS_SECOND_HALF_LIMIT = 24 * MIB;
/** Close codes a server may end a fuzzed connection with: ws's own and our 4000-range ones. */
const CLOSE_CODES = new Set([1000, 1001, 1002, 1005, 1006, 1007, 1009, 4000, 4001, 4002, 4003, 4004, 4008]);

interface Figures {
  server: string;
  inputs: number;
  answered: number;
  closedWithoutAnswer: number;
  hung: number;
  ok2xx: number;
  client4xx: number;
  coded4xx: number;
  server5xx: number;
  internal500: number;
  wsErrorFrames: number;
  wsErrorFramesCoded: number;
  badCloseCodes: number[];
  goodChecks: number;
  goodFailures: string[];
  crashed: boolean;
  rssBeforeMiB: number;
  rssHalfwayMiB: number;
  rssAfterMiB: number;
  seconds: number;
  samples: string[];
}

const results: Figures[] = [];

afterAll(() => {
  const file = path.join(os.tmpdir(), 'sedna-robustness-fuzz.json');
  fs.writeFileSync(file, JSON.stringify({ seed: SEED, inputsPerServer: INPUTS, results }, null, 1));
  const rows = results.map(
    (r) =>
      `${r.server}: ${r.inputs} inputs, ${r.client4xx} 4xx (${r.client4xx === 0 ? 100 : ((100 * r.coded4xx) / r.client4xx).toFixed(1)} % coded), ` +
      `${r.wsErrorFrames} ws error frames (${r.wsErrorFramesCoded} coded), ${r.internal500} x 500, ${r.hung} hung, ` +
      `crashed ${r.crashed}, good ${r.goodChecks - r.goodFailures.length}/${r.goodChecks}, ` +
      `RSS ${r.rssBeforeMiB} -> ${r.rssHalfwayMiB} (halfway) -> ${r.rssAfterMiB} MiB, ${r.seconds} s`,
  );
  process.stdout.write(`\nrobustness fuzz (seed ${SEED}):\n${rows.join('\n')}\n(${file})\n`);
});

async function inLanes(from: number, to: number, run: (index: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (next < to) await run(next++);
    }),
  );
}

async function fuzz(name: string): Promise<Figures> {
  const server: ServerProcess = await startServer(name);
  const started = Date.now();
  const f: Figures = {
    server: name,
    inputs: INPUTS,
    answered: 0,
    closedWithoutAnswer: 0,
    hung: 0,
    ok2xx: 0,
    client4xx: 0,
    coded4xx: 0,
    server5xx: 0,
    internal500: 0,
    wsErrorFrames: 0,
    wsErrorFramesCoded: 0,
    badCloseCodes: [],
    goodChecks: 0,
    goodFailures: [],
    crashed: false,
    rssBeforeMiB: 0,
    rssHalfwayMiB: 0,
    rssAfterMiB: 0,
    seconds: 0,
    samples: [],
  };
  const note = (text: string): void => {
    if (f.samples.length < 10) f.samples.push(text);
  };
  try {
    // Warm up first, so the baseline includes what any traffic allocates once (JIT, pools).
    for (let i = 0; i < 100; i++) {
      if (server.spec.kind === 'ws')
        await goodWsClient(`ws://127.0.0.1:${server.port}${server.spec.wsPath ?? '/'}`, `warm${i}`);
      else await goodRequest(server);
    }
    const rssBefore = await server.rss();
    const wsUrl = `ws://127.0.0.1:${server.port}${server.spec.wsPath ?? '/'}`;
    const one = async (i: number): Promise<void> => {
      const rng = prng(SEED * 1_000_003 + i);
      if (i % GOOD_EVERY === 0) {
        f.goodChecks++;
        const problem = server.spec.kind === 'ws' ? await goodWsClient(wsUrl, `good${i}`) : await goodRequest(server);
        if (problem !== undefined) f.goodFailures.push(`#${i}: ${problem}`);
      }
      if (server.spec.kind === 'ws' && rng.chance(0.75)) {
        const input = wsInput(rng, WS_MAX_MESSAGE);
        const outcome = await sendWs(wsUrl, input, `fz${i % 40}`, HANG_MS);
        if (outcome.hung) {
          f.hung++;
          note(`#${i} ws hung`);
        }
        if (outcome.refused !== 0) note(`#${i} ws upgrade refused ${outcome.refused}`);
        for (const frame of outcome.errorFrames) {
          f.wsErrorFrames++;
          const e = frame as { code?: unknown; message?: unknown };
          if (typeof e.code === 'string' && e.code.startsWith('SEDNA_ERR_') && typeof e.message === 'string')
            f.wsErrorFramesCoded++;
          else note(`#${i} uncoded error frame ${JSON.stringify(frame).slice(0, 200)}`);
        }
        if (outcome.closeCode !== undefined && !CLOSE_CODES.has(outcome.closeCode))
          f.badCloseCodes.push(outcome.closeCode);
        return;
      }
      const { bytes, kind } = httpInput(rng, server.spec.seeds, BODY_LIMIT);
      const answer = await sendRaw(server.port, bytes, HANG_MS);
      if (answer.hung) {
        f.hung++;
        note(`#${i} ${kind} hung`);
        return;
      }
      if (answer.status === 0) {
        f.closedWithoutAnswer++;
        return;
      }
      f.answered++;
      if (answer.status < 400) f.ok2xx++;
      else if (answer.status < 500) {
        f.client4xx++;
        if (kind === 'HEAD request' || isCoded(answer) || (server.spec.errorShapes === 'lc' && isLcShape(answer)))
          f.coded4xx++;
        else note(`#${i} ${kind}: ${answer.status} not coded: ${answer.body.slice(0, 160)}`);
      } else {
        f.server5xx++;
        if (answer.status === 500 || !isCoded(answer)) {
          f.internal500++;
          note(`#${i} ${kind}: ${answer.status} ${answer.body.slice(0, 160)}`);
        }
      }
    };
    // Two halves, with the RSS measured between them and after: it must level off.
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 500)); // grace timers run out
    await inLanes(0, INPUTS / 2, one);
    await settle();
    f.rssHalfwayMiB = Math.round((await server.rss()) / MIB);
    await inLanes(INPUTS / 2, INPUTS, one);
    await settle();
    f.rssBeforeMiB = Math.round(rssBefore / MIB);
    f.rssAfterMiB = Math.round((await server.rss()) / MIB);
  } finally {
    f.crashed = server.exited() !== undefined;
    f.seconds = Math.round((Date.now() - started) / 1000);
    await server.stop();
  }
  results.push(f);
  return f;
}

describe.each([
  'big-model-service',
  'inference-server',
  'create-server',
  'lc-emulator',
  'kb-server',
  'multi-edge-fe',
  'multi-edge-detection',
  'aggregation',
  'sedna-run-api',
])('fuzzing %s', (name) => {
  test(`${INPUTS} inputs: no crash, no hang, coded 4xx, no 500, good traffic served, RSS bounded`, async () => {
    const f = await fuzz(name);
    expect(f.samples.filter((s) => !/upgrade refused 503/.test(s))).toEqual([]);
    expect(f.crashed).toBe(false);
    expect(f.hung).toBe(0);
    expect(f.coded4xx).toBe(f.client4xx);
    expect(f.internal500).toBe(0);
    expect(f.wsErrorFramesCoded).toBe(f.wsErrorFrames);
    expect(f.badCloseCodes).toEqual([]);
    expect(f.goodFailures).toEqual([]);
    expect((f.rssAfterMiB - f.rssBeforeMiB) * MIB).toBeLessThan(RSS_GROWTH_LIMIT);
    expect((f.rssAfterMiB - f.rssHalfwayMiB) * MIB).toBeLessThan(RSS_SECOND_HALF_LIMIT);
    // The fuzzer must have reached the error paths, not only the happy ones.
    expect(f.client4xx + f.wsErrorFrames).toBeGreaterThan(INPUTS / 10);
  });
});
