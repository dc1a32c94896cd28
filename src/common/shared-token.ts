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

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerOf(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match?.[1];
}

/** `{ token }` from SERVICE_TOKEN or the file SERVICE_TOKEN_FILE names, or `{}` (REST servers and their clients). */
export function serviceTokenOption(config: Pick<SednaConfig, 'serviceToken' | 'serviceTokenFile'>): { token?: string } {
  const token = readSharedToken(config.serviceToken, config.serviceTokenFile, {
    value: 'SERVICE_TOKEN',
    file: 'SERVICE_TOKEN_FILE',
  });
  return token === undefined ? {} : { token };
}

/** `{ token }` from AGG_TOKEN or the file AGG_TOKEN_FILE names, or `{}` (the aggregator and its clients). */
export function tokenOption(config: Pick<SednaConfig, 'aggToken' | 'aggTokenFile'>): { token?: string } {
  const token = readSharedToken(config.aggToken, config.aggTokenFile, { value: 'AGG_TOKEN', file: 'AGG_TOKEN_FILE' });
  return token === undefined ? {} : { token };
}

/** What a client of a token/TLS-protected server may hold. */
export interface ClientCredentialOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly token?: string;
}

/**
 * The HTTP client options that carry a client's credentials: CA, client certificate and key, and
 * the token as an `Authorization: Bearer` header. An empty token is refused (it would match nothing).
 */
export function clientCredentials(options: ClientCredentialOptions): {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  headers?: Record<string, string>;
} {
  if (options.token !== undefined && options.token.trim() === '') {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'token must not be empty');
  }
  return {
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    ...(options.cert === undefined ? {} : { cert: options.cert }),
    ...(options.key === undefined ? {} : { key: options.key }),
    ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
  };
}
