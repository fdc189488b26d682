// The official Node client (@hyperledger/fabric-gateway) calling the CareLedger chaincode with nothing but a
// connection profile and an exported MSP folder (tests/network/test_fabric_tools.py; README "Other tools"):
//   node careledger.mjs --profile P --msp DIR --fn F [--args '["a", "b"]'] [--submit yes] [--contract NAME]
//   -> {"transactionId": id, "result": text}; a refusal -> exit 1, {"error": message, "transactionId": id}
import { connect, signers } from '@hyperledger/fabric-gateway';
import { connection, options } from './connection.mjs';

const args = options(process.argv.slice(2));
const { meta, client, identity, privateKey } = connection(args.profile, undefined, args.msp);
const gateway = connect({ client, identity, signer: signers.newPrivateKeySigner(privateKey()) });
const contract = gateway.getNetwork(meta.channel).getContract(meta.chaincode, args.contract);
const proposal = contract.newProposal(args.fn, { arguments: JSON.parse(args.args ?? '[]') });

try {
  let result;
  if (args.submit === 'yes') {
    const committed = await (await proposal.endorse()).submit();
    const status = await committed.getStatus();
    if (!status.successful) throw new Error(`transaction ${status.transactionId} failed to commit: ${status.code}`);
    result = committed.getResult();
  } else {
    result = await proposal.evaluate();
  }
  console.log(JSON.stringify({ transactionId: proposal.getTransactionId(), result: Buffer.from(result).toString('utf8') }));
} catch (error) {
  const details = (error.details ?? []).map((d) => d.message).join('; ');
  console.log(JSON.stringify({ transactionId: proposal.getTransactionId(), error: `${error.message} ${details}`.trim() }));
  process.exitCode = 1;
} finally {
  gateway.close();
  client.close();
}
