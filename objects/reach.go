package objects

import "context"

// CommitsReachingTensor returns the commits among commits whose trees reach
// a tensor segment of a model for which match reports true. It reads
// commits, trees and models only (each tree and model once), never the
// tensors themselves, so it works where their weights are absent.
func CommitsReachingTensor(ctx context.Context, s Store, commits []ID, match func(tensor ID) (bool, error)) ([]ID, error) {
	memo := map[ID]bool{}
	var reaches func(id ID) (bool, error)
	reaches = func(id ID) (bool, error) {
		if v, ok := memo[id]; ok {
			return v, nil
		}
		o, err := Read(ctx, s, id, 0)
		if err != nil {
			return false, err
		}
		res := false
		switch o := o.(type) {
		case *Tree:
			for _, e := range o.Entries {
				if res {
					break
				}
				if e.Kind == KindTree || e.Kind == KindModel {
					if res, err = reaches(e.ID); err != nil {
						return false, err
					}
				}
			}
		case *Model:
			for _, seg := range o.Segments {
				if res {
					break
				}
				if seg.IsTensor() {
					if res, err = match(seg.ID); err != nil {
						return false, err
					}
				}
			}
		}
		memo[id] = res
		return res, nil
	}
	var out []ID
	for _, id := range commits {
		c, err := ReadCommit(ctx, s, id)
		if err != nil {
			return nil, err
		}
		v, err := reaches(c.Tree)
		if err != nil {
			return nil, err
		}
		if v {
			out = append(out, id)
		}
	}
	return out, nil
}
