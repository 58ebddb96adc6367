package proving

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
	"github.com/fed-vcs/fed/zk"
)

// The config keys of zk are checked when they are set ('fed config').
func init() { repo.RegisterKeyCheck("zk", checkValue) }

// Settings are the repository's zk.* configuration values.
type Settings struct {
	Linf      float64 // zk.linf, model units; HasLinf false: unset
	HasLinf   bool
	L2        float64 // zk.l2, model units²
	HasL2     bool
	ChunkSize int          // zk.chunk; default zk.DefaultChunk
	Always    bool         // zk.prove = always
	Pinned    []objects.ID // zk.vk: verifying key ids, comma or space separated
	HasChunk  bool         // zk.chunk is set
	// Signed are the signed settings of the current branch's remote
	// (nil: none fetched); they give every key .fed/config leaves unset.
	Signed *repo.SignedSettings
	// FromSigned lists the keys taken from Signed.
	FromSigned []string
	fromConfig bool // some key came from .fed/config
}

// Any reports whether any setting that makes a repository prove is set:
// zk.linf, zk.l2, zk.chunk or zk.prove always.
func (s Settings) Any() bool { return s.HasLinf || s.HasL2 || s.Always || s.HasChunk }

// Settings reads zk.linf, zk.l2, zk.chunk, zk.prove and zk.vk from
// .fed/config, and each of them but zk.prove that it leaves unset from
// the signed settings of the current branch's remote (settings.go).
func ReadSettings(r *repo.Repo) (Settings, error) {
	signed, err := r.RemoteSettings(context.Background(), r.SettingsRemote())
	if err != nil {
		return Settings{ChunkSize: zk.DefaultChunk}, err
	}
	var fromSigned []string
	fromConfig := false
	s, err := parseSettings(func(k string) (string, bool) {
		v, ok := r.Config.Get(k)
		if v = strings.TrimSpace(v); ok && v != "" {
			fromConfig = true
			return v, true
		}
		if signed != nil && signed.ZK[k] != "" && k != "zk.prove" {
			fromSigned = append(fromSigned, k)
			return signed.ZK[k], true
		}
		return "", false
	})
	s.Signed, s.FromSigned, s.fromConfig = signed, fromSigned, fromConfig
	return s, err
}

// configKeys are the zk.* keys of Settings.
var configKeys = []string{"zk.chunk", "zk.l2", "zk.linf", "zk.prove", "zk.vk"}

// checkValue refuses a value Settings would refuse, and zk.* keys fed
// does not know, so that 'fed config' refuses them when they are set
// rather than every later command that reads them.
func checkValue(key, value string) error {
	if !slices.Contains(configKeys, key) {
		return fmt.Errorf("unknown key %s (the zk keys are %s)", key, strings.Join(configKeys, ", "))
	}
	_, err := parseSettings(func(k string) (string, bool) {
		v := strings.TrimSpace(value)
		return v, k == key && v != ""
	})
	return err
}

func parseSettings(get func(string) (string, bool)) (Settings, error) {
	s := Settings{ChunkSize: zk.DefaultChunk}
	var err error
	if v, ok := get("zk.linf"); ok {
		if s.Linf, err = strconv.ParseFloat(v, 64); err != nil || !(s.Linf >= 0) {
			return s, fmt.Errorf("config zk.linf %q: want a non-negative number", v)
		}
		s.HasLinf = true
	}
	if v, ok := get("zk.l2"); ok {
		if s.L2, err = strconv.ParseFloat(v, 64); err != nil || !(s.L2 >= 0) {
			return s, fmt.Errorf("config zk.l2 %q: want a non-negative number", v)
		}
		s.HasL2 = true
	}
	if v, ok := get("zk.chunk"); ok {
		if s.ChunkSize, err = strconv.Atoi(v); err != nil {
			return s, fmt.Errorf("config zk.chunk %q: want an integer", v)
		}
		if err := zk.CheckChunkSize(s.ChunkSize); err != nil {
			return s, fmt.Errorf("config zk.chunk: %w", err)
		}
		s.HasChunk = true
	}
	if v, ok := get("zk.prove"); ok {
		switch v {
		case "always":
			s.Always = true
		case "never":
		default:
			return s, fmt.Errorf("config zk.prove %q: want always or never", v)
		}
	}
	if v, ok := get("zk.vk"); ok {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			id, err := objects.ParseID(f)
			if err != nil {
				return s, fmt.Errorf("config zk.vk %q: %w", f, err)
			}
			s.Pinned = append(s.Pinned, id)
		}
	}
	return s, nil
}
