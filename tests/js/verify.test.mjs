// The phone page's receipt verifier (backend/api/static/h5/verify.js) in Node: the RFC 9162
// inclusion vectors of tests/vectors/rfc9162 (every happy path verifies, every broken proof is
// refused), its built-in SHA-256 against Node's, and whole receipts against a reference tree built
// here by the RFC's recursive definition, with a chain that answers, lies, or does not answer.
// Run with `node --test tests/js/` (part of `make test`).
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as verify from "../../backend/api/static/h5/verify.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const VECTORS = join(HERE, "..", "vectors", "rfc9162", "inclusion");

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith(".json") ? [path] : [];
  });
}

const b64 = (text) => new Uint8Array(Buffer.from(text, "base64"));
const nodeSha = (bytes) => new Uint8Array(createHash("sha256").update(bytes).digest());

const vectorFiles = files(VECTORS).sort();

test("the RFC 9162 inclusion vectors are all there", () => {
  assert.equal(vectorFiles.length, 98);
  const wantErr = vectorFiles.filter((f) => JSON.parse(readFileSync(f, "utf8")).wantErr);
  assert.ok(wantErr.length > 50 && wantErr.length < 98, "happy paths and broken proofs both present");
});

for (const path of vectorFiles) {
  const data = JSON.parse(readFileSync(path, "utf8"));
  test(`inclusion vector ${relative(VECTORS, path)}`, async () => {
    const proof = (data.proof || []).map(b64);
    const run = () => verify.verifyInclusion(b64(data.leafHash), data.leafIdx, data.treeSize, proof, b64(data.root));
    if (data.wantErr) {
      await assert.rejects(run, verify.ProofError);
    } else {
      await run();
    }
  });
}

test("the inclusion vectors give the same answers with the built-in SHA-256 (no WebCrypto)", async () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true, writable: true });
  try {
    assert.equal(verify.sha256Engine(), "built-in");
    for (const path of vectorFiles) {
      const data = JSON.parse(readFileSync(path, "utf8"));
      const proof = (data.proof || []).map(b64);
      const outcome = await verify
        .verifyInclusion(b64(data.leafHash), data.leafIdx, data.treeSize, proof, b64(data.root))
        .then(() => "ok", (error) => error);
      if (data.wantErr) assert.ok(outcome instanceof verify.ProofError, path);
      else assert.equal(outcome, "ok", path);
    }
  } finally {
    Object.defineProperty(globalThis, "crypto", saved);
  }
  assert.equal(verify.sha256Engine(), "WebCrypto");
});

test("the built-in SHA-256 equals Node's on the FIPS examples and on every length to 300 bytes", () => {
  const abc = verify.bytesToHex(verify.sha256Plain(new TextEncoder().encode("abc")));
  assert.equal(abc, "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (let length = 0; length <= 300; length += 1) {
    const data = new Uint8Array(randomBytes(length));
    assert.deepEqual(verify.sha256Plain(data), nodeSha(data), `length ${length}`);
  }
});

test("hex, base64 and UTF-8 helpers agree with Node's", () => {
  for (let length = 0; length < 40; length += 1) {
    const data = new Uint8Array(randomBytes(length));
    assert.equal(verify.bytesToHex(data), "0x" + Buffer.from(data).toString("hex"));
    assert.deepEqual(verify.hexToBytes("0x" + Buffer.from(data).toString("hex")), data);
    assert.deepEqual(verify.base64ToBytes(Buffer.from(data).toString("base64")), data);
  }
  assert.throws(() => verify.hexToBytes("0xabc"), verify.ProofError);
  assert.throws(() => verify.hexToBytes("0xzz"), verify.ProofError);
  const text = '{"item":"杯子 ☕ 𝄞"}';
  const saved = globalThis.TextDecoder;
  globalThis.TextDecoder = undefined;
  try {
    assert.equal(verify.utf8Decode(new TextEncoder().encode(text)), text);
    assert.throws(() => verify.utf8Decode(new Uint8Array([0xe6, 0x9d])), verify.ProofError);
  } finally {
    globalThis.TextDecoder = saved;
  }
});

test("inclusion proof lengths match the RFC's recursive definition for every leaf of trees to 70", () => {
  for (let size = 1; size <= 70; size += 1) {
    for (let index = 0; index < size; index += 1) {
      assert.equal(verify.inclusionProofLength(index, size), referencePath(index, 0, size).length);
    }
  }
  assert.equal(verify.inclusionProofLength(2 ** 40 + 5, 2 ** 41 + 3), referencePathLength(2 ** 40 + 5, 2 ** 41 + 3));
});

test("rootAt call data is the selector and the size as one 32-byte word", () => {
  assert.equal(verify.rootAtCallData(5), verify.ROOT_AT_SELECTOR + "0".repeat(63) + "5");
  assert.equal(verify.rootAtCallData(2 ** 40).length, 2 + 8 + 64);
  assert.throws(() => verify.rootAtCallData(-1), verify.ProofError);
});

// --- whole receipts against a reference tree ---------------------------------------------------

const leafHashRef = (leaf) => nodeSha(Buffer.concat([Buffer.from([0]), leaf]));
const nodeHashRef = (l, r) => nodeSha(Buffer.concat([Buffer.from([1]), l, r]));

function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves) {
  if (leaves.length === 1) return leafHashRef(leaves[0]);
  const k = split(leaves.length);
  return nodeHashRef(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function referencePath(m, begin, end, leaves = null) {
  // RFC 9162 §2.1.3.1 PATH(m, D[begin:end]); with no leaves, only its shape (for lengths).
  const n = end - begin;
  if (n === 1) return [];
  const k = split(n);
  const sub = (b, e) => (leaves ? mth(leaves.slice(b, e)) : null);
  return m < k
    ? [...referencePath(m, begin, begin + k, leaves), sub(begin + k, end)]
    : [...referencePath(m - k, begin + k, end, leaves), sub(begin, begin + k)];
}

function referencePathLength(m, n) {
  if (n === 1) return 0;
  const k = split(n);
  return 1 + (m < k ? referencePathLength(m, k) : referencePathLength(m - k, n - k));
}

const CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const CHAIN_ID = 31337;

function makeLog(count) {
  const leaves = [];
  for (let i = 0; i < count; i += 1) {
    const record = { v: 1, kind: i % 2 ? "points_transfer" : "activity", id: `rec-${i}`, body: { n: i, text: "地铁" } };
    leaves.push(Buffer.from(JSON.stringify(record)));
  }
  return leaves;
}

const hexOf = (text) => "0x" + Buffer.from(text).toString("hex");

function receiptFor(leaves, index) {
  return {
    version: 1,
    algorithm: "rfc9162-sha256",
    leaf: "0x" + leaves[index].toString("hex"),
    leaf_hash: verify.bytesToHex(leafHashRef(leaves[index])),
    leaf_index: index,
    tree_size: leaves.length,
    audit_path: referencePath(index, 0, leaves.length, leaves).map((h) => verify.bytesToHex(h)),
    root: verify.bytesToHex(mth(leaves)),
    anchor: { chain_id: CHAIN_ID, contract: CONTRACT, checkpoint_seq: 1, tx_hash: "0x00", block_number: 3 },
  };
}

function chain(roots, chainId = CHAIN_ID) {
  // A JSON-RPC node holding `roots` (tree size -> hex root) in the contract at CONTRACT.
  const calls = [];
  const rpc = async (method, params) => {
    calls.push(method);
    if (method === "eth_chainId") return "0x" + chainId.toString(16);
    assert.equal(method, "eth_call");
    const [{ to, data }, block] = params;
    assert.equal(block, "latest");
    assert.equal(data.slice(0, 10), verify.ROOT_AT_SELECTOR);
    const size = parseInt(data.slice(10), 16);
    return to.toLowerCase() === CONTRACT && roots[size] ? roots[size] : "0x" + "00".repeat(32);
  };
  rpc.calls = calls;
  return rpc;
}

test("every leaf's receipt of a 13-leaf log is valid against a chain holding its root", async () => {
  const leaves = makeLog(13);
  const rpc = chain({ 13: verify.bytesToHex(mth(leaves)) });
  for (let index = 0; index < leaves.length; index += 1) {
    const result = await verify.verifyReceipt(receiptFor(leaves, index), {
      rpc,
      expect: { kind: index % 2 ? "points_transfer" : "activity", id: `rec-${index}` },
    });
    assert.equal(result.outcome, "valid", JSON.stringify(result.checks));
    assert.deepEqual(
      result.checks.map((c) => c.id),
      ["leaf_hash", "record", "audit_path", "chain_id", "anchor"],
    );
    assert.ok(result.checks.every((c) => c.ok && c.en && c.zh));
  }
  assert.ok(rpc.calls.includes("eth_call"));
});

test("a tampered receipt is invalid, and says which check failed", async () => {
  const leaves = makeLog(6);
  const rpc = chain({ 6: verify.bytesToHex(mth(leaves)) });
  const good = receiptFor(leaves, 4);
  const cases = {
    "leaf bytes changed (more points)": [{ ...good, leaf: hexOf(leaves[4].toString().replace('"n":4', '"n":5')) }, "leaf_hash"],
    "another record claimed": [good, "record", { kind: "activity", id: "rec-2" }],
    "audit path element changed": [
      { ...good, audit_path: [good.audit_path[0].replace(/^0x./, "0xf"), ...good.audit_path.slice(1)] },
      "audit_path",
    ],
    "audit path shortened": [{ ...good, audit_path: good.audit_path.slice(1) }, "audit_path"],
    "leaf index changed": [{ ...good, leaf_index: 5 }, "audit_path"],
    "tree size changed": [{ ...good, tree_size: 5 }, "audit_path"],
    "malformed hex": [{ ...good, root: "0x12" }, "format"],
  };
  for (const [name, [receipt, failing, expect]] of Object.entries(cases)) {
    const result = await verify.verifyReceipt(receipt, { rpc, expect });
    assert.equal(result.outcome, "invalid", name);
    assert.equal(result.checks.find((c) => !c.ok).id, failing, name);
  }
});

test("a consistent receipt whose root the chain does not hold is invalid", async () => {
  const leaves = makeLog(6);
  const forged = makeLog(6);
  forged[2] = Buffer.from('{"kind":"activity","id":"rec-2","forged":true}');
  // The server hands out a self-consistent proof of a forged tree; the chain holds the real root.
  const result = await verify.verifyReceipt(receiptFor(forged, 2), { rpc: chain({ 6: verify.bytesToHex(mth(leaves)) }) });
  assert.equal(result.outcome, "invalid");
  assert.equal(result.checks.at(-1).id, "anchor");
  assert.match(result.checks.at(-1).en, /DIFFERENT root/);
  const nothing = await verify.verifyReceipt(receiptFor(leaves, 2), { rpc: chain({}) });
  assert.equal(nothing.outcome, "invalid");
  assert.match(nothing.checks.at(-1).en, /holds no root/);
});

test("no chain, another chain or a chain that does not answer: unverified, never valid", async () => {
  const leaves = makeLog(3);
  const receipt = receiptFor(leaves, 1);
  assert.equal((await verify.verifyReceipt(receipt, {})).outcome, "unverified");
  const other = await verify.verifyReceipt(receipt, { rpc: chain({ 3: verify.bytesToHex(mth(leaves)) }, 1) });
  assert.equal(other.outcome, "unverified");
  const down = async () => {
    throw new Error("connect ECONNREFUSED");
  };
  const result = await verify.verifyReceipt(receipt, { rpc: down });
  assert.equal(result.outcome, "unverified");
  assert.match(result.zh, /无法校验/);
});

test("fetchRpc speaks JSON-RPC 2.0 and reports errors", async () => {
  const sent = [];
  const fakeFetch = async (url, init) => {
    sent.push([url, JSON.parse(init.body)]);
    const body = JSON.parse(init.body);
    const answer = body.method === "eth_chainId" ? { result: "0x7a69" } : { error: { code: -32000, message: "execution reverted" } };
    return { ok: true, json: async () => ({ jsonrpc: "2.0", id: body.id, ...answer }) };
  };
  const rpc = verify.fetchRpc("http://node.example:8545", fakeFetch);
  assert.equal(await rpc("eth_chainId", []), "0x7a69");
  await assert.rejects(rpc("eth_call", []), /execution reverted/);
  assert.deepEqual(sent[0], ["http://node.example:8545", { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }]);
});
