// How the Node scripts reach the network: command-line options, and a wallet identity's connection from
// a CareLedger connection profile (grpc client, identity, private key).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

export function options(argv) {
  return Object.fromEntries(argv.reduce((pairs, value, i, all) => {
    if (value.startsWith('--')) pairs.push([value.slice(2), all[i + 1]]);
    return pairs;
  }, []));
}

// `identityDir` is an MSP folder (signcerts/cert.pem, keystore/key.pem): a user's in the profile's wallet,
// or one `careledger wallet export` wrote (a passphrase-protected wallet's keys are exported first).
export function connection(profilePath, user, identityDir = undefined) {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
  const meta = profile['x-careledger'];
  const org = profile.organizations[profile.client.organization];
  const peer = profile.peers[org.peers[0]];
  const msp = identityDir ?? join(meta.wallet, user, 'msp');
  const client = new grpc.Client(peer.url.replace('grpcs://', ''), grpc.credentials.createSsl(Buffer.from(peer.tlsCACerts.pem)));
  return {
    meta,
    client,
    identity: { mspId: org.mspid, credentials: readFileSync(join(msp, 'signcerts', 'cert.pem')) },
    privateKey: () => createPrivateKey(readFileSync(join(msp, 'keystore', 'key.pem'))),
  };
}
