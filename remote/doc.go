// Package remote is fed's wire protocol: the JSON bodies and problem
// codes of doc/protocol.md, the framed object stream, the signed texts
// (the Sign-In-With-Solana login message and the push statement), and
// Client, which talks to one repository on a fed server: login, refs,
// the missing query, parallel resumable uploads and downloads, and
// atomic ref updates.
//
// Protocol summary (doc/protocol.md has every byte): HTTP; every path
// starts with /fed/v1/ and every request and response carries
// "Fed-Protocol: 1"; control bodies are JSON, objects travel in their
// stored form (objects.DiskStore.GetStored) in a framed stream; errors are
// application/problem+json (RFC 9457) with a stable "code". Clients retry
// 429 and 5xx with exponential backoff and jitter.
//
// Left to others: which objects a push or fetch needs and which refs move
// (package repo), the hosting server (remote/server), storage (objects,
// refs).
//
// Invariants: a Client never signs a login message that is not fed's
// sign-in text for the server it talks to and its own key; every object
// it receives is verified against its id before it is stored
// (PutStored); it asks for a ref update only after uploading (the server
// checks completeness again).
package remote
