// Closed-loop load through the official Node Fabric Gateway client, for side-by-side comparison with
// careledger's Python client. Prints one JSON line: ops, seconds, errors, latencies (p50/p90/p99), CPU.
//   node load.mjs --profile P --user U --mode submit|evaluate --fn diag:Put --concurrency 64 --operations 1000
import { connect, signers } from '@hyperledger/fabric-gateway';
import { connection, options } from './connection.mjs';

const args = options(process.argv.slice(2));
const { meta, client, identity, privateKey } = connection(args.profile, args.user);
const gateway = connect({
  client,
  identity,
  signer: signers.newPrivateKeySigner(privateKey()),
  evaluateOptions: () => ({ deadline: Date.now() + 10000 }),
  endorseOptions: () => ({ deadline: Date.now() + 30000 }),
  submitOptions: () => ({ deadline: Date.now() + 10000 }),
  commitStatusOptions: () => ({ deadline: Date.now() + 60000 }),
});
const contract = gateway.getNetwork(meta.channel).getContract(meta.chaincode);

const total = Number(args.operations ?? 200);
const concurrency = Number(args.concurrency ?? 16);
const fn = args.fn ?? 'diag:Put';
const mode = args.mode ?? 'submit';
let next = 0;
let errors = 0;
const latencies = [];
const samples = [];

async function worker() {
  while (next < total) {
    const i = next++;
    const started = process.hrtime.bigint();
    try {
      if (mode === 'submit') {
        await contract.submitTransaction(fn, `node-${i % 1000}`, 'v');
      } else {
        await contract.evaluateTransaction(fn, 'bench-read');
      }
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    } catch (err) {
      errors++;
      if (samples.length < 3) samples.push(String(err.message ?? err).slice(0, 200));
    }
  }
}

const cpuStart = process.cpuUsage();
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpuStart);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.round((p / 100) * (latencies.length - 1)))] : null;
console.log(JSON.stringify({
  operations: latencies.length + errors, seconds, errors, p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99),
  client_cpu_s: (cpu.user + cpu.system) / 1e6, latencies_ms: latencies, error_samples: samples,
}));
gateway.close();
client.close();
