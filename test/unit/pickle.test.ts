/**
 * The restricted pickle reader and the writer: Sedna's real index pickle (from the KB capture),
 * refusals of everything that would run code, malformed input, and round trips of random values.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { readPickle } from '../../src/datasources/pickle-reader.js';
import { writePickle } from '../../src/datasources/pickle-writer.js';
import { PyDict, PyObject, PySet, PyTuple, type PyValue } from '../../src/datasources/pickle-values.js';
import { SEDNA_PICKLE_CLASSES, readPythonIndex } from '../../src/datasources/kb-index.js';
import { SednaError } from '../../src/common/errors.js';
import { errorOf } from '../helpers/errors.js';
import { SHARED } from '../helpers/shared.js';

interface Exchange {
  method: string;
  path: string;
  reqBody: string | { base64: string };
  resBody: string | { base64: string };
}
const exchanges = (
  JSON.parse(fs.readFileSync(path.join(SHARED, 'captures', 'kb-exchanges.json'), 'utf8')) as { exchanges: Exchange[] }
).exchanges;

/** The index.pkl part of the captured multipart `update` body. */
function capturedIndex(): Uint8Array {
  const update = exchanges.find((e) => e.path === '/knowledgebase/update')!;
  const body = Buffer.from((update.reqBody as { base64: string }).base64, 'base64');
  const start = body.indexOf('\r\n\r\n') + 4;
  const end = body.lastIndexOf('\r\n--');
  return body.subarray(start, end);
}

const allow = { allowedClasses: SEDNA_PICKLE_CLASSES };
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
/** PROTO 4 + body + STOP. */
const p4 = (body: string): Uint8Array => hex(`8004${body}2e`);
const shortStr = (s: string): string => `8c${s.length.toString(16).padStart(2, '0')}${Buffer.from(s).toString('hex')}`;

describe('reading Sedna index pickles', () => {
  it('reads the index a Python LL worker sent to the KB (joblib, protocol 4) as records', () => {
    const view = readPythonIndex(capturedIndex());
    expect(view.layout).toBe('v2');
    expect(view.groups.map((g) => g.entry)).toEqual(['grp-a', 'grp-b']);
    const [a, b] = view.groups;
    expect(a!.modelUrl).toBe('http://127.0.0.1:19021/knowledgebase/file/download?files=grp-a.model&name=grp-a.model');
    expect(a!.sampleNum).toBe(11);
    expect(a!.tasks.map((t) => [t.entry, t.sampleNum, t.dataType, t.metaAttr])).toEqual([
      ['grp-a-task0', 5, 'train', { weather: 'sunny', i: 0 }],
      ['grp-a-task1', 6, 'train', { weather: 'sunny', i: 1 }],
    ]);
    expect(b!.tasks.map((t) => t.entry)).toEqual(['grp-b-task0']);
  });

  it('keeps the objects as class + state records, and writes them back so they read the same', () => {
    const value = readPickle(capturedIndex(), allow);
    const again = readPickle(writePickle(value), allow);
    expect(again).toEqual(value);
    const group = ((value as PyDict).get('seen_task') as PyDict).get('task_groups') as PyValue[];
    expect(group[0]).toBeInstanceOf(PyObject);
    expect((group[0] as PyObject).qualifiedName).toBe('sedna.algorithms.seen_task_learning.artifact.TaskGroup');
  });

  it('reads the same bytes placed at an odd offset inside a larger buffer', () => {
    const bytes = capturedIndex();
    const big = new Uint8Array(bytes.length + 13);
    big.set(bytes, 7);
    expect(readPickle(big.subarray(7, 7 + bytes.length), allow)).toEqual(readPickle(bytes, allow));
  });
});

describe('refusals: nothing a pickle names is ever run', () => {
  const rejected = (bytes: Uint8Array): SednaError => errorOf(() => readPickle(bytes, allow));

  it('refuses os.system at the opcode that names it (STACK_GLOBAL and GLOBAL)', () => {
    const stack = rejected(p4(`${shortStr('posix')}${shortStr('system')}93${shortStr('id')}85 52`));
    expect(stack.code).toBe('SEDNA_ERR_PICKLE_REJECTED');
    expect(stack.message).toContain('posix.system');
    const global = rejected(hex(`8002 63 6f730a73797374656d0a ${shortStr('id')} 85 52 2e`));
    expect(global.code).toBe('SEDNA_ERR_PICKLE_REJECTED');
    expect(global.message).toContain('os.system');
  });

  it.each([
    ['numpy arrays', 'numpy.core.multiarray', '_reconstruct'],
    ['pandas frames', 'pandas.core.frame', 'DataFrame'],
    ['sklearn models', 'sklearn.svm._classes', 'SVC'],
    ['builtins.eval', 'builtins', 'eval'],
    ['a lookalike class', 'sedna.datasources', 'BaseDataSourceX'],
  ])('refuses %s', (_what, module, name) => {
    const err = rejected(p4(`${shortStr(module)}${shortStr(name)}93 29 81`));
    expect(err.code).toBe('SEDNA_ERR_PICKLE_REJECTED');
    expect(err.message).toContain(`${module}.${name}`);
  });

  it('refuses calling an allowed class with arguments, persistent ids, buffers and protocol 0 instances', () => {
    const base = `${shortStr('sedna.datasources')}${shortStr('BaseDataSource')}93`;
    expect(rejected(p4(`${base} ${shortStr('x')} 85 81`)).code).toBe('SEDNA_ERR_PICKLE_REJECTED'); // NEWOBJ with args
    expect(rejected(p4(`${base} ${shortStr('x')} 85 52`)).code).toBe('SEDNA_ERR_PICKLE_REJECTED'); // REDUCE on a class
    expect(rejected(p4(`${shortStr('x')} 51`)).code).toBe('SEDNA_ERR_PICKLE_REJECTED'); // BINPERSID
    expect(rejected(hex('80 05 97 2e')).code).toBe('SEDNA_ERR_PICKLE_REJECTED'); // NEXT_BUFFER
    expect(rejected(hex('28 63 6f730a73797374656d0a 69 2e')).code).toBe('SEDNA_ERR_PICKLE_REJECTED'); // GLOBAL first
    expect(rejected(p4(`${base} 85`)).code).toBe('SEDNA_ERR_PICKLE_REJECTED'); // a class as data
  });

  it('reads protocol 2 instances (copyreg._reconstructor) of allowed classes only', () => {
    const recon = '63 636f7079726567 0a 5f7265636f6e7374727563746f72 0a';
    const cls = `63 ${Buffer.from('sedna.datasources').toString('hex')} 0a ${Buffer.from('BaseDataSource').toString('hex')} 0a`;
    const obj = '63 6275696c74696e73 0a 6f626a656374 0a';
    const value = readPickle(
      hex(`8002 ${recon} ${cls} ${obj} 4e 87 52 7d ${shortStr('x')} 5d 4b01 61 73 62 2e`),
      allow,
    );
    expect(value).toBeInstanceOf(PyObject);
    expect((value as PyObject).attr('x')).toEqual([1]);
  });

  it('answers malformed input with SEDNA_ERR_DATA_FORMAT, never a crash', () => {
    for (const bad of [
      '',
      '80',
      '8004',
      '8004 4b',
      '8004 8cff41 2e',
      '8004 61 2e',
      '8004 68 07 2e',
      '8004 28 2e',
      '8004 ff 2e',
    ]) {
      expect(errorOf(() => readPickle(hex(bad), allow)).code).toBe('SEDNA_ERR_DATA_FORMAT');
    }
  });

  it('refuses a list that contains itself', () => {
    // EMPTY_LIST MEMOIZE BINGET 0 APPEND STOP
    expect(errorOf(() => readPickle(p4('5d 94 6800 61'), allow)).message).toContain('contains itself');
  });

  it('never throws anything but a coded SednaError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const bytes = new Uint8Array([0x80, 0x04, ...tail]);
        try {
          readPickle(bytes, allow);
        } catch (err) {
          expect(err).toBeInstanceOf(SednaError);
          expect(['SEDNA_ERR_DATA_FORMAT', 'SEDNA_ERR_PICKLE_REJECTED']).toContain((err as SednaError).code);
        }
      }),
      { numRuns: 2000, seed: 14 },
    );
  });
});

describe('writer ↔ reader round trip', () => {
  const key = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null), fc.boolean());
  const { value } = fc.letrec<{ value: PyValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).filter((n) => n < -(2n ** 53n) || n > 2n ** 53n),
      fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d) || Object.is(d, -0)),
      fc.string({ maxLength: 300, unit: 'grapheme' }),
      fc.uint8Array({ maxLength: 300 }),
      fc.array(tie('value'), { maxLength: 5 }),
      fc.array(tie('value'), { maxLength: 4 }).map((items) => new PyTuple(items)),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((e) => new PyDict(e)),
      fc.array(fc.integer(), { maxLength: 4 }).map((items) => new PySet(items)),
      fc
        .tuple(
          fc.constantFrom('Task', 'TaskGroup', 'Model'),
          fc.array(fc.tuple(fc.string({ maxLength: 8 }), tie('value')), { maxLength: 3 }),
        )
        .map(([name, attrs]) => new PyObject('sedna.algorithms.seen_task_learning.artifact', name, new PyDict(attrs))),
    ),
  }));

  it('reads back what it wrote, for random values (also at an offset in a larger buffer)', () => {
    fc.assert(
      fc.property(value, fc.nat(16), (v, offset) => {
        const bytes = writePickle(v);
        const big = new Uint8Array(bytes.length + offset + 3);
        big.set(bytes, offset);
        const back = readPickle(big.subarray(offset, offset + bytes.length), allow);
        // -0 is written as a float and read back as -0; Map keys treat -0 as 0, as Python does.
        expect(back).toEqual(v);
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});
