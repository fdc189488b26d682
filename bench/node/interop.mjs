// Offline-signing interop between the official Node client and fabric_gateway (tests/network/scenarios/
// test_interop.py): the Node client, connected WITHOUT a signer, makes or takes the bytes of each stage.
//   node interop.mjs --profile P --user U --chaincode C --step propose --fn F --args '["a"]'
//        -> {"bytes": b64, "digest": b64}                   an unsigned proposal
//   node interop.mjs ... --step evaluate --bytes B64 --signature B64   -> {"result": text}
//   node interop.mjs ... --step submit --bytes B64 --signature B64     -> {"bytes": b64, "digest": b64} of the commit
import { connect } from '@hyperledger/fabric-gateway';
import { connection, options } from './connection.mjs';

const args = options(process.argv.slice(2));
const { meta, client, identity } = connection(args.profile, args.user);
const gateway = connect({ client, identity });
const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const raw = (text) => Buffer.from(text, 'base64');

try {
  let out;
  if (args.step === 'propose') {
    const contract = gateway.getNetwork(meta.channel).getContract(args.chaincode);
    const proposal = contract.newProposal(args.fn, { arguments: JSON.parse(args.args ?? '[]') });
    out = { bytes: b64(proposal.getBytes()), digest: b64(proposal.getDigest()), transactionId: proposal.getTransactionId() };
  } else if (args.step === 'evaluate') {
    const result = await gateway.newSignedProposal(raw(args.bytes), raw(args.signature)).evaluate();
    out = { result: Buffer.from(result).toString('utf8') };
  } else if (args.step === 'submit') {
    const commit = await gateway.newSignedTransaction(raw(args.bytes), raw(args.signature)).submit();
    out = { bytes: b64(commit.getBytes()), digest: b64(commit.getDigest()), transactionId: commit.getTransactionId() };
  } else {
    throw new Error(`unknown --step ${args.step}`);
  }
  console.log(JSON.stringify(out));
} finally {
  gateway.close();
  client.close();
}
