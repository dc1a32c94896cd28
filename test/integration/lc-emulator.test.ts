/**
 * The LC emulator answers as the real LocalController v0.6.0 was observed to answer (status,
 * content type and exact body bytes); test/conformance re-checks this against the real binary.
 */
import http from 'node:http';
import { decodeMessageContent, LCEmulator } from '../../src/testing/lc-emulator.js';

function request(
  url: string,
  method: string,
  body?: string,
  contentType: string | null = 'application/json',
): Promise<{ status: number; type: string; text: string; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (contentType !== null) headers['content-type'] = contentType;
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'] ?? '',
          text,
          allow: res.headers.allow,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const OK = '{\n "Status": 200,\n "Message": "OK"\n}';
const mismatch = (api: string, body: string): string =>
  `{\n "Status": 400,\n "Message": "worker name(name=${api}) in the api is different from that(name=${body}) in the message body"\n}`;

describe('LCEmulator', () => {
  let lc: LCEmulator;
  let route: string;

  beforeAll(async () => {
    lc = await LCEmulator.start({
      knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: 'helmet-il' }],
    });
    route = `${lc.url}/sedna/workers/w1/info`;
  });
  afterAll(() => lc.close());
  beforeEach(() => lc.clear());

  it.each([
    ['a good report', '{"name":"w1","ownerKind":"default"}', 200, OK],
    ['a name mismatch', '{"name":"w2"}', 400, mismatch('w1', 'w2')],
    ['a body that is not JSON', 'not json', 400, mismatch('w1', '')],
    ['an empty body', '', 400, mismatch('w1', '')],
    ['a JSON array', '[]', 400, mismatch('w1', '')],
    ['null', 'null', 400, mismatch('w1', '')],
    ['a numeric name', '{"name":5}', 400, mismatch('w1', '')],
    [
      'a string ownerInfo',
      '{"name":"w1","ownerInfo":"str"}',
      400,
      '{\n "Status": 400,\n "Message": "read worker(name=w1) message body failed, error: json: cannot unmarshal string into Go struct field MessageContent.ownerInfo of type map[string]interface {}"\n}',
    ],
    ['keys in another case (Go matches them)', '{"Name":"w1","OwnerKind":"default"}', 200, OK],
  ])('answers %s like the real LC', async (_label, body, status, text) => {
    const res = await request(route, 'POST', body);
    expect(res).toMatchObject({ status, type: 'application/json', text });
    expect(lc.reports).toHaveLength(1);
    expect(lc.reports[0]).toMatchObject({ status, raw: body, worker: 'w1' });
  });

  it('refuses a body without the JSON content type with 415, as go-restful does', async () => {
    const res = await request(route, 'POST', '{"name":"w1"}', 'application/x-www-form-urlencoded');
    expect(res).toMatchObject({ status: 415, text: '415: Unsupported Media Type' });
    expect(res.type).toContain('text/plain');
    expect((await request(route, 'POST', '{"name":"w1"}', 'application/json; charset=utf-8')).status).toBe(200);
  });

  it('answers other methods with 405 and other paths with 404, in plain text', async () => {
    expect(await request(route, 'GET')).toMatchObject({ status: 405, text: '405: Method Not Allowed', allow: 'POST' });
    expect(await request(`${lc.url}/nope`, 'GET')).toMatchObject({ status: 404, text: '404 page not found\n' });
    expect(await request(`${lc.url}/sedna/workers/w1`, 'POST', '{}')).toMatchObject({
      status: 404,
      text: '404: Page Not Found',
    });
    expect(await request(`${lc.url}/healthz`, 'GET')).toMatchObject({ status: 404 });
    expect((await request(`${route}/`, 'POST', '{"name":"w1"}')).status).toBe(200); // trailing slash is fine
  });

  it('forwards what the real LC forwards, and drops the rest', async () => {
    const reports = [
      {
        name: 'w1',
        ownerKind: 'jointinferenceservice',
        namespace: 'ns',
        ownerName: 'ji',
        kind: 'inference',
        results: [{ format: 'x' }],
        ownerInfo: { inferenceNumber: 3 },
      },
      {
        name: 'w1',
        ownerKind: 'federatedlearningjob',
        namespace: 'ns',
        ownerName: 'fl',
        kind: 'train',
        status: 'running',
        results: [{ format: 'onnx', url: '/m', metrics: { acc: [1] } }],
        ownerInfo: { currentRound: 1 },
      },
      { name: 'w1', ownerKind: 'default', namespace: 'ns', ownerName: 'fl', kind: 'train', status: 'running' },
      { name: 'w1', ownerKind: 'JointInferenceService', namespace: 'ns', ownerName: 'ji', kind: 'inference' },
      {
        name: 'w1',
        ownerKind: 'incrementallearningjob',
        namespace: 'default',
        ownerName: 'unknown-job',
        kind: 'train',
        status: 'completed',
      },
      {
        name: 'w1',
        ownerKind: 'incrementallearningjob',
        namespace: 'default',
        ownerName: 'helmet-il',
        kind: 'deploy',
        status: 'completed',
      },
    ];
    for (const report of reports) expect((await request(route, 'POST', JSON.stringify(report))).status).toBe(200);
    expect(lc.forwarded).toEqual([
      {
        header: { namespace: 'ns', resourceKind: 'jointinferenceservice', resourceName: 'ji', operation: 'status' },
        content: { phase: 'inference', status: '', output: { models: null, ownerInfo: { inferenceNumber: 3 } } },
      },
      {
        header: { namespace: 'ns', resourceKind: 'federatedlearningjob', resourceName: 'fl', operation: 'status' },
        content: {
          phase: 'train',
          status: 'running',
          output: { models: [{ format: 'onnx', url: '/m', metrics: { acc: [1] } }], ownerInfo: { currentRound: 1 } },
        },
      },
      {
        header: {
          namespace: 'default',
          resourceKind: 'IncrementalLearningJob',
          resourceName: 'helmet-il',
          operation: 'status',
        },
        content: { phase: 'deploy', status: 'completed', output: { models: null, ownerInfo: null } },
      },
    ]);
    expect(lc.accepted()).toHaveLength(6);
  });

  it('waitFor times out with a coded error', async () => {
    await expect(lc.waitFor(() => false, 50)).rejects.toMatchObject({ code: 'SEDNA_ERR_TIMEOUT' });
  });
});

describe('decodeMessageContent', () => {
  it('reports the first wrongly typed field and keeps the others', () => {
    expect(decodeMessageContent('{"name":"w","results":"x","kind":3}')).toEqual({
      fields: { name: 'w' },
      error:
        'json: cannot unmarshal string into Go struct field MessageContent.results of type []map[string]interface {}',
    });
    expect(decodeMessageContent('{"name":"w","results":[1]}').error).toBe(
      'json: cannot unmarshal number into Go struct field MessageContent.results of type map[string]interface {}',
    );
    expect(decodeMessageContent('{"name":null,"kind":"train"}')).toEqual({
      fields: { kind: 'train' },
      error: undefined,
    });
  });
});

test('keeps at most maxRecorded reports, the newest (memory stays bounded however long it runs)', async () => {
  const lc = await LCEmulator.start({ maxRecorded: 3 });
  try {
    for (let i = 1; i <= 5; i++) {
      const res = await fetch(`${lc.url}/sedna/workers/w${i}/info`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `w${i}`, ownerKind: 'jointinferenceservice' }),
      });
      expect(res.status).toBe(200);
    }
    expect(lc.reports.map((r) => r.worker)).toEqual(['w3', 'w4', 'w5']);
    expect(lc.forwarded).toHaveLength(3);
  } finally {
    await lc.close();
  }
});
