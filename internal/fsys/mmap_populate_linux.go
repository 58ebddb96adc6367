package fsys

import "syscall"

// mapPopulate maps every page of the file at once (one system call
// instead of a page fault every few pages).
const mapPopulate = syscall.MAP_POPULATE
