/**
 * Shared tokens: a secret that every party of a service holds (from an env variable or a mounted
 * file, a Kubernetes Secret), compared in constant time. Never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import type { SednaConfig } from './config.js';
import { SednaError, messageOf } from './errors.js';

/**
 * The token from `value` (an env variable's value) or from the file at `file` (trailing newline
 * removed); undefined when neither is set. Both set, an unreadable or empty file, or an empty
 * value: SEDNA_ERR_INVALID_CONFIG naming the variables (never the token).
 */
export function readSharedToken(
  value: string | undefined,
  file: string | undefined,
  names: { readonly value: string; readonly file: string },
): string | undefined {
  if (value !== undefined && file !== undefined) {
    throw new SednaError('SEDNA_ERR_INVALID_CONFIG', `set ${names.value} or ${names.file}, not both`);
  }
  let token = value;
  if (file !== undefined) {
    try {
      token = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new SednaError('SEDNA_ERR_INVALID_CONFIG', `cannot read ${names.file} (${file}): ${messageOf(err)}`, {
        cause: err,
        details: { variable: names.file, file },
      });
    }
  }
  if (token !== undefined && token.trim() === '') {
    throw new SednaError('SEDNA_ERR_INVALID_CONFIG', `${file === undefined ? names.value : names.file} is empty`);
  }
  return token;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Whether `offered` is `expected`, in time that does not depend on where they differ. */
export function tokensMatch(expected: string, offered: unknown): boolean {
  return typeof offered === 'string' && timingSafeEqual(digest(expected), digest(offered));
}

/** `{ token }` from AGG_TOKEN or the file AGG_TOKEN_FILE names, or `{}` (the aggregator and its clients). */
export function tokenOption(config: Pick<SednaConfig, 'aggToken' | 'aggTokenFile'>): { token?: string } {
  const token = readSharedToken(config.aggToken, config.aggTokenFile, { value: 'AGG_TOKEN', file: 'AGG_TOKEN_FILE' });
  return token === undefined ? {} : { token };
}
