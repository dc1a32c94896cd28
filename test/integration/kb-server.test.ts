/**
 * The knowledge base server and client: Sedna's captured exchanges replayed against ours (same
 * routes, same answers, documented differences), the SQLite rows, hostile input (paths in names,
 * oversized uploads, bad pickles, a corrupt database) and a seeded fuzz of every route.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { KBServer } from '../../src/service/server/kb-server.js';
import { KBDatabase } from '../../src/service/server/kb-database.js';
import { KBClient } from '../../src/service/client/kb-client.js';
import { readPickle } from '../../src/datasources/pickle-reader.js';
import { SEDNA_PICKLE_CLASSES, parseKBIndex, type KBIndex } from '../../src/datasources/kb-index.js';
import { PyDict, PyObject, type PyValue } from '../../src/datasources/pickle-values.js';
import { rejectionOf } from '../helpers/errors.js';
import { SHARED } from '../helpers/shared.js';

interface Exchange {
  method: string;
  path: string;
  reqHeaders: Record<string, string>;
  reqBody: string | { base64: string };
  status: number;
  resHeaders: Record<string, string>;
  resBody: string | { base64: string };
}
const exchanges = (
  JSON.parse(fs.readFileSync(path.join(SHARED, 'captures', 'kb-exchanges.json'), 'utf8')) as { exchanges: Exchange[] }
).exchanges;
interface ErrorBody {
  code?: string;
  message?: string;
}
const bytesOf = (b: string | { base64: string }): Buffer =>
  typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b.base64, 'base64');

let tmp: string;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'kb-test-'));
});
afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function startKb(extra: Partial<Parameters<typeof KBServer.create>[0]> = {}): Promise<KBServer> {
  return KBServer.create({
    dir: path.join(tmp, 'kb'),
    dbUrl: `sqlite:///${path.join(tmp, 'db', 'kb.sqlite3')}`,
    port: 0,
    host: '127.0.0.1',
    ...extra,
  });
}

function multipart(
  field: string,
  filename: string,
  content: Buffer | string,
): { payload: Buffer; headers: Record<string, string> } {
  const boundary = 'testboundary42';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n\r\n`),
    Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

/** Names of every file under `root`, to check nothing lands outside the KB folder. */
function tree(root: string): string[] {
  return fs.readdirSync(root, { recursive: true, encoding: 'utf8' }).sort();
}

const pickleGroups = (value: PyValue): string[] =>
  (((value as PyDict).get('seen_task') as PyDict).get('task_groups') as PyObject[]).map(
    (g) => g.attr('entry') as string,
  );

describe('Sedna exchanges, replayed', () => {
  it('answers every captured request as Sedna does, except the documented fixes', async () => {
    const kb = await startKb();
    const got: { status: number; body: Buffer; headers: Record<string, unknown> }[] = [];
    for (const e of exchanges) {
      const res = await kb.app.inject({
        method: e.method as 'GET' | 'POST',
        url: e.path,
        payload: e.method === 'POST' ? bytesOf(e.reqBody) : undefined,
        headers: e.reqHeaders['content-type'] === undefined ? {} : { 'content-type': e.reqHeaders['content-type'] },
      });
      got.push({ status: res.statusCode, body: res.rawPayload, headers: res.headers });
    }
    // Same answers: uploads, the download, update and update/status (byte for byte).
    for (const i of [0, 1, 5, 6, 7]) {
      expect([i, got[i]!.status]).toEqual([i, exchanges[i]!.status]);
      expect(got[i]!.body.toString()).toBe(bytesOf(exchanges[i]!.resBody).toString());
    }
    expect(got[1]!.headers['content-disposition']).toBe('attachment; filename="hello.txt"');
    // Fixed: a missing file is 404 (Sedna: 200 with the server's path); status before any index
    // and query are coded answers (Sedna: 500).
    expect([got[2]!.status, (JSON.parse(got[2]!.body.toString()) as ErrorBody).code]).toEqual([
      404,
      'SEDNA_ERR_FILE_NOT_FOUND',
    ]);
    expect([got[3]!.status, (JSON.parse(got[3]!.body.toString()) as ErrorBody).code]).toEqual([
      409,
      'SEDNA_ERR_KB_NO_INDEX',
    ]);
    expect([got[4]!.status, JSON.parse(got[4]!.body.toString()) as unknown]).toEqual([200, { tasks: [] }]);
    // The index Python downloads after `status 1` for grp-a: Sedna replaced every group not named
    // (grp-b) by the first group; ours keeps the uploaded index, grp-b included (it was never dropped).
    const allow = { allowedClasses: SEDNA_PICKLE_CLASSES };
    expect(pickleGroups(readPickle(bytesOf(exchanges[8]!.resBody), allow))).toEqual(['grp-a', 'grp-a']);
    const update = bytesOf(exchanges[6]!.reqBody);
    const uploaded = update.subarray(update.indexOf('\r\n\r\n') + 4, update.lastIndexOf('\r\n--'));
    expect(readPickle(got[8]!.body, allow)).toEqual(readPickle(uploaded, allow));
    await kb.close();
  });

  it("writes Sedna's tables: groups, tasks, samples, models and relations, and commits update/status", async () => {
    const kb = await startKb();
    for (const e of exchanges.slice(5, 8)) {
      const res = await kb.app.inject({
        method: 'POST',
        url: e.path,
        payload: bytesOf(e.reqBody),
        headers: { 'content-type': e.reqHeaders['content-type']! },
      });
      expect(res.statusCode).toBe(200);
    }
    const rows = kb.db.rows.bind(kb.db);
    expect(rows('ll_task_grp').map((r) => [r.name, r.deploy, r.sample_num, r.task_num])).toEqual([
      ['grp-a', 1, 11, 2],
      ['grp-b', 1, 5, 1],
    ]);
    expect(rows('ll_tasks').map((r) => [r.name, JSON.parse(r.task_attr as string) as unknown])).toEqual([
      ['grp-a-task0', { weather: 'sunny', i: 0 }],
      ['grp-a-task1', { weather: 'sunny', i: 1 }],
      ['grp-b-task0', { weather: 'sunny', i: 0 }],
    ]);
    expect(rows('ll_samples').map((r) => [r.data_type, r.sample_num])).toEqual([
      [0, 5],
      [0, 6],
      [0, 5],
    ]);
    expect(rows('ll_task_sample')).toHaveLength(3);
    expect(rows('ll_task_relation').map((r) => [r.grp_id, r.task_id, r.transfer_radio])).toEqual([
      [1, 1, 0.5],
      [1, 2, 0.5],
      [2, 3, 1],
    ]);
    expect(rows('ll_task_models').map((r) => [r.task_id, r.model_url, r.is_current])).toEqual([
      [1, 'http://127.0.0.1:19021/knowledgebase/file/download?files=grp-a.model&name=grp-a.model', 1],
      [2, 'http://127.0.0.1:19021/knowledgebase/file/download?files=grp-a.model&name=grp-a.model', 1],
    ]);
    // Dropping grp-a (status 0, what the eval worker sends): the flag is committed, and the index a
    // Python worker downloads holds the other group only (Sedna put the first group in its place).
    const drop = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/update/status',
      payload: { tasks: 'grp-a', status: 0 },
    });
    expect(drop.statusCode).toBe(200);
    const index = await kb.app.inject({ method: 'GET', url: '/knowledgebase/file/download?files=index.pkl' });
    expect(pickleGroups(readPickle(index.rawPayload, { allowedClasses: SEDNA_PICKLE_CLASSES }))).toEqual(['grp-b']);
    await kb.close();
    const db = await KBDatabase.open(path.join(tmp, 'db', 'kb.sqlite3'));
    expect(db.rows('ll_task_grp').map((r) => [r.name, r.deploy])).toEqual([
      ['grp-a', 0],
      ['grp-b', 1],
    ]);
    db.close();
  });
});

describe('our client and the JSON index', () => {
  const indexFor = (modelUrl: string): KBIndex => ({
    format: 'sedna-sdk/kb-index',
    version: 1,
    create_time: '1700000000.5',
    seen_task: {
      extractor: { method: 'TaskDefinitionByDataAttr', attribute: ['season'], entries: { summer: 0, winter: 1 } },
      task_groups: ['summer', 'winter'].map((entry, i) => ({
        entry,
        tasks: [{ entry, meta_attr: [entry], samples: { data_type: 'train', data_url: '', sample_num: 10 + i } }],
        sample_num: 10 + i,
        model: { index: i, entry, model: modelUrl, format: 'json', result: { accuracy: 0.9 }, meta_attr: [[entry]] },
        deploy: true,
      })),
      global_model: null,
    },
    unseen_task: { extractor: null, task_groups: [] },
  });

  it('uploads (streamed), updates, drops a group and queries over real HTTP', async () => {
    const kb = await startKb();
    const url = await kb.listen();
    const client = new KBClient({ kbServer: url });
    const file = path.join(tmp, 'summer.model');
    await fsp.writeFile(file, 'a model');
    const modelUrl = await client.uploadFile(file, 'summer.model');
    expect(modelUrl).toBe(`${url}/knowledgebase/file/download?files=summer.model&name=summer.model`);
    const indexUrl = await client.updateDb(indexFor(modelUrl));
    expect(indexUrl).toBe(`${url}/knowledgebase/file/download?files=index.pkl&name=index.pkl`);
    await client.updateTaskStatus(['winter'], 0);
    const res = await fetch(indexUrl);
    const index = parseKBIndex(new Uint8Array(await res.arrayBuffer()));
    expect(index.seen_task.task_groups.map((g) => [g.entry, g.deploy])).toEqual([
      ['summer', true],
      ['winter', false],
    ]);
    const groups = await client.query();
    expect(groups.map((g) => [g.name, g.deploy, g.model_url])).toEqual([
      ['summer', true, modelUrl],
      ['winter', false, modelUrl],
    ]);
    expect((await rejectionOf(client.updateTaskStatus('autumn', 0))).message).toContain('autumn');
    expect((await rejectionOf(client.uploadFile(path.join(tmp, 'nope')))).code).toBe('SEDNA_ERR_FILE_NOT_FOUND');
    client.close();
    await kb.close();
  });

  it('refuses an index that references a model the KB does not hold; the old index stays', async () => {
    const kb = await startKb();
    const first = multipart(
      'task',
      'index.pkl',
      JSON.stringify(indexFor('/file/download?files=none.model&name=none.model')),
    );
    const res = await kb.app.inject({ method: 'POST', url: '/knowledgebase/update', ...first });
    expect([res.statusCode, res.json<ErrorBody>().code]).toEqual([400, 'SEDNA_ERR_KB_INDEX']);
    expect(res.json<ErrorBody>().message).toContain('none.model');
    expect(await kb.readIndex()).toBeUndefined();
    expect(kb.db.rows('ll_task_grp')).toEqual([]);
    await kb.close();
  });
});

describe('hostile input', () => {
  it.each([
    ['../x', 'a path separator'],
    ['/etc/passwd', 'a path separator'],
    ['a\\b', 'a path separator'],
    ['.hidden', 'a dot'],
    ['..', 'a dot'],
    ['index.pkl', 'keeps a file of that name'],
    ['kb.sqlite3', 'keeps a file of that name'],
    ['x'.repeat(300), 'longer than 255'],
  ])('refuses the upload name %j (%s) and writes nothing', async (name, why) => {
    const kb = await startKb({ dbUrl: `sqlite:///${path.join(tmp, 'kb', 'kb.sqlite3')}` });
    const before = tree(tmp);
    const res = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/file/upload',
      ...multipart('file', name, 'evil'),
    });
    expect([res.statusCode, res.json<ErrorBody>().code]).toEqual([400, 'SEDNA_ERR_KB_FILE_NAME']);
    expect(res.json<ErrorBody>().message).toContain(why);
    expect(tree(tmp)).toEqual(before);
    await kb.close();
  });

  it('refuses downloads outside the folder, of its own files, and through symlinks', async () => {
    const kb = await startKb({ dbUrl: `sqlite:///${path.join(tmp, 'kb', 'kb.sqlite3')}` });
    await fsp.writeFile(path.join(tmp, 'secret'), 'secret');
    await fsp.symlink(path.join(tmp, 'secret'), path.join(tmp, 'kb', 'link'));
    for (const files of [
      '../secret',
      '%2e%2e%2fsecret',
      '/etc/passwd',
      'kb.sqlite3',
      '.kb%2Findex.uploaded',
      'a%00b',
      '',
    ]) {
      const res = await kb.app.inject({ method: 'GET', url: `/knowledgebase/file/download?files=${files}` });
      expect([files, res.statusCode, res.json<ErrorBody>().code]).toEqual([files, 400, 'SEDNA_ERR_KB_FILE_NAME']);
    }
    const link = await kb.app.inject({ method: 'GET', url: '/knowledgebase/file/download?files=link' });
    expect([link.statusCode, link.json<ErrorBody>().code]).toEqual([404, 'SEDNA_ERR_FILE_NOT_FOUND']);
    await kb.close();
  });

  it('refuses an oversized upload (413) and keeps the file already stored under that name', async () => {
    const kb = await startKb({ maxUploadBytes: 1024 });
    const ok = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/file/upload',
      ...multipart('file', 'm.bin', 'v1'),
    });
    expect(ok.statusCode).toBe(200);
    const big = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/file/upload',
      ...multipart('file', 'm.bin', Buffer.alloc(5000, 1)),
    });
    expect([big.statusCode, big.json<ErrorBody>().code]).toEqual([413, 'SEDNA_ERR_PAYLOAD_TOO_LARGE']);
    expect(await fsp.readFile(path.join(tmp, 'kb', 'm.bin'), 'utf8')).toBe('v1');
    expect(tree(path.join(tmp, 'kb')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await kb.close();
  });

  it('refuses a pickle that names os.system, a wrong field and a non-multipart body; the KB keeps serving', async () => {
    const kb = await startKb();
    const evil = Buffer.from(
      '8004' + '8c05706f736978' + '8c0673797374656d' + '93' + '8c026964' + '85' + '52' + '2e',
      'hex',
    );
    const res = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/update',
      ...multipart('task', 'index.pkl', evil),
    });
    expect([res.statusCode, res.json<ErrorBody>().code]).toEqual([400, 'SEDNA_ERR_PICKLE_REJECTED']);
    const field = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/file/upload',
      ...multipart('other', 'a.txt', 'x'),
    });
    expect([field.statusCode, field.json<ErrorBody>().code]).toEqual([400, 'SEDNA_ERR_BAD_REQUEST']);
    const plain = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/file/upload',
      payload: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.statusCode).toBe(415);
    const status = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/update/status',
      payload: { tasks: 'a', status: 'x' },
    });
    expect([status.statusCode, status.json<ErrorBody>().code]).toEqual([400, 'SEDNA_ERR_BAD_REQUEST']);
    const good = await kb.app.inject({
      method: 'POST',
      url: '/knowledgebase/file/upload',
      ...multipart('file', 'a.txt', 'x'),
    });
    expect(good.statusCode).toBe(200);
    await kb.close();
  });

  it('refuses to start on a corrupt database file and leaves it untouched', async () => {
    const file = path.join(tmp, 'db', 'kb.sqlite3');
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const junk = Buffer.alloc(8192, 7);
    await fsp.writeFile(file, junk);
    const err = await rejectionOf(startKb());
    expect(err.code).toBe('SEDNA_ERR_KB_DATABASE');
    expect(err.message).toContain(file);
    expect((await fsp.readFile(file)).equals(junk)).toBe(true);
  });

  it('answers any request a seeded fuzzer makes with a status below 500, writes only inside its folder, and keeps serving', async () => {
    const kb = await startKb();
    const outside = tree(tmp).filter((f) => !f.startsWith('kb'));
    const route = fc.constantFrom(
      '/knowledgebase/file/upload',
      '/knowledgebase/file/download',
      '/knowledgebase/update',
      '/knowledgebase/update/status',
      '/knowledgebase/query',
    );
    const name = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('../a', '..', '.x', 'index.pkl', 'a/b', 'ok.bin'),
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.json().map((j) => Buffer.from(j)),
    );
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.constantFrom('GET', 'POST'),
        name,
        body,
        fc.boolean(),
        async (url, method, n, b, asMultipart) => {
          const request = asMultipart
            ? {
                ...multipart(
                  fc.sample(fc.constantFrom('file', 'task'), { numRuns: 1, seed: b.length })[0]!,
                  n.replace(/["\r\n]/g, ''),
                  b,
                ),
              }
            : { payload: b, headers: { 'content-type': 'application/json' } };
          const res = await kb.app.inject({
            method: method,
            url: `${url}?files=${encodeURIComponent(n)}`,
            ...request,
          });
          expect(res.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 300, seed: 1414 },
    );
    expect(tree(tmp).filter((f) => !f.startsWith('kb'))).toEqual(outside);
    const good = await kb.app.inject({ method: 'POST', url: '/knowledgebase/query' });
    expect(good.statusCode).toBe(200);
    await kb.close();
  });
});
