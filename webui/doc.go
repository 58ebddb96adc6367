// Package webui builds the read-only web pages of fed serve (doc/protocol.md,
// "Web pages"): the server page (the repositories a visitor may read), a
// repository's page (branches, tags, the history of its default branch
// as a graph: merges with their sides and a lane column, each commit's author, signature and proof, and the model card
// rendered from a subset of Markdown that never passes raw HTML through) and a commit's page
// (files and tensors changed, the L2 norm and relative change of every
// changed tensor in model order, and for merges the merge record with
// each side's normalised weight, and the proof held: its kind and keys
// as Options.DescribeProof reads them, and whether the server verified it) and a branch's rounds (its merges with
// their sides' weights, the attested metrics over the rounds as a line
// chart, the contributors) and the comparison of two revisions (tensor by
// tensor, sorted as asked), each as HTML drawn with html/template
// (charts as inline SVG; pages work without JavaScript) or as its JSON
// twin (?format=json or Accept: application/json). Its one script,
// /-/signin.js (static/, written for fed), signs a visitor in with a
// Solana wallet (the Wallet Standard or window.solana) through the
// server's sign-in: the server checks the signature and keeps the
// session cookie; pages forbid every other script by their
// Content-Security-Policy.
//
// It implements server.Pages; fed serve sets it as server.Options.Pages.
// The server routes the requests, identifies the visitor's key and
// applies the access rules before a page is built: webui never decides
// who may read what. The history, diffs and merge records are read
// through packages repo (Log, Diff with statistics) and governing
// (MergeRound, Contributors, Records), so pages and the CLI compute them
// once, the same way.
//
// A comparison of two commits is a pure function of immutable objects:
// Pages keeps it (files and tensors changed, each tensor's statistics
// once computed) in a least-recently-used cache bounded by its estimated
// size (Options.CacheBytes), keyed by the repository and both commits;
// requests asking for one being listed wait for that listing.
// A commit page computes the statistics of the tensors it shows, and
// streams its HTML: the head and each row are flushed before the next
// row's statistics are computed.
//
// Invariants: every string a commit's author controls (messages, file
// and tensor names, name-map labels, refs) reaches the page through
// html/template's contextual escaping, SVG charts included; long lists
// are paginated (PageSize rows a page); a page and its JSON twin are
// built from one value; a streamed page that fails once its head is sent
// is cut short (the connection closes), never completed as if whole; the
// cache never holds more than its bound.
package webui
