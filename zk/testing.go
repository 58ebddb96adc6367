package zk

import (
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// WriteCeremonyKeys runs gnark's multi-party setup for shape with one
// contributor per phase and writes the proving and verifying keys in gnark's
// encodings, the files a ceremony hands out and Cache.Import (fed zk import)
// takes. For tests: one contributor knows the toxic waste, as with
// development keys.
func (c *Cache) WriteCeremonyKeys(shape Shape, pkw, vkw io.Writer) error {
	ccs, err := c.compiled(shape)
	if err != nil {
		return err
	}
	r1cs, ok := ccs.(*cs.R1CS)
	if !ok {
		return fmt.Errorf("zk: ceremony %s: constraint system is %T, not BN254 R1CS", shape, ccs)
	}
	n := ecc.NextPowerOfTwo(uint64(r1cs.GetNbConstraints()))
	p1 := mpcsetup.NewPhase1(n)
	p1.Contribute()
	commons, err := mpcsetup.VerifyPhase1(n, []byte("beacon 1"), p1)
	if err != nil {
		return fmt.Errorf("zk: ceremony %s: phase 1: %w", shape, err)
	}
	var p2 mpcsetup.Phase2
	p2.Initialize(r1cs, &commons)
	p2.Contribute()
	pk, vk, err := mpcsetup.VerifyPhase2(r1cs, &commons, []byte("beacon 2"), &p2)
	if err != nil {
		return fmt.Errorf("zk: ceremony %s: phase 2: %w", shape, err)
	}
	if _, err := pk.WriteTo(pkw); err != nil {
		return fmt.Errorf("zk: ceremony %s: write proving key: %w", shape, err)
	}
	if _, err := vk.WriteTo(vkw); err != nil {
		return fmt.Errorf("zk: ceremony %s: write verifying key: %w", shape, err)
	}
	return nil
}
