package nft

import (
	"encoding/json"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// JSON forms: keys are base58 strings (objects.PublicKey has no text
// form of its own), absent authorities are null.

func keyOrNull(k *objects.PublicKey) *string {
	if k == nil {
		return nil
	}
	s := k.String()
	return &s
}

func keyOrEmpty(k objects.PublicKey) string {
	if k == (objects.PublicKey{}) {
		return ""
	}
	return k.String()
}

// MarshalJSON writes keys in base58; a zero update authority is "".
func (m *Metadata) MarshalJSON() ([]byte, error) {
	fields := m.Fields
	if fields == nil {
		fields = []Field{}
	}
	return json.Marshal(struct {
		UpdateAuthority string  `json:"update_authority"`
		Mint            string  `json:"mint"`
		Name            string  `json:"name"`
		Symbol          string  `json:"symbol"`
		URI             string  `json:"uri"`
		Fields          []Field `json:"fields"`
	}{keyOrEmpty(m.UpdateAuthority), m.Mint.String(), m.Name, m.Symbol, m.URI, fields})
}

// MarshalJSON writes keys in base58; no holder is "".
func (i *Info) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mint            string    `json:"mint"`
		Holder          string    `json:"holder"`
		TokenAccount    string    `json:"token_account"`
		Supply          uint64    `json:"supply"`
		Decimals        uint8     `json:"decimals"`
		MintAuthority   *string   `json:"mint_authority"`
		FreezeAuthority *string   `json:"freeze_authority"`
		Metadata        *Metadata `json:"metadata"`
		Problems        []string  `json:"problems,omitempty"`
	}{i.Mint.String(), keyOrEmpty(i.Holder), keyOrEmpty(i.TokenAccount), i.Supply, i.Decimals,
		keyOrNull(i.MintAuthority), keyOrNull(i.FreezeAuthority), i.Metadata, i.Problems})
}

// MarshalJSON writes the signer in base58 and a zero time as null.
func (a Anchor) MarshalJSON() ([]byte, error) {
	var t *time.Time
	if !a.Time.IsZero() {
		t = &a.Time
	}
	return json.Marshal(struct {
		Repo      objects.ID `json:"repo"`
		Commit    objects.ID `json:"commit"`
		ZKRoot    string     `json:"zk_root,omitempty"`
		Signature string     `json:"signature"`
		Signer    string     `json:"signer"`
		Slot      uint64     `json:"slot"`
		Time      *time.Time `json:"time"`
	}{a.Repo, a.Commit, a.ZKRoot, a.Signature, keyOrEmpty(a.Signer), a.Slot, t})
}
