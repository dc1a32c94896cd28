import fs from 'node:fs';
import path from 'node:path';
import {
  ERROR_CATALOG,
  SednaError,
  invalidArgument,
  invalidConfig,
  isSednaError,
  messageOf,
  missingDependency,
  showValue,
} from '../../src/common/errors.js';
import { GENERATED_TABLES, fillGenerated } from '../../src/common/docs-tables.js';
import { VERSION } from '../../src/common/version.js';
import { ROOT } from '../helpers/paths.js';

describe('SednaError', () => {
  it('carries a code, details, cause and an HTTP status', () => {
    const cause = new Error('low-level');
    const err = new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'bad thing', { cause, details: { a: 1 } });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('SednaError');
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(err.cause).toBe(cause);
    expect(err.details).toEqual({ a: 1 });
    expect(Object.isFrozen(err.details)).toBe(true);
    expect(err.httpStatus).toBe(400);
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      code: 'SEDNA_ERR_INVALID_ARGUMENT',
      message: 'bad thing',
      details: { a: 1 },
    });
  });

  it('isSednaError narrows by code', () => {
    const err = invalidConfig('LC_PERIOD', 'abc', 'a positive number');
    expect(isSednaError(err)).toBe(true);
    expect(isSednaError(err, 'SEDNA_ERR_INVALID_CONFIG')).toBe(true);
    expect(isSednaError(err, 'SEDNA_ERR_INVALID_ARGUMENT')).toBe(false);
    expect(isSednaError(new Error('x'))).toBe(false);
  });

  it('factories name what was wrong and what was expected', () => {
    expect(invalidArgument('timeoutMs', -1, 'a positive number').message).toBe(
      'timeoutMs=-1 is invalid: expected a positive number',
    );
    const missing = missingDependency('onnxruntime-node', 'The ONNX backend', new Error('Cannot find module'));
    expect(missing.code).toBe('SEDNA_ERR_MISSING_DEPENDENCY');
    expect(missing.message).toContain('npm install onnxruntime-node');
    expect(missing.message).toContain('Cannot find module');
  });

  it('shows long values shortened and odd values safely', () => {
    expect(showValue('x'.repeat(500))).toMatch(/… \(502 chars\)$/);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(showValue(circular)).toBe('[object Object]');
    expect(showValue(undefined)).toBe('undefined');
    expect(messageOf('plain')).toBe('plain');
    expect(messageOf(new Error('boom'))).toBe('boom');
  });

  it('every code follows the SEDNA_ERR_ naming rule and has a meaning, a fix and a 4xx/5xx status', () => {
    for (const [code, info] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^SEDNA_ERR_[A-Z0-9_]+$/);
      expect(info.meaning.length).toBeGreaterThan(10);
      expect(info.fix.length).toBeGreaterThan(10);
      expect(info.httpStatus).toBeGreaterThanOrEqual(400);
      expect(info.httpStatus).toBeLessThan(600);
    }
  });
});

describe('generated documentation', () => {
  it.each(Object.entries(GENERATED_TABLES))('docs/%s is up to date (run npm run docs:gen)', (page, tables) => {
    const text = fs.readFileSync(path.join(ROOT, 'docs', page), 'utf8');
    let expected = text;
    for (const [name, render] of Object.entries(tables)) expected = fillGenerated(expected, name, render());
    expect(text).toBe(expected);
  });

  it('docs/errors.md lists every code', () => {
    const text = fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
    for (const code of Object.keys(ERROR_CATALOG)) expect(text).toContain(`\`${code}\``);
  });

  it('fillGenerated refuses a page without the markers', () => {
    expect(() => fillGenerated('no markers', 'x', 'table')).toThrow('generated:x');
  });
});

describe('package metadata', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    type: string;
    engines: { node: string };
    exports: Record<string, unknown>;
    bin: Record<string, string>;
    dependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional: boolean }>;
  };

  it('VERSION matches package.json', () => {
    expect(VERSION).toBe(pkg.version);
  });

  it('is an ESM package with types first in every export', () => {
    expect(pkg.name).toBe('sedna-sdk');
    expect(pkg.type).toBe('module');
    expect(pkg.engines.node).toBe('>=20.19');
    expect(pkg.bin.sedna).toBe('./dist/cli/main.js');
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect([subpath, Object.keys(target as object)[0]]).toEqual([subpath, 'types']);
    }
  });

  it('keeps heavy dependencies optional peers, never regular dependencies', () => {
    for (const heavy of [
      'onnxruntime-node',
      '@tensorflow/tfjs',
      '@tensorflow/tfjs-node',
      '@aws-sdk/client-s3',
      'kafkajs',
    ]) {
      expect(pkg.dependencies[heavy]).toBeUndefined();
      expect(pkg.peerDependenciesMeta[heavy]).toEqual({ optional: true });
    }
  });

  it('the core barrel imports none of the optional peers', () => {
    const core = [
      'src/index.ts',
      ...['src/common', 'src/core'].flatMap((dir) => fs.readdirSync(path.join(ROOT, dir)).map((f) => `${dir}/${f}`)),
    ];
    for (const file of core.filter((f) => f.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
      expect([file, /from '(onnxruntime-node|@tensorflow\/|@aws-sdk\/|kafkajs)/.test(text)]).toEqual([file, false]);
    }
  });
});
