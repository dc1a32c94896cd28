/**
 * The harness never lets the suite pass without the real LC: a launcher that fails makes
 * RealLC.start() reject with the launcher's own message.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RealLC } from './real-lc.js';

describe('RealLC harness', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-lc-harness-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("fails with the launcher's message when the LC cannot start", async () => {
    const broken = path.join(dir, 'start.mjs');
    // What the real launcher prints when the LC exits at start (e.g. libsqlite3 missing, port clash).
    fs.writeFileSync(
      broken,
      "process.stderr.write('real-lc: LocalController exited with 1; see /tmp/lc.log\\n'); process.exit(1);\n",
    );
    await expect(RealLC.start({ launcher: broken })).rejects.toThrow(
      'real-lc: LocalController exited with 1; see /tmp/lc.log',
    );
  });

  it('fails when the launcher is missing (no ../shared beside the repository)', async () => {
    await expect(RealLC.start({ launcher: path.join(dir, 'nope.mjs') })).rejects.toThrow(
      'the real LocalController launcher is missing',
    );
  });

  it('talks to the real LC when it starts', async () => {
    const lc = await RealLC.start();
    try {
      const res = await fetch(`${lc.lcServer}/sedna/workers/w/info`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"w"}',
      });
      expect(res.status).toBe(200);
      expect(fs.readFileSync(lc.lcLog, 'utf8')).toContain('websocket'); // the Go binary's own log
    } finally {
      await lc.stop();
    }
  });
});
