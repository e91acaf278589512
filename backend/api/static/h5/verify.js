// Carbon Ledger receipt verifier · 碳账本凭证校验
//
// One dependency-free ES module: a browser page, Node 20+ and a WeChat mini-program can all use it
// as it is (copy the file). It checks a receipt of GET /mp/v1/activities/{id}/receipt without
// trusting the server that gave it:
//
//   1. the leaf hash is SHA-256(0x00 || leaf) of the leaf bytes in the receipt (RFC 9162 §2.1.1);
//   2. the leaf is the record it claims to be (kind, id) when the caller says which one it expects;
//   3. the audit path leads from that leaf hash to a root (RFC 9162 §2.1.3.2);
//   4. the chain answering at the RPC URL is the one the receipt names (eth_chainId);
//   5. the ledger contract on that chain holds exactly that root for that tree size
//      (eth_call of rootAt(uint64), read directly from a chain node, not from our API).
//
// SHA-256 uses WebCrypto (crypto.subtle) where it exists and a small built-in implementation
// otherwise (WeChat mini-programs have no crypto.subtle). JSON-RPC goes through a function the
// caller passes (`rpc`), so the module works with fetch, wx.request or anything else;
// `fetchRpc(url)` makes one from fetch.
//
// Sizes and indices are JavaScript numbers (exact up to 2^53 - 1; every receipt's are far below)
// and the tree arithmetic uses division rather than 32-bit bitwise operators, so it is exact for
// all of them.

export const VERSION = 1;
export const HASH_SIZE = 32;
/** bytes4(keccak256("rootAt(uint64)")): the contract's view of the root anchored for a size. */
export const ROOT_AT_SELECTOR = "0xeaa38b41";
const ZERO_ROOT = "0x" + "00".repeat(32);

export class ProofError extends Error {
  constructor(message) {
    super(message);
    this.name = "ProofError";
  }
}

// --- bytes --------------------------------------------------------------------------------------

export function hexToBytes(hex) {
  if (typeof hex !== "string") throw new ProofError("expected a hex string");
  const body = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
  if (body.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(body)) {
    throw new ProofError(`not a hex string: ${hex.slice(0, 20)}`);
  }
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(body.substr(i * 2, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  let out = "0x";
  for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function base64ToBytes(text) {
  const clean = String(text).replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) throw new ProofError("not base64");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of clean) {
    value = value * 64 + B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at] = Math.floor(value / 2 ** bits) % 256;
      at += 1;
      value %= 2 ** bits;
    }
  }
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Constant-time comparison of two byte arrays (no early exit on the first difference). */
export function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** UTF-8 bytes to text (TextDecoder where it exists; mini-programs may lack it). */
export function utf8Decode(bytes) {
  if (typeof TextDecoder !== "undefined") return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    if (n === 0 || i + n > bytes.length) throw new ProofError("leaf is not valid UTF-8");
    let cp = n === 1 ? b : b & (0xff >> (n + 1));
    for (let k = 1; k < n; k += 1) {
      if ((bytes[i + k] & 0xc0) !== 0x80) throw new ProofError("leaf is not valid UTF-8");
      cp = cp * 64 + (bytes[i + k] & 0x3f);
    }
    out += String.fromCodePoint(cp);
    i += n;
  }
  return out;
}

// --- SHA-256 ------------------------------------------------------------------------------------

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/** SHA-256 in plain JavaScript (FIPS 180-4), for runtimes without crypto.subtle. */
export function sha256Plain(data) {
  const length = data.length;
  const padded = new Uint8Array(Math.ceil((length + 9) / 64) * 64);
  padded.set(data);
  padded[length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded.length - 4, (length * 8) >>> 0);
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t += 1) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 64; t += 1) {
      const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t += 1) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    const next = [a, b, c, d, e, f, g, hh];
    for (let i = 0; i < 8; i += 1) h[i] = (h[i] + next[i]) >>> 0;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(i * 4, word));
  return out;
}

function subtle() {
  const c = typeof globalThis !== "undefined" ? globalThis.crypto : undefined;
  return c && c.subtle && typeof c.subtle.digest === "function" ? c.subtle : null;
}

/** SHA-256 of `data` (a Uint8Array): WebCrypto when available, else {@link sha256Plain}. */
export async function sha256(data) {
  const webCrypto = subtle();
  if (webCrypto) return new Uint8Array(await webCrypto.digest("SHA-256", data));
  return sha256Plain(data);
}

/** Which SHA-256 this runtime uses, for the "what was checked" list. */
export function sha256Engine() {
  return subtle() ? "WebCrypto" : "built-in";
}

// --- RFC 9162 Merkle tree -----------------------------------------------------------------------

const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);

export function leafHash(leaf) {
  return sha256(concat(LEAF_PREFIX, leaf));
}

export function nodeHash(left, right) {
  return sha256(concat(NODE_PREFIX, left, right));
}

const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

function bitLength(n) {
  let bits = 0;
  for (let v = n; v > 0; v = half(v)) bits += 1;
  return bits;
}

function popcount(n) {
  let ones = 0;
  for (let v = n; v > 0; v = half(v)) ones += v % 2;
  return ones;
}

function xor(a, b) {
  // Bitwise XOR of two safe integers, 2^26 at a time (JavaScript's ^ works on 32 bits only).
  let out = 0;
  let scale = 1;
  for (let x = a, y = b; x > 0 || y > 0; x = Math.floor(x / 2 ** 26), y = Math.floor(y / 2 ** 26)) {
    out += ((x % 2 ** 26) ^ (y % 2 ** 26)) * scale;
    scale *= 2 ** 26;
  }
  return out;
}

/** Elements an RFC 9162 inclusion proof has for leaf `index` of a tree of `size`. */
export function inclusionProofLength(index, size) {
  const inner = bitLength(xor(index, size - 1));
  return inner + popcount(Math.floor(index / 2 ** inner));
}

function checkCount(name, value) {
  if (!Number.isSafeInteger(value) || value < 0) throw new ProofError(`${name} ${value} is not a whole number ≥ 0`);
}

function checkHash(name, value) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    throw new ProofError(`${name} is not a ${HASH_SIZE}-byte SHA-256 hash`);
  }
}

/** The root `proof` implies for leaf `index` of a tree of `size` (RFC 9162 §2.1.3.2); throws ProofError. */
export async function rootFromInclusion(leafHashBytes, index, size, proof) {
  checkCount("leaf index", index);
  checkCount("tree size", size);
  if (index >= size) throw new ProofError(`leaf index ${index} is out of range for tree size ${size}`);
  checkHash("leaf hash", leafHashBytes);
  const expected = inclusionProofLength(index, size);
  if (proof.length !== expected) {
    throw new ProofError(
      `inclusion proof for leaf ${index} in tree size ${size} has ${proof.length} elements, expected ${expected}`,
    );
  }
  proof.forEach((element, i) => checkHash(`proof element ${i}`, element));
  let fn = index;
  let sn = size - 1;
  let digest = leafHashBytes;
  for (const element of proof) {
    if (sn === 0) throw new ProofError("inclusion proof is longer than the path to the root");
    if (odd(fn) || fn === sn) {
      digest = await nodeHash(element, digest);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      digest = await nodeHash(digest, element);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw new ProofError("inclusion proof is shorter than the path to the root");
  return digest;
}

/** Resolves if leaf `index` with `leafHashBytes` is in the tree of `size` with `root`; throws ProofError. */
export async function verifyInclusion(leafHashBytes, index, size, proof, root) {
  const computed = await rootFromInclusion(leafHashBytes, index, size, proof);
  checkHash("root", root);
  if (!sameBytes(computed, root)) {
    throw new ProofError(`inclusion proof for leaf ${index} does not lead to the root of tree size ${size}`);
  }
}

// --- the chain ----------------------------------------------------------------------------------

/** ABI call data of rootAt(uint64 treeSize). */
export function rootAtCallData(treeSize) {
  checkCount("tree size", treeSize);
  return ROOT_AT_SELECTOR + treeSize.toString(16).padStart(64, "0");
}

/** A JSON-RPC caller over fetch: `(method, params) => result`. */
export function fetchRpc(url, fetchImpl = globalThis.fetch) {
  let id = 0;
  return async (method, params) => {
    id += 1;
    const response = await fetchImpl(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
    });
    if (!response.ok) throw new Error(`RPC ${url} answered HTTP ${response.status}`);
    const answer = await response.json();
    if (answer.error) throw new Error(`RPC error ${answer.error.code}: ${answer.error.message}`);
    return answer.result;
  };
}

/** The root the contract holds for `treeSize` (hex, all zeros when none). */
export async function rootAtOnChain(rpc, contract, treeSize) {
  const result = await rpc("eth_call", [{ to: contract, data: rootAtCallData(treeSize) }, "latest"]);
  if (typeof result !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(result)) {
    throw new Error(`rootAt answered ${String(result).slice(0, 80)}, not a 32-byte word`);
  }
  return result.toLowerCase();
}

// --- receipts -----------------------------------------------------------------------------------

function check(id, ok, en, zh) {
  return { id, ok, en, zh };
}

function short(hex) {
  return hex.length > 18 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex;
}

/**
 * Verify a receipt. `options.rpc` is a JSON-RPC caller (see fetchRpc); without one the chain checks
 * are not made and the outcome is at best "unverified". `options.expect` may name the record the
 * receipt must be for: `{kind: "activity", id: "…"}`.
 *
 * Resolves to `{outcome, valid, checks, root, en, zh}` where outcome is "valid" (every check
 * passed), "invalid" (evidence the receipt or the log is wrong) or "unverified" (could not ask the
 * chain: the receipt itself is consistent, but nothing outside the server confirmed it).
 */
export async function verifyReceipt(receipt, options = {}) {
  const checks = [];
  const done = (outcome, en, zh, root = null) => ({ outcome, valid: outcome === "valid", checks, root, en, zh });
  let leaf;
  let claimed;
  let path;
  let receiptRoot;
  try {
    if (receipt.version !== VERSION || receipt.algorithm !== "rfc9162-sha256") {
      throw new ProofError(`unsupported receipt version ${receipt.version} / ${receipt.algorithm}`);
    }
    leaf = hexToBytes(receipt.leaf);
    claimed = hexToBytes(receipt.leaf_hash);
    path = (receipt.audit_path || []).map(hexToBytes);
    receiptRoot = hexToBytes(receipt.root);
    checkHash("leaf_hash", claimed);
    checkHash("root", receiptRoot);
    checkCount("leaf index", receipt.leaf_index);
    checkCount("tree size", receipt.tree_size);
  } catch (error) {
    checks.push(check("format", false, `Receipt is malformed: ${error.message}`, `凭证格式错误：${error.message}`));
    return done("invalid", "Not valid: the receipt is malformed.", "无效：凭证格式错误。");
  }

  const computedLeaf = await leafHash(leaf);
  const leafOk = sameBytes(computedLeaf, claimed);
  checks.push(
    check(
      "leaf_hash",
      leafOk,
      `Leaf hash SHA-256(0x00 ‖ leaf) ${leafOk ? "matches" : "does NOT match"} the receipt (${sha256Engine()}: ${short(bytesToHex(computedLeaf))})`,
      `叶哈希 SHA-256(0x00 ‖ 叶) ${leafOk ? "与凭证一致" : "与凭证不一致"}（${short(bytesToHex(computedLeaf))}）`,
    ),
  );

  if (options.expect) {
    let record = null;
    try {
      record = JSON.parse(utf8Decode(leaf));
    } catch (_) {
      record = null;
    }
    const want = options.expect;
    const ok = record !== null && record.kind === want.kind && record.id === want.id;
    checks.push(
      check(
        "record",
        ok,
        ok
          ? `The leaf is the ${want.kind} record ${want.id}`
          : `The leaf is not the ${want.kind} record ${want.id}`,
        ok ? `该叶即记录 ${want.id}（${want.kind}）` : `该叶不是记录 ${want.id}`,
      ),
    );
  }

  let computedRoot = null;
  try {
    computedRoot = await rootFromInclusion(computedLeaf, receipt.leaf_index, receipt.tree_size, path);
    const ok = sameBytes(computedRoot, receiptRoot);
    checks.push(
      check(
        "audit_path",
        ok,
        `Audit path (${path.length} hashes) from leaf ${receipt.leaf_index} leads to root ${short(bytesToHex(computedRoot))} of a tree of ${receipt.tree_size}` +
          (ok ? "" : `, not to the receipt's root ${short(receipt.root)}`),
        `审计路径（${path.length} 个哈希）由第 ${receipt.leaf_index} 个叶算得 ${receipt.tree_size} 叶树的根 ${short(bytesToHex(computedRoot))}` +
          (ok ? "" : `，与凭证中的根 ${short(receipt.root)} 不同`),
      ),
    );
  } catch (error) {
    checks.push(check("audit_path", false, `Audit path is wrong: ${error.message}`, `审计路径错误：${error.message}`));
  }
  const rootHex = computedRoot ? bytesToHex(computedRoot) : null;
  if (checks.some((c) => !c.ok)) {
    return done("invalid", "Not valid: the receipt does not hold together.", "无效：凭证自身不一致。", rootHex);
  }

  const anchor = receipt.anchor || {};
  if (!options.rpc) {
    return done("unverified", "Not checked on the chain: no chain RPC given.", "未在链上核对：没有区块链 RPC。", rootHex);
  }
  let onChain;
  try {
    const chainId = parseInt(await options.rpc("eth_chainId", []), 16);
    const sameChain = chainId === anchor.chain_id;
    checks.push(
      check(
        "chain_id",
        sameChain,
        `The RPC serves chain ${chainId}; the receipt names chain ${anchor.chain_id}`,
        `RPC 所连链 ID 为 ${chainId}；凭证所载链 ID 为 ${anchor.chain_id}`,
      ),
    );
    if (!sameChain) {
      return done("unverified", "Not checked: the RPC serves another chain.", "未能核对：RPC 连接的是另一条链。", rootHex);
    }
    onChain = await rootAtOnChain(options.rpc, anchor.contract, receipt.tree_size);
  } catch (error) {
    checks.push(check("chain", false, `Could not read the chain: ${error.message}`, `无法读取区块链：${error.message}`));
    return done("unverified", "Could not verify: the chain did not answer.", "无法校验：区块链没有应答。", rootHex);
  }
  if (onChain === ZERO_ROOT) {
    checks.push(
      check(
        "anchor",
        false,
        `Contract ${short(anchor.contract)} holds no root for tree size ${receipt.tree_size}`,
        `合约 ${short(anchor.contract)} 中没有 ${receipt.tree_size} 叶树的根`,
      ),
    );
    return done("invalid", "Not valid: nothing is anchored for this tree size.", "无效：链上没有该检查点。", rootHex);
  }
  const anchored = sameBytes(hexToBytes(onChain), computedRoot);
  checks.push(
    check(
      "anchor",
      anchored,
      `rootAt(${receipt.tree_size}) on contract ${short(anchor.contract)} (chain ${anchor.chain_id}) is ${short(onChain)}: ` +
        (anchored ? "the same root" : "a DIFFERENT root"),
      `链 ${anchor.chain_id} 合约 ${short(anchor.contract)} 的 rootAt(${receipt.tree_size}) 为 ${short(onChain)}：` +
        (anchored ? "与计算所得的根相同" : "与计算所得的根不同"),
    ),
  );
  if (!anchored) {
    return done("invalid", "Not valid: the chain holds another root.", "无效：链上的根与凭证不符。", rootHex);
  }
  return done(
    "valid",
    `Valid: leaf ${receipt.leaf_index} of ${receipt.tree_size} is anchored on chain ${anchor.chain_id}.`,
    `有效：该记录是 ${receipt.tree_size} 叶日志中的第 ${receipt.leaf_index} 个叶，已锚定在链 ${anchor.chain_id} 上。`,
    rootHex,
  );
}
