package nft

import (
	"encoding/binary"

	"github.com/gagliardetto/solana-go"
)

// Program ids. Mainnet, devnet and the local test chain use the same ones.
var (
	systemProgram    = solana.SystemProgramID
	token2022Program = solana.MustPublicKeyFromBase58("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
	ataProgram       = solana.MustPublicKeyFromBase58("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
	memoProgram      = solana.MustPublicKeyFromBase58("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
)

// Token-2022 instruction tags (the first data byte).
const (
	tagSetAuthority             = 6
	tagMintTo                   = 7
	tagCloseAccount             = 9
	tagTransferChecked          = 12
	tagInitializeMint2          = 20
	tagMetadataPointerExtension = 39

	metadataPointerInitialize = 0 // sub-instruction of tagMetadataPointerExtension
	authorityMintTokens       = 0 // AuthorityType::MintTokens
	ataCreateIdempotent       = 1 // associated token account instruction
)

// Token metadata interface discriminators: the first 8 bytes of
// sha256("spl_token_metadata_interface:<name>").
var (
	discInitialize      = [8]byte{210, 225, 30, 162, 88, 184, 77, 141}  // initialize_account
	discUpdateField     = [8]byte{221, 233, 49, 45, 181, 202, 220, 200} // updating_field
	discUpdateAuthority = [8]byte{215, 228, 166, 228, 84, 100, 86, 123} // update_the_authority
)

// fieldKey is the Field::Key variant of the metadata interface's Field
// enum (0 Name, 1 Symbol, 2 Uri, 3 Key(String)).
const fieldKey = 3

func writable(k solana.PublicKey) *solana.AccountMeta {
	return &solana.AccountMeta{PublicKey: k, IsWritable: true}
}
func readonly(k solana.PublicKey) *solana.AccountMeta { return &solana.AccountMeta{PublicKey: k} }
func signer(k solana.PublicKey) *solana.AccountMeta {
	return &solana.AccountMeta{PublicKey: k, IsSigner: true}
}
func writableSigner(k solana.PublicKey) *solana.AccountMeta {
	return &solana.AccountMeta{PublicKey: k, IsSigner: true, IsWritable: true}
}

// borshString appends s as borsh encodes a String: u32 little-endian
// length, then the bytes.
func borshString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// optionalKey is an OptionalNonZeroPubkey: 32 bytes, all zero for none.
func optionalKey(k *solana.PublicKey) []byte {
	if k == nil {
		return make([]byte, 32)
	}
	return k[:]
}

// initializeMetadataPointer: [39, 0, authority(32), metadata_address(32)];
// accounts: mint (writable). A nil key is none.
func initializeMetadataPointer(mint solana.PublicKey, authority, metadata *solana.PublicKey) solana.Instruction {
	data := []byte{tagMetadataPointerExtension, metadataPointerInitialize}
	data = append(data, optionalKey(authority)...)
	data = append(data, optionalKey(metadata)...)
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{writable(mint)}, data)
}

// initializeMint2 without a freeze authority: [20, decimals,
// mint_authority(32), 0]; accounts: mint (writable).
func initializeMint2(mint solana.PublicKey, decimals uint8, mintAuthority solana.PublicKey) solana.Instruction {
	data := []byte{tagInitializeMint2, decimals}
	data = append(data, mintAuthority[:]...)
	data = append(data, 0) // COption::None freeze authority
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{writable(mint)}, data)
}

// initializeTokenMetadata: disc, name, symbol, uri (borsh strings);
// accounts: metadata (writable), update authority, mint, mint authority
// (signer).
func initializeTokenMetadata(metadata, updateAuthority, mint, mintAuthority solana.PublicKey, name, symbol, uri string) solana.Instruction {
	data := append([]byte{}, discInitialize[:]...)
	data = borshString(data, name)
	data = borshString(data, symbol)
	data = borshString(data, uri)
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{
		writable(metadata), readonly(updateAuthority), readonly(mint), signer(mintAuthority),
	}, data)
}

// updateMetadataField sets key/value (Field::Key): disc, 3, key, value;
// accounts: metadata (writable), update authority (signer).
func updateMetadataField(metadata, updateAuthority solana.PublicKey, key, value string) solana.Instruction {
	data := append([]byte{}, discUpdateField[:]...)
	data = append(data, fieldKey)
	data = borshString(data, key)
	data = borshString(data, value)
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{
		writable(metadata), signer(updateAuthority),
	}, data)
}

// updateMetadataAuthority: disc, new authority (32, zeros for none);
// accounts: metadata (writable), current update authority (signer).
func updateMetadataAuthority(metadata, current solana.PublicKey, next *solana.PublicKey) solana.Instruction {
	data := append([]byte{}, discUpdateAuthority[:]...)
	data = append(data, optionalKey(next)...)
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{
		writable(metadata), signer(current),
	}, data)
}

// removeMintAuthority is SetAuthority(MintTokens, None): [6, 0, 0];
// accounts: mint (writable), current authority (signer).
func removeMintAuthority(mint, current solana.PublicKey) solana.Instruction {
	data := []byte{tagSetAuthority, authorityMintTokens, 0}
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{writable(mint), signer(current)}, data)
}

// mintTo: [7, amount u64 LE]; accounts: mint, destination (writable),
// mint authority (signer).
func mintTo(mint, dest, authority solana.PublicKey, amount uint64) solana.Instruction {
	data := binary.LittleEndian.AppendUint64([]byte{tagMintTo}, amount)
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{
		writable(mint), writable(dest), signer(authority),
	}, data)
}

// transferChecked: [12, amount u64 LE, decimals]; accounts: source
// (writable), mint, destination (writable), owner (signer).
func transferChecked(source, mint, dest, owner solana.PublicKey, amount uint64, decimals uint8) solana.Instruction {
	data := binary.LittleEndian.AppendUint64([]byte{tagTransferChecked}, amount)
	data = append(data, decimals)
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{
		writable(source), readonly(mint), writable(dest), signer(owner),
	}, data)
}

// closeAccount: [9]; accounts: account (writable), rent destination
// (writable), owner (signer).
func closeAccount(account, dest, owner solana.PublicKey) solana.Instruction {
	return solana.NewInstruction(token2022Program, solana.AccountMetaSlice{
		writable(account), writable(dest), signer(owner),
	}, []byte{tagCloseAccount})
}

// createATAIdempotent creates wallet's associated token account for a
// Token-2022 mint unless it exists: data [1]; accounts: payer (writable
// signer), account (writable), wallet, mint, system program, token
// program.
func createATAIdempotent(payer, wallet, mint solana.PublicKey) (solana.Instruction, solana.PublicKey, error) {
	ata, err := associatedTokenAddress(wallet, mint)
	if err != nil {
		return nil, ata, err
	}
	return solana.NewInstruction(ataProgram, solana.AccountMetaSlice{
		writableSigner(payer), writable(ata), readonly(wallet), readonly(mint),
		readonly(systemProgram), readonly(token2022Program),
	}, []byte{ataCreateIdempotent}), ata, nil
}

// associatedTokenAddress is the program address of seeds [wallet,
// Token-2022 program id, mint] under the associated token account
// program (solana-go's helper assumes the legacy token program).
func associatedTokenAddress(wallet, mint solana.PublicKey) (solana.PublicKey, error) {
	return associatedAddress(wallet, mint, token2022Program)
}

func associatedAddress(wallet, mint, tokenProgram solana.PublicKey) (solana.PublicKey, error) {
	addr, _, err := solana.FindProgramAddress([][]byte{wallet[:], tokenProgram[:], mint[:]}, ataProgram)
	return addr, err
}

// memo is a Memo program instruction whose data is text itself (no
// length prefix); the signers are listed so the program checks their
// signatures.
func memo(text string, signers ...solana.PublicKey) solana.Instruction {
	metas := make(solana.AccountMetaSlice, len(signers))
	for i, s := range signers {
		metas[i] = signer(s)
	}
	return solana.NewInstruction(memoProgram, metas, []byte(text))
}
