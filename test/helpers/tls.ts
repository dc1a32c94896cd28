/** A self-signed certificate for 127.0.0.1 (openssl), for the TLS tests of servers and clients. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function selfSignedCertificate(dir: string): { keyPath: string; certPath: string } {
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1'].concat([
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ]),
    { stdio: 'ignore' },
  );
  return { keyPath, certPath };
}

export interface MutualTlsFiles {
  /** The CA that signed both certificates. */
  caPath: string;
  /** Server certificate for 127.0.0.1, and its key. */
  serverCertPath: string;
  serverKeyPath: string;
  /** Client certificate (clientAuth), and its key. */
  clientCertPath: string;
  clientKeyPath: string;
}

/** A private CA with a server certificate for 127.0.0.1 and a client certificate, for mutual TLS tests. */
export function mutualTlsFiles(dir: string): MutualTlsFiles {
  const at = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  openssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=test-ca'],
    ...['-keyout', at('ca.key'), '-out', at('ca.pem')],
  );
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'trainer', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.csr`),
    );
    fs.writeFileSync(at(`${name}.ext`), `${ext}\n`);
    openssl(
      ...['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial'],
      ...['-days', '1', '-extfile', at(`${name}.ext`), '-out', at(`${name}.pem`)],
    );
  }
  return {
    caPath: at('ca.pem'),
    serverCertPath: at('server.pem'),
    serverKeyPath: at('server.key'),
    clientCertPath: at('client.pem'),
    clientKeyPath: at('client.key'),
  };
}
