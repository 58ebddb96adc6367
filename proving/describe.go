package proving

import (
	"context"
	"fmt"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/zk"
)

// Describe returns the kind of proof p ("commitment", "update", "merge")
// and the origin of the verifying key it names ("development",
// "ceremony"), the key read from st. It verifies nothing: fed serve's
// pages show what a held proof claims.
func Describe(ctx context.Context, st objects.Store, p *objects.Proof) (kind, keys string, err error) {
	if p.System != zk.System {
		return "", "", fmt.Errorf("proof of commit %s: system %q, this fed reads %s", p.Commit.Short(), p.System, zk.System)
	}
	body, err := zk.DecodeBody(p.Body)
	if err != nil {
		return "", "", fmt.Errorf("proof of commit %s: %w", p.Commit.Short(), err)
	}
	o, err := objects.Read(ctx, st, body.VK, objects.KindChunk)
	if err != nil {
		return "", "", fmt.Errorf("verifying key %s of the proof of commit %s: %w", body.VK.Short(), p.Commit.Short(), err)
	}
	origin, err := zk.VerifyingKeyOrigin(o.(*objects.Chunk).Data)
	if err != nil {
		return "", "", fmt.Errorf("verifying key %s of the proof of commit %s: %w", body.VK.Short(), p.Commit.Short(), err)
	}
	return body.Kind.String(), origin.String(), nil
}
