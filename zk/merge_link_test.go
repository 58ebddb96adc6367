package zk

import "github.com/fed-vcs/fed/merge"

var mergeFixedMean = merge.FixedMean
