'use strict';
// A local Solana JSON-RPC front over litesvm, for fed's tests and demo.
//
// It answers only the methods fed and the SPL libraries' reads of a mint
// (readmint.js: getAccountInfo, getTokenLargestAccounts,
// getTokenAccountsByOwner) use, in the shapes a real node uses, including
// preflight simulation failures (code -32002 with err and logs) and
// requestAirdrop. litesvm runs the real System, SPL Token, Token-2022,
// Associated Token Account and Memo programs.
//
// Usage: node server.js [--port N] [--idle SECONDS] [--parent PID] [--stdin]
// It prints "http://127.0.0.1:PORT" on the first line of stdout, then
// serves until SIGTERM/SIGINT, until stdin closes (with --stdin: a test
// harness holds the pipe), until process PID is gone (--parent), or after
// --idle seconds without a request (default 600; 0 disables).

const http = require('http');
const crypto = require('crypto');
const { LiteSvm } = require('litesvm/dist/internal');

// ---- arguments ---------------------------------------------------------
const args = { port: 0, idle: 600, parent: 0, stdin: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[i + 1];
  if (a === '--port') { args.port = Number(v); i++; }
  else if (a === '--idle') { args.idle = Number(v); i++; }
  else if (a === '--parent') { args.parent = Number(v); i++; }
  else if (a === '--stdin') { args.stdin = true; }
  else { process.stderr.write(`testchain: unknown argument ${a}\n`); process.exit(2); }
}

// ---- base58 ------------------------------------------------------------
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));

function b58encode(bytes) {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  const digits = [];
  for (let i = zeros; i < bytes.length; i++) {
    let carry = bytes[i];
    for (let j = 0; j < digits.length; j++) {
      carry += digits[j] << 8;
      digits[j] = carry % 58;
      carry = (carry / 58) | 0;
    }
    while (carry > 0) { digits.push(carry % 58); carry = (carry / 58) | 0; }
  }
  return '1'.repeat(zeros) + digits.reverse().map((d) => ALPHABET[d]).join('');
}

function b58decode(s) {
  if (typeof s !== 'string') throw new RpcError(-32602, 'Invalid param: not a base58 string');
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '1') zeros++;
  const bytes = [];
  for (let i = zeros; i < s.length; i++) {
    let carry = INDEX.get(s[i]);
    if (carry === undefined) throw new RpcError(-32602, `Invalid param: invalid base58 character ${JSON.stringify(s[i])}`);
    for (let j = 0; j < bytes.length; j++) {
      carry += bytes[j] * 58;
      bytes[j] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) { bytes.push(carry & 0xff); carry >>= 8; }
  }
  return Uint8Array.from([...new Array(zeros).fill(0), ...bytes.reverse()]);
}

function pubkey(s) {
  const b = b58decode(s);
  if (b.length !== 32) throw new RpcError(-32602, `Invalid param: WrongSize`);
  return b;
}

class RpcError extends Error {
  constructor(code, message, data) { super(message); this.code = code; this.data = data; }
}

// ---- transactions on the wire --------------------------------------------
function shortvec(buf, off) {
  let len = 0, size = 0;
  for (;;) {
    if (off + size >= buf.length) throw new Error('truncated');
    const b = buf[off + size];
    len |= (b & 0x7f) << (7 * size);
    size++;
    if ((b & 0x80) === 0) break;
    if (size > 3) throw new Error('bad length');
  }
  return [len, off + size];
}

// parseTx returns the signatures, static account keys, blockhash and
// instructions of a legacy or v0 transaction.
function parseTx(buf) {
  let [n, off] = shortvec(buf, 0);
  const sigs = [];
  for (let i = 0; i < n; i++) { sigs.push(buf.subarray(off, off + 64)); off += 64; }
  let version = 'legacy';
  if (buf[off] & 0x80) { version = buf[off] & 0x7f; off++; }
  const header = { required: buf[off], roSigned: buf[off + 1], roUnsigned: buf[off + 2] };
  off += 3;
  let k;
  [k, off] = shortvec(buf, off);
  const keys = [];
  for (let i = 0; i < k; i++) { keys.push(buf.subarray(off, off + 32)); off += 32; }
  const blockhash = buf.subarray(off, off + 32);
  off += 32;
  let ni;
  [ni, off] = shortvec(buf, off);
  const ixs = [];
  for (let i = 0; i < ni; i++) {
    const program = buf[off++];
    let na, nd;
    [na, off] = shortvec(buf, off);
    const accounts = buf.subarray(off, off + na); off += na;
    [nd, off] = shortvec(buf, off);
    const data = buf.subarray(off, off + nd); off += nd;
    ixs.push({ program, accounts, data });
  }
  if (off > buf.length || sigs.length === 0) throw new Error('truncated');
  return { sigs, version, header, keys, blockhash, ixs };
}

const MEMO_PROGRAMS = new Set(['MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr', 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo']);

// memoOf formats a transaction's memos as a node does: "[len] text; ...".
function memoOf(tx) {
  const out = [];
  for (const ix of tx.ixs) {
    const prog = tx.keys[ix.program];
    if (prog && MEMO_PROGRAMS.has(b58encode(prog))) {
      const text = Buffer.from(ix.data).toString('utf8');
      out.push(`[${ix.data.length}] ${text}`);
    }
  }
  return out.length ? out.join('; ') : null;
}

// ---- errors as a node reports them -----------------------------------------
const TX_ERRORS = ['AccountInUse', 'AccountLoadedTwice', 'AccountNotFound', 'ProgramAccountNotFound',
  'InsufficientFundsForFee', 'InvalidAccountForFee', 'AlreadyProcessed', 'BlockhashNotFound',
  'CallChainTooDeep', 'MissingSignatureForFee', 'InvalidAccountIndex', 'SignatureFailure',
  'InvalidProgramForExecution', 'SanitizeFailure', 'ClusterMaintenance', 'AccountBorrowOutstanding',
  'WouldExceedMaxBlockCostLimit', 'UnsupportedVersion', 'InvalidWritableAccount',
  'WouldExceedMaxAccountCostLimit', 'WouldExceedAccountDataBlockLimit', 'TooManyAccountLocks',
  'AddressLookupTableNotFound', 'InvalidAddressLookupTableOwner', 'InvalidAddressLookupTableData',
  'InvalidAddressLookupTableIndex', 'InvalidRentPayingAccount', 'WouldExceedMaxVoteCostLimit',
  'WouldExceedAccountDataTotalLimit', 'MaxLoadedAccountsDataSizeExceeded', 'ResanitizationNeeded',
  'InvalidLoadedAccountsDataSizeLimit', 'UnbalancedTransaction', 'ProgramCacheHitMaxLimit', 'CommitCancelled'];
const IX_ERRORS = ['GenericError', 'InvalidArgument', 'InvalidInstructionData', 'InvalidAccountData',
  'AccountDataTooSmall', 'InsufficientFunds', 'IncorrectProgramId', 'MissingRequiredSignature',
  'AccountAlreadyInitialized', 'UninitializedAccount', 'UnbalancedInstruction', 'ModifiedProgramId',
  'ExternalAccountLamportSpend', 'ExternalAccountDataModified', 'ReadonlyLamportChange',
  'ReadonlyDataModified', 'DuplicateAccountIndex', 'ExecutableModified', 'RentEpochModified',
  'NotEnoughAccountKeys', 'AccountDataSizeChanged', 'AccountNotExecutable', 'AccountBorrowFailed',
  'AccountBorrowOutstanding', 'DuplicateAccountOutOfSync', 'InvalidError', 'ExecutableDataModified',
  'ExecutableLamportChange', 'ExecutableAccountNotRentExempt', 'UnsupportedProgramId', 'CallDepth',
  'MissingAccount', 'ReentrancyNotAllowed', 'MaxSeedLengthExceeded', 'InvalidSeeds', 'InvalidRealloc',
  'ComputationalBudgetExceeded', 'PrivilegeEscalation', 'ProgramEnvironmentSetupFailure',
  'ProgramFailedToComplete', 'ProgramFailedToCompile', 'Immutable', 'IncorrectAuthority',
  'AccountNotRentExempt', 'InvalidAccountOwner', 'ArithmeticOverflow', 'UnsupportedSysvar', 'IllegalOwner',
  'MaxAccountsDataAllocationsExceeded', 'MaxAccountsExceeded', 'MaxInstructionTraceLengthExceeded',
  'BuiltinProgramsMustConsumeComputeUnits', 'BorshIoError'];

const TX_TEXT = {
  AccountNotFound: 'Attempt to debit an account but found no record of a prior credit.',
  InsufficientFundsForFee: 'Insufficient funds for fee',
  AlreadyProcessed: 'This transaction has already been processed',
  BlockhashNotFound: 'Blockhash not found',
  SignatureFailure: 'Transaction did not pass signature verification',
  ProgramAccountNotFound: 'Attempt to load a program that does not exist',
};
const IX_TEXT = {
  InvalidArgument: 'invalid program argument',
  InvalidInstructionData: 'invalid instruction data',
  InvalidAccountData: 'invalid account data for instruction',
  InsufficientFunds: 'insufficient funds for instruction',
  IncorrectProgramId: 'incorrect program id for instruction',
  MissingRequiredSignature: 'missing required signature for instruction',
  AccountAlreadyInitialized: 'instruction requires an uninitialized account',
  UninitializedAccount: 'instruction requires an initialized account',
  InvalidSeeds: 'Provided seeds do not result in a valid address',
  InvalidAccountOwner: 'Invalid account owner',
};

// errJSON converts a litesvm error into a node's JSON error value.
function ixErrJSON(e) {
  if (typeof e === 'number') return IX_ERRORS[e] || 'GenericError';
  if (e && typeof e.code === 'number') return { Custom: e.code };
  if (e && typeof e.toString === 'function') return { BorshIoError: e.toString() };
  return 'GenericError';
}

function errJSON(e) {
  if (typeof e === 'number') return TX_ERRORS[e] || 'SanitizeFailure';
  if (e && typeof e.err === 'function' && typeof e.index === 'number') return { InstructionError: [e.index, ixErrJSON(e.err())] };
  if (e && typeof e.accountIndex === 'number') {
    const name = String(e.toString()).includes('Restricted') ? 'ProgramExecutionTemporarilyRestricted' : 'InsufficientFundsForRent';
    return { [name]: { account_index: e.accountIndex } };
  }
  if (e && typeof e.index === 'number') return { DuplicateInstruction: e.index };
  return 'SanitizeFailure';
}

function errText(j) {
  if (typeof j === 'string') return TX_TEXT[j] || j;
  if (j.InstructionError) {
    const [i, ie] = j.InstructionError;
    let t;
    if (typeof ie === 'string') t = IX_TEXT[ie] || ie;
    else if (ie.Custom !== undefined) t = `custom program error: 0x${ie.Custom.toString(16)}`;
    else t = JSON.stringify(ie);
    return `Error processing Instruction ${i}: ${t}`;
  }
  if (j.InsufficientFundsForRent) return `Transaction results in an account (${j.InsufficientFundsForRent.account_index}) with insufficient funds for rent`;
  return JSON.stringify(j);
}

function isFailed(r) { return r && typeof r.err === 'function' && typeof r.meta === 'function'; }

// ---- chain state -------------------------------------------------------------
const svm = new LiteSvm();
svm.setBlockhashCheck(false); // the front keeps its own recent blockhashes
svm.setTransactionHistory(0n); // the front keeps its own history
let slot = 1n;
const FEE = 5000;
const recentHashes = []; // newest last
let dirty = true; // a transaction ran since the last blockhash was issued
const txs = new Map(); // signature -> record
const byAddress = new Map(); // address -> [signature], oldest first

function advance() {
  slot += 1n;
  svm.warpToSlot(slot);
  const c = svm.getClock();
  c.unixTimestamp = BigInt(Math.floor(Date.now() / 1000));
  svm.setClock(c);
  dirty = true;
}

function context() { return { apiVersion: '2.2.0', slot: Number(slot) }; }

function latestBlockhash() {
  if (dirty || recentHashes.length === 0) {
    recentHashes.push(b58encode(crypto.randomBytes(32)));
    if (recentHashes.length > 150) recentHashes.shift();
    dirty = false;
  }
  return recentHashes[recentHashes.length - 1];
}

function record(sig, rec, addresses) {
  txs.set(sig, rec);
  for (const a of addresses) {
    if (!byAddress.has(a)) byAddress.set(a, []);
    byAddress.get(a).push(sig);
  }
}

function decodeTxParam(data, enc) {
  if (typeof data !== 'string') throw new RpcError(-32602, 'Invalid params: transaction must be a string');
  const bytes = enc === 'base58' ? b58decode(data) : Buffer.from(data, 'base64');
  let tx;
  try { tx = parseTx(bytes); } catch (e) {
    throw new RpcError(-32602, `failed to deserialize solana_transaction::versioned::VersionedTransaction: ${e.message}`);
  }
  return { bytes, tx };
}

function run(bytes, tx, simulate) {
  const legacy = tx.version === 'legacy';
  if (simulate) return legacy ? svm.simulateLegacyTransaction(bytes) : svm.simulateVersionedTransaction(bytes);
  return legacy ? svm.sendLegacyTransaction(bytes) : svm.sendVersionedTransaction(bytes);
}

function simulationFailure(j, logs, units) {
  return new RpcError(-32002, `Transaction simulation failed: ${errText(j)}`, {
    accounts: null, err: j, innerInstructions: null, loadedAccountsDataSize: 0, logs,
    replacementBlockhash: null, returnData: null, unitsConsumed: units,
  });
}

// ---- methods -----------------------------------------------------------------
const TOKEN_PROGRAMS = ['TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb', 'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA'];

// isTokenAccount: d is a token account (165 bytes; a Token-2022 account
// with extensions has account type 2 at byte 165), not a mint.
function isTokenAccount(d) { return d.length === 165 || (d.length > 165 && d[165] === 2); }

const methods = {
  getHealth: () => 'ok',
  getVersion: () => ({ 'solana-core': '2.2.0', 'feature-set': 0 }),
  getSlot: () => Number(slot),
  getBlockHeight: () => Number(slot),
  getGenesisHash: () => b58encode(crypto.createHash('sha256').update('fed-testchain').digest()),

  getLatestBlockhash: () => ({ context: context(), value: { blockhash: latestBlockhash(), lastValidBlockHeight: Number(slot) + 150 } }),

  isBlockhashValid: ([hash]) => ({ context: context(), value: recentHashes.includes(hash) }),

  getMinimumBalanceForRentExemption: ([len]) => {
    if (!Number.isInteger(len) || len < 0) throw new RpcError(-32602, 'Invalid params: data length');
    return Number(svm.minimumBalanceForRentExemption(BigInt(len)));
  },

  getBalance: ([addr]) => {
    const b = svm.getBalance(pubkey(addr));
    return { context: context(), value: b === null ? 0 : Number(b) };
  },

  getAccountInfo: ([addr, opts]) => {
    const enc = (opts && opts.encoding) || 'base64';
    if (enc !== 'base64' && enc !== 'base58') throw new RpcError(-32602, `Invalid params: encoding ${enc} is not supported by this node`);
    const a = svm.getAccount(pubkey(addr));
    if (a === null || a.lamports() === 0n) return { context: context(), value: null };
    const data = a.data();
    return {
      context: context(),
      value: {
        data: [enc === 'base58' ? b58encode(data) : Buffer.from(data).toString('base64'), enc],
        executable: a.executable(), lamports: Number(a.lamports()), owner: b58encode(a.owner()),
        rentEpoch: 0, space: data.length,
      },
    };
  },

  requestAirdrop: ([addr, lamports]) => {
    if (!Number.isSafeInteger(lamports) || lamports <= 0) throw new RpcError(-32602, 'Invalid params: lamports');
    const r = svm.airdrop(pubkey(addr), BigInt(lamports));
    if (r === null || isFailed(r)) throw new RpcError(-32603, 'Internal error: airdrop failed');
    const sig = b58encode(r.signature());
    advance();
    // litesvm does not show the airdrop's transaction, so the front lists
    // it under no address (getSignatureStatuses still finds it).
    record(sig, { slot: Number(slot), blockTime: Math.floor(Date.now() / 1000), bytes: null, err: null, logs: r.logs(), units: 0, memo: null }, []);
    return sig;
  },

  sendTransaction: ([data, opts]) => {
    opts = opts || {};
    const { bytes, tx } = decodeTxParam(data, opts.encoding || 'base58');
    const sig = b58encode(tx.sigs[0]);
    if (!recentHashes.includes(b58encode(tx.blockhash))) throw simulationFailure('BlockhashNotFound', [], 0);
    if (txs.has(sig)) throw simulationFailure('AlreadyProcessed', [], 0);
    if (!opts.skipPreflight) {
      const sim = run(bytes, tx, true);
      if (isFailed(sim)) {
        const m = sim.meta();
        throw simulationFailure(errJSON(sim.err()), m.logs(), Number(m.computeUnitsConsumed()));
      }
    }
    const r = run(bytes, tx, false);
    let err = null, meta = r;
    if (isFailed(r)) { err = errJSON(r.err()); meta = r.meta(); }
    // A transaction whose fee could not be paid never lands in a block.
    if (err === 'AccountNotFound' || err === 'InsufficientFundsForFee' || err === 'SignatureFailure' || err === 'BlockhashNotFound') {
      throw simulationFailure(err, [], 0);
    }
    advance();
    record(sig, {
      slot: Number(slot), blockTime: Math.floor(Date.now() / 1000), bytes: Buffer.from(bytes).toString('base64'),
      err, logs: meta.logs(), units: Number(meta.computeUnitsConsumed()), memo: memoOf(tx), fee: FEE * tx.header.required,
    }, tx.keys.map(b58encode));
    return sig;
  },

  simulateTransaction: ([data, opts]) => {
    opts = opts || {};
    const { bytes, tx } = decodeTxParam(data, opts.encoding || 'base58');
    const sim = run(bytes, tx, true);
    if (isFailed(sim)) {
      const m = sim.meta();
      return { context: context(), value: { err: errJSON(sim.err()), logs: m.logs(), accounts: null, unitsConsumed: Number(m.computeUnitsConsumed()), returnData: null } };
    }
    const m = sim.meta();
    return { context: context(), value: { err: null, logs: m.logs(), accounts: null, unitsConsumed: Number(m.computeUnitsConsumed()), returnData: null } };
  },

  getSignatureStatuses: ([sigs]) => {
    if (!Array.isArray(sigs)) throw new RpcError(-32602, 'Invalid params: signatures');
    return {
      context: context(),
      value: sigs.map((s) => {
        const r = txs.get(s);
        if (!r) return null;
        return { slot: r.slot, confirmations: null, err: r.err, status: r.err ? { Err: r.err } : { Ok: null }, confirmationStatus: 'finalized' };
      }),
    };
  },

  getTransaction: ([sig, opts]) => {
    const enc = (opts && opts.encoding) || 'json';
    const r = txs.get(sig);
    if (!r) return null;
    if (enc !== 'base64') throw new RpcError(-32602, `Invalid params: encoding ${enc} is not supported by this node`);
    return {
      slot: r.slot, blockTime: r.blockTime, version: 'legacy',
      transaction: r.bytes === null ? null : [r.bytes, 'base64'],
      meta: {
        err: r.err, status: r.err ? { Err: r.err } : { Ok: null }, fee: r.fee || 0, preBalances: [], postBalances: [],
        innerInstructions: [], logMessages: r.logs, preTokenBalances: [], postTokenBalances: [], rewards: [],
        loadedAddresses: { writable: [], readonly: [] }, computeUnitsConsumed: r.units,
      },
    };
  },

  getSignaturesForAddress: ([addr, opts]) => {
    pubkey(addr);
    opts = opts || {};
    const limit = Math.min(opts.limit || 1000, 1000);
    const list = (byAddress.get(addr) || []).slice().reverse();
    let start = 0;
    if (opts.before) { const i = list.indexOf(opts.before); start = i < 0 ? list.length : i + 1; }
    const out = [];
    for (let i = start; i < list.length && out.length < limit; i++) {
      if (opts.until && list[i] === opts.until) break;
      const r = txs.get(list[i]);
      out.push({ signature: list[i], slot: r.slot, err: r.err, memo: r.memo, blockTime: r.blockTime, confirmationStatus: 'finalized' });
    }
    return out;
  },

  // What a wallet asks to list the tokens a key holds: its token
  // accounts, of one mint or of one token program, base64 as a node
  // encodes them (jsonParsed is not offered).
  getTokenAccountsByOwner: ([owner, filter, opts]) => {
    const o = pubkey(owner);
    const enc = (opts && opts.encoding) || 'base64';
    if (enc !== 'base64') throw new RpcError(-32602, `Invalid params: encoding ${enc} is not supported by this node`);
    if (!filter || (filter.mint === undefined) === (filter.programId === undefined)) {
      throw new RpcError(-32602, 'Invalid params: want a filter of mint or programId');
    }
    let programs = TOKEN_PROGRAMS;
    let mint = null;
    if (filter.programId !== undefined) {
      if (!TOKEN_PROGRAMS.includes(filter.programId)) throw new RpcError(-32602, 'Invalid param: unrecognized Token program id');
      programs = [filter.programId];
    } else {
      mint = pubkey(filter.mint);
    }
    const value = [];
    for (const prog of programs) {
      for (const aa of svm.getProgramAccounts(pubkey(prog))) {
        const a = aa.account();
        const d = a.data();
        if (!isTokenAccount(d)) continue;
        if (!Buffer.from(d.subarray(32, 64)).equals(Buffer.from(o))) continue;
        if (mint && !Buffer.from(d.subarray(0, 32)).equals(Buffer.from(mint))) continue;
        value.push({
          pubkey: b58encode(aa.address),
          account: {
            data: [Buffer.from(d).toString('base64'), 'base64'], executable: a.executable(),
            lamports: Number(a.lamports()), owner: prog, rentEpoch: 0, space: d.length,
          },
        });
      }
    }
    return { context: context(), value };
  },

  getTokenLargestAccounts: ([mint]) => {
    const m = pubkey(mint);
    const mintAccount = svm.getAccount(m);
    if (mintAccount === null) throw new RpcError(-32602, 'Invalid param: could not find account');
    const decimals = mintAccount.data()[44];
    const found = [];
    for (const prog of TOKEN_PROGRAMS) {
      for (const aa of svm.getProgramAccounts(pubkey(prog))) {
        const d = aa.account().data();
        if (!isTokenAccount(d)) continue;
        if (!Buffer.from(d.subarray(0, 32)).equals(Buffer.from(m))) continue;
        const amount = Buffer.from(d.subarray(64, 72)).readBigUInt64LE(0);
        found.push({ address: b58encode(aa.address), amount });
      }
    }
    found.sort((a, b) => (a.amount < b.amount ? 1 : a.amount > b.amount ? -1 : 0));
    return {
      context: context(),
      value: found.slice(0, 20).map((f) => ({
        address: f.address, amount: f.amount.toString(), decimals,
        uiAmount: Number(f.amount) / 10 ** decimals, uiAmountString: (Number(f.amount) / 10 ** decimals).toString(),
      })),
    };
  },
};

// ---- HTTP --------------------------------------------------------------------
let lastRequest = Date.now();

function answer(req) {
  if (!req || req.jsonrpc !== '2.0' || typeof req.method !== 'string') {
    return { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid request' }, id: req && req.id !== undefined ? req.id : null };
  }
  const fn = methods[req.method];
  if (!fn) return { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id: req.id };
  try {
    return { jsonrpc: '2.0', result: fn(Array.isArray(req.params) ? req.params : []), id: req.id };
  } catch (e) {
    if (e instanceof RpcError) {
      const error = { code: e.code, message: e.message };
      if (e.data !== undefined) error.data = e.data;
      return { jsonrpc: '2.0', error, id: req.id };
    }
    process.stderr.write(`testchain: ${req.method}: ${e.stack}\n`);
    return { jsonrpc: '2.0', error: { code: -32603, message: `Internal error: ${e.message}` }, id: req.id };
  }
}

const server = http.createServer((req, res) => {
  lastRequest = Date.now();
  if (req.method !== 'POST') { res.writeHead(405); res.end(); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch (e) {
      body = undefined;
    }
    let out;
    if (body === undefined) out = { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null };
    else if (Array.isArray(body)) out = body.map(answer);
    else out = answer(body);
    const text = JSON.stringify(out);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
});

function stop(why) {
  process.stderr.write(`testchain: stopping: ${why}\n`);
  server.close();
  process.exit(0);
}

server.listen(args.port, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
if (args.stdin) {
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin closed'));
  process.stdin.resume();
}
setInterval(() => {
  if (args.parent) {
    try { process.kill(args.parent, 0); } catch (e) { stop(`parent ${args.parent} is gone`); }
  }
  if (args.idle > 0 && Date.now() - lastRequest > args.idle * 1000) stop(`idle for ${args.idle}s`);
}, 1000).unref();
