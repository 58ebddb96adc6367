'use strict';
// Reads a mint as a wallet or explorer does, with the official SPL
// libraries (@solana/spl-token over @solana/web3.js), and prints what it
// found as JSON on stdout. fed's tests use it to check that fed's NFTs
// look right to the rest of Solana, not only to fed's own reader.
//
// Usage: node readmint.js RPC_URL MINT
//
// Output: {"program", "supply", "decimals", "mint_authority",
// "freeze_authority", "name", "symbol", "uri", "update_authority",
// "additional_metadata": [[key, value], ...], "holder", "holders",
// "in_holder_wallet"}.
// program is "token-2022" or "token"; authorities are base58 or null;
// holder is the owner of the largest token account holding a token
// (null when none does); holders counts the accounts holding any;
// in_holder_wallet says whether the holder's wallet lists the token (its
// token accounts of the mint's program, as a wallet asks for them).
// It exits 1 with a message on stderr when the mint cannot be read.

const { Connection, PublicKey } = require('@solana/web3.js');
const spl = require('@solana/spl-token');

async function main() {
  const [rpc, mintArg] = process.argv.slice(2);
  if (!rpc || !mintArg || process.argv.length !== 4) {
    process.stderr.write('usage: node readmint.js RPC_URL MINT\n');
    process.exit(2);
  }
  const conn = new Connection(rpc, 'confirmed');
  const mintKey = new PublicKey(mintArg);
  const info = await conn.getAccountInfo(mintKey);
  if (info === null) throw new Error(`no account ${mintArg}`);
  let program;
  if (info.owner.equals(spl.TOKEN_2022_PROGRAM_ID)) program = spl.TOKEN_2022_PROGRAM_ID;
  else if (info.owner.equals(spl.TOKEN_PROGRAM_ID)) program = spl.TOKEN_PROGRAM_ID;
  else throw new Error(`${mintArg} is owned by ${info.owner.toBase58()}, not a token program`);

  const mint = await spl.getMint(conn, mintKey, 'confirmed', program);
  const out = {
    program: program.equals(spl.TOKEN_2022_PROGRAM_ID) ? 'token-2022' : 'token',
    supply: mint.supply.toString(),
    decimals: mint.decimals,
    mint_authority: mint.mintAuthority ? mint.mintAuthority.toBase58() : null,
    freeze_authority: mint.freezeAuthority ? mint.freezeAuthority.toBase58() : null,
    name: null, symbol: null, uri: null, update_authority: null, additional_metadata: [],
    holder: null, holders: 0, in_holder_wallet: false,
  };
  if (out.program === 'token-2022') {
    const md = await spl.getTokenMetadata(conn, mintKey, 'confirmed', program);
    if (md) {
      out.name = md.name;
      out.symbol = md.symbol;
      out.uri = md.uri;
      out.update_authority = md.updateAuthority ? md.updateAuthority.toBase58() : null;
      out.additional_metadata = md.additionalMetadata;
    }
  }
  const largest = await conn.getTokenLargestAccounts(mintKey);
  for (const a of largest.value) {
    if (BigInt(a.amount) === 0n) continue;
    out.holders++;
    if (out.holder === null) {
      const acct = await spl.getAccount(conn, a.address, 'confirmed', program);
      out.holder = acct.owner.toBase58();
    }
  }
  if (out.holder !== null) {
    const held = await conn.getTokenAccountsByOwner(new PublicKey(out.holder), { programId: program });
    for (const { account } of held.value) {
      const a = spl.unpackAccount(PublicKey.default, account, program);
      if (a.mint.equals(mintKey) && a.amount > 0n) out.in_holder_wallet = true;
    }
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`readmint: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
