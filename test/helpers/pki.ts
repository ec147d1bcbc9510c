import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './stores.ts';

/** Certificates made at test time with openssl (P-256 keys), PEM text; files in `dir`. */
export interface Pki {
  dir: string;
  caCert: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  /** A client certificate with the same name as `client`, issued by another CA. */
  strangerKey: string;
  strangerCert: string;
  /** A client certificate from the right CA whose validity ended in 2021. */
  expiredKey: string;
  expiredCert: string;
}

/**
 * A test CA, a server certificate for 127.0.0.1, and client certificates: valid, from a stranger CA, and
 * expired. Nothing is reused between runs: each call makes fresh keys in a folder of the run's tmp.
 */
export function makePki(): Pki {
  const dir = tempDir('trackhub-pki');
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = (name: string, subject: string) =>
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
  for (const ca of ['ca', 'stranger-ca']) {
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=test-${ca}`);
  }
  for (const [name, cn, ext, ca] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1', 'ca'],
    ['client', 'trackhub-client', 'extendedKeyUsage=clientAuth', 'ca'],
    ['stranger', 'trackhub-client', 'extendedKeyUsage=clientAuth', 'stranger-ca'],
  ]) {
    newKey(name, `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  // `openssl x509 -req` cannot date a certificate in the past; `openssl ca` can (-startdate/-enddate).
  newKey('expired', '/CN=trackhub-client');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'x509_extensions = client',
      '[any]',
      'commonName = supplied',
      '[client]',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  ssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', 'expired.csr', '-out', 'expired.crt', '-startdate', '20200101000000Z', '-enddate', '20210101000000Z', '-notext');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caCert: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
    strangerKey: read('stranger.key'),
    strangerCert: read('stranger.crt'),
    expiredKey: read('expired.key'),
    expiredCert: read('expired.crt'),
  };
}
